//! Opening the database and starting write transactions.
//!
//! SQLite (the embedded default) gets WAL, `synchronous=NORMAL`, a busy timeout,
//! foreign keys and a pool of several connections: sea-orm's default of one SQLite
//! connection deadlocks as soon as a transaction is open while another query waits for
//! the pool. Write transactions start `IMMEDIATE` on SQLite, because a deferred
//! read-then-write transaction fails with "database is locked" under concurrency no
//! matter how long the busy timeout is. PostgreSQL ignores that option.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub mod backup;
pub mod group;
pub mod health;

use sea_orm::sqlx::pool::PoolConnectionMetadata;

type Check<'c> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + 'c>,
>;

/// Whether a pooled connection may be handed out (see `health`): not one still inside
/// a transaction, not one opened before the last storage failure.
fn usable<C: sea_orm::sqlx::Connection>(conn: &mut C, meta: PoolConnectionMetadata) -> Check<'_> {
    Box::pin(async move {
        if conn.is_in_transaction() {
            tracing::warn!("discarding a database connection left inside a transaction");
            return Ok(false);
        }
        if health::predates_failure(meta.age) {
            tracing::info!("discarding a database connection opened before a storage failure");
            return Ok(false);
        }
        Ok(true)
    })
}

/// Connects with the pool settings described in the module docs.
pub async fn connect(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opt = ConnectOptions::new(url);
    opt.max_connections(pool_size.max(2))
        .min_connections(1)
        // A request waits at most this long for a connection before it is told the
        // database is unavailable (503) rather than hanging.
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_sqlite_before_acquire(|c, meta| usable(c, meta))
        .map_sqlx_postgres_before_acquire(|c, meta| usable(c, meta))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    let db = connect_retrying(opt).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        health::watch(db.get_sqlite_connection_pool());
    }
    Ok(db)
}

/// Connects, retrying while SQLite answers "database is locked" to the first
/// connection's setup: switching a new file to WAL upgrades a lock, and when several
/// processes (or instances) start together SQLite refuses that upgrade at once instead
/// of waiting in the busy handler (its deadlock rule), so `busy_timeout` does not cover
/// it. Up to about 10 seconds, like the busy timeout; anything else fails at once.
async fn connect_retrying(opt: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    let mut wait = Duration::from_millis(10);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Database::connect(opt.clone()).await {
            Err(e) if is_locked(&e) && std::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "the database is locked while connecting; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

fn is_locked(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("database is locked") || text.contains("(code: 5)")
}

/// SQLite lets one writer in at a time, and a connection that finds the lock taken
/// sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms, ... up to 100 ms a try) instead of
/// being woken when the lock frees. Under load that turns into long, random waits. So
/// on SQLite the write transactions of this process queue here first, in order, and
/// only the one at the head asks SQLite for the lock. PostgreSQL writers run in
/// parallel and skip the gate.
static SQLITE_WRITE_GATE: std::sync::LazyLock<Arc<Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(Mutex::new(())));

/// A write transaction; on SQLite it holds the write gate until committed or dropped.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }

    /// A savepoint inside this transaction: its writes are undone alone if it is
    /// rolled back (or dropped), kept with the transaction if it is committed.
    pub async fn savepoint(&self) -> Result<DatabaseTransaction, DbErr> {
        self.txn.begin().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite, behind the gate.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let started = std::time::Instant::now();
    let gate = match db.get_database_backend() {
        DbBackend::Sqlite => Some(SQLITE_WRITE_GATE.clone().lock_owned().await),
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    crate::http::metrics::write_wait(started.elapsed());
    Ok(WriteTxn { txn, _gate: gate })
}

/// Begins a read-only transaction that sees one snapshot for all its reads: `REPEATABLE
/// READ` on PostgreSQL; on SQLite (WAL) every transaction reads one snapshot.
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(
                Some(sea_orm::IsolationLevel::RepeatableRead),
                Some(sea_orm::AccessMode::ReadOnly),
            )
            .await
        }
        _ => db.begin().await,
    }
}

/// The next value of a gap-free counter. Runs inside the caller's write transaction:
/// the row lock (PostgreSQL) or the write lock (SQLite) serialises concurrent callers,
/// and a rolled-back transaction takes its number back with it.
pub async fn next_in_sequence(db: &impl ConnectionTrait, scope: &str) -> Result<i64, DbErr> {
    reserve_in_sequence(db, scope, 1).await
}

/// Reserves `count` consecutive values of a counter; returns the last one.
pub async fn reserve_in_sequence(
    db: &impl ConnectionTrait,
    scope: &str,
    count: i64,
) -> Result<i64, DbErr> {
    use entity::number_sequence;
    use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
    let stmt = Query::insert()
        .into_table(number_sequence::Entity)
        .columns([
            number_sequence::Column::Scope,
            number_sequence::Column::LastValue,
        ])
        .values_panic([scope.into(), count.into()])
        .on_conflict(
            OnConflict::column(number_sequence::Column::Scope)
                .value(
                    number_sequence::Column::LastValue,
                    Expr::col((number_sequence::Entity, number_sequence::Column::LastValue))
                        .add(count),
                )
                .to_owned(),
        )
        .returning_col(number_sequence::Column::LastValue)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("sequence {scope} returned nothing")))?;
    row.try_get("", "last_value")
}

