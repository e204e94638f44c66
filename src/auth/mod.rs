//! Accounts, roles, login sessions and the bearer-token check every protected
//! endpoint goes through. Owns the `user_account`, `staff_scope`, `session_token` and
//! `login_throttle` tables.

pub mod api;
pub mod domain;
pub mod hashing;
pub mod login;
mod repository;
pub mod service;

pub use domain::{Principal, Role};
pub use service::AuthError;
