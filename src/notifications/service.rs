//! Writing messages to the outbox. Sending happens elsewhere, never inside a request.

use chrono::{DateTime, Utc};
use entity::enums::{Language, OutboxStatus};
use entity::outbox_message;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use super::templates::Rendered;

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
    .insert(db)
    .await
}
