//! Group commit: concurrent writes gathered by one writer and committed together.
//!
//! A caller hands [`GroupCommit::run`] a job (a closure over a transaction). One writer
//! task per application state takes the jobs queued when it is free (up to
//! `group_commit_max`, waiting at most `group_commit_wait_ms` for more), opens one write
//! transaction and runs each job in its own savepoint, one after another: a job that
//! fails is rolled back to its savepoint and answered with its error, its neighbours are
//! not touched, and what it took (an application number, say) is taken back, so the
//! next job's number follows on without a gap. Then the group commits once, and only
//! then is each caller answered: a caller told "done" is durable, as with a transaction
//! of its own. If the commit fails, every job of the group is answered with that error.
//!
//! Because the jobs run one after another in one transaction, a job sees what the jobs
//! before it in the group wrote (member keys, idempotency records): two households of
//! one group that share a member flag each other, and a key repeated within a group
//! files once (the second fails on the key's unique index and is answered from the
//! first's record after the commit).
//!
//! The writer owns the group's connection and, on SQLite, the write gate, for the whole
//! group: one `BEGIN IMMEDIATE` and one commit per group instead of per job, and the
//! number row (PostgreSQL) is never waited for by another submission. With nothing
//! queued, a job starts at once and commits alone, so a quiet office waits for nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use tokio::sync::{mpsc, oneshot};

/// How a group is formed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Jobs in one group at most.
    pub max: usize,
    /// How long the writer waits for more jobs once it has one (zero: it takes only
    /// what is already queued).
    pub wait: Duration,
}

/// A job's future, borrowing the group's transaction.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers a job's caller once the group's fate is known: `Ok` if it committed.
type Reply = Box<dyn FnOnce(Result<(), &DbErr>) + Send>;

/// A job with its caller's answer erased: runs in a savepoint (or is told the group
/// could not start), says whether to keep its writes, and returns its reply.
type Job = Box<
    dyn for<'t> FnOnce(Result<&'t DatabaseTransaction, &'t DbErr>) -> BoxFuture<'t, (bool, Reply)>
        + Send,
>;

/// The writer of one application state (kept in its caches, so every clone shares it).
#[derive(Default)]
pub struct GroupCommit {
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
    totals: Arc<Totals>,
}

/// What the writer has done so far.
#[derive(Default)]
struct Totals {
    groups: AtomicU64,
    jobs: AtomicU64,
}

impl GroupCommit {
    /// Groups the writer has ended (committed or not) and the jobs they carried.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.totals.groups.load(Ordering::Relaxed),
            self.totals.jobs.load(Ordering::Relaxed),
        )
    }

    /// Runs `job` in the next group and answers after that group's commit. The job's
    /// error rolls back its own writes only. Must be called inside the Tokio runtime
    /// (the first call starts the writer there).
    pub async fn run<T, E, F>(
        &self,
        db: &DatabaseConnection,
        limits: Limits,
        job: F,
    ) -> Result<T, E>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<DbErr> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let erased: Job = Box::new(move |txn| {
            Box::pin(async move {
                let out = match txn {
                    Ok(txn) => job(txn).await,
                    Err(e) => Err(E::from(e.clone())),
                };
                let keep = out.is_ok();
                let reply: Reply = Box::new(move |committed| {
                    let out = match committed {
                        Err(e) if keep => Err(E::from(e.clone())),
                        _ => out,
                    };
                    // The caller may have gone (a dropped request); its writes stand.
                    let _ = answer.send(out);
                });
                (keep, reply)
            })
        });
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(db.clone(), jobs, limits, self.totals.clone()));
            queue
        });
        queue
            .send(erased)
            .map_err(|_| E::from(DbErr::Custom("the group writer has stopped".into())))?;
        answered.await.map_err(|_| {
            E::from(DbErr::Custom(
                "the group writer stopped before the group committed".into(),
            ))
        })?
    }
}

/// The writer: a group at a time until every sender is gone.
async fn write_groups(
    db: DatabaseConnection,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    limits: Limits,
    totals: Arc<Totals>,
) {
    let max = limits.max.max(1);
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        let deadline = tokio::time::Instant::now() + limits.wait;
        while group.len() < max {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(mpsc::error::TryRecvError::Empty) if !limits.wait.is_zero() => {
                    match tokio::time::timeout_at(deadline, jobs.recv()).await {
                        Ok(Some(job)) => group.push(job),
                        _ => break,
                    }
                }
                Err(_) => break,
            }
        }
        let size = group.len() as u64;
        commit_group(&db, group).await;
        totals.groups.fetch_add(1, Ordering::Relaxed);
        totals.jobs.fetch_add(size, Ordering::Relaxed);
    }
}

/// One transaction for the group, a savepoint per job, one commit, then the answers.
async fn commit_group(db: &DatabaseConnection, group: Vec<Job>) {
    crate::http::metrics::group_size(group.len());
    let txn = match super::begin_write(db).await {
        Ok(txn) => txn,
        Err(e) => {
            for job in group {
                job(Err(&e)).await.1(Err(&e));
            }
            return;
        }
    };
    let mut replies: Vec<(bool, Reply)> = Vec::with_capacity(group.len());
    let mut broken: Option<DbErr> = None;
    let mut jobs = group.into_iter();
    for job in jobs.by_ref() {
        let savepoint = match txn.savepoint().await {
            Ok(s) => s,
            Err(e) => {
                replies.push(job(Err(&e)).await);
                broken = Some(e);
                break;
            }
        };
        let (keep, reply) = job(Ok(&savepoint)).await;
        let ended = if keep {
            savepoint.commit().await
        } else {
            savepoint.rollback().await
        };
        replies.push((keep, reply));
        if let Err(e) = ended {
            // The transaction is no longer what the kept jobs wrote (SQLite rolls a
            // transaction back by itself on some errors): nothing of it may commit.
            broken = Some(e);
            break;
        }
    }
    let committed = match broken {
        Some(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
        None => txn.commit().await,
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, jobs = replies.len(), "a group of writes did not commit");
        for job in jobs {
            job(Err(e)).await.1(Err(e));
        }
    }
    for (_, reply) in replies {
        reply(committed.as_ref().map(|_| ()));
    }
}
