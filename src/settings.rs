//! One `Settings` struct, from (lowest to highest precedence) built-in defaults, an
//! optional TOML file (`anju.toml`, or the path in `ANJU_CONFIG`) and `ANJU_*`
//! environment variables (`ANJU_DATABASE_URL` sets `database_url`).
//!
//! Strict: a key the service does not know, in the file or as an `ANJU_*` variable,
//! stops the start with the key named (a typo would otherwise leave a default in force
//! without a word), and a file named by `ANJU_CONFIG` must exist. `ANJU_CONFIG`,
//! `ANJU_USER_PASSWORD` (read by `anju user add`) and `ANJU_TEST_*` (the test suites')
//! are not settings.

use std::fmt::Write as _;
use std::path::PathBuf;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Every setting the service reads. See the README's configuration table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: String,
    /// The address people reach the service at, for links in e-mails (a password reset);
    /// `https://…` also marks the browser's cookies `Secure`.
    pub public_url: String,
    /// `sqlite://path?mode=rwc` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Optional `postgres://…` of a streaming replica of `database_url`: the funnel,
    /// rosters and work queues read there (they tolerate a little lag); all else, and
    /// every write, goes to `database_url`.
    pub database_read_url: Option<String>,
    /// Database connections in the pool (at least 2); 0: 4 on SQLite, 8 on PostgreSQL
    /// (see [`Settings::pool_size`]).
    pub db_pool_size: u32,
    /// Lifetime of a login token, in minutes.
    pub token_ttl_minutes: i64,
    /// Failed logins for one login name before it is locked.
    pub login_max_failures: i32,
    /// How long a locked login name stays locked, in minutes.
    pub login_lockout_minutes: i64,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// tracing filter, e.g. `info` or `anju=debug,info`.
    pub log: String,
    /// `text` (the default; coloured only on a terminal) or `json` (one object a line).
    pub log_format: String,
    /// With the password below: an admin account created at start when no admin exists.
    pub bootstrap_admin_login: Option<String>,
    /// Password of the bootstrap admin (secret).
    pub bootstrap_admin_password: Option<String>,
    /// Key for hashing identity numbers for duplicate look-ups (secret). When unset, a
    /// random key is generated on first start and kept in the database.
    pub id_hash_key: Option<String>,
    /// SMTP server for e-mail; with none (and no `mail_dir`) messages wait in the outbox.
    pub smtp_host: Option<String>,
    /// SMTP port (default 587 for starttls, 465 for tls, 25 for none).
    pub smtp_port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: String,
    /// SMTP user name, if the server wants one.
    pub smtp_user: Option<String>,
    /// SMTP password (secret).
    pub smtp_password: Option<String>,
    /// Sender address, e.g. `南关街道住房保障 <housing@example.org>`.
    pub smtp_from: String,
    /// Instead of SMTP: write each message as an .eml file into this folder.
    pub mail_dir: Option<String>,
    /// Delivery attempts before a message is `dead`.
    pub outbox_max_attempts: i32,
    /// First retry delay in seconds; doubled per attempt (with jitter), capped at an hour.
    pub outbox_backoff_secs: i64,
    /// How long a worker's claim on a message lasts, in seconds.
    pub outbox_lease_secs: i64,
    /// Timeout of one SMTP send, in seconds.
    pub smtp_timeout_secs: u64,
    /// How long a computed funnel report is reused for the same scope and filters, in
    /// seconds (0: never). Many bureau users refreshing at once then cost one computation.
    pub report_cache_secs: u64,
    /// How often the background step folds the report counters' pending deltas into
    /// the counters, in milliseconds. Reports are exact either way (they add what is
    /// pending); folding keeps what they add small.
    pub counter_fold_ms: u64,
    /// Submissions committed together by the group writer at most (1: each alone).
    pub group_commit_max: usize,
    /// How long the group writer waits for more submissions once it has one, in
    /// milliseconds (0: it takes what is already queued, so a lone one never waits).
    pub group_commit_wait_ms: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client, comma-separated
    /// addresses or ranges (`127.0.0.1, 10.0.0.0/8`); empty: the peer is the client.
    pub trusted_proxies: String,
    /// Sign-ins tried for one login name from one client address before that pair waits
    /// `login_lockout_minutes` (the lockout an attacker can impose on themselves only).
    pub login_account_max_failures: i32,
    /// Failed sign-ins for one login name from all addresses together, per
    /// `login_account_window_minutes`, before only addresses that signed in to it before
    /// may try (so a distributed guesser is slowed and the owner is not shut out).
    pub login_account_window_minutes: i64,
    /// Accounts one client address may register per hour.
    pub register_per_hour: usize,
    /// Password hashes computed at once (0: one per core); each takes 19 MiB.
    pub hash_concurrency: usize,
    /// Requests that may wait for a hash slot before the rest get 503.
    pub hash_queue: usize,
    /// Seconds a connection has to send a request's head (method, path, headers), counted
    /// from when the server starts waiting for it; also how long an idle kept-alive
    /// connection stays open.
    pub header_timeout_secs: u64,
    /// Seconds a request has to send its whole body (408 past it).
    pub body_timeout_secs: u64,
    /// A secret: with it, `/metrics` on the main port answers requests bearing it
    /// (`Authorization: Bearer …`); without it (and without `metrics_listen`) there is no
    /// `/metrics`.
    pub metrics_token: Option<String>,
    /// A second address serving only `/metrics` (e.g. `127.0.0.1:9464`), for a scraper
    /// on a private network; also asks for `metrics_token` when one is set.
    pub metrics_listen: Option<String>,
    /// Seconds between being told to stop (SIGTERM) and closing the listener: readiness
    /// answers 503 `draining` meanwhile while requests are still served, so a balancer
    /// with health checks takes the instance out first and a rolling restart loses
    /// nothing. 0 (the default) for a single instance.
    pub shutdown_grace_secs: u64,
    /// Client connections at once (0: as many as the open-file limit leaves room for);
    /// never more than the open-file limit less the database pool and 64.
    pub max_connections: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://anju.db?mode=rwc".into(),
            database_read_url: None,
            db_pool_size: 0,
            token_ttl_minutes: 12 * 60,
            login_max_failures: 5,
            login_lockout_minutes: 15,
            body_limit_bytes: 1024 * 1024,
            log: "info".into(),
            log_format: "text".into(),
            bootstrap_admin_login: None,
            bootstrap_admin_password: None,
            id_hash_key: None,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: "starttls".into(),
            smtp_user: None,
            smtp_password: None,
            smtp_from: "anju <noreply@anju.local>".into(),
            mail_dir: None,
            outbox_max_attempts: 8,
            outbox_backoff_secs: 30,
            outbox_lease_secs: 120,
            smtp_timeout_secs: 30,
            report_cache_secs: 2,
            counter_fold_ms: 1000,
            group_commit_max: 64,
            group_commit_wait_ms: 0,
            trusted_proxies: String::new(),
            login_account_max_failures: 50,
            login_account_window_minutes: 60,
            register_per_hour: 10,
            hash_concurrency: 0,
            hash_queue: 16,
            header_timeout_secs: 15,
            body_timeout_secs: 30,
            max_connections: 0,
            shutdown_grace_secs: 0,
            metrics_token: None,
            metrics_listen: None,
        }
    }
}

