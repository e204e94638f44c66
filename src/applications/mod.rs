//! Applications: the household form, its checks, drafts, idempotent submission with a
//! receipt, duplicate detection across programmes, and reading cases with scope. Owns
//! `application` (whose status only the case writer in `crate::lifecycle` changes),
//! `member_key`, `duplicate_flag`, `idempotency_record`, `case_access` and `app_secret`.

pub mod api;
pub mod bulk;
pub mod domain;
mod filing;
pub mod form;
pub mod query;
mod repository;
pub mod reverification;
pub mod service;
pub mod simulation;
pub mod simulation_api;
pub mod submission;

pub use service::ApplicationError;

/// A case as stored; other domains read its fields, never its table.
pub type Case = entity::application::Model;
/// A case as lists show it (no form): see `query::find_listed`.
pub type Listed = entity::application::Listed;

/// A listed case's applicant, masked: the name (张*明) and identity number.
pub fn applicant_masked(case: &Listed) -> (Option<String>, Option<String>) {
    (
        case.applicant_name.as_deref().map(crate::values::mask_name),
        case.applicant_id_masked.clone(),
    )
}

/// Columns of a case a change sets (other domains prepare them for the case writer).
pub type CaseColumns = entity::application::ActiveModel;
