//! Applications: the household form, its checks, drafts, idempotent submission with a
//! receipt, duplicate detection across programmes, the case lifecycle table and the
//! event log. Owns `application`, `application_event`, `member_key`, `duplicate_flag`,
//! `idempotency_record` and the application-number sequences.

pub mod actions;
pub mod api;
pub mod bulk;
pub mod domain;
pub mod form;
pub mod lifecycle;
pub mod queue;
pub mod repository;
pub mod service;
pub mod simulation;

pub use service::ApplicationError;