impl Settings {
    /// The connections the pool opens: `db_pool_size`, or by default 4 on SQLite (its
    /// reads take a thread each; on two cores more only held more memory: peak RSS 151 MB
    /// with 8, 113 MB with 4, at the same rates) and 8 on PostgreSQL (whose statements
    /// wait on the network).
    pub fn pool_size(&self) -> u32 {
        match self.db_pool_size {
            0 if self.database_url.starts_with("sqlite") => 4,
            0 => 8,
            n => n,
        }
    }

    /// How the group writer forms its groups.
    pub fn group_limits(&self) -> crate::db::group::Limits {
        crate::db::group::Limits {
            max: self.group_commit_max.max(1),
            wait: std::time::Duration::from_millis(self.group_commit_wait_ms),
        }
    }

    /// Loads defaults, then the TOML file if present, then the environment; then checks
    /// the values (see [`Settings::problems`]).
    pub fn load() -> anyhow::Result<Settings> {
        let named = std::env::var_os("ANJU_CONFIG").map(PathBuf::from);
        if let Some(path) = &named
            && !path.is_file()
        {
            anyhow::bail!(
                "ANJU_CONFIG names {}, but there is no such file",
                path.display()
            );
        }
        let file = named.unwrap_or_else(|| PathBuf::from("anju.toml"));
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(
                Env::prefixed("ANJU_")
                    .ignore(&["config", "user_password"])
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
            )
            .extract()
            .map_err(|e| anyhow::anyhow!(describe(e)))?;
        let problems = settings.problems();
        if !problems.is_empty() {
            anyhow::bail!("{}", problems.join("; "));
        }
        Ok(settings)
    }

