//! Why a writer refused a change. Each domain that calls a writer turns these into its
//! own error; `crate::error` alone decides the HTTP status.

use entity::enums::BatchStatus;
use sea_orm::DbErr;

use super::case_table::Status;
use crate::error::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("not allowed while the case is {0}")]
    WrongStatus(Status),
    #[error("not allowed while the batch is {0}")]
    WrongBatchState(BatchStatus),
    #[error("the actor's role may not take this transition")]
    Forbidden,
    #[error("the case changed since version {0}")]
    Stale(i32),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("the case is already in an open batch")]
    InAnotherBatch,
    #[error("no such case or batch item")]
    NotFound,
    #[error("an empty batch cannot be sealed")]
    BatchEmpty,
    #[error("cases of the batch are no longer ready to report: {0:?}")]
    CasesNotReady(Vec<i64>),
    #[error("this case of the batch is already decided")]
    AlreadyDecided,
    #[error(transparent)]
    Db(#[from] DbErr),
}
