//! Report-up batches (上报) and the bureau's side: create, fill, seal (a canonical
//! manifest with its SHA-256), submit, acknowledge, decide per case, waiting-list
//! numbers, rosters and reconciliation. Owns `batch`, `batch_item` and `export_log`;
//! the cases' own transitions go through the applications domain.

pub mod api;
pub mod roster;
pub mod service;

pub use service::BatchError;
