//! Why a review use case refused; `crate::error` maps each to its HTTP status.

use sea_orm::DbErr;

use crate::applications::ApplicationError;
use crate::error::FieldError;
use crate::lifecycle::{LifecycleError, Status};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such case")]
    NotFound,
    #[error("the caller's role may not do this")]
    Forbidden,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not allowed while the case is {0:?}")]
    WrongStatus(Status),
    #[error("the case changed since version {0}")]
    Stale(i32),
    #[error("the case is assigned to another reviewer")]
    AlreadyAssigned,
    #[error("warnings or duplicate flags are still open")]
    UnresolvedFlags,
    #[error("too many objections; try later")]
    RateLimited,
    /// A 复核 that cannot be asked or answered now: already asked, the window closed,
    /// or the one who refused may not answer.
    #[error("appeal refused: {0}")]
    AppealRefused(&'static str, crate::i18n::Msg),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<ApplicationError> for ReviewError {
    fn from(e: ApplicationError) -> Self {
        match e {
            ApplicationError::NotFound => ReviewError::NotFound,
            ApplicationError::Forbidden => ReviewError::Forbidden,
            ApplicationError::Invalid(f) => ReviewError::Invalid(f),
            ApplicationError::WrongStatus(s) => ReviewError::WrongStatus(s),
            ApplicationError::Stale(v) => ReviewError::Stale(v),
            ApplicationError::Db(db) => ReviewError::Db(db),
            other => ReviewError::Db(DbErr::Custom(other.to_string())),
        }
    }
}

impl From<LifecycleError> for ReviewError {
    fn from(e: LifecycleError) -> Self {
        ApplicationError::from(e).into()
    }
}
