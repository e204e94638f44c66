//! The batch roster (上报名册) as CSV (UTF-8 with a BOM, so Excel reads the Chinese) and
//! XLSX with Chinese column headers. Identity numbers are masked unless a bureau user
//! asks for the full roster and says why; every export is recorded.

use entity::enums::{ApplicantClass, ItemOutcome, Programme};
use rust_xlsxwriter::{Format, Workbook};

use super::repository as repo;
use super::service::{self, BatchError};
use crate::access::{Principal, Role};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::state::AppState;
use crate::values;

pub const HEADERS: [&str; 10] = [
    "序号",
    "申请编号",
    "社区",
    "申请人姓名",
    "身份证号码",
    "家庭人口",
    "保障项目",
    "申请类别",
    "政策版本",
    "区民政局意见",
];

/// A roster export request.
pub struct Request {
    pub full: bool,
    pub purpose: Option<String>,
    pub xlsx: bool,
}

fn rows(
    detail: &service::BatchDetail,
    full: bool,
    communities: &[crate::places::Place],
) -> Result<Vec<[String; 10]>, sea_orm::DbErr> {
    detail
        .items
        .iter()
        .enumerate()
        .map(|(i, (item, case))| {
            let form = crate::applications::service::form_of(case)?;
            let applicant = form.applicant();
            let id = applicant
                .and_then(|m| m.id_number.clone())
                .unwrap_or_default();
            Ok([
                (i + 1).to_string(),
                case.number.clone().unwrap_or_default(),
                communities
                    .iter()
                    .find(|c| Some(c.id) == case.community_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                applicant.and_then(|m| m.name.clone()).unwrap_or_default(),
                if full {
                    id
                } else {
                    values::mask_id_number(&id)
                },
                case.household_size.to_string(),
                match case.programme {
                    Some(Programme::LowRent) => "廉租房".into(),
                    _ => "公租房".into(),
                },
                match case.applicant_class {
                    Some(ApplicantClass::NewWorker) => "新就业职工".into(),
                    Some(ApplicantClass::Migrant) => "外来务工人员".into(),
                    _ => "本地户籍家庭".into(),
                },
                case.policy_version.clone().unwrap_or_default(),
                match item.decision {
                    Some(ItemOutcome::Approved) => "批准".into(),
                    Some(ItemOutcome::Returned) => "退回".into(),
                    Some(ItemOutcome::Rejected) => "不予批准".into(),
                    Some(ItemOutcome::Withdrawn) => "申请人已撤回".into(),
                    _ => "待审".into(),
                },
            ])
        })
        .collect()
}

/// Column 4 is the identity number: kept as text in the CSV (see `crate::export`).
fn csv_bytes(rows: &[[String; 10]]) -> Result<Vec<u8>, String> {
    use crate::export::Cell;
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| {
                    if i == 4 {
                        Cell::Digits(v.clone())
                    } else {
                        Cell::Text(v.clone())
                    }
                })
                .collect()
        })
        .collect();
    crate::export::csv(&HEADERS, &cells)
}

fn xlsx_bytes(title: &str, rows: &[[String; 10]]) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("上报名册").map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    sheet
        .write_with_format(0, 0, title, &bold)
        .map_err(|e| e.to_string())?;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet
            .write_with_format(1, c as u16, *h, &bold)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let rr = (r + 2) as u32;
            if c == 0 || c == 5 {
                let n: f64 = v.parse().unwrap_or(0.0);
                sheet
                    .write_number(rr, c as u16, n)
                    .map_err(|e| e.to_string())?;
            } else {
                sheet
                    .write_string(rr, c as u16, v)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    sheet.set_column_width(1, 24).map_err(|e| e.to_string())?;
    sheet.set_column_width(4, 22).map_err(|e| e.to_string())?;
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// The roster of a batch in the requested format, recorded in the export log.
pub async fn export(
    state: &AppState,
    caller: &Principal,
    id: i64,
    req: Request,
) -> Result<(Vec<u8>, String), BatchError> {
    let purpose = req
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if req.full {
        if caller.role != Role::Bureau {
            return Err(BatchError::Forbidden);
        }
        if purpose.is_none() {
            return Err(BatchError::Invalid(vec![FieldError::new(
                "purpose",
                "required",
                Msg::new(
                    "导出完整身份证号码须说明用途",
                    "say why the full identity numbers are needed",
                ),
            )]));
        }
    }
    let detail = service::detail(state, caller, id).await?;
    let communities = crate::places::service::by_ids(
        &state.db,
        &detail
            .items
            .iter()
            .filter_map(|(_, c)| c.community_id)
            .collect::<Vec<_>>(),
    )
    .await?;
    let rows = rows(&detail, req.full, &communities)?;
    let title = format!(
        "{} 上报名册 第 {} 批（{} 户）",
        detail
            .subdistrict
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or(""),
        detail.batch.id,
        rows.len()
    );
    let bytes = if req.xlsx {
        xlsx_bytes(&title, &rows)
    } else {
        csv_bytes(&rows)
    }
    .map_err(|e| BatchError::Db(sea_orm::DbErr::Custom(e)))?;
    let logged = repo::export_row(
        id,
        caller.user_id,
        state.clock.now(),
        req.xlsx,
        !req.full,
        purpose,
    );
    repo::log_export(&state.db, logged).await?;
    let name = format!(
        "roster-batch-{id}.{}",
        if req.xlsx { "xlsx" } else { "csv" }
    );
    Ok((bytes, name))
}
