//! Notifications: the outbox every domain enqueues into, in the same transaction as the
//! change a message announces, and the zh/en templates. This domain calls no other.

pub mod api;
pub mod service;
pub mod templates;
pub mod worker;

pub use service::{NewMessage, enqueue};
