//! The public side of first review: the notice list (公示), objections to it, closing
//! windows that have ended; and the audit trail of a case for staff.

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::enums::ObjectionStatus;
use entity::objection;
use sea_orm::ActiveValue::Set;

use super::error::ReviewError;
use super::repository as repo;
use crate::access::{Principal, Role};
use crate::applications::query::{self, CaseQuery, SortKey};
use crate::applications::service::{self as apps, Viewer};
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::case_writer::{self, Actor, Change};
use crate::lifecycle::history::{self, CaseEvent};
use crate::lifecycle::{Action, LifecycleError, Status};
use crate::places::{self, Place, PlaceKind};
use crate::state::AppState;
use crate::values::{self, Mobile};

/// A case on public notice, with nothing but what the notice may show.
pub struct NoticeEntry {
    pub number: String,
    pub applicant_name_masked: String,
    pub applicant_id_masked: String,
    pub community: Option<Place>,
    pub programme: Option<entity::enums::Programme>,
    pub household_size: i32,
    pub notice_ends_at: DateTime<Utc>,
}

/// Which part of the notice list.
#[derive(Default)]
pub struct NoticeQuery {
    pub community_code: Option<String>,
    /// Only the case with this number.
    pub number: Option<String>,
    pub cursor: Option<String>,
    pub limit: u64,
}

/// One page of the notice list, with how many cases match in all.
pub struct NoticePage {
    pub entries: Vec<NoticeEntry>,
    pub total: u64,
    pub next_cursor: Option<String>,
}

fn encode(at: DateTime<Utc>, id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

fn decode(cursor: &str) -> Result<(DateTime<Utc>, i64), ReviewError> {
    let bad = || {
        ReviewError::Invalid(vec![FieldError::new(
            "cursor",
            "invalid_cursor",
            Msg::new("分页游标无效", "not a cursor this list gave out"),
        )])
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, id) = text.split_once('|').ok_or_else(bad)?;
    let t = DateTime::parse_from_rfc3339(t).map_err(|_| bad())?;
    Ok((t.with_timezone(&Utc), id.parse().map_err(|_| bad())?))
}

/// The cases whose notice window is open now, in the order their windows end, a page
/// at a time (keyset: the window's end, then the case id).
pub async fn notices(state: &AppState, q: NoticeQuery) -> Result<NoticePage, ReviewError> {
    let now = state.clock.now();
    let all_places = places::service::cached(state).await?;
    let communities: Vec<i64> = all_places
        .iter()
        .filter(|p| p.kind == PlaceKind::Community)
        .filter(|p| q.community_code.as_ref().is_none_or(|c| &p.code == c))
        .map(|p| p.id)
        .collect();
    let mut cases = CaseQuery {
        number: q.number.map(|n| n.trim().to_string()),
        notice_open_at: Some(now),
        sort: SortKey::NoticeEnds,
        ..CaseQuery::in_status(Status::PassedReview)
    };
    let total = query::count(&state.db, &communities, &cases).await?;
    cases.after = q.cursor.as_deref().map(decode).transpose()?;
    let rows = query::find(&state.db, &communities, &cases, q.limit + 1).await?;
    let more = rows.len() as u64 > q.limit;
    let mut entries = Vec::with_capacity(rows.len());
    let mut last = None;
    for c in rows.into_iter().take(q.limit as usize) {
        last = cases.position(&c);
        let form = apps::form_of(&c)?;
        let id_number = form.applicant().and_then(|m| m.id_number.clone());
        entries.push(NoticeEntry {
            number: c.number.clone().unwrap_or_default(),
            applicant_name_masked: values::mask_name(c.applicant_name.as_deref().unwrap_or("")),
            applicant_id_masked: values::mask_id_number(id_number.as_deref().unwrap_or("")),
            community: all_places
                .iter()
                .find(|p| Some(p.id) == c.community_id)
                .cloned(),
            programme: c.programme,
            household_size: c.household_size,
            notice_ends_at: c.notice_ends_at.unwrap_or(now),
        });
    }
    let next_cursor = if more {
        last.map(|(t, id)| encode(t, id))
    } else {
        None
    };
    Ok(NoticePage {
        entries,
        total,
        next_cursor,
    })
}

/// What an objector submits.
pub struct NewObjection {
    pub name: String,
    pub contact: String,
    pub content: String,
}

/// A mobile, or a Zhengzhou landline (0371 + 8 digits).
fn contact(raw: &str) -> Result<String, FieldError> {
    if let Ok(m) = Mobile::parse("contact", raw) {
        return Ok(m.as_str().to_string());
    }
    let digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() == 12
        && digits.starts_with("0371")
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(digits);
    }
    Err(FieldError::new(
        "contact",
        "invalid_contact",
        Msg::new(
            "请填写手机号码或郑州固定电话（0371 加 8 位）",
            "give a mobile number or a Zhengzhou landline (0371 and 8 digits)",
        ),
    ))
}

