//! The ranking roster of a round (配租排序名册) as CSV (UTF-8 with a BOM) or XLSX, with
//! names masked as in the public notice, and where each household ended up.

use rust_xlsxwriter::{Format, Workbook};

use super::rounds;
use super::service::{AllocationError, EntryStatus, OfferStatus, bureau_only, describe};
use crate::access::Principal;
use crate::state::AppState;

pub const HEADERS: [&str; 7] = [
    "排序",
    "申请编号",
    "申请人",
    "组别",
    "评分",
    "状态",
    "配租房源",
];

fn status(s: EntryStatus) -> &'static str {
    match s {
        EntryStatus::Registered => "已登记",
        EntryStatus::FailedRecheck => "审核不符合，退出轮候",
        EntryStatus::Ranked => "等待选房",
        EntryStatus::Offered => "已提供房源",
        EntryStatus::Allocated => "已配租",
        EntryStatus::Declined => "放弃选房",
        EntryStatus::Left => "已退出本轮",
    }
}

fn rows(d: &rounds::RoundDetail) -> Vec<[String; 7]> {
    let groups = rounds::groups(&d.round);
    d.entries
        .iter()
        .map(|e| {
            let unit = d
                .offers
                .iter()
                .find(|o| o.entry_id == e.id && o.status == OfferStatus::Accepted)
                .and_then(|o| d.units.iter().find(|u| u.id == o.unit_id))
                .map(describe)
                .unwrap_or_default();
            [
                e.rank.map(|r| r.to_string()).unwrap_or_default(),
                e.code.clone(),
                e.masked_name.clone(),
                groups
                    .get(e.group_rank as usize)
                    .map(|g| match g {
                        crate::applications::form::Programme::LowRent => "廉租房",
                        crate::applications::form::Programme::PublicRental => "公租房",
                    })
                    .unwrap_or("")
                    .to_string(),
                e.score.map(|s| s.to_string()).unwrap_or_default(),
                status(e.status).to_string(),
                unit,
            ]
        })
        .collect()
}

fn xlsx(title: &str, rows: &[[String; 7]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("配租排序")?;
    let bold = Format::new().set_bold();
    sheet.write_with_format(0, 0, title, &bold)?;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_with_format(1, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let rr = (r + 2) as u32;
            match v.parse::<f64>() {
                Ok(n) if c == 0 || c == 4 => sheet.write_number(rr, c as u16, n)?,
                _ => sheet.write_string(rr, c as u16, v)?,
            };
        }
    }
    sheet.set_column_width(1, 24)?;
    sheet.set_column_width(6, 40)?;
    book.save_to_buffer()
}

/// The roster and its file name.
pub async fn export(
    state: &AppState,
    caller: &Principal,
    id: i64,
    as_xlsx: bool,
) -> Result<(Vec<u8>, String), AllocationError> {
    bureau_only(caller)?;
    let d = rounds::detail_of(&state.db, id).await?;
    let rows = rows(&d);
    let fail = |e: String| AllocationError::Db(sea_orm::DbErr::Custom(e));
    let bytes = if as_xlsx {
        let title = format!("{} 配租排序名册（{} 户）", d.round.name, rows.len());
        xlsx(&title, &rows).map_err(|e| fail(e.to_string()))?
    } else {
        use crate::export::Cell;
        let cells: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| r.iter().map(|v| Cell::Text(v.clone())).collect())
            .collect();
        crate::export::csv(&HEADERS, &cells).map_err(fail)?
    };
    let ext = if as_xlsx { "xlsx" } else { "csv" };
    Ok((bytes, format!("round-{id}-ranking.{ext}")))
}
