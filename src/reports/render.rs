//! The funnel in people's formats: CSV (UTF-8 with BOM), XLSX with Chinese headers and a
//! totals row, an SVG chart a browser shows directly (no fonts needed on the server),
//! and a plain-text table for the terminal.

use rust_xlsxwriter::{Format, Workbook};

use super::funnel::Funnel;
use crate::lifecycle::counters::STAGES;

fn pct(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.2}%")).unwrap_or_else(|| "—".into())
}

fn days(v: Option<f64>) -> String {
    v.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into())
}

pub fn csv(f: &Funnel) -> Vec<u8> {
    use crate::export::Cell;
    let t = |s: &str| Cell::Text(s.to_string());
    let mut rows: Vec<Vec<Cell>> = f
        .stages
        .iter()
        .map(|s| {
            vec![
                t(s.label_zh),
                t(s.stage),
                t(&s.count.to_string()),
                t(&pct(s.ratio_from_previous)),
                t(&days(s.median_days)),
            ]
        })
        .collect();
    for o in &f.outcomes {
        rows.push(vec![
            t(o.label_zh),
            t(o.outcome),
            t(&o.count.to_string()),
            t(""),
            t(""),
        ]);
    }
    let headers = ["环节", "stage", "户数", "占上一环节", "中位停留天数"];
    // Writing to memory cannot fail; the header and rows are ours.
    crate::export::csv(&headers, &rows).unwrap_or_default()
}

pub fn xlsx(f: &Funnel) -> Result<Vec<u8>, String> {
    let e = |x: rust_xlsxwriter::XlsxError| x.to_string();
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name("漏斗").map_err(e)?;
    sheet
        .write_with_format(0, 0, format!("{} 住房保障申请漏斗", f.scope), &bold)
        .map_err(e)?;
    for (c, h) in ["环节", "户数", "占上一环节(%)", "中位停留天数"]
        .iter()
        .enumerate()
    {
        sheet.write_with_format(1, c as u16, *h, &bold).map_err(e)?;
    }
    for (i, s) in f.stages.iter().enumerate() {
        let r = (i + 2) as u32;
        sheet.write_string(r, 0, s.label_zh).map_err(e)?;
        sheet.write_number(r, 1, s.count as f64).map_err(e)?;
        if let Some(v) = s.ratio_from_previous {
            sheet.write_number(r, 2, v).map_err(e)?;
        }
        if let Some(v) = s.median_days {
            sheet.write_number(r, 3, v).map_err(e)?;
        }
    }
    let first = f.stages.len() + 3;
    for (i, o) in f.outcomes.iter().enumerate() {
        let r = (first + i) as u32;
        sheet.write_string(r, 0, o.label_zh).map_err(e)?;
        sheet.write_number(r, 1, o.count as f64).map_err(e)?;
    }
    sheet.set_column_width(0, 16).map_err(e)?;

    let by = book.add_worksheet();
    by.set_name("按社区").map_err(e)?;
    by.write_with_format(0, 0, "社区", &bold).map_err(e)?;
    for (c, s) in STAGES.iter().enumerate() {
        by.write_with_format(0, (c + 1) as u16, s.1, &bold)
            .map_err(e)?;
    }
    let mut totals = vec![0u64; STAGES.len()];
    for (i, row) in f.by_community.iter().enumerate() {
        let r = (i + 1) as u32;
        by.write_string(r, 0, &row.group).map_err(e)?;
        for (c, n) in row.counts.iter().enumerate() {
            by.write_number(r, (c + 1) as u16, *n as f64).map_err(e)?;
            totals[c] += n;
        }
    }
    let r = (f.by_community.len() + 1) as u32;
    by.write_with_format(r, 0, "合计", &bold).map_err(e)?;
    for (c, n) in totals.iter().enumerate() {
        by.write_number_with_format(r, (c + 1) as u16, *n as f64, &bold)
            .map_err(e)?;
    }
    by.set_column_width(0, 22).map_err(e)?;
    book.save_to_buffer().map_err(e)
}

