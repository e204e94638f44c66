//! Objections and the public notice list, and the audit trail of a case.

use chrono::{DateTime, Utc};
use entity::{application, application_event, case_access, objection};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::applications::form::Form;
use crate::applications::lifecycle::{self, Action, Status};
use crate::applications::service::{ApplicationError, Viewer};
use crate::auth::Principal;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::places::{self, Place};
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

/// The cases whose notice window is open now, in the order their windows end.
pub async fn notices(
    state: &AppState,
    community_code: Option<&str>,
) -> Result<Vec<NoticeEntry>, ApplicationError> {
    let now = state.clock.now();
    let mut q = application::Entity::find()
        .filter(application::Column::Status.eq(Status::PassedReview.as_str()))
        .filter(application::Column::NoticeEndsAt.gt(now));
    let all_places = places::service::cached(state).await?;
    if let Some(code) = community_code {
        let id = all_places
            .iter()
            .find(|p| p.code == code)
            .map_or(-1, |p| p.id);
        q = q.filter(application::Column::CommunityId.eq(id));
    }
    let rows = q
        .order_by_asc(application::Column::NoticeEndsAt)
        .limit(500)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|c| {
            let form: Form = serde_json::from_value(c.form.clone()).ok()?;
            let applicant = form.applicant()?;
            Some(NoticeEntry {
                number: c.number.clone()?,
                applicant_name_masked: values::mask_name(applicant.name.as_deref().unwrap_or("")),
                applicant_id_masked: values::mask_id_number(
                    applicant.id_number.as_deref().unwrap_or(""),
                ),
                community: all_places
                    .iter()
                    .find(|p| Some(p.id) == c.community_id)
                    .cloned(),
                programme: c.programme,
                household_size: c.household_size,
                notice_ends_at: c.notice_ends_at?,
            })
        })
        .collect())
}

/// What an objector submits.
pub struct NewObjection {
    pub name: String,
    pub contact: String,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectionError {
    #[error("too many objections; try later")]
    RateLimited,
    #[error(transparent)]
    Case(#[from] ApplicationError),
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

/// Files an objection against a case on notice. Real name and contact are required;
/// each client address and each contact may file five an hour.
pub async fn file_objection(
    state: &AppState,
    number: &str,
    input: NewObjection,
    client: &str,
) -> Result<objection::Model, ObjectionError> {
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
    if !errors.is_empty() {
        return Err(ApplicationError::Invalid(errors).into());
    }
    let now = state.clock.now();
    let txn = crate::db::begin_write(&state.db)
        .await
        .map_err(ApplicationError::from)?;
    let case = application::Entity::find()
        .filter(application::Column::Number.eq(number))
        .filter(application::Column::Status.eq(Status::PassedReview.as_str()))
        .filter(application::Column::NoticeEndsAt.gt(now))
        .one(&txn)
        .await
        .map_err(ApplicationError::from)?
        .ok_or(ApplicationError::NotFound)?;
    if !state.objection_limiter.allow(
        &[&format!("client:{client}"), &format!("contact:{contact}")],
        now,
    ) {
        return Err(ObjectionError::RateLimited);
    }
    let rule = lifecycle::system_transition(Status::PassedReview, Action::FileObjection)
        .map_err(|_| ApplicationError::WrongStatus(Status::PassedReview))?;
    let row = objection::ActiveModel {
        application_id: Set(case.id),
        name: Set(name),
        contact: Set(contact),
        content: Set(content),
        status: Set(entity::enums::ObjectionStatus::Open),
        filed_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(ApplicationError::from)?;
    let event = application_event::ActiveModel {
        application_id: Set(case.id),
        actor_id: Set(None),
        action: Set(Action::FileObjection),
        from_status: Set(Some(Status::PassedReview)),
        to_status: Set(rule.target(Status::PassedReview)),
        comment: Set(Some(format!("objection {}", row.id))),
        policy_version: Set(case.policy_version.clone()),
        created_at: Set(now),
        ..Default::default()
    };
    crate::applications::repository::insert_event(
        &txn,
        &crate::reports::counters::CaseFacts::of(&case),
        event,
    )
    .await
    .map_err(ApplicationError::from)?;
    txn.commit().await.map_err(ApplicationError::from)?;
    Ok(row)
}

/// The objections to a case (staff in scope).
pub async fn objections_of(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<Vec<objection::Model>, ApplicationError> {
    crate::applications::service::get_quiet(state, caller, id).await?;
    Ok(objection::Entity::find()
        .filter(objection::Column::ApplicationId.eq(id))
        .order_by_asc(objection::Column::Id)
        .all(&state.db)
        .await?)
}

/// A case's whole story: every event and every view of its personal data by staff.
pub async fn audit(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<(Vec<application_event::Model>, Vec<case_access::Model>), ApplicationError> {
    let viewer = Viewer::of(state, caller).await?;
    if !viewer.is_staff() {
        return Err(ApplicationError::Forbidden);
    }
    crate::applications::service::get_quiet(state, caller, id).await?;
    let events = crate::applications::repository::events_of(&state.db, id).await?;
    let access = crate::applications::repository::access_of(&state.db, id).await?;
    Ok((events, access))
}
