//! Batch use cases. Every change is one transaction; cases move through
//! `applications::actions::apply`, so each gets its event.

use chrono::{DateTime, Utc};
use entity::enums::{BatchStatus, ItemOutcome};
use entity::{application, application_event, batch, batch_item};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::applications::actions::{self, REASON_CODES};
use crate::applications::form::{Form, Programme};
use crate::applications::lifecycle::{Action, Status};
use crate::applications::service::ApplicationError;
use crate::auth::{Principal, Role};
use crate::clock::local_date;
use crate::error::FieldError;
use crate::i18n::{Lang, Msg};
use crate::notifications::{self, NewMessage, templates};
use crate::places::{self, Place, PlaceKind};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("no such batch")]
    NotFound,
    #[error("the caller's role or scope may not do this")]
    Forbidden,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not allowed while the batch is {0}")]
    WrongState(BatchStatus),
    #[error("an empty batch cannot be sealed")]
    Empty,
    #[error("the case is not ready to report")]
    NotReady,
    #[error("the case is already in an open batch")]
    InAnotherBatch,
    #[error("the sealer passed a case in this batch (maker-checker)")]
    MakerChecker,
    #[error("the acknowledged count or hash does not match the manifest")]
    Mismatch,
    #[error(transparent)]
    Case(#[from] ApplicationError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Batch states.
pub const DRAFT: BatchStatus = BatchStatus::Draft;
pub const SEALED: BatchStatus = BatchStatus::Sealed;
pub const SUBMITTED: BatchStatus = BatchStatus::Submitted;
pub const RECEIVED: BatchStatus = BatchStatus::Received;
pub const PARTLY: BatchStatus = BatchStatus::PartlyDecided;
pub const CLOSED: BatchStatus = BatchStatus::Closed;

/// A batch with its items and their cases.
pub struct BatchDetail {
    pub batch: batch::Model,
    pub subdistrict: Option<Place>,
    pub items: Vec<(batch_item::Model, application::Model)>,
}

/// The sub-districts a caller may see batches of. Takes the caller's connection: inside
/// a transaction, asking the pool for a second connection can starve it.
async fn visible_subdistricts(
    db: &impl ConnectionTrait,
    caller: &Principal,
) -> Result<Vec<i64>, BatchError> {
    let all = places::service::all(db).await?;
    Ok(match caller.role {
        Role::Supervisor => caller.place_ids.clone(),
        Role::Bureau => all
            .iter()
            .filter(|p| {
                p.kind == PlaceKind::Subdistrict
                    && p.parent_id.is_some_and(|d| caller.place_ids.contains(&d))
            })
            .map(|p| p.id)
            .collect(),
        _ => return Err(BatchError::Forbidden),
    })
}

async fn load(
    db: &impl ConnectionTrait,
    caller: &Principal,
    id: i64,
) -> Result<batch::Model, BatchError> {
    let subs = visible_subdistricts(db, caller).await?;
    let b = batch::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(BatchError::NotFound)?;
    let bureau_hidden = caller.role == Role::Bureau && matches!(b.status, DRAFT | SEALED);
    if !subs.contains(&b.subdistrict_id) || bureau_hidden {
        return Err(BatchError::NotFound);
    }
    Ok(b)
}

async fn items(
    db: &impl ConnectionTrait,
    batch_id: i64,
) -> Result<Vec<(batch_item::Model, application::Model)>, DbErr> {
    let items = batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(batch_id))
        .order_by_asc(batch_item::Column::Id)
        .all(db)
        .await?;
    let cases = application::Entity::find()
        .filter(application::Column::Id.is_in(items.iter().map(|i| i.application_id)))
        .all(db)
        .await?;
    Ok(items
        .into_iter()
        .filter_map(|i| {
            cases
                .iter()
                .find(|c| c.id == i.application_id)
                .cloned()
                .map(|c| (i, c))
        })
        .collect())
}

