//! The case and batch lifecycles: their transition tables and the two writers that are
//! the only way a case or a batch changes. Every domain that moves a case (intake,
//! review, batches, the bureau) calls a writer; a writer locks the row, checks the table,
//! and writes the status, the version, the event, the report counters and the outbox in
//! the caller's transaction. Owns `application_event`, `batch_event` and the report
//! counters (`funnel_count`, `funnel_duration`, `status_count`), which it keeps in step
//! with the events, and the history of the housing stock (`unit_event`): the unit
//! writer alone changes a unit's or an offer's status.
//!
//! Below the domains: it calls only `notifications` (the outbox sink) and the shared
//! plumbing, never a domain's service.

pub mod batch_table;
pub mod batch_writer;
pub mod case_table;
pub mod case_writer;
pub mod counters;
mod error;
pub mod history;
pub mod reasons;
mod repository;
pub mod unit_writer;

pub use case_table::{Action, Status};
pub use error::LifecycleError;
