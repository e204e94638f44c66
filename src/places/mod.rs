//! The administrative tree (district → sub-district → community) that scopes staff
//! and files applications. Owns the `place` table.

pub mod api;
pub mod repository;
pub mod service;

pub use service::{Place, PlaceError, PlaceKind};
