//! Reading the housing stock from a spreadsheet the bureau keeps: CSV or XLSX with
//! Chinese headers (English ones are accepted too). Pure: rows in, units or every bad
//! cell out, each with its line and column, so an import is all or nothing.

use entity::enums::Programme;

/// A unit read from a row, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUnit {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub project: String,
    pub building: String,
    pub unit_no: String,
    pub programme: Programme,
    pub area_centi: i32,
    pub rooms: i32,
    pub floor: i32,
    pub rent_fen: i64,
    pub accessible: bool,
}

/// A bad cell (or a missing column, with line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCell {
    pub line: usize,
    /// Spreadsheet column letter (A, B, …); empty for a missing column.
    pub column: String,
    pub header: &'static str,
    pub zh: String,
    pub en: String,
}

/// The columns, with the headers each may have.
const COLUMNS: [(&str, &[&str]); 9] = [
    ("项目", &["项目", "项目名称", "小区", "project"]),
    ("楼栋", &["楼栋", "楼号", "栋", "building"]),
    ("房号", &["房号", "单元房号", "门牌号", "unit", "unit_no"]),
    ("保障类别", &["保障类别", "类别", "房源类别", "programme"]),
    (
        "建筑面积",
        &[
            "建筑面积",
            "建筑面积（㎡）",
            "建筑面积(㎡)",
            "面积",
            "area",
            "floor_area",
        ],
    ),
    ("居室", &["居室", "室数", "户型", "rooms"]),
    ("楼层", &["楼层", "层", "floor"]),
    (
        "月租金",
        &[
            "月租金",
            "月租金（元）",
            "月租金(元)",
            "租金",
            "rent",
            "monthly_rent",
        ],
    ),
    ("无障碍", &["无障碍", "无障碍住房", "accessible"]),
];

