//! Review: the reviewers' daily work over HTTP (queues, actions, bulk actions, reason
//! codes, the audit trail) and the public side of first review (the notice list and
//! objections). Owns the `objection` table; the case itself and its lifecycle belong to
//! the applications domain, whose service functions this one calls.

pub mod api;
pub mod public;
pub mod service;
