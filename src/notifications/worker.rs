//! Delivery: claims due outbox messages, sends them with lettre over SMTP (or writes
//! them to a folder), and records what happened.
//!
//! Claiming is a guarded update per row (`… WHERE id = ? AND status = 'pending' AND the
//! claim is free`), which works the same on SQLite and PostgreSQL and never lets two
//! workers take one row, without holding locks while sending. A claim is a lease: if a
//! worker dies between sending and recording, the row becomes due again when the lease
//! runs out and is sent once more with the same Message-ID, so the recipient's mail
//! system can recognise the repeat. Failures back off exponentially with jitter up to
//! `outbox_max_attempts`, then the message is `dead` with its last error.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::Duration;
use entity::outbox_message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use sea_orm::DbErr;

use super::repository as repo;
use crate::settings::Settings;
use crate::state::AppState;

/// Where messages go.
#[derive(Clone)]
pub enum Delivery {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        timeout: StdDuration,
    },
    Folder {
        dir: PathBuf,
        from: Mailbox,
    },
    /// Nothing configured: messages wait in the outbox.
    Disabled,
}

impl Delivery {
    /// Builds the delivery the settings describe.
    pub fn from_settings(s: &Settings) -> anyhow::Result<Delivery> {
        let from: Mailbox = s
            .smtp_from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp_from {:?} is not an address: {e}", s.smtp_from))?;
        if let Some(host) = &s.smtp_host {
            let builder = match s.smtp_tls.as_str() {
                "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(s.smtp_port.unwrap_or(25)),
                "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    .port(s.smtp_port.unwrap_or(587)),
                "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?
                    .port(s.smtp_port.unwrap_or(465)),
                other => anyhow::bail!("smtp_tls must be none, starttls or tls, not {other:?}"),
            };
            let timeout = StdDuration::from_secs(s.smtp_timeout_secs.max(1));
            let mut builder = builder.timeout(Some(timeout));
            if let Some(user) = &s.smtp_user {
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    s.smtp_password.clone().unwrap_or_default(),
                ));
            }
            return Ok(Delivery::Smtp {
                transport: builder.build(),
                from,
                timeout,
            });
        }
        if let Some(dir) = &s.mail_dir {
            std::fs::create_dir_all(dir)?;
            return Ok(Delivery::Folder {
                dir: PathBuf::from(dir),
                from,
            });
        }
        Ok(Delivery::Disabled)
    }

    pub fn describe(&self) -> String {
        match self {
            Delivery::Smtp { .. } => "SMTP".into(),
            Delivery::Folder { dir, .. } => format!("files in {}", dir.display()),
            Delivery::Disabled => {
                "disabled (no smtp_host or mail_dir): messages stay in the outbox".into()
            }
        }
    }
}

fn build(row: &outbox_message::Model, from: &Mailbox) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .message_id(Some(row.message_id.clone()))
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            row.body_html.clone(),
        ))
        .map_err(|e| e.to_string())
}

/// Sends one message; the server's reply on success.
async fn send(delivery: &Delivery, row: &outbox_message::Model) -> Result<String, String> {
    match delivery {
        Delivery::Smtp {
            transport,
            from,
            timeout,
        } => {
            let email = build(row, from)?;
            // lettre's own timeout covers only the connect; a server that never answers
            // would hang the send, so the whole send is bounded here. The send has a
            // connection of its own (no pool: see Cargo.toml), closed when it ends or is
            // dropped here, so a late reply can never be read as another message's.
            match tokio::time::timeout(*timeout, transport.send(email)).await {
                Ok(Ok(resp)) => Ok(format!(
                    "{} {}",
                    resp.code(),
                    resp.message().collect::<Vec<_>>().join(" ")
                )),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".into()),
            }
        }
        Delivery::Folder { dir, from } => {
            let email = build(row, from)?;
            let path = dir.join(format!("{:08}.eml", row.id));
            tokio::fs::write(&path, email.formatted())
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("written to {}", path.display()))
        }
        Delivery::Disabled => Err("delivery is disabled".into()),
    }
}

/// The delay before attempt `attempts + 1`: base × 2^(attempts-1), capped at an hour,
/// ±20 % jitter so that a backlog does not retry in lockstep.
pub fn backoff(base_secs: i64, attempts: i32) -> Duration {
    let exp = base_secs
        .saturating_mul(1i64 << (attempts.clamp(1, 20) - 1))
        .min(3600);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::milliseconds((exp as f64 * 1000.0 * jitter) as i64)
}

async fn record(
    state: &AppState,
    row: &outbox_message::Model,
    outcome: Result<String, String>,
) -> Result<(), DbErr> {
    let now = state.clock.now();
    match outcome {
        Ok(reply) => repo::mark_sent(&state.db, row, reply, now).await,
        Err(error) => {
            let attempts = row.attempts + 1;
            let dead = attempts >= state.settings.outbox_max_attempts;
            tracing::warn!(message = row.id, attempts, dead, error = %error, "delivery failed");
            let next = now + backoff(state.settings.outbox_backoff_secs, attempts);
            repo::mark_failed(&state.db, row, error, dead, next).await
        }
    }
}

/// One round: claims what is due, sends it concurrently (lettre's connection pool;
/// one connection is slow without TCP_NODELAY), records each outcome. Returns how many
/// were sent.
pub async fn deliver_due(state: &AppState, delivery: &Delivery) -> Result<usize, DbErr> {
    if matches!(delivery, Delivery::Disabled) {
        return Ok(0);
    }
    let lease = Duration::seconds(state.settings.outbox_lease_secs.max(1));
    let batch = repo::claim(&state.db, state.clock.now(), lease, 16).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for row in batch {
        let (delivery, state) = (delivery.clone(), state.clone());
        tasks.spawn(async move {
            let outcome = send(&delivery, &row).await;
            let ok = outcome.is_ok();
            record(&state, &row, outcome).await.map(|_| ok)
        });
    }
    let mut sent = 0;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(true)) => sent += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => tracing::error!(error = %e, "delivery task failed"),
        }
    }
    Ok(sent)
}

/// The background worker `anju serve` runs.
pub fn spawn(state: AppState, delivery: Delivery) -> Worker {
    tracing::info!(delivery = %delivery.describe(), "outbox worker started");
    let (stop, mut stopping) = tokio::sync::watch::channel(false);
    if matches!(delivery, Delivery::Disabled) {
        return Worker { stop, task: None };
    }
    let task = tokio::spawn(async move {
        while !*stopping.borrow() {
            match deliver_due(&state, &delivery).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox round failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(1)) => {}
                _ = stopping.changed() => {}
            }
        }
    });
    Worker {
        stop,
        task: Some(task),
    }
}

/// The running worker. Stopping it lets the round in flight finish, so that what it
/// has sent is recorded as sent: a message handed to the mail server and then left
/// claimed would be sent again by another instance once the claim ran out (seen in
/// the rolling-restart test before this existed).
pub struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    /// Asks the worker to stop after its current round and waits up to `within`.
    pub async fn stop(self, within: StdDuration) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::warn!("the outbox worker did not finish its round in time");
        }
    }
}