pub async fn detail(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<BatchDetail, BatchError> {
    let b = load(&state.db, caller, id).await?;
    let subdistrict = places::service::by_ids(&state.db, &[b.subdistrict_id])
        .await?
        .into_iter()
        .next();
    let items = items(&state.db, id).await?;
    Ok(BatchDetail {
        batch: b,
        subdistrict,
        items,
    })
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    programme: Programme,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Supervisor {
        return Err(BatchError::Forbidden);
    }
    let sub = *caller.place_ids.first().ok_or(BatchError::Forbidden)?;
    let row = batch::ActiveModel {
        programme: Set(programme),
        subdistrict_id: Set(sub),
        status: Set(DRAFT),
        created_by: Set(caller.user_id),
        created_at: Set(state.clock.now()),
        item_count: Set(0),
        ..Default::default()
    }
    .insert(&state.db)
    .await?;
    detail(state, caller, row.id).await
}

fn need_state(b: &batch::Model, allowed: &[BatchStatus]) -> Result<(), BatchError> {
    if allowed.contains(&b.status) {
        Ok(())
    } else {
        Err(BatchError::WrongState(b.status))
    }
}

pub async fn add_item(
    state: &AppState,
    caller: &Principal,
    id: i64,
    application_id: i64,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Supervisor {
        return Err(BatchError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[DRAFT])?;
    let case = application::Entity::find_by_id(application_id)
        .one(&txn)
        .await?
        .ok_or(BatchError::NotReady)?;
    let communities = places::service::communities_within(&txn, &[b.subdistrict_id]).await?;
    let in_scope = case.community_id.is_some_and(|c| communities.contains(&c));
    if !in_scope || case.programme != Some(b.programme) || case.status != Status::ReadyToReport {
        return Err(BatchError::NotReady);
    }
    let inserted = batch_item::ActiveModel {
        batch_id: Set(id),
        application_id: Set(application_id),
        open_marker: Set(Some(1)),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(BatchError::InAnotherBatch);
        }
        Err(e) => return Err(e.into()),
    }
    bump_count(&txn, id).await?;
    txn.commit().await?;
    detail(state, caller, id).await
}

async fn bump_count(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    use sea_orm::PaginatorTrait;
    let n = batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(id))
        .count(db)
        .await?;
    batch::Entity::update_many()
        .col_expr(batch::Column::ItemCount, (n as i32).into())
        .filter(batch::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn remove_item(
    state: &AppState,
    caller: &Principal,
    id: i64,
    application_id: i64,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Supervisor {
        return Err(BatchError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[DRAFT])?;
    let res = batch_item::Entity::delete_many()
        .filter(batch_item::Column::BatchId.eq(id))
        .filter(batch_item::Column::ApplicationId.eq(application_id))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(BatchError::NotFound);
    }
    bump_count(&txn, id).await?;
    txn.commit().await?;
    detail(state, caller, id).await
}

/// The canonical manifest: keys sorted (serde_json maps are ordered), items by number.
fn manifest(
    b: &batch::Model,
    sub: &str,
    items: &[(batch_item::Model, application::Model)],
) -> Value {
    let mut list: Vec<Value> = items
        .iter()
        .map(|(_, c)| {
            json!({
                "number": c.number,
                "community_id": c.community_id,
                "policy_version": c.policy_version,
                "household": c.form,
            })
        })
        .collect();
    list.sort_by(|a, b| a["number"].as_str().cmp(&b["number"].as_str()));
    json!({ "batch_id": b.id, "programme": b.programme, "subdistrict": sub, "item_count": list.len(), "items": list })
}

pub fn sha256_of(manifest: &Value) -> String {
    hex::encode(Sha256::digest(manifest.to_string().as_bytes()))
}

pub async fn seal(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Supervisor {
        return Err(BatchError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[DRAFT])?;
    let its = items(&txn, id).await?;
    if its.is_empty() {
        return Err(BatchError::Empty);
    }
    let programme = b.programme;
    let policy = crate::eligibility::service::policy_in_force(
        &txn,
        programme,
        local_date(state.clock.now()),
    )
    .await?;
    if policy.is_none_or(|p| p.maker_checker) {
        let passed_by_sealer = application_event::Entity::find()
            .filter(
                application_event::Column::ApplicationId
                    .is_in(its.iter().map(|(i, _)| i.application_id)),
            )
            .filter(application_event::Column::Action.eq(Action::PassReview.as_str()))
            .filter(application_event::Column::ActorId.eq(caller.user_id))
            .one(&txn)
            .await?;
        if passed_by_sealer.is_some() {
            return Err(BatchError::MakerChecker);
        }
    }
    let sub = places::service::by_ids(&txn, &[b.subdistrict_id])
        .await?
        .into_iter()
        .next()
        .map(|p| p.code)
        .unwrap_or_default();
    let m = manifest(&b, &sub, &its);
    let hash = sha256_of(&m);
    let res = batch::Entity::update_many()
        .col_expr(batch::Column::Status, SEALED.into())
        .col_expr(batch::Column::SealedBy, Some(caller.user_id).into())
        .col_expr(batch::Column::SealedAt, Some(state.clock.now()).into())
        .col_expr(batch::Column::Manifest, Some(m).into())
        .col_expr(batch::Column::ManifestSha256, Some(hash).into())
        .col_expr(batch::Column::ItemCount, (its.len() as i32).into())
        .filter(batch::Column::Id.eq(id))
        .filter(batch::Column::Status.eq(DRAFT))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(BatchError::WrongState(b.status));
    }
    txn.commit().await?;
    detail(state, caller, id).await
}

fn lang_of(c: &application::Model) -> (Lang, entity::enums::Language) {
    (c.language.into(), c.language)
}

fn name_of(c: &application::Model) -> String {
    serde_json::from_value::<Form>(c.form.clone())
        .map(|f| crate::applications::service::applicant_name(&f))
        .unwrap_or_default()
}

async fn tell(
    db: &impl ConnectionTrait,
    c: &application::Model,
    event_id: i64,
    kind: &'static str,
    r: templates::Rendered,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (_, code) = lang_of(c);
    notifications::enqueue(
        db,
        NewMessage {
            application_id: Some(c.id),
            event_id: Some(event_id),
            kind,
            recipient: c.contact_email.clone(),
            language: code,
            rendered: r,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Submits a sealed batch: every case becomes `reported` (one event each).
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Supervisor {
        return Err(BatchError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[SEALED])?;
    let now = state.clock.now();
    for (_, case) in items(&txn, id).await? {
        let event = actions::apply(
            &txn,
            &case,
            Action::Report,
            None,
            None,
            Some(format!("batch {id}")),
            Default::default(),
            now,
        )
        .await?;
        let (lang, _) = lang_of(&case);
        let number = case.number.clone().unwrap_or_default();
        tell(
            &txn,
            &case,
            event,
            "reported_up",
            templates::reported_up(lang, &name_of(&case), &number),
            now,
        )
        .await?;
    }
    batch::Entity::update_many()
        .col_expr(batch::Column::Status, SUBMITTED.into())
        .col_expr(batch::Column::SubmittedBy, Some(caller.user_id).into())
        .col_expr(batch::Column::SubmittedAt, Some(now).into())
        .filter(batch::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    detail(state, caller, id).await
}

/// The bureau acknowledges receipt, checking the count and the hash.
pub async fn acknowledge(
    state: &AppState,
    caller: &Principal,
    id: i64,
    count: i32,
    sha256: &str,
) -> Result<BatchDetail, BatchError> {
    if caller.role != Role::Bureau {
        return Err(BatchError::Forbidden);
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[SUBMITTED])?;
    if b.item_count != count
        || b.manifest_sha256.as_deref() != Some(sha256.trim().to_lowercase().as_str())
    {
        return Err(BatchError::Mismatch);
    }
    batch::Entity::update_many()
        .col_expr(batch::Column::Status, RECEIVED.into())
        .col_expr(batch::Column::ReceivedBy, Some(caller.user_id).into())
        .col_expr(batch::Column::ReceivedAt, Some(state.clock.now()).into())
        .filter(batch::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    detail(state, caller, id).await
}

/// One decision on a case of a batch.
pub struct Decision {
    pub application_id: i64,
    pub decision: String,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
}

/// Decides one case, in its own transaction.
pub async fn decide_one(
    state: &AppState,
    caller: &Principal,
    id: i64,
    d: &Decision,
) -> Result<application::Model, BatchError> {
    if caller.role != Role::Bureau {
        return Err(BatchError::Forbidden);
    }
    let action = match d.decision.as_str() {
        "approve" => Action::Approve,
        "return" => Action::Return,
        "reject" => Action::BureauReject,
        _ => {
            return Err(BatchError::Invalid(vec![FieldError::new(
                "decision",
                "invalid_decision",
                Msg::new(
                    "应为 approve、return 或 reject",
                    "must be approve, return or reject",
                ),
            )]));
        }
    };
    let comment = d
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    if action != Action::Approve {
        let mut errors = Vec::new();
        if !d
            .reason_code
            .as_deref()
            .is_some_and(|r| REASON_CODES.iter().any(|(c, _, _)| *c == r))
        {
            errors.push(FieldError::new(
                "reason_code",
                "unknown_reason",
                Msg::new(
                    "须给出清单中的原因代码",
                    "a reason code from the list is required",
                ),
            ));
        }
        if comment.is_none() {
            errors.push(FieldError::required("comment"));
        }
        if !errors.is_empty() {
            return Err(BatchError::Invalid(errors));
        }
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let b = load(&txn, caller, id).await?;
    need_state(&b, &[RECEIVED, PARTLY])?;
    let item = batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(id))
        .filter(batch_item::Column::ApplicationId.eq(d.application_id))
        .filter(batch_item::Column::Decision.is_null())
        .one(&txn)
        .await?
        .ok_or(BatchError::NotFound)?;
    let case = application::Entity::find_by_id(item.application_id)
        .one(&txn)
        .await?
        .ok_or(BatchError::NotFound)?;
    let now = state.clock.now();
    let actor = Some((caller.user_id, Role::Bureau));
    let event = actions::apply(
        &txn,
        &case,
        action,
        actor,
        d.reason_code.clone().filter(|_| action != Action::Approve),
        comment.clone(),
        Default::default(),
        now,
    )
    .await?;
    let word = match action {
        Action::Approve => "approved",
        Action::Return => "returned",
        _ => "rejected",
    };
    let (lang, _) = lang_of(&case);
    let number = case.number.clone().unwrap_or_default();
    let reason = d
        .reason_code
        .as_deref()
        .and_then(|r| REASON_CODES.iter().find(|(c, _, _)| *c == r))
        .map(|(_, zh, en)| Msg::new(*zh, *en).get(lang).to_string())
        .unwrap_or_default();
    tell(
        &txn,
        &case,
        event,
        "bureau_decision",
        templates::bureau_decision(lang, &name_of(&case), &number, word, &reason),
        now,
    )
    .await?;
    if action == Action::Approve {
        // Gap-free per programme, in order of approval: the sequence row is locked until
        // this transaction commits.
        let programme = case.programme.map_or("", |p| p.as_str());
        let position = crate::applications::repository::next_in_sequence(
            &txn,
            &format!("waitlist:{programme}"),
        )
        .await?;
        let approved = application::Entity::find_by_id(case.id)
            .one(&txn)
            .await?
            .ok_or(BatchError::NotFound)?;
        let changes = application::ActiveModel {
            waitlist_number: Set(Some(position)),
            ..Default::default()
        };
        let wl = actions::apply(
            &txn,
            &approved,
            Action::Waitlist,
            None,
            None,
            Some(format!("轮候号 {position}")),
            changes,
            now,
        )
        .await?;
        tell(
            &txn,
            &case,
            wl,
            "waitlist_number",
            templates::waitlist_number(lang, &name_of(&case), &number, position),
            now,
        )
        .await?;
    }
    batch_item::Entity::update_many()
        .col_expr(batch_item::Column::Decision, Some(word.to_string()).into())
        .col_expr(batch_item::Column::ReasonCode, d.reason_code.clone().into())
        .col_expr(batch_item::Column::Comment, comment.into())
        .col_expr(batch_item::Column::DecidedBy, Some(caller.user_id).into())
        .col_expr(batch_item::Column::DecidedAt, Some(now).into())
        .col_expr(batch_item::Column::OpenMarker, Option::<i32>::None.into())
        .filter(batch_item::Column::Id.eq(item.id))
        .exec(&txn)
        .await?;
    let undecided = batch_item::Entity::find()
        .filter(batch_item::Column::BatchId.eq(id))
        .filter(batch_item::Column::Decision.is_null())
        .one(&txn)
        .await?;
    let (status, closed) = if undecided.is_some() {
        (PARTLY, None)
    } else {
        (CLOSED, Some(now))
    };
    batch::Entity::update_many()
        .col_expr(batch::Column::Status, status.into())
        .col_expr(batch::Column::ClosedAt, closed.into())
        .filter(batch::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    application::Entity::find_by_id(case.id)
        .one(&state.db)
        .await?
        .ok_or(BatchError::NotFound)
}

/// Filters for the batch list.
#[derive(Default)]
pub struct BatchFilter {
    pub status: Option<String>,
    pub subdistrict_code: Option<String>,
    pub programme: Option<Programme>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<i64>,
    pub limit: u64,
}

pub async fn list(
    state: &AppState,
    caller: &Principal,
    f: BatchFilter,
) -> Result<Vec<(batch::Model, Option<Place>)>, BatchError> {
    let mut subs = visible_subdistricts(&state.db, caller).await?;
    let all = places::service::by_ids(&state.db, &subs).await?;
    if let Some(code) = &f.subdistrict_code {
        subs.retain(|s| all.iter().any(|p| p.id == *s && &p.code == code));
    }
    let mut cond = Condition::all()
        .add(batch::Column::SubdistrictId.is_in(subs))
        .add(batch::Column::Id.gt(f.after.unwrap_or(0)));
    if caller.role == Role::Bureau {
        cond = cond.add(batch::Column::Status.is_not_in([DRAFT, SEALED]));
    }
    if let Some(s) = f.status {
        cond = cond.add(batch::Column::Status.eq(s));
    }
    if let Some(p) = f.programme {
        cond = cond.add(batch::Column::Programme.eq(p.as_str()));
    }
    if let Some(from) = f.from {
        cond = cond.add(batch::Column::SubmittedAt.gte(from));
    }
    if let Some(to) = f.to {
        cond = cond.add(batch::Column::SubmittedAt.lt(to));
    }
    let rows = batch::Entity::find()
        .filter(cond)
        .order_by_asc(batch::Column::Id)
        .limit(f.limit)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|b| {
            let p = all.iter().find(|p| p.id == b.subdistrict_id).cloned();
            (b, p)
        })
        .collect())
}

/// Reconciliation figures with the case numbers behind each.
#[derive(Default)]
pub struct Reconciliation {
    pub sent: Vec<String>,
    pub received: Vec<String>,
    pub approved: Vec<String>,
    pub returned: Vec<String>,
    pub rejected: Vec<String>,
    pub open: Vec<String>,
}

pub async fn reconcile(
    state: &AppState,
    caller: &Principal,
    subdistrict_code: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Reconciliation, BatchError> {
    let f = BatchFilter {
        subdistrict_code,
        from,
        to,
        limit: 100_000,
        ..Default::default()
    };
    let batches: Vec<batch::Model> = list(state, caller, f)
        .await?
        .into_iter()
        .map(|(b, _)| b)
        .filter(|b| !matches!(b.status, DRAFT | SEALED))
        .collect();
    let mut out = Reconciliation::default();
    for b in batches {
        let received = b.received_at.is_some();
        for (item, case) in items(&state.db, b.id).await? {
            let number = case.number.clone().unwrap_or_else(|| case.id.to_string());
            out.sent.push(number.clone());
            if received {
                out.received.push(number.clone());
            }
            match item.decision {
                Some(ItemOutcome::Approved) => out.approved.push(number),
                Some(ItemOutcome::Returned) => out.returned.push(number),
                Some(ItemOutcome::Rejected) => out.rejected.push(number),
                _ => out.open.push(number),
            }
        }
    }
    Ok(out)
}
