//! The batch writer: the only way a batch or its list of cases changes, and the only
//! code that writes a batch event. Every change locks the batch row first and reads its
//! items after, so what a change sees of the list is the list: a seal cannot miss an item
//! added at the same moment, and the last two decisions cannot both think another is
//! still open. The batch's state after a change is taken from the table or, once the
//! bureau holds it, derived from the items in the same locked transaction.

use chrono::{DateTime, Utc};
use entity::enums::{BatchAction, BatchStatus, ItemOutcome, Programme};
use entity::{batch, batch_event, batch_item};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, SqlErr};
use serde_json::Value;

use super::batch_table::{self, BatchTransition, derived};
use super::case_table::{Action, Status};
use super::case_writer::{self, Actor, Change, Locked};
use super::error::LifecycleError;
use super::repository as repo;
use crate::access::Role;

/// A batch locked for the rest of the transaction, with its items as they are under
/// the lock; only [`lock`] and the writer's own functions make one.
pub struct LockedBatch {
    batch: batch::Model,
    items: Vec<batch_item::Model>,
}

impl LockedBatch {
    pub fn batch(&self) -> &batch::Model {
        &self.batch
    }

    pub fn items(&self) -> &[batch_item::Model] {
        &self.items
    }
}

/// Locks a batch and reads its items; `None` if there is no such batch.
pub async fn lock(db: &impl ConnectionTrait, id: i64) -> Result<Option<LockedBatch>, DbErr> {
    let Some(batch) = repo::lock_batch(db, id).await? else {
        return Ok(None);
    };
    let items = repo::items_of(db, id).await?;
    Ok(Some(LockedBatch { batch, items }))
}

/// The open batch a case sits in, if any (read without a lock).
pub async fn open_batch_of(db: &impl ConnectionTrait, case_id: i64) -> Result<Option<i64>, DbErr> {
    repo::open_batch_of(db, case_id).await
}

