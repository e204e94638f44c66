//! Report-up batches (上报) and the bureau's side: create, fill, seal (a canonical
//! manifest with its SHA-256), submit, acknowledge, decide per case, cancel a batch not
//! yet sent, rosters and reconciliation. Owns `batch`, `batch_item` and `export_log`;
//! every change to a batch and its cases goes through the writers in `crate::lifecycle`.

pub mod api;
mod repository;
pub mod roster;
pub mod service;

pub use service::BatchError;
