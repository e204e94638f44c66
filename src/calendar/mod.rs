//! The working-day calendar: Monday to Friday are working days except official holidays,
//! and some weekend days are working days (调休). The exceptions are data
//! (`calendar_day`, seeded for 2015 to 2026 from the State Council's notices and edited by
//! the admin); deadlines that count working days (the answer to a 复核) are counted here.
//! Lowest of the domains: it names none of them.

pub mod api;
mod repository;
pub mod service;

pub use service::{Calendar, Deadline};
