//! Health: liveness and readiness probes.

pub mod api;
pub mod service;
