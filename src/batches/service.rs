//! Batch use cases. Every change is one transaction that locks the batch first and goes
//! through the batch writer (`crate::lifecycle::batch_writer`), which moves the cases
//! through the case writer; this module decides who may do what to which batch and
//! builds the manifest.

use chrono::{DateTime, Utc};
use entity::enums::{BatchStatus, ItemOutcome, Programme};
use entity::{batch, batch_item};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::repository::{self as repo, Listing};
use crate::access::{Principal, Role};
use crate::applications::service as apps;
use crate::applications::{ApplicationError, Case};
use crate::clock::local_date;
use crate::error::FieldError;
use crate::i18n::Msg;
use crate::lifecycle::batch_writer::{self, BatchChange, LockedBatch};
use crate::lifecycle::case_writer;
use crate::lifecycle::reasons;
use crate::lifecycle::{Action, LifecycleError, history};
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
    #[error("cases of the batch are no longer ready to report: {0:?}")]
    CasesNotReady(Vec<String>),
    #[error("the case is already in an open batch")]
    InAnotherBatch,
    #[error("the sealer passed a case in this batch (maker-checker)")]
    MakerChecker,
    #[error("the acknowledged count or hash does not match the manifest")]
    Mismatch,
    #[error("this case of the batch is already decided")]
    AlreadyDecided,
    #[error(transparent)]
    Case(#[from] ApplicationError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<LifecycleError> for BatchError {
    fn from(e: LifecycleError) -> Self {
        use LifecycleError as L;
        match e {
            L::WrongBatchState(s) => BatchError::WrongState(s),
            L::BatchEmpty => BatchError::Empty,
            L::InAnotherBatch => BatchError::InAnotherBatch,
            L::AlreadyDecided => BatchError::AlreadyDecided,
            L::NotFound => BatchError::NotFound,
            L::Forbidden => BatchError::Forbidden,
            L::CasesNotReady(ids) => {
                BatchError::CasesNotReady(ids.iter().map(i64::to_string).collect())
            }
            L::Db(db) => BatchError::Db(db),
            other => BatchError::Case(other.into()),
        }
    }
}

