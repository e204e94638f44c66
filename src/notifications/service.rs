//! Writing messages to the outbox. Sending happens elsewhere, never inside a request.

use chrono::{DateTime, Utc};
use entity::enums::{Language, OutboxStatus};
use entity::outbox_message;
use rand::RngCore;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr};

use super::templates::Rendered;
use crate::access::{Principal, Role};
use crate::state::AppState;

/// A message to enqueue.
pub struct NewMessage {
    pub application_id: Option<i64>,
    pub event_id: Option<i64>,
    pub kind: &'static str,
    pub recipient: Option<String>,
    pub language: Language,
    pub rendered: Rendered,
}

/// Writes one message in the caller's transaction. A message with no recipient is
/// kept as `no_recipient`, so the office can see which notices could not be e-mailed.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    msg: NewMessage,
    now: DateTime<Utc>,
) -> Result<outbox_message::Model, DbErr> {
    super::repository::insert(db, row(msg, now)).await
}

/// The outbox row for a new message.
fn row(msg: NewMessage, now: DateTime<Utc>) -> outbox_message::ActiveModel {
    let mut id = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut id);
    let status = if msg.recipient.is_some() {
        OutboxStatus::Pending
    } else {
        OutboxStatus::NoRecipient
    };
    outbox_message::ActiveModel {
        application_id: Set(msg.application_id),
        event_id: Set(msg.event_id),
        kind: Set(msg.kind.to_string()),
        recipient: Set(msg.recipient),
        language: Set(msg.language),
        subject: Set(msg.rendered.subject),
        body_text: Set(msg.rendered.text),
        body_html: Set(msg.rendered.html),
        status: Set(status),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_error: Set(None),
        server_reply: Set(None),
        message_id: Set(format!("<{}@anju.local>", hex::encode(id))),
        created_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    }
}

/// Writes several messages in the caller's transaction with one statement (as
/// [`enqueue`] each).
pub async fn enqueue_many(
    db: &impl ConnectionTrait,
    msgs: Vec<NewMessage>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if msgs.is_empty() {
        return Ok(());
    }
    let rows = msgs.into_iter().map(|m| row(m, now)).collect();
    super::repository::insert_many(db, rows).await
}

/// A page of the outbox (admin).
pub async fn list(
    state: &AppState,
    caller: &Principal,
    status: Option<OutboxStatus>,
    application_id: Option<i64>,
    after: i64,
    limit: u64,
) -> Result<Vec<outbox_message::Model>, OutboxError> {
    require_admin(caller)?;
    Ok(super::repository::page(&state.db, status, application_id, after, limit).await?)
}

/// Queues a dead message again at once, keeping its Message-ID and attempt count (admin).
pub async fn retry(
    state: &AppState,
    caller: &Principal,
    id: i64,
) -> Result<outbox_message::Model, OutboxError> {
    require_admin(caller)?;
    let revived = super::repository::revive(&state.db, id, state.clock.now()).await?;
    let row = super::repository::find(&state.db, id)
        .await?
        .ok_or(OutboxError::NotFound)?;
    if revived {
        Ok(row)
    } else {
        Err(OutboxError::NotDead)
    }
}

fn require_admin(caller: &Principal) -> Result<(), OutboxError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(OutboxError::Forbidden)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("no such message")]
    NotFound,
    #[error("only a dead message can be retried")]
    NotDead,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The outbox as an operator watches it.
pub struct Backlog {
    pub pending: u64,
    pub oldest_pending: Option<chrono::DateTime<chrono::Utc>>,
    pub dead: u64,
}

pub async fn backlog(db: &impl sea_orm::ConnectionTrait) -> Result<Backlog, sea_orm::DbErr> {
    let (pending, oldest_pending) = super::repository::backlog(db, OutboxStatus::Pending).await?;
    let (dead, _) = super::repository::backlog(db, OutboxStatus::Dead).await?;
    Ok(Backlog {
        pending,
        oldest_pending,
        dead,
    })
}