fn escape(s: &str) -> String {
    crate::notifications::templates::escape(s)
}

/// One bar per stage, width proportional to the first stage, split by programme colour.
pub fn svg(f: &Funnel) -> String {
    const W: f64 = 640.0;
    const BAR_H: f64 = 34.0;
    const GAP: f64 = 12.0;
    const COLOURS: [(&str, &str); 2] = [("#2f6db5", "公租房"), ("#d9822b", "廉租房")];
    let top = f.stages.first().map_or(1, |s| s.count.max(1)) as f64;
    let first = f.stages.first().map_or("", |s| s.label_zh);
    // Labels are never cut off: the left margin fits the widest one, Chinese on the
    // first line and English below in a smaller size (generous widths per character,
    // since the viewer's own font draws them).
    let widest = f
        .stages
        .iter()
        .map(|s| (s.label_zh.chars().count() as f64 * 14.0).max(s.label_en.len() as f64 * 7.0))
        .fold(0.0, f64::max);
    let left = widest + 24.0;
    let height = 70.0 + f.stages.len() as f64 * (BAR_H + GAP) + 30.0;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="13">"#,
        w = left + W + 230.0
    );
    out.push_str(&format!(
        r#"<text x="10" y="24" font-size="16" font-weight="bold">{} 住房保障申请漏斗 · housing application funnel</text>"#,
        escape(&f.scope)
    ));
    for (i, (colour, label)) in COLOURS.iter().enumerate() {
        let x = 10.0 + i as f64 * 110.0;
        out.push_str(&format!(r#"<rect x="{x}" y="36" width="12" height="12" fill="{colour}"/><text x="{}" y="47">{label}</text>"#, x + 16.0));
    }
    for (i, s) in f.stages.iter().enumerate() {
        let y = 60.0 + i as f64 * (BAR_H + GAP);
        let width = W * s.count as f64 / top;
        let x0 = left + (W - width) / 2.0;
        let mut x = x0;
        for (p, (colour, _)) in f.by_programme.iter().zip(COLOURS) {
            let part = if s.count == 0 {
                0.0
            } else {
                width * p.counts[i] as f64 / s.count as f64
            };
            out.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y}" width="{part:.1}" height="{BAR_H}" fill="{colour}"/>"#
            ));
            x += part;
        }
        out.push_str(&format!(
            r#"<text x="{x}" y="{}" text-anchor="end">{}</text><text x="{x}" y="{}" text-anchor="end" font-size="11" fill="dimgray">{}</text>"#,
            y + BAR_H / 2.0 - 2.0,
            s.label_zh,
            y + BAR_H / 2.0 + 12.0,
            escape(s.label_en),
            x = left - 8.0,
        ));
        // Every percentage says what it is a share of: the first stage's households.
        let share = if i == 0 {
            "100%".to_string()
        } else {
            format!("{:.1}%", s.count as f64 * 100.0 / top)
        };
        out.push_str(&format!(
            r#"<text x="{}" y="{}">{} 户 · 占{} {}</text>"#,
            left + W + 8.0,
            y + BAR_H / 2.0 + 5.0,
            s.count,
            first,
            share
        ));
    }
    out.push_str("</svg>");
    out
}

pub fn table(f: &Funnel) -> String {
    let mut out = format!("{}\n", f.scope);
    out.push_str(&format!(
        "{:<28} {:>8} {:>10} {:>12}\n",
        "stage", "cases", "of prev.", "median days"
    ));
    for s in &f.stages {
        out.push_str(&format!(
            "{:<28} {:>8} {:>10} {:>12}\n",
            format!("{} {}", s.stage, s.label_zh),
            s.count,
            pct(s.ratio_from_previous),
            days(s.median_days)
        ));
    }
    for o in &f.outcomes {
        out.push_str(&format!(
            "{:<28} {:>8}\n",
            format!("{} {}", o.outcome, o.label_zh),
            o.count
        ));
    }
    for (stage, n) in &f.overdue {
        out.push_str(&format!("overdue before {stage:<16} {n:>8}\n"));
    }
    out
}
