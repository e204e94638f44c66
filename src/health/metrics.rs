//! `/metrics`: the counters and histograms recorded as things happen (`http::metrics`)
//! and gauges read now: the database pool, the outbox (backlog, oldest pending, dead),
//! the notice windows open. Report counters have no lag to show: each is written in the
//! transaction of the event it counts.

use crate::applications::query::{self, CaseQuery};
use crate::http::metrics::gauge;
use crate::lifecycle::Status;
use crate::state::AppState;

/// The whole exposition, or `None` when the recorder could not be installed.
pub async fn render(state: &AppState) -> Option<String> {
    let handle = crate::http::metrics::handle()?;
    read_gauges(state).await;
    Some(handle.render())
}

async fn read_gauges(state: &AppState) {
    let (size, idle, max) = pool(state);
    gauge(
        "anju_db_pool_connections",
        &[("state", "idle".into())],
        idle as f64,
    );
    gauge(
        "anju_db_pool_connections",
        &[("state", "in_use".into())],
        size.saturating_sub(idle) as f64,
    );
    gauge("anju_db_pool_max_connections", &[], max as f64);
    let now = state.clock.now();
    match crate::notifications::service::backlog(&state.db).await {
        Ok(b) => {
            gauge(
                "anju_outbox_messages",
                &[("status", "pending".into())],
                b.pending as f64,
            );
            gauge(
                "anju_outbox_messages",
                &[("status", "dead".into())],
                b.dead as f64,
            );
            let age = b
                .oldest_pending
                .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            gauge("anju_outbox_oldest_pending_seconds", &[], age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the outbox failed"),
    }
    match query::count_everywhere(&state.db, &CaseQuery::in_status(Status::PassedReview)).await {
        Ok(n) => gauge("anju_notice_windows_open", &[], n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: counting notice windows failed"),
    }
    if let Some(lag) = crate::db::replica_lag(state).await {
        gauge("anju_db_replica_lag_seconds", &[], lag);
    }
    gauge("anju_up", &[], 1.0);
}

/// (connections open, of which idle, the pool's maximum).
fn pool(state: &AppState) -> (u32, u32, u32) {
    let max = state.settings.pool_size();
    match state.db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => {
            let p = state.db.get_sqlite_connection_pool();
            (p.size(), p.num_idle() as u32, max)
        }
        sea_orm::DbBackend::Postgres => {
            let p = state.db.get_postgres_connection_pool();
            (p.size(), p.num_idle() as u32, max)
        }
        _ => (0, 0, max),
    }
}
