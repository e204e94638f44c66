//! Eligibility: versioned policies as data, the pure engine that explains every
//! decision line by line, and the stored decisions. Owns `policy` and
//! `eligibility_decision`. Simulation over current cases lives in the applications
//! service, which owns the cases; it calls the engine here.

pub mod api;
pub mod engine;
pub mod policy;
pub mod repository;
pub mod service;

pub use service::EligibilityError;
