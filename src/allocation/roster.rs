//! The ranking roster of a round (配租排序名册) as CSV (UTF-8 with a BOM) or XLSX: each
//! household's place, outcome and unit, with names and identity numbers masked as in the
//! public notice unless the bureau says why it needs them in full. Every download is
//! recorded (who, when, format, masked or not, purpose).

use rust_xlsxwriter::{Format, Workbook};

use super::rounds;
use super::service::{AllocationError, EntryStatus, OfferStatus, bureau_only, describe};
use crate::access::Principal;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::state::AppState;
use sea_orm::ActiveValue::Set;

pub const HEADERS: [&str; 8] = [
    "排序",
    "申请编号",
    "申请人",
    "身份证号码",
    "组别",
    "评分",
    "状态",
    "配租房源",
];

/// A roster request: full names and identity numbers only with a purpose.
pub struct Request {
    pub xlsx: bool,
    pub full: bool,
    pub purpose: Option<String>,
}

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

/// Each entry's applicant name and identity number, in full or masked.
type People = std::collections::HashMap<i64, (String, String)>;

async fn people(
    state: &AppState,
    d: &rounds::RoundDetail,
    full: bool,
) -> Result<People, sea_orm::DbErr> {
    let ids: Vec<i64> = d.entries.iter().map(|e| e.application_id).collect();
    let mut out = People::new();
    for case in crate::applications::service::by_ids(&state.db, &ids).await? {
        let form = crate::applications::service::form_of(&case)?;
        let id = form
            .applicant()
            .and_then(|m| m.id_number.clone())
            .unwrap_or_default();
        let name = case.applicant_name.clone().unwrap_or_default();
        out.insert(
            case.id,
            if full {
                (name, id)
            } else {
                (
                    crate::values::mask_name(&name),
                    crate::values::mask_id_number(&id),
                )
            },
        );
    }
    Ok(out)
}

fn rows(d: &rounds::RoundDetail, people: &People) -> Vec<[String; 8]> {
    let groups = rounds::groups(&d.round);
    d.entries
        .iter()
        .map(|e| {
            let (name, id) = people
                .get(&e.application_id)
                .cloned()
                .unwrap_or_else(|| (e.masked_name.clone(), String::new()));
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
                name,
                id,
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

fn xlsx(title: &str, rows: &[[String; 8]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
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
                Ok(n) if c == 0 || c == 5 => sheet.write_number(rr, c as u16, n)?,
                _ => sheet.write_string(rr, c as u16, v)?,
            };
        }
    }
    sheet.set_column_width(1, 24)?;
    sheet.set_column_width(3, 22)?;
    sheet.set_column_width(7, 40)?;
    book.save_to_buffer()
}

/// The roster and its file name; the download is recorded.
pub async fn export(
    state: &AppState,
    caller: &Principal,
    id: i64,
    req: Request,
) -> Result<(Vec<u8>, String), AllocationError> {
    bureau_only(caller)?;
    let purpose = req
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if req.full && purpose.is_none() {
        return Err(AllocationError::Invalid(vec![FieldError::new(
            "purpose",
            "required",
            Msg::new(
                "导出完整姓名和身份证号码须说明用途",
                "say why the full names and identity numbers are needed",
            ),
        )]));
    }
    let d = rounds::detail_of(&state.db, id).await?;
    let people = people(state, &d, req.full).await?;
    let rows = rows(&d, &people);
    let fail = |e: String| AllocationError::Db(sea_orm::DbErr::Custom(e));
    let bytes = if req.xlsx {
        let title = format!("{} 配租排序名册（{} 户）", d.round.name, rows.len());
        xlsx(&title, &rows).map_err(|e| fail(e.to_string()))?
    } else {
        use crate::export::Cell;
        let cells: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if i == 3 {
                            Cell::Digits(v.clone())
                        } else {
                            Cell::Text(v.clone())
                        }
                    })
                    .collect()
            })
            .collect();
        crate::export::csv(&HEADERS, &cells).map_err(fail)?
    };
    let ext = if req.xlsx { "xlsx" } else { "csv" };
    super::repository::log_export(
        &state.db,
        entity::allocation_export::ActiveModel {
            round_id: Set(id),
            user_id: Set(caller.user_id),
            at: Set(state.clock.now()),
            format: Set(ext.into()),
            masked: Set(!req.full),
            purpose: Set(purpose),
            ..Default::default()
        },
    )
    .await?;
    Ok((bytes, format!("round-{id}-ranking.{ext}")))
}
