//! Accounts, roles, login sessions and the bearer-token check every protected
//! endpoint goes through; password resets by e-mailed link. Owns the `user_account`,
//! `staff_scope`, `session_token`, `login_throttle` and `password_reset` tables.

pub mod api;
pub mod domain;
pub mod hashing;
pub mod login;
mod repository;
pub mod reset;
pub mod service;

pub use domain::{Principal, Role};
pub use service::AuthError;
