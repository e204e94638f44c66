//! One `Settings` struct, from (lowest to highest precedence) built-in defaults, an
//! optional TOML file (`anju.toml`, or the path in `ANJU_CONFIG`) and `ANJU_*`
//! environment variables (`ANJU_DATABASE_URL` sets `database_url`).

use std::fmt::Write as _;
use std::path::PathBuf;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Every setting the service reads. See the README's configuration table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: String,
    /// The address people reach the service at, for links in e-mails (a password reset);
    /// `https://…` also marks the browser's cookies `Secure`.
    pub public_url: String,
    /// `sqlite://path?mode=rwc` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Database connections in the pool (at least 2).
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
            db_pool_size: 8,
            token_ttl_minutes: 12 * 60,
            login_max_failures: 5,
            login_lockout_minutes: 15,
            body_limit_bytes: 1024 * 1024,
            log: "info".into(),
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
            trusted_proxies: String::new(),
            login_account_max_failures: 50,
            login_account_window_minutes: 60,
            register_per_hour: 10,
            hash_concurrency: 0,
            hash_queue: 16,
            header_timeout_secs: 15,
            body_timeout_secs: 30,
            max_connections: 0,
        }
    }
}

impl Settings {
    /// Loads defaults, then the TOML file if present, then the environment.
    pub fn load() -> Result<Settings, Box<figment::Error>> {
        let file = std::env::var_os("ANJU_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("anju.toml"));
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("ANJU_").ignore(&["config"]))
            .extract()
            .map_err(Box::new)
    }

    /// The effective settings as one log line, with secrets replaced by `***`.
    pub fn redacted(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "listen={} database_url={} db_pool_size={} token_ttl_minutes={} \
             login_max_failures={} login_lockout_minutes={} body_limit_bytes={} log={} \
             bootstrap_admin_login={} bootstrap_admin_password={} id_hash_key={} \
             smtp_host={} smtp_port={} smtp_tls={} smtp_user={} smtp_password={} smtp_from={} \
             mail_dir={} outbox_max_attempts={}",
            self.listen,
            redact_url(&self.database_url),
            self.db_pool_size,
            self.token_ttl_minutes,
            self.login_max_failures,
            self.login_lockout_minutes,
            self.body_limit_bytes,
            self.log,
            self.bootstrap_admin_login.as_deref().unwrap_or("-"),
            secret(&self.bootstrap_admin_password),
            secret(&self.id_hash_key),
            self.smtp_host.as_deref().unwrap_or("-"),
            self.smtp_port.map_or("-".to_string(), |p| p.to_string()),
            self.smtp_tls,
            self.smtp_user.as_deref().unwrap_or("-"),
            secret(&self.smtp_password),
            self.smtp_from,
            self.mail_dir.as_deref().unwrap_or("-"),
            self.outbox_max_attempts,
        );
        out
    }
}

fn secret(value: &Option<String>) -> &'static str {
    if value.is_some() { "***" } else { "-" }
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
        assert!(!s.redacted().contains("hunter22"));
    }
}
