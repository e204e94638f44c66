//! Notifications: the outbox every domain enqueues into, in the same transaction as the
//! change a message announces, the zh/en templates, the SMTP worker and the admin's view
//! of the outbox. Owns `outbox_message`. It calls no other domain (only `auth` for the
//! caller of its admin endpoints).

pub mod api;
mod repository;
pub mod service;
pub mod templates;
pub mod worker;

pub use entity::enums::OutboxStatus;
pub use service::{NewMessage, OutboxError, enqueue, enqueue_many};
