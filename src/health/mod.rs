//! Liveness and readiness probes for process supervisors and load balancers.

pub mod api;