fn checked(input: NewObjection) -> Result<NewObjection, ReviewError> {
    let mut errors = Vec::new();
    let name = values::text("name", &input.name, 50)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let contact = contact(&input.contact)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let content = values::text("content", &input.content, 2000)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    if errors.is_empty() {
        Ok(NewObjection {
            name,
            contact,
            content,
        })
    } else {
        Err(ReviewError::Invalid(errors))
    }
}

/// Files an objection against a case on notice. Real name and contact are required;
/// each client address and each contact may file five an hour.
pub async fn file_objection(
    state: &AppState,
    number: &str,
    input: NewObjection,
    client: &str,
) -> Result<objection::Model, ReviewError> {
    let input = checked(input)?;
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db).await?;
    let on_notice = apps::by_number(&txn, number)
        .await?
        .filter(|c| c.status == Status::PassedReview && c.notice_ends_at.is_some_and(|t| t > now))
        .ok_or(ReviewError::NotFound)?;
    if !state.objection_limiter.allow(
        &[
            &format!("client:{client}"),
            &format!("contact:{}", input.contact),
        ],
        now,
    ) {
        return Err(ReviewError::RateLimited);
    }
    // The same objection again (a double click, a retry) is the one on record.
    if let Some(same) = repo::same(&txn, on_notice.id, &input.contact, &input.content).await? {
        return Ok(same);
    }
    let case = case_writer::lock(&txn, on_notice.id)
        .await?
        .ok_or(ReviewError::NotFound)?;
    let row = repo::insert(
        &txn,
        objection::ActiveModel {
            application_id: Set(on_notice.id),
            name: Set(input.name),
            contact: Set(input.contact),
            content: Set(input.content),
            status: Set(ObjectionStatus::Open),
            filed_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    let change = Change::new(Action::FileObjection, Actor::System)
        .comment(Some(format!("objection {}", row.id)));
    case_writer::apply(&txn, case, change, now).await?;
    txn.commit().await?;
    Ok(row)
}

/// The objections to a case (staff in scope).
pub async fn objections_of(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Vec<objection::Model>, ReviewError> {
    if !caller.is(&[Role::Reviewer, Role::Supervisor, Role::Bureau]) {
        return Err(ReviewError::Forbidden);
    }
    apps::get_quiet(state, caller, id).await?;
    Ok(repo::of_case(&state.db, id).await?)
}

/// A case's whole story: every event and every view of its personal data by staff.
pub async fn audit(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<(Vec<CaseEvent>, Vec<apps::CaseAccess>), ReviewError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ReviewError::Forbidden);
    }
    apps::get_quiet(state, caller, id).await?;
    let events = history::of_case(&state.db, id).await?;
    let access = apps::access_log(&state.db, id).await?;
    Ok((events, access))
}

/// Moves every case whose notice window has ended, with no open or upheld objection, to
/// ready-to-report. Each case in its own transaction; returns how many moved. Only the
/// service (the ticker) and supervisors or admins asking for it now may run it.
pub async fn close_due_notices(
    state: &AppState,
    caller: Option<&Principal>,
) -> Result<u64, ReviewError> {
    if caller.is_some_and(|c| !c.is(&[Role::Supervisor, Role::Admin])) {
        return Err(ReviewError::Forbidden);
    }
    let now = state.clock.now();
    let ended = CaseQuery {
        late: Some((true, vec![], Some(now + chrono::Duration::microseconds(1)))),
        ..CaseQuery::in_status(Status::PassedReview)
    };
    let due = query::find_everywhere(&state.db, &ended, 10_000).await?;
    let mut moved = 0;
    for case in due {
        let txn = crate::db::begin_write(&state.db).await?;
        if repo::blocking(&txn, case.id).await?.is_some() {
            continue;
        }
        let Some(locked) = case_writer::lock(&txn, case.id).await? else {
            continue;
        };
        let change = Change::new(Action::CloseNotice, Actor::System);
        match case_writer::apply(&txn, locked, change, now).await {
            Ok(_) => {
                txn.commit().await?;
                moved += 1;
            }
            // Someone acted on it meanwhile; the next run looks again.
            Err(LifecycleError::WrongStatus(_) | LifecycleError::Stale(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(moved)
}
