//! Allocation (配租): the district's housing stock, allocation rounds (配租方案) with
//! intent registration (意向登记), the re-check before ranking (动态审核), ranking by
//! score or by a lottery anyone can verify (摇号), and offers in rank order (选房). Owns
//! `housing_unit`, `allocation_round`, `round_unit`, `round_entry` and `unit_offer`;
//! the status of a unit or an offer, and a unit's history (`unit_event`), are written
//! only by the unit writer in `crate::lifecycle`, and a case's only by the case writer.

pub mod api;
pub mod lottery;
pub mod offers;
mod repository;
pub mod roster;
pub mod rounds;
pub mod service;
pub mod stock;

pub use service::AllocationError;
