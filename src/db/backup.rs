//! `anju backup` and `anju restore` for the embedded SQLite database, and the lock that
//! tells a restore the database is being served.
//!
//! A backup is `VACUUM INTO`: one read transaction, so the copy is the database as it
//! was at one instant, WAL included, while the service goes on writing (a plain file
//! copy leaves the WAL behind and loses what it held). The copy is then opened and
//! checked like a restore would check it.
//!
//! A restore checks the copy first (`PRAGMA integrity_check`, and that every migration
//! it records is one this binary knows), refuses while any `anju serve` holds the
//! database (each holds a shared lock on `<file>.in-use` while it runs), keeps the
//! database it replaces beside it, and puts the copy in place with a rename, so a crash
//! leaves either the old database or the new one. Pending migrations are applied at the
//! next start, as after an upgrade.
//!
//! PostgreSQL has its own tools; for it both commands print the `pg_dump` /
//! `pg_restore` command to run instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::settings::redact_url;

/// What a backup or a restore found in the copy.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The copy's file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The last migration applied to it.
    pub schema: String,
    /// Migrations this binary has that the copy has not had yet.
    pub pending: Vec<String>,
    /// Rows per table, in table order.
    pub rows: Vec<(String, i64)>,
    /// Where a restore kept the database it replaced.
    pub kept: Option<PathBuf>,
}

impl Summary {
    /// A few lines for the operator.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "file: {} ({} bytes)", self.path.display(), self.bytes);
        let _ = writeln!(out, "integrity: ok");
        let _ = writeln!(out, "schema: {}", self.schema);
        if !self.pending.is_empty() {
            let _ = writeln!(
                out,
                "migrations to apply at the next start: {}",
                self.pending.join(", ")
            );
        }
        let rows: Vec<String> = self.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        let _ = writeln!(out, "rows: {}", rows.join(", "));
        if let Some(kept) = &self.kept {
            let _ = writeln!(
                out,
                "the database it replaced is kept as {}",
                kept.display()
            );
        }
        out
    }
}

/// Why a backup or restore did not happen. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "anju does not copy PostgreSQL itself; use PostgreSQL's own tool:\n  {0}\n(with the password in PGPASSWORD or ~/.pgpass)"
    )]
    UsePostgresTools(String),
    #[error("{0} already exists; a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("the copy at {path} cannot be used: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error(
        "an anju serve is using {0}; stop every instance before restoring (a restore under a running service would be overwritten by it)"
    )]
    InUse(PathBuf),
    #[error("the database URL does not name a SQLite file: {0}")]
    NotAFile(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .and_then(|r| r.split('?').next())
        .filter(|p| !p.is_empty() && !p.contains(":memory:"))
        .map(PathBuf::from)
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Marks the SQLite database as served for as long as the returned file is open.
/// `None` for PostgreSQL (where `pg_restore` is the operator's business) and for a
/// folder that cannot be written (nothing can be restored there either).
pub fn hold_in_use(url: &str) -> std::io::Result<Option<std::fs::File>> {
    let Some(db) = sqlite_file(url) else {
        return Ok(None);
    };
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sibling(&db, ".in-use"));
    let file = match opened {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // Blocks while a restore holds it exclusively: the service starts on the restored
    // database, not on the one being replaced.
    file.lock_shared()?;
    Ok(Some(file))
}

/// Copies the database at `url` to `dest` (a new file) and checks the copy.
pub async fn backup(url: &str, dest: &Path) -> Result<Summary, BackupError> {
    let Some(_) = sqlite_file(url) else {
        return Err(BackupError::UsePostgresTools(format!(
            "pg_dump --format=custom --file={} '{}'",
            dest.display(),
            redact_url(url)
        )));
    };
    if dest.exists() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    let db = super::connect(url, 2).await?;
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [dest.to_string_lossy().into_owned().into()],
        ))
        .await;
    db.close().await?;
    done?;
    inspect(dest).await
}

/// Checks the copy at `src` and puts it in place of the database at `url`.
pub async fn restore(url: &str, src: &Path) -> Result<Summary, BackupError> {
    let Some(target) = sqlite_file(url) else {
        return Err(BackupError::UsePostgresTools(format!(
            "pg_restore --clean --if-exists --dbname='{}' {}   (then: anju migrate)",
            redact_url(url),
            src.display()
        )));
    };
    let mut summary = inspect(src).await?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(sibling(&target, ".in-use"))?;
    if lock.try_lock().is_err() {
        return Err(BackupError::InUse(target));
    }
    let staged = sibling(&target, ".restoring");
    std::fs::copy(src, &staged)?;
    std::fs::File::open(&staged)?.sync_all()?;
    if target.exists() {
        let kept = sibling(
            &target,
            &format!(
                ".before-restore-{}",
                chrono::Utc::now().format("%Y%m%d%H%M%S")
            ),
        );
        for suffix in ["", "-wal", "-shm"] {
            let from = sibling(&target, suffix);
            if from.exists() {
                std::fs::rename(&from, sibling(&kept, suffix))?;
            }
        }
        summary.kept = Some(kept);
    }
    std::fs::rename(&staged, &target)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    summary.path = target;
    drop(lock);
    Ok(summary)
}

/// Opens the copy read-only and checks it: integrity, migrations, rows per table.
pub async fn inspect(path: &Path) -> Result<Summary, BackupError> {
    let unusable = |reason: String| BackupError::Unusable {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::metadata(path)
        .map_err(|e| unusable(e.to_string()))?
        .len();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = Database::connect(&url)
        .await
        .map_err(|e| unusable(e.to_string()))?;
    let checked = check(&db, path, bytes).await;
    db.close().await?;
    checked.map_err(|e| match e {
        BackupError::Db(e) => unusable(e.to_string()),
        other => other,
    })
}

async fn check(db: &DatabaseConnection, path: &Path, bytes: u64) -> Result<Summary, BackupError> {
    let unusable = |reason: String| BackupError::Unusable {
        path: path.to_path_buf(),
        reason,
    };
    let integrity: Vec<String> = strings(db, "PRAGMA integrity_check").await?;
    if integrity != ["ok"] {
        return Err(unusable(format!(
            "integrity check: {}",
            integrity.join("; ")
        )));
    }
    let applied = strings(db, "SELECT version FROM seaql_migrations ORDER BY version")
        .await
        .map_err(|_| unusable("it is not an anju database (no migration table)".into()))?;
    let known: Vec<String> = known_migrations();
    if let Some(newer) = applied.iter().find(|m| !known.contains(m)) {
        return Err(unusable(format!(
            "it was made by a newer anju (migration {newer} is unknown to this one); restore it with that version"
        )));
    }
    let pending = known
        .iter()
        .filter(|m| !applied.contains(m))
        .cloned()
        .collect();
    let tables = strings(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .await?;
    let mut rows = Vec::new();
    for table in tables {
        let sql = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
        let n = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await?
            .and_then(|r| r.try_get_by_index::<i64>(0).ok())
            .unwrap_or(0);
        rows.push((table, n));
    }
    Ok(Summary {
        path: path.to_path_buf(),
        bytes,
        schema: applied.last().cloned().unwrap_or_else(|| "(none)".into()),
        pending,
        rows,
        kept: None,
    })
}

fn known_migrations() -> Vec<String> {
    use migration::MigratorTrait;
    migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Result<Vec<String>, sea_orm::DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect())
}
