//! Review: the reviewers' daily work (work queues, staff actions one at a time or in
//! bulk, reason codes, the audit trail) and the public side of first review (the notice
//! list, objections, closing ended notice windows). Owns the `objection` table; the case
//! itself belongs to the applications domain, and its status changes go through the
//! case writer in `crate::lifecycle`.

pub mod actions;
pub mod api;
pub mod appeals;
mod error;
pub mod notice;
pub mod notice_api;
pub mod queue;
mod repository;

pub use error::ReviewError;