/// A value kept in the database by name (the identity-number hashing key, markers).
pub async fn secret(db: &impl ConnectionTrait, name: &str) -> Result<Option<String>, DbErr> {
    use sea_orm::EntityTrait;
    Ok(entity::app_secret::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .map(|s| s.value))
}

/// Stores a secret unless one is already there (two instances starting at once keep
/// the first).
pub async fn insert_secret(
    db: &impl ConnectionTrait,
    name: &str,
    value: &str,
) -> Result<(), DbErr> {
    use sea_orm::EntityTrait;
    entity::app_secret::Entity::insert(entity::app_secret::ActiveModel {
        name: sea_orm::ActiveValue::Set(name.to_string()),
        value: sea_orm::ActiveValue::Set(value.to_string()),
    })
    .on_conflict_do_nothing_on([entity::app_secret::Column::Name])
    .exec(db)
    .await?;
    Ok(())
}

/// Holds the start-up lock of a database while it lives: instances starting together
/// migrate and seed one after the other instead of racing (two `CREATE TABLE`s, two first
/// admins). On PostgreSQL a session-level advisory lock on a connection of its own; on
/// SQLite an exclusive lock on a file beside the database (`<file>.startup-lock`). Both
/// are released by [`StartupLock::release`], or when the process dies.
pub enum StartupLock {
    None,
    Postgres(DatabaseConnection),
    File(std::fs::File),
}

/// The advisory-lock key: the ASCII of `anjuSTAR`.
const STARTUP_LOCK_KEY: i64 = 0x616e_6a75_5354_4152;

pub async fn startup_lock(url: &str) -> Result<StartupLock, DbErr> {
    if !url.starts_with("postgres") {
        return sqlite_startup_lock(url).await;
    }
    let mut opt = ConnectOptions::new(url);
    opt.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let conn = Database::connect(opt).await?;
    conn.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"),
    ))
    .await?;
    Ok(StartupLock::Postgres(conn))
}

async fn sqlite_startup_lock(url: &str) -> Result<StartupLock, DbErr> {
    let Some(path) = backup::sqlite_file(url) else {
        return Ok(StartupLock::None);
    };
    let lock_path = format!("{}.startup-lock", path.display());
    let file = tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .map_err(|e| DbErr::Custom(e.to_string()))?;
    match file {
        Ok(f) => Ok(StartupLock::File(f)),
        // A read-only file system: nothing can be written at start anyway, and the
        // service should come up (not ready) rather than refuse to start.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            tracing::warn!(error = %e, "starting without the start-up lock: the database's folder cannot be written");
            Ok(StartupLock::None)
        }
        Err(e) => Err(DbErr::Custom(format!("the start-up lock: {e}"))),
    }
}

impl StartupLock {
    pub async fn release(self) -> Result<(), DbErr> {
        match self {
            StartupLock::Postgres(conn) => conn.close().await,
            StartupLock::File(f) => f.unlock().map_err(|e| DbErr::Custom(e.to_string())),
            StartupLock::None => Ok(()),
        }
    }
}

/// Applies every pending migration.
/// Refreshes the query planner's statistics after a bulk load (the demo, generated
/// households). PostgreSQL without autovacuum (as on the test machines) otherwise keeps
/// planning for the empty tables: the queue page went from 0.8 ms to 35 ms after bulk
/// growth until someone ran `ANALYZE`. SQLite plans well without statistics here.
pub async fn analyze(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        // The tables that grow with cases, by their unqualified names: the schema in use.
        db.execute_unprepared(
            "ANALYZE application, application_event, member_key, eligibility_decision, \
             outbox_message, idempotency_record, funnel_count, funnel_duration, status_count, \
             counter_delta, batch_item, housing_unit, round_entry",
        )
        .await?;
    }
    Ok(())
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None).await
}

/// Seconds the read replica is behind its primary: 0 when it has replayed all it has
/// received, else the age of the last transaction it replayed. `None` with no replica
/// configured, or when it cannot be asked.
pub async fn replica_lag(state: &crate::state::AppState) -> Option<f64> {
    state.settings.database_read_url.as_ref()?;
    let sql = "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0::float8 \
               WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8 \
               ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 END AS lag";
    let row = state
        .reads
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map_err(|e| tracing::warn!(error = %e, "reading the replica's lag failed"))
        .ok()??;
    row.try_get::<f64>("", "lag").ok()
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    /// `.cargo/config.toml` builds SQLite with the planner stability guarantee: without
    /// it every statement with `LIMIT ?` is prepared again on each execution.
    #[tokio::test]
    async fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
        let db = super::connect("sqlite::memory:", 2).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT sqlite_compileoption_used('SQLITE_ENABLE_QPSG') AS used",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i32>("", "used").unwrap(), 1);
    }
}