    /// What is wrong with the values (each problem names its key); empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let url = &self.database_url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            out.push(format!(
                "database_url: expected sqlite:… or postgres://…, got {}",
                redact_url(url)
            ));
        }
        if let Some(read) = &self.database_read_url
            && !(read.starts_with("postgres://") || read.starts_with("postgresql://"))
        {
            out.push(format!(
                "database_read_url: a postgres://… replica, got {}",
                redact_url(read)
            ));
        }
        if self.db_pool_size == 1 {
            out.push("db_pool_size: at least 2 (or 0 for the default)".into());
        }
        if !matches!(self.smtp_tls.as_str(), "none" | "starttls" | "tls") {
            out.push(format!(
                "smtp_tls: none, starttls or tls, not {}",
                self.smtp_tls
            ));
        }
        if let Err(e) = crate::http::client::TrustedProxies::parse(&self.trusted_proxies) {
            out.push(format!("trusted_proxies: {e}"));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            out.push(format!("log_format: text or json, not {}", self.log_format));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            out.push(format!(
                "public_url: an http:// or https:// address, not {}",
                self.public_url
            ));
        }
        if self.bootstrap_admin_login.is_some() != self.bootstrap_admin_password.is_some() {
            out.push(
                "bootstrap_admin_login and bootstrap_admin_password: give both or neither".into(),
            );
        }
        if self.token_ttl_minutes <= 0 || self.login_lockout_minutes <= 0 {
            out.push("token_ttl_minutes and login_lockout_minutes: more than 0".into());
        }
        out
    }

    /// Every setting, one `key = value` a line, secrets replaced by `***`.
    pub fn effective(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut out = String::new();
        for (key, v) in value.as_object().into_iter().flatten() {
            let shown = match (key.as_str(), v) {
                (_, serde_json::Value::Null) => "-".to_string(),
                (
                    "bootstrap_admin_password" | "id_hash_key" | "smtp_password" | "metrics_token",
                    _,
                ) => "***".into(),
                ("database_url" | "database_read_url", serde_json::Value::String(u)) => {
                    redact_url(u)
                }
                (_, serde_json::Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            let _ = writeln!(out, "{key} = {shown}");
        }
        out
    }
}

/// A figment error in words: for an unknown key, which one and where it came from.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let source = e
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (from {} {src})", m.name),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            format!("{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Replaces the password in `scheme://user:password@host/...` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pool_is_sized_for_the_database() {
        let mut s = Settings::default();
        assert_eq!(s.pool_size(), 4, "SQLite, the default");
        s.database_url = "postgres://postgres@127.0.0.1:5432/anju".into();
        assert_eq!(s.pool_size(), 8);
        s.db_pool_size = 6;
        assert_eq!(s.pool_size(), 6);
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        s.db_pool_size = 1;
        assert!(s.problems().iter().any(|p| p.starts_with("db_pool_size")));
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://anju:s3cret@db:5432/anju"),
            "postgres://anju:***@db:5432/anju"
        );
        assert_eq!(
            redact_url("sqlite://anju.db?mode=rwc"),
            "sqlite://anju.db?mode=rwc"
        );
        let s = Settings {
            bootstrap_admin_password: Some("hunter22".into()),
            ..Settings::default()
        };
        assert!(!s.effective().contains("hunter22"));
        assert!(s.effective().contains("bootstrap_admin_password = ***"));
    }
}
