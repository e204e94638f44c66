//! Counters and histograms recorded where things happen (requests, sign-ins refused,
//! waits for a write transaction), kept by the `metrics` recorder and rendered in the
//! Prometheus text format by `/metrics` (see `crate::health::metrics` for the gauges
//! read at scrape time). Recording is a no-op until the recorder is installed.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Buckets for latencies, in seconds: 1 ms to 10 s.
const LATENCY: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder (once); the handle that renders it.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// One answered request. A 404's route is `(unmatched)`, so that what scanners try
/// makes no label of its own.
pub fn request(method: &poem::http::Method, route: &str, status: u16, elapsed: Duration) {
    let route = if status == 404 {
        "(unmatched)".to_string()
    } else {
        route.to_string()
    };
    metrics::counter!(
        "anju_http_requests_total",
        "method" => method.to_string(),
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("anju_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
}

/// A sign-in refused: `invalid_credentials`, `locked_out` or `busy`.
pub fn login_refused(reason: &'static str) {
    metrics::counter!("anju_logins_refused_total", "reason" => reason).increment(1);
}

/// How long beginning a write transaction took (pool, the SQLite write gate, BEGIN).
pub fn write_wait(elapsed: Duration) {
    metrics::histogram!("anju_db_begin_write_seconds").record(elapsed.as_secs_f64());
}

/// How many writes one group commit carried (see `db::group`).
pub fn group_size(jobs: usize) {
    metrics::histogram!("anju_db_group_commit_jobs").record(jobs as f64);
}

/// Sets a gauge (scrape-time readings).
pub fn gauge(name: &'static str, labels: &[(&'static str, String)], value: f64) {
    let labels: Vec<metrics::Label> = labels
        .iter()
        .map(|(k, v)| metrics::Label::new(*k, v.clone()))
        .collect();
    metrics::gauge!(name, labels).set(value);
}
