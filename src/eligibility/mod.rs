//! Eligibility: versioned policies as data, the pure engine that explains every
//! decision line by line, and the stored decisions. Owns `policy` and
//! `eligibility_decision`. The engine reads its own input type (`input`), so this domain
//! depends on no other but `auth` (who may publish). Simulation over current cases lives
//! in the applications domain, which owns the cases, with its endpoint.

pub mod api;
pub mod engine;
pub mod guide;
pub mod input;
pub mod policy;
pub mod policy_toml;
mod repository;
pub mod service;

pub use service::EligibilityError;
