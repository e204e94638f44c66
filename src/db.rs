//! Opening the database and starting write transactions.
//!
//! SQLite (the embedded default) gets WAL, `synchronous=NORMAL`, a busy timeout,
//! foreign keys and a pool of several connections: sea-orm's default of one SQLite
//! connection deadlocks as soon as a transaction is open while another query waits for
//! the pool. Write transactions start `IMMEDIATE` on SQLite, because a deferred
//! read-then-write transaction fails with "database is locked" under concurrency no
//! matter how long the busy timeout is. PostgreSQL ignores that option.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Connects with the pool settings described in the module docs.
pub async fn connect(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opt = ConnectOptions::new(url);
    opt.max_connections(pool_size.max(2))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(opt).await
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None).await
}
