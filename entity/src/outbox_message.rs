//! A message to send, written in the same transaction as the change it announces.

use sea_orm::entity::prelude::*;

use crate::enums::{Language, OutboxStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_message")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: Option<i64>,
    /// The case event that caused the message.
    pub event_id: Option<i64>,
    /// What the message announces, e.g. `submission_receipt`.
    pub kind: String,
    /// E-mail address; absent when the applicant gave none (status `no_recipient`).
    pub recipient: Option<String>,
    pub language: Language,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker's claim on the row lasts until this time.
    pub claimed_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub server_reply: Option<String>,
    /// Stable RFC 5322 Message-ID, the same on every attempt.
    #[sea_orm(unique)]
    pub message_id: String,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
