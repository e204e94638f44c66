//! When the storage fails: a full disk, a read-only file or mount, a database that is
//! down. Such a failure is the operator's to fix, not the request's: it is answered 503
//! with `Retry-After` (never an opaque 500), and the service recovers by itself once
//! space, permissions or the server come back.
//!
//! Recovery needs one thing of the pool: a connection that saw such a failure must not be
//! handed out again as if nothing happened. A connection that comes back still inside a
//! transaction (SQLite can end a transaction on its own after `SQLITE_FULL`, leaving sqlx
//! believing it is open, so the next `BEGIN` would silently become a savepoint of a
//! transaction nobody commits) is always discarded. And every connection opened before the
//! last storage failure is discarded once: a connection opened while the file was
//! read-only stays read-only for its life, so only a new one sees the permissions
//! restored. (A probing write would do the same but take the write lock every writer
//! queues for.)

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{DbErr, RuntimeErr};

/// What is wrong with the storage, as far as a client needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// No space left.
    Full,
    /// The database or its files cannot be written.
    ReadOnly,
    /// The database cannot be reached or did not answer in time.
    Down,
}

/// When the last storage failure was seen (ms since the epoch; 0: never).
static LAST_FAILURE_MS: AtomicI64 = AtomicI64::new(0);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Whether a connection of this age was opened before the last storage failure.
pub fn predates_failure(age: std::time::Duration) -> bool {
    let last = LAST_FAILURE_MS.load(Ordering::Relaxed);
    last > 0 && (age.as_millis() as i64) > now_ms() - last
}

/// The SQLite pools of this process, whose idle connections are closed after a storage
/// failure: SQLite shares one file descriptor per file among a process's connections, so a
/// connection opened while the file was read-only keeps every new one read-only too until
/// the last old one is closed.
static SQLITE_POOLS: std::sync::Mutex<Vec<sea_orm::sqlx::SqlitePool>> =
    std::sync::Mutex::new(Vec::new());

pub fn watch(pool: &sea_orm::sqlx::SqlitePool) {
    SQLITE_POOLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(pool.clone());
}

/// Closes every idle connection of the watched pools (those in use are discarded when
/// they are next handed out: they predate the failure).
fn close_idle() {
    let pools = SQLITE_POOLS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for pool in pools.into_iter().filter(|p| !p.is_closed()) {
        let idle: Vec<_> = std::iter::from_fn(|| pool.try_acquire()).take(64).collect();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for conn in idle {
                    let _ = conn.close().await;
                }
            });
        }
    }
}

/// The outage behind a database error, if it is one (and notes it, see the module docs).
pub fn outage(err: &DbErr) -> Option<Outage> {
    let found = classify(err);
    if found.is_some() {
        LAST_FAILURE_MS.store(now_ms(), Ordering::Relaxed);
        close_idle();
    }
    found
}

fn classify(err: &DbErr) -> Option<Outage> {
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return Some(Outage::Down),
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return None,
    };
    let RuntimeErr::SqlxError(e) = runtime else {
        return None;
    };
    use sea_orm::sqlx::Error as E;
    match &**e {
        E::PoolTimedOut
        | E::PoolClosed
        | E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::WorkerCrashed => Some(Outage::Down),
        E::Database(db) => by_code(
            db.code().as_deref().unwrap_or(""),
            &db.message().to_lowercase(),
        ),
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs (always five characters, often all digits) and SQLite result
/// codes (decimal, primary code in the low byte, never more than four digits).
fn by_code(code: &str, message: &str) -> Option<Outage> {
    if code.len() < 5
        && let Ok(n) = code.parse::<i64>()
    {
        return match n & 0xff {
            13 => Some(Outage::Full),
            8 => Some(Outage::ReadOnly),
            10 | 14 if message.contains("disk") || message.contains("full") => Some(Outage::Full),
            10 | 14 | 26 => Some(Outage::Down),
            _ => None,
        };
    }
    match code {
        "53100" => Some(Outage::Full),
        "25006" => Some(Outage::ReadOnly),
        c if c.starts_with("08") || c.starts_with("57P") || c == "53300" => Some(Outage::Down),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Outage::*;
    use super::by_code;

    #[test]
    fn storage_failures_are_told_apart_from_bad_requests() {
        assert_eq!(by_code("13", "database or disk is full"), Some(Full));
        assert_eq!(
            by_code("1032", "attempt to write a readonly database"),
            Some(ReadOnly)
        );
        assert_eq!(by_code("53100", "could not extend file"), Some(Full));
        assert_eq!(by_code("25006", "read-only transaction"), Some(ReadOnly));
        assert_eq!(by_code("08006", "connection failure"), Some(Down));
        assert_eq!(
            by_code("2067", "UNIQUE constraint failed"),
            None,
            "a constraint is the request's"
        );
        assert_eq!(by_code("23505", "duplicate key"), None);
    }
}
