//! HTTP plumbing shared by every domain: the per-request context (request id,
//! language, access log) and the strict JSON body extractor.

pub mod body;
pub mod client;
pub mod context;
pub mod limits;
pub mod metrics;
pub mod path_names;
pub mod rate_limit;
pub mod server;