fn letter(i: usize) -> String {
    let mut n = i + 1;
    let mut s = String::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

/// A decimal with at most two places, in hundredths (`56.5` → 5650).
pub fn hundredths(s: &str) -> Option<i64> {
    let s = s.trim().replace([',', '，'], "");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w.to_string(), f.to_string()),
        None => (s.clone(), String::new()),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 12 {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

fn programme(s: &str) -> Option<Programme> {
    match s.trim() {
        "公租房" | "公共租赁住房" | "public_rental" => Some(Programme::PublicRental),
        "廉租房" | "廉租住房" | "low_rent" => Some(Programme::LowRent),
        _ => None,
    }
}

fn yes_no(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "" | "否" | "no" | "false" | "0" => Some(false),
        "是" | "yes" | "true" | "1" => Some(true),
        _ => None,
    }
}

/// Reads the rows (the first is the header) into units, or every bad cell.
pub fn read(rows: &[Vec<String>]) -> Result<Vec<NewUnit>, Vec<BadCell>> {
    let Some(header) = rows.first() else {
        return Err(vec![bad(1, "", "项目", "文件是空的", "the file is empty")]);
    };
    let mut at = [usize::MAX; 9];
    let mut errors = Vec::new();
    for (k, (name, names)) in COLUMNS.iter().enumerate() {
        match header.iter().position(|h| names.contains(&h.trim())) {
            Some(i) => at[k] = i,
            // The accessible column may be left out: no unit is accessible.
            None if k == 8 => {}
            None => errors.push(bad(
                1,
                "",
                name,
                &format!("缺少“{name}”列"),
                &format!("the column “{name}” is missing"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut units = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (n, row) in rows.iter().enumerate().skip(1) {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let line = n + 1;
        if let Some(u) = read_row(line, row, &at, &mut errors) {
            let key = (u.project.clone(), u.building.clone(), u.unit_no.clone());
            if let Some(first) = seen.insert(key, line) {
                errors.push(bad(
                    line,
                    &letter(at[2]),
                    "房号",
                    &format!("与第 {first} 行是同一套房"),
                    &format!("the same unit as line {first}"),
                ));
            }
            units.push(u);
        }
    }
    if units.is_empty() && errors.is_empty() {
        errors.push(bad(
            2,
            "",
            "项目",
            "文件中没有房源",
            "the file has no units",
        ));
    }
    if errors.is_empty() {
        Ok(units)
    } else {
        Err(errors)
    }
}

fn bad(line: usize, column: &str, header: &'static str, zh: &str, en: &str) -> BadCell {
    BadCell {
        line,
        column: column.into(),
        header,
        zh: zh.into(),
        en: en.into(),
    }
}

fn read_row(
    line: usize,
    row: &[String],
    at: &[usize; 9],
    errors: &mut Vec<BadCell>,
) -> Option<NewUnit> {
    let before = errors.len();
    let cell = |k: usize| {
        row.get(at[k])
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut fail = |k: usize, zh: &str, en: &str| {
        errors.push(bad(line, &letter(at[k]), COLUMNS[k].0, zh, en));
    };
    let text = |k: usize, max: usize, fail: &mut dyn FnMut(usize, &str, &str)| {
        let v = cell(k);
        if v.is_empty() || v.chars().count() > max {
            fail(
                k,
                &format!("须填写，不超过 {max} 个字"),
                &format!("required, at most {max} characters"),
            );
        }
        v
    };
    let project = text(0, 100, &mut fail);
    let building = text(1, 40, &mut fail);
    let unit_no = text(2, 40, &mut fail);
    let programme = programme(&cell(3));
    if programme.is_none() {
        fail(3, "须为“公租房”或“廉租房”", "must be 公租房 or 廉租房");
    }
    let area = hundredths(&cell(4)).filter(|a| (500..=30_000).contains(a));
    if area.is_none() {
        fail(
            4,
            "须为 5 至 300 之间的数，最多两位小数",
            "a number from 5 to 300 with at most two decimals",
        );
    }
    let int = |k: usize, lo: i32, hi: i32| {
        cell(k)
            .parse::<i32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
    };
    let rooms = int(5, 0, 10);
    if rooms.is_none() {
        fail(5, "须为 0 至 10 的整数", "a whole number from 0 to 10");
    }
    let floor = int(6, -3, 100);
    if floor.is_none() {
        fail(6, "须为 -3 至 100 的整数", "a whole number from -3 to 100");
    }
    let rent = hundredths(&cell(7)).filter(|r| *r <= 1_000_000);
    if rent.is_none() {
        fail(
            7,
            "须为不超过 10000 元的金额，最多两位小数",
            "an amount in yuan up to 10000 with at most two decimals",
        );
    }
    let accessible = if at[8] == usize::MAX {
        Some(false)
    } else {
        yes_no(&cell(8))
    };
    if accessible.is_none() {
        fail(8, "须为“是”或“否”", "must be 是 or 否");
    }
    if errors.len() > before {
        return None;
    }
    Some(NewUnit {
        line,
        project,
        building,
        unit_no,
        programme: programme?,
        area_centi: i32::try_from(area?).ok()?,
        rooms: rooms?,
        floor: floor?,
        rent_fen: rent?,
        accessible: accessible?,
    })
}

/// The rows of a CSV file (UTF-8, a byte-order mark allowed).
pub fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, BadCell> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(
        |_| {
            bad(
                1,
                "",
                "项目",
                "文件不是 UTF-8 编码的 CSV",
                "the file is not UTF-8 CSV",
            )
        },
    )?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .enumerate()
        .map(|(i, r)| {
            r.map(|r| r.iter().map(str::to_string).collect())
                .map_err(|e| {
                    bad(
                        i + 1,
                        "",
                        "项目",
                        &format!("CSV 格式错误：{e}"),
                        &format!("not CSV: {e}"),
                    )
                })
        })
        .collect()
}

/// The rows of the first sheet of an XLSX workbook.
pub fn xlsx_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, BadCell> {
    use calamine::{Data, Reader, Xlsx};
    let unreadable = |e: String| {
        bad(
            1,
            "",
            "项目",
            &format!("无法读取 XLSX 文件：{e}"),
            &format!("not a readable XLSX file: {e}"),
        )
    };
    let mut book =
        Xlsx::new(std::io::Cursor::new(bytes.to_vec())).map_err(|e| unreadable(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("no sheet".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
                    // Up to two decimals is what a cell may hold; more is reported as such.
                    Data::Float(f) => {
                        let s = format!("{f:.6}");
                        s.trim_end_matches('0').to_string()
                    }
                    Data::Int(i) => i.to_string(),
                    Data::Bool(b) => {
                        if *b {
                            "是".into()
                        } else {
                            "否".into()
                        }
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Vec<String>> {
        csv_rows(text.as_bytes()).unwrap()
    }

    const HEADER: &str = "项目,楼栋,房号,保障类别,建筑面积,居室,楼层,月租金（元）,无障碍\n";

    #[test]
    fn a_good_file_reads_every_unit() {
        let units = read(&rows(&format!(
            "{HEADER}南关安居小区,1号楼,101,廉租房,45.5,1,1,136.50,是\n南关安居小区,1号楼,102,公租房,60,2,1,300,否\n"
        )))
        .unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].area_centi, 4550);
        assert_eq!(units[0].rent_fen, 13650);
        assert!(units[0].accessible);
        assert_eq!(units[1].programme, Programme::PublicRental);
        assert_eq!(units[1].line, 3);
    }

    #[test]
    fn every_bad_cell_is_named_with_line_and_column() {
        let errors = read(&rows(&format!(
            "{HEADER}南关安居小区,1号楼,101,别墅,45.555,1,一,136.50,是\n南关安居小区,1号楼,101,廉租房,45,1,1,100,也许\n"
        )))
        .unwrap_err();
        let at: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(at, vec![(2, "D"), (2, "E"), (2, "G"), (3, "I")]);
    }

    #[test]
    fn a_missing_column_and_a_repeated_unit_are_reported() {
        let errors = read(&rows("项目,楼栋,房号\nA,1,1\n")).unwrap_err();
        assert!(errors.iter().any(|e| e.header == "建筑面积" && e.line == 1));
        let errors = read(&rows(&format!(
            "{HEADER}A,1,101,廉租房,45,1,1,100,否\nA,1,101,廉租房,45,1,1,100,否\n"
        )))
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
        assert!(errors[0].zh.contains("第 2 行"));
    }

    /// A workbook as a spreadsheet program writes one: numbers as numbers.
    pub fn workbook(rows: &[(&str, f64, f64)]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in [
            "项目",
            "楼栋",
            "房号",
            "保障类别",
            "建筑面积",
            "居室",
            "楼层",
            "月租金（元）",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, (unit, area, rent)) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            sheet.write_string(r, 0, "南关安居小区").unwrap();
            sheet.write_string(r, 1, "2号楼").unwrap();
            sheet.write_string(r, 2, *unit).unwrap();
            sheet.write_string(r, 3, "廉租房").unwrap();
            sheet.write_number(r, 4, *area).unwrap();
            sheet.write_number(r, 5, 1.0).unwrap();
            sheet.write_number(r, 6, 3.0).unwrap();
            sheet.write_number(r, 7, *rent).unwrap();
        }
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn an_xlsx_workbook_reads_like_its_csv() {
        let units =
            read(&xlsx_rows(&workbook(&[("201", 45.5, 118.3), ("202", 60.0, 156.0)])).unwrap())
                .unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(
            (units[0].area_centi, units[0].rent_fen, units[0].floor),
            (4550, 11830, 3)
        );
        assert!(
            !units[0].accessible,
            "the accessible column may be left out"
        );
        let errors = read(&xlsx_rows(&workbook(&[("201", 45.555, 118.3)])).unwrap()).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column.as_str()), (2, "E"));
        assert!(xlsx_rows(b"PK\x03\x04 not a workbook").is_err());
    }

    #[test]
    fn hundredths_take_at_most_two_decimals() {
        assert_eq!(hundredths("56.5"), Some(5650));
        assert_eq!(hundredths("56.50"), Some(5650));
        assert_eq!(hundredths("1,200"), Some(120_000));
        assert_eq!(hundredths("56.505"), None);
        assert_eq!(hundredths("-1"), None);
        assert_eq!(hundredths(""), None);
        assert_eq!(letter(0), "A");
        assert_eq!(letter(26), "AA");
    }
}