/// A batch with its items and their cases.
pub struct BatchDetail {
    pub batch: batch::Model,
    pub subdistrict: Option<Place>,
    pub items: Vec<(batch_item::Model, Case)>,
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

/// Whether the caller may see this batch: in their scope, and for the bureau only once
/// it has been sent.
async fn may_see(
    db: &impl ConnectionTrait,
    caller: &Principal,
    b: &batch::Model,
) -> Result<bool, BatchError> {
    let subs = visible_subdistricts(db, caller).await?;
    let unsent = matches!(
        b.status,
        BatchStatus::Draft | BatchStatus::Sealed | BatchStatus::Cancelled
    );
    Ok(subs.contains(&b.subdistrict_id) && !(caller.role == Role::Bureau && unsent))
}

/// The batch, locked for a change, if the caller may see it.
async fn lock(
    db: &impl ConnectionTrait,
    caller: &Principal,
    id: i64,
) -> Result<LockedBatch, BatchError> {
    let locked = batch_writer::lock(db, id)
        .await?
        .ok_or(BatchError::NotFound)?;
    if !may_see(db, caller, locked.batch()).await? {
        return Err(BatchError::NotFound);
    }
    Ok(locked)
}

async fn with_cases(
    db: &impl ConnectionTrait,
    items: Vec<batch_item::Model>,
) -> Result<Vec<(batch_item::Model, Case)>, DbErr> {
    let ids: Vec<i64> = items.iter().map(|i| i.application_id).collect();
    let cases = apps::by_ids(db, &ids).await?;
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
    let b = repo::find(&state.db, id)
        .await?
        .ok_or(BatchError::NotFound)?;
    if !may_see(&state.db, caller, &b).await? {
        return Err(BatchError::NotFound);
    }
    let subdistrict = places::service::by_ids(&state.db, &[b.subdistrict_id])
        .await?
        .into_iter()
        .next();
    let items = with_cases(&state.db, repo::items_of(&state.db, id).await?).await?;
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
    let txn = crate::db::begin_write(&state.db).await?;
    let row = batch_writer::create(&txn, programme, sub, caller.user_id, state.clock.now()).await?;
    txn.commit().await?;
    detail(state, caller, row.id).await
}

/// Locks the batch, makes one change through the writer, commits, and shows the batch.
async fn change(
    state: &AppState,
    caller: &Principal,
    id: i64,
    make: impl AsyncFnOnce(&crate::db::WriteTxn, &LockedBatch) -> Result<BatchChange, BatchError>,
) -> Result<BatchDetail, BatchError> {
    let txn = crate::db::begin_write(&state.db).await?;
    let locked = lock(&txn, caller, id).await?;
    let c = make(&txn, &locked).await?;
    batch_writer::apply(
        &txn,
        locked,
        c,
        (caller.user_id, caller.role),
        state.clock.now(),
    )
    .await?;
    txn.commit().await?;
    detail(state, caller, id).await
}

pub async fn add_item(
    state: &AppState,
    caller: &Principal,
    id: i64,
    application_id: i64,
) -> Result<BatchDetail, BatchError> {
    change(state, caller, id, async |txn, locked| {
        if locked.batch().status != BatchStatus::Draft {
            return Err(BatchError::WrongState(locked.batch().status));
        }
        // Refused before locking the case: locking it would also lock the other batch.
        if batch_writer::open_batch_of(txn, application_id)
            .await?
            .is_some()
        {
            return Err(BatchError::InAnotherBatch);
        }
        let case = case_writer::lock(txn, application_id)
            .await?
            .ok_or(BatchError::NotReady)?;
        let communities =
            places::service::communities_within(txn, &[locked.batch().subdistrict_id]).await?;
        let c = case.case();
        let fits = c.community_id.is_some_and(|x| communities.contains(&x))
            && c.programme == Some(locked.batch().programme)
            && c.status == crate::lifecycle::Status::ReadyToReport;
        if !fits {
            return Err(BatchError::NotReady);
        }
        Ok(BatchChange::AddItem(Box::new(case)))
    })
    .await
}

pub async fn remove_item(
    state: &AppState,
    caller: &Principal,
    id: i64,
    application_id: i64,
) -> Result<BatchDetail, BatchError> {
    change(state, caller, id, async |_, _| {
        Ok(BatchChange::RemoveItem(application_id))
    })
    .await
}

/// The canonical manifest: keys sorted (serde_json maps are ordered), items by number.
fn manifest(b: &batch::Model, sub: &str, cases: &[Case]) -> Value {
    let mut list: Vec<Value> = cases
        .iter()
        .map(|c| {
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
    let day = local_date(state.clock.now());
    change(state, caller, id, async |txn, locked| {
        let b = locked.batch();
        if b.status != BatchStatus::Draft {
            return Err(BatchError::WrongState(b.status));
        }
        let ids: Vec<i64> = locked.items().iter().map(|i| i.application_id).collect();
        let policy = crate::eligibility::service::policy_in_force(txn, b.programme, day).await?;
        let maker_checker = policy.is_none_or(|p| p.maker_checker);
        if maker_checker
            && history::acted_on_any(txn, &ids, Action::PassReview, caller.user_id).await?
        {
            return Err(BatchError::MakerChecker);
        }
        let sub = places::service::by_ids(txn, &[b.subdistrict_id])
            .await?
            .into_iter()
            .next()
            .map(|p| p.code)
            .unwrap_or_default();
        let m = manifest(b, &sub, &apps::by_ids(txn, &ids).await?);
        let sha256 = sha256_of(&m);
        Ok(BatchChange::Seal {
            manifest: m,
            sha256,
        })
    })
    .await
}

/// The supervisor cancels a batch that has not been sent; its cases may join another.
pub async fn cancel(
    state: &AppState,
    caller: &Principal,
    id: i64,
    reason: Option<String>,
) -> Result<BatchDetail, BatchError> {
    let comment = match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => {
            Some(crate::values::text("reason", r, 500).map_err(|e| BatchError::Invalid(vec![e]))?)
        }
        None => None,
    };
    change(state, caller, id, async |_, _| {
        Ok(BatchChange::Cancel { comment })
    })
    .await
}

/// Submits a sealed batch: every case becomes `reported` (one event each).
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<BatchDetail, BatchError> {
    change(state, caller, id, async |_, _| Ok(BatchChange::Submit)).await
}

/// The bureau acknowledges receipt, checking the count and the hash.
pub async fn acknowledge(
    state: &AppState,
    caller: &Principal,
    id: i64,
    count: i32,
    sha256: &str,
) -> Result<BatchDetail, BatchError> {
    let sha256 = sha256.trim().to_lowercase();
    change(state, caller, id, async |_, locked| {
        let b = locked.batch();
        if b.status != BatchStatus::Submitted {
            return Err(BatchError::WrongState(b.status));
        }
        if b.item_count != count || b.manifest_sha256.as_deref() != Some(sha256.as_str()) {
            return Err(BatchError::Mismatch);
        }
        Ok(BatchChange::Acknowledge)
    })
    .await
}

/// One decision on a case of a batch.
pub struct Decision {
    pub application_id: i64,
    pub decision: String,
    pub reason_code: Option<String>,
    pub comment: Option<String>,
}

/// The case action a decision names, its reason and comment, or every problem at once.
fn checked(d: &Decision) -> Result<(Action, Option<String>), BatchError> {
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
        if d.reason_code.as_deref().and_then(reasons::label).is_none() {
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
    Ok((action, comment))
}

/// Decides one case, in its own transaction; returns the case after it.
pub async fn decide_one(
    state: &AppState,
    caller: &Principal,
    id: i64,
    d: &Decision,
) -> Result<Case, BatchError> {
    if caller.role != Role::Bureau {
        return Err(BatchError::Forbidden);
    }
    let (action, comment) = checked(d)?;
    change(state, caller, id, async |_, _| {
        Ok(BatchChange::Decide {
            application_id: d.application_id,
            action,
            reason_code: d.reason_code.clone(),
            comment,
        })
    })
    .await?;
    apps::by_ids(&state.db, &[d.application_id])
        .await?
        .pop()
        .ok_or(BatchError::NotFound)
}

/// Filters for the batch list.
#[derive(Default)]
pub struct BatchFilter {
    pub status: Option<BatchStatus>,
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
    let hide = if caller.role == Role::Bureau {
        vec![
            BatchStatus::Draft,
            BatchStatus::Sealed,
            BatchStatus::Cancelled,
        ]
    } else {
        vec![]
    };
    let rows = repo::list(
        &state.db,
        Listing {
            subdistricts: subs,
            hide,
            status: f.status,
            programme: f.programme,
            submitted_from: f.from,
            submitted_to: f.to,
            after: f.after.unwrap_or(0),
            limit: f.limit,
        },
    )
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
    pub withdrawn: Vec<String>,
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
    let sent = list(state, caller, f)
        .await?
        .into_iter()
        .map(|(b, _)| b)
        .filter(|b| b.submitted_at.is_some());
    let mut out = Reconciliation::default();
    for b in sent {
        let received = b.received_at.is_some();
        for (item, case) in with_cases(&state.db, repo::items_of(&state.db, b.id).await?).await? {
            let number = case.number.clone().unwrap_or_else(|| case.id.to_string());
            out.sent.push(number.clone());
            if received {
                out.received.push(number.clone());
            }
            match item.decision {
                Some(ItemOutcome::Approved) => out.approved.push(number),
                Some(ItemOutcome::Returned) => out.returned.push(number),
                Some(ItemOutcome::Rejected) => out.rejected.push(number),
                Some(ItemOutcome::Withdrawn) => out.withdrawn.push(number),
                None => out.open.push(number),
            }
        }
    }
    Ok(out)
}