/// Opens a new draft batch.
pub async fn create(
    db: &impl ConnectionTrait,
    programme: Programme,
    subdistrict_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<batch::Model, DbErr> {
    let row = repo::insert_batch(
        db,
        batch::ActiveModel {
            programme: Set(programme),
            subdistrict_id: Set(subdistrict_id),
            status: Set(BatchStatus::Draft),
            created_by: Set(user_id),
            created_at: Set(now),
            item_count: Set(0),
            ..Default::default()
        },
    )
    .await?;
    let created = Note {
        actor_id: Some(user_id),
        action: BatchAction::Create,
        from: None,
        application_id: None,
        comment: None,
    };
    record(db, &row, created, now).await?;
    Ok(row)
}

/// One change to a batch.
pub enum BatchChange {
    /// Put a case (locked by the caller) in the batch.
    AddItem(Box<Locked>),
    /// Take a case out.
    RemoveItem(i64),
    /// Freeze the list under this manifest.
    Seal {
        manifest: Value,
        sha256: String,
    },
    Cancel {
        comment: Option<String>,
    },
    /// Send the batch: every case is reported up.
    Submit,
    Acknowledge,
    /// The bureau's decision on one case: approve, return or reject.
    Decide {
        application_id: i64,
        action: Action,
        reason_code: Option<String>,
        comment: Option<String>,
    },
}

impl BatchChange {
    fn action(&self) -> BatchAction {
        match self {
            BatchChange::AddItem(_) => BatchAction::AddItem,
            BatchChange::RemoveItem(_) => BatchAction::RemoveItem,
            BatchChange::Seal { .. } => BatchAction::Seal,
            BatchChange::Cancel { .. } => BatchAction::Cancel,
            BatchChange::Submit => BatchAction::Submit,
            BatchChange::Acknowledge => BatchAction::Acknowledge,
            BatchChange::Decide { .. } => BatchAction::Decide,
        }
    }
}

/// What a change did beyond the batch row: the columns it sets, the case it concerns
/// and the note on its event.
#[derive(Default)]
struct Effect {
    columns: batch::ActiveModel,
    application_id: Option<i64>,
    comment: Option<String>,
}

/// Makes one change to a locked batch, by a signed-in person, in the caller's
/// transaction; returns the batch after it, still locked.
pub async fn apply(
    db: &impl ConnectionTrait,
    locked: LockedBatch,
    change: BatchChange,
    (user_id, role): (i64, Role),
    now: DateTime<Utc>,
) -> Result<LockedBatch, LifecycleError> {
    let from = locked.batch.status;
    let rule = batch_table::transition(from, change.action())
        .ok_or(LifecycleError::WrongBatchState(from))?;
    if !rule.roles.contains(&role) {
        return Err(LifecycleError::Forbidden);
    }
    let actor = Actor::Person { user_id, role };
    let effect = match change {
        BatchChange::AddItem(case) => add(db, &locked, *case).await?,
        BatchChange::RemoveItem(id) => remove(db, &locked, id).await?,
        BatchChange::Seal { manifest, sha256 } => seal(db, &locked, manifest, sha256).await?,
        BatchChange::Cancel { comment } => {
            repo::release_items(db, locked.batch.id).await?;
            Effect {
                comment,
                ..Default::default()
            }
        }
        BatchChange::Submit => report(db, &locked, now).await?,
        BatchChange::Acknowledge => Effect::default(),
        BatchChange::Decide {
            application_id,
            action,
            reason_code,
            comment,
        } => {
            let decision = Decision {
                application_id,
                action,
                reason_code,
                comment,
            };
            decide(db, &locked, decision, actor, now).await?
        }
    };
    let stamp = stamps(rule, user_id, now);
    finish(db, locked.batch, rule, effect, stamp, Some(user_id), now).await
}

/// Who and when, for the columns a transition records.
fn stamps(rule: &BatchTransition, user: i64, now: DateTime<Utc>) -> batch::ActiveModel {
    let mut c = batch::ActiveModel::default();
    match rule.action {
        BatchAction::Seal => {
            c.sealed_by = Set(Some(user));
            c.sealed_at = Set(Some(now));
        }
        BatchAction::Submit => {
            c.submitted_by = Set(Some(user));
            c.submitted_at = Set(Some(now));
        }
        BatchAction::Acknowledge => {
            c.received_by = Set(Some(user));
            c.received_at = Set(Some(now));
        }
        _ => {}
    }
    c
}

/// Writes the batch's new state (from the table, or derived from its items), its item
/// count and its event.
async fn finish(
    db: &impl ConnectionTrait,
    batch: batch::Model,
    rule: &BatchTransition,
    effect: Effect,
    stamp: batch::ActiveModel,
    actor_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<LockedBatch, LifecycleError> {
    let items = repo::items_of(db, batch.id).await?;
    let to = derived(rule.to.unwrap_or(batch.status), &items);
    let mut columns = merge(effect.columns, stamp);
    columns.status = Set(to);
    columns.item_count = Set(items.len() as i32);
    if to == BatchStatus::Closed && batch.status != BatchStatus::Closed {
        columns.closed_at = Set(Some(now));
    }
    let updated = repo::update_batch(db, batch.id, columns).await?;
    let note = Note {
        actor_id,
        action: rule.action,
        from: Some(batch.status),
        application_id: effect.application_id,
        comment: effect.comment,
    };
    record(db, &updated, note, now).await?;
    Ok(LockedBatch {
        batch: updated,
        items,
    })
}

/// `a` with every column `b` sets.
fn merge(mut a: batch::ActiveModel, b: batch::ActiveModel) -> batch::ActiveModel {
    use sea_orm::ActiveValue::Set as S;
    macro_rules! take {
        ($($f:ident),+) => { $( if let S(v) = b.$f { a.$f = S(v); } )+ };
    }
    take!(
        sealed_by,
        sealed_at,
        submitted_by,
        submitted_at,
        received_by,
        received_at
    );
    a
}

/// What a batch event records besides the batch's new state.
struct Note {
    actor_id: Option<i64>,
    action: BatchAction,
    from: Option<BatchStatus>,
    application_id: Option<i64>,
    comment: Option<String>,
}

async fn record(
    db: &impl ConnectionTrait,
    batch: &batch::Model,
    note: Note,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    repo::insert_batch_event(
        db,
        batch_event::ActiveModel {
            batch_id: Set(batch.id),
            actor_id: Set(note.actor_id),
            action: Set(note.action),
            from_status: Set(note.from),
            to_status: Set(batch.status),
            application_id: Set(note.application_id),
            comment: Set(note.comment),
            created_at: Set(now),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

async fn add(
    db: &impl ConnectionTrait,
    locked: &LockedBatch,
    case: Locked,
) -> Result<Effect, LifecycleError> {
    let c = case.case();
    if c.status != Status::ReadyToReport || c.programme != Some(locked.batch.programme) {
        return Err(LifecycleError::WrongStatus(c.status));
    }
    match repo::insert_item(db, locked.batch.id, c.id).await {
        Ok(_) => Ok(Effect {
            application_id: Some(c.id),
            ..Default::default()
        }),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(LifecycleError::InAnotherBatch)
        }
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    db: &impl ConnectionTrait,
    locked: &LockedBatch,
    application_id: i64,
) -> Result<Effect, LifecycleError> {
    let item = locked
        .items
        .iter()
        .find(|i| i.application_id == application_id)
        .ok_or(LifecycleError::NotFound)?;
    repo::delete_item(db, item.id).await?;
    Ok(Effect {
        application_id: Some(application_id),
        ..Default::default()
    })
}

/// Freezes the list: not empty, every case still ready to report.
async fn seal(
    db: &impl ConnectionTrait,
    locked: &LockedBatch,
    manifest: Value,
    sha256: String,
) -> Result<Effect, LifecycleError> {
    if locked.items.is_empty() {
        return Err(LifecycleError::BatchEmpty);
    }
    let ids: Vec<i64> = locked.items.iter().map(|i| i.application_id).collect();
    let not_ready: Vec<i64> = repo::cases_by_ids(db, &ids)
        .await?
        .into_iter()
        .filter(|c| c.status != Status::ReadyToReport)
        .map(|c| c.id)
        .collect();
    if !not_ready.is_empty() {
        return Err(LifecycleError::CasesNotReady(not_ready));
    }
    let items_in_manifest = manifest["item_count"].as_u64();
    if items_in_manifest != Some(locked.items.len() as u64) {
        return Err(LifecycleError::Db(DbErr::Custom(format!(
            "batch {}: the manifest lists {items_in_manifest:?} items, the batch holds {}",
            locked.batch.id,
            locked.items.len()
        ))));
    }
    Ok(Effect {
        columns: batch::ActiveModel {
            manifest: Set(Some(manifest)),
            manifest_sha256: Set(Some(sha256)),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// Reports every case of the batch up (上报), each through the case writer.
async fn report(
    db: &impl ConnectionTrait,
    locked: &LockedBatch,
    now: DateTime<Utc>,
) -> Result<Effect, LifecycleError> {
    for item in &locked.items {
        let case = case_writer::lock(db, item.application_id)
            .await?
            .ok_or(LifecycleError::NotFound)?;
        let change = Change::new(Action::Report, Actor::System)
            .comment(Some(format!("batch {}", locked.batch.id)));
        case_writer::apply(db, case, change, now).await?;
    }
    Ok(Effect::default())
}

struct Decision {
    application_id: i64,
    action: Action,
    reason_code: Option<String>,
    comment: Option<String>,
}

/// The bureau's decision on one open case of the batch; an approval also gives the
/// case its waiting-list number (gap-free per programme, in order of approval).
async fn decide(
    db: &impl ConnectionTrait,
    locked: &LockedBatch,
    d: Decision,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Effect, LifecycleError> {
    let item = locked
        .items
        .iter()
        .find(|i| i.application_id == d.application_id)
        .ok_or(LifecycleError::NotFound)?;
    if item.decision.is_some() {
        return Err(LifecycleError::AlreadyDecided);
    }
    let outcome = match d.action {
        Action::Approve => ItemOutcome::Approved,
        Action::Return => ItemOutcome::Returned,
        Action::BureauReject => ItemOutcome::Rejected,
        _ => return Err(LifecycleError::Forbidden),
    };
    let case = case_writer::lock(db, item.application_id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let reason = d.reason_code.filter(|_| d.action != Action::Approve);
    let change = Change::new(d.action, actor)
        .reason(reason.clone())
        .comment(d.comment.clone());
    let decided = case_writer::apply(db, case, change, now).await?;
    if d.action == Action::Approve {
        let programme = locked.batch.programme.as_str();
        let position = crate::db::next_in_sequence(db, &format!("waitlist:{programme}")).await?;
        let change = Change::new(Action::Waitlist, Actor::System)
            .comment(Some(format!("轮候号 {position}")))
            .columns(entity::application::ActiveModel {
                waitlist_number: Set(Some(position)),
                // The first 年审 falls due a year after approval.
                reverify_due_on: Set(
                    crate::clock::local_date(now).checked_add_months(chrono::Months::new(12))
                ),
                ..Default::default()
            });
        case_writer::apply(db, decided.case, change, now).await?;
    }
    let decided_by = match actor {
        Actor::Person { user_id, .. } => Some(user_id),
        _ => None,
    };
    close_item(db, item.id, outcome, reason, d.comment, decided_by, now).await?;
    Ok(Effect {
        application_id: Some(d.application_id),
        ..Default::default()
    })
}

async fn close_item(
    db: &impl ConnectionTrait,
    item_id: i64,
    outcome: ItemOutcome,
    reason: Option<String>,
    comment: Option<String>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    repo::update_item(
        db,
        item_id,
        batch_item::ActiveModel {
            decision: Set(Some(outcome)),
            reason_code: Set(reason),
            comment: Set(comment),
            decided_by: Set(by),
            decided_at: Set(Some(now)),
            open_marker: Set(None),
            ..Default::default()
        },
    )
    .await
}

/// A case of an open batch was withdrawn (called by the case writer, in the withdrawal's
/// transaction, with the batch already locked). In a draft batch the case leaves it; a
/// sealed batch also goes back to draft (its manifest no longer holds); a batch the
/// bureau has keeps the case as withdrawn, which counts as decided.
pub(super) async fn case_withdrawn(
    db: &impl ConnectionTrait,
    case_id: i64,
    now: DateTime<Utc>,
) -> Result<(), LifecycleError> {
    let Some(batch_id) = repo::open_batch_of(db, case_id).await? else {
        return Ok(());
    };
    let locked = lock(db, batch_id).await?.ok_or(LifecycleError::NotFound)?;
    let from = locked.batch.status;
    let rule = batch_table::transition(from, BatchAction::ItemWithdrawn)
        .ok_or(LifecycleError::WrongBatchState(from))?;
    let Some(item) = locked.items.iter().find(|i| i.application_id == case_id) else {
        return Ok(());
    };
    let mut columns = batch::ActiveModel::default();
    match from {
        BatchStatus::Draft | BatchStatus::Sealed => {
            repo::delete_item(db, item.id).await?;
            if from == BatchStatus::Sealed {
                columns.manifest = Set(None);
                columns.manifest_sha256 = Set(None);
                columns.sealed_by = Set(None);
                columns.sealed_at = Set(None);
            }
        }
        _ => {
            let note = Some("撤回 withdrawn by the applicant".to_string());
            close_item(db, item.id, ItemOutcome::Withdrawn, None, note, None, now).await?;
        }
    }
    let effect = Effect {
        columns,
        application_id: Some(case_id),
        comment: None,
    };
    let unsealed = BatchTransition {
        to: (from == BatchStatus::Sealed).then_some(BatchStatus::Draft),
        ..*rule
    };
    finish(
        db,
        locked.batch,
        &unsealed,
        effect,
        Default::default(),
        None,
        now,
    )
    .await?;
    Ok(())
}
