//! Health: liveness and readiness probes, and the metrics an operator scrapes.

pub mod api;
pub mod metrics;
pub mod service;
