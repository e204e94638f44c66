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
//! Work of one kind can also be stored many at once ([`Batch`], [`GroupCommit::run_batch`]):
//! the items of a group that share a kind go to one `store` call, in one savepoint, which
//! writes them with one multi-row statement a table. `store` answers each item on its
//! own; if it fails as a whole, its savepoint is rolled back and each item is stored
//! alone, in a savepoint of its own, so one bad item still fails only itself. Batches
//! are stored before the group's single jobs.
//!
//! The writer owns the group's connection and, on SQLite, the write gate, for the whole
//! group: one `BEGIN IMMEDIATE` and one commit per group instead of per job, and the
//! number row (PostgreSQL) is never waited for by another submission. With nothing
//! queued, a job starts at once and commits alone, so a quiet office waits for nothing.

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbBackend, DbErr};
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

/// What a batch's `store` answers: each item's own result, or an error of the whole.
pub type Stored<B> = Result<Vec<Result<<B as Batch>::Out, <B as Batch>::Err>>, DbErr>;

/// Work the writer stores many at once.
pub trait Batch: Send + Sync + 'static {
    type Item: Clone + Send + 'static;
    type Out: Send + 'static;
    type Err: From<DbErr> + Send + 'static;

    /// Stores `items` in the caller's savepoint and answers each, in order. An item
    /// answered with an error must have written nothing (isolate it in a savepoint of
    /// its own where a statement can fail); an error of the whole call rolls back what
    /// the call wrote, after which each item is stored alone.
    fn store<'t>(
        &'t self,
        txn: &'t DatabaseTransaction,
        items: Vec<Self::Item>,
    ) -> BoxFuture<'t, Stored<Self>>;
}

/// Answers a job's caller once the group's fate is known: `Ok` if it committed.
type Reply = Box<dyn FnOnce(Result<(), &DbErr>) + Send>;

/// A single job with its caller's answer erased: runs in a savepoint (or is told the
/// group could not start), says whether to keep its writes, and returns its reply.
type Alone = Box<
    dyn for<'t> FnOnce(Result<&'t DatabaseTransaction, &'t DbErr>) -> BoxFuture<'t, (bool, Reply)>
        + Send,
>;

/// A batch item with its answer, erased: `(B::Item, Sender)` for its kind's batch.
type Item = Box<dyn Any + Send>;

/// The replies of a batch's erased items, or its error and the items back.
type ErasedStored = Result<Vec<(bool, Reply)>, (DbErr, Vec<Item>)>;

/// A batch's `store` over erased items.
trait Store: Send + Sync {
    fn store<'t>(
        &'t self,
        txn: Result<&'t DatabaseTransaction, &'t DbErr>,
        items: Vec<Item>,
    ) -> BoxFuture<'t, ErasedStored>;
}

enum Job {
    Alone(Alone),
    Batched {
        kind: TypeId,
        store: Arc<dyn Store>,
        item: Item,
    },
}

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

/// The reply that sends `out` once the group committed, or the commit's error if `out`
/// was to be kept and the group failed.
fn reply_with<T, E>(answer: oneshot::Sender<Result<T, E>>, out: Result<T, E>) -> (bool, Reply)
where
    T: Send + 'static,
    E: From<DbErr> + Send + 'static,
{
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
}

struct Erased<B>(Arc<B>);

impl<B: Batch> Store for Erased<B> {
    fn store<'t>(
        &'t self,
        txn: Result<&'t DatabaseTransaction, &'t DbErr>,
        items: Vec<Item>,
    ) -> BoxFuture<'t, ErasedStored> {
        type Answer<B> = oneshot::Sender<Result<<B as Batch>::Out, <B as Batch>::Err>>;
        let items: Vec<(B::Item, Answer<B>)> = items
            .into_iter()
            // Only `run_batch` makes items, and under its batch's kind.
            .filter_map(|i| i.downcast::<(B::Item, Answer<B>)>().ok().map(|b| *b))
            .collect();
        Box::pin(async move {
            let txn = match txn {
                Ok(txn) => txn,
                Err(e) => {
                    let failed = items.into_iter();
                    return Ok(failed
                        .map(|(_, a)| reply_with(a, Err(e.clone().into())))
                        .collect());
                }
            };
            let inputs = items.iter().map(|(i, _)| i.clone()).collect();
            let stored = self.0.store(txn, inputs).await.and_then(|outs| {
                (outs.len() == items.len()).then_some(outs).ok_or_else(|| {
                    DbErr::Custom("a batch answered for another number of items".into())
                })
            });
            match stored {
                Ok(outs) => Ok(items
                    .into_iter()
                    .zip(outs)
                    .map(|((_, answer), out)| reply_with(answer, out))
                    .collect()),
                Err(e) => Err((e, items.into_iter().map(|i| Box::new(i) as Item).collect())),
            }
        })
    }
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
    /// error rolls back its own writes only. Must be called inside the Tokio runtime.
    /// The first call (of `run` or `run_batch`) starts the writer with its `db` and
    /// `limits`; later calls' are not looked at.
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
        if db.get_database_backend() == DbBackend::Postgres {
            return alone_in_parallel(db, job).await;
        }
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let alone: Alone = Box::new(move |txn| {
            Box::pin(async move {
                let out = match txn {
                    Ok(txn) => job(txn).await,
                    Err(e) => Err(E::from(e.clone())),
                };
                reply_with(answer, out)
            })
        });
        self.send(db, limits, Job::Alone(alone))?;
        Self::answer(answered).await
    }

    /// Stores `item` with the other items of `batch`'s kind in the next group (see
    /// [`Batch`]) and answers after that group's commit.
    pub async fn run_batch<B: Batch>(
        &self,
        db: &DatabaseConnection,
        limits: Limits,
        batch: &Arc<B>,
        item: B::Item,
    ) -> Result<B::Out, B::Err> {
        let (answer, answered) = oneshot::channel::<Result<B::Out, B::Err>>();
        let job = Job::Batched {
            kind: TypeId::of::<B>(),
            store: Arc::new(Erased(batch.clone())),
            item: Box::new((item, answer)),
        };
        self.send(db, limits, job)?;
        Self::answer(answered).await
    }

    fn send(&self, db: &DatabaseConnection, limits: Limits, job: Job) -> Result<(), DbErr> {
        let queue = self.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            let writer = write_groups(db.clone(), jobs, limits, self.totals.clone());
            // The writer runs on a thread of its own: as one task among the requests'
            // it waited behind them for every statement's answer (each wake-up from the
            // database driver queues it again), which made a group's dozen statements
            // take tens of milliseconds under load.
            let own = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match own {
                Ok(rt) => {
                    let spawned = std::thread::Builder::new()
                        .name("anju-group-writer".into())
                        .spawn(move || rt.block_on(writer));
                    if let Err(e) = spawned {
                        tracing::error!(error = %e, "the group writer's thread did not start");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the group writer runs among the requests");
                    tokio::spawn(writer);
                }
            }
            queue
        });
        queue
            .send(job)
            .map_err(|_| DbErr::Custom("the group writer has stopped".into()))
    }

    async fn answer<T, E: From<DbErr>>(answered: oneshot::Receiver<Result<T, E>>) -> Result<T, E> {
        answered.await.map_err(|_| {
            E::from(DbErr::Custom(
                "the group writer stopped before the group committed".into(),
            ))
        })?
    }
}

/// A single job on PostgreSQL: a transaction of its own, in parallel with the others.
/// PostgreSQL lets writers run side by side and already flushes concurrent commits
/// together; queueing single jobs behind one writer would only serialise their round
/// trips. (Batches still gain there: one statement a table for the whole group.)
async fn alone_in_parallel<T, E, F>(db: &DatabaseConnection, job: F) -> Result<T, E>
where
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, E>>,
    E: From<DbErr>,
{
    let txn = super::begin_write(db).await?;
    match job(&txn.txn).await {
        Ok(out) => {
            txn.commit().await?;
            Ok(out)
        }
        Err(e) => {
            txn.rollback().await?;
            Err(e)
        }
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

/// A group sorted for writing: the batches by kind (items in arrival order), then the
/// single jobs in arrival order.
struct Sorted {
    batches: Vec<(TypeId, Arc<dyn Store>, Vec<Item>)>,
    alone: Vec<Alone>,
}

impl Sorted {
    fn of(group: Vec<Job>) -> Sorted {
        let mut sorted = Sorted {
            batches: Vec::new(),
            alone: Vec::new(),
        };
        for job in group {
            match job {
                Job::Alone(a) => sorted.alone.push(a),
                Job::Batched { kind, store, item } => {
                    match sorted.batches.iter_mut().find(|b| b.0 == kind) {
                        Some(b) => b.2.push(item),
                        None => sorted.batches.push((kind, store, vec![item])),
                    }
                }
            }
        }
        sorted
    }

    /// Answers every job not yet written with `e`.
    async fn fail(self, e: &DbErr) -> Vec<(bool, Reply)> {
        let mut replies = Vec::new();
        for (_, store, items) in self.batches {
            if let Ok(r) = store.store(Err(e), items).await {
                replies.extend(r);
            }
        }
        for job in self.alone {
            replies.push(job(Err(e)).await);
        }
        replies
    }
}

/// One transaction for the group, a savepoint per batch and per single job, one
/// commit, then the answers.
async fn commit_group(db: &DatabaseConnection, group: Vec<Job>) {
    crate::http::metrics::group_size(group.len());
    let mut sorted = Sorted::of(group);
    let txn = match super::begin_write(db).await {
        Ok(txn) => txn,
        Err(e) => return answer(sorted.fail(&e).await, Err(&e)),
    };
    let mut replies: Vec<(bool, Reply)> = Vec::new();
    let mut broken = None;
    while broken.is_none() && !sorted.batches.is_empty() {
        let (_, store, items) = sorted.batches.remove(0);
        broken = store_batch(&txn, &store, items, &mut replies).await.err();
    }
    while broken.is_none() && !sorted.alone.is_empty() {
        let job = sorted.alone.remove(0);
        let (keep, reply, ended) = match txn.savepoint().await {
            Ok(savepoint) => {
                let (keep, reply) = job(Ok(&savepoint)).await;
                (keep, reply, end(savepoint, keep).await)
            }
            Err(e) => {
                let (keep, reply) = job(Err(&e)).await;
                (keep, reply, Err(e))
            }
        };
        replies.push((keep, reply));
        broken = ended.err();
    }
    let committed = match broken {
        Some(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
        None => txn.commit().await,
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, "a group of writes did not commit");
        replies.extend(sorted.fail(e).await);
    }
    answer(replies, committed.as_ref().map(|_| ()));
}

fn answer(replies: Vec<(bool, Reply)>, committed: Result<(), &DbErr>) {
    for (_, reply) in replies {
        reply(committed);
    }
}

/// Keeps or rolls back a savepoint. An error means the transaction is no longer what
/// the kept jobs wrote (SQLite rolls a transaction back by itself on some errors):
/// nothing of it may commit.
async fn end(savepoint: DatabaseTransaction, keep: bool) -> Result<(), DbErr> {
    if keep {
        savepoint.commit().await
    } else {
        savepoint.rollback().await
    }
}

/// Stores a batch in one savepoint; if it fails as a whole, each item alone in its own.
/// An error here breaks the group.
async fn store_batch(
    txn: &super::WriteTxn,
    store: &Arc<dyn Store>,
    items: Vec<Item>,
    replies: &mut Vec<(bool, Reply)>,
) -> Result<(), DbErr> {
    let savepoint = match txn.savepoint().await {
        Ok(savepoint) => savepoint,
        Err(e) => return fail_batch(store, items, e, replies).await,
    };
    let items = match store.store(Ok(&savepoint), items).await {
        Ok(stored) => {
            replies.extend(stored);
            return end(savepoint, true).await;
        }
        Err((e, items)) => {
            if let Err(broken) = end(savepoint, false).await {
                return fail_batch(store, items, broken, replies).await;
            }
            tracing::warn!(error = %e, items = items.len(), "a batch failed; storing its items one by one");
            items
        }
    };
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        let savepoint = match txn.savepoint().await {
            Ok(savepoint) => savepoint,
            Err(e) => {
                let rest = std::iter::once(item).chain(items).collect();
                return fail_batch(store, rest, e, replies).await;
            }
        };
        match store.store(Ok(&savepoint), vec![item]).await {
            Ok(stored) => {
                replies.extend(stored);
                end(savepoint, true).await?;
            }
            Err((e, item)) => {
                if let Err(broken) = end(savepoint, false).await {
                    let rest = item.into_iter().chain(items).collect();
                    return fail_batch(store, rest, broken, replies).await;
                }
                if let Ok(failed) = store.store(Err(&e), item).await {
                    replies.extend(failed);
                }
            }
        }
    }
    Ok(())
}

/// Answers a batch's items with `e` (the group is broken) and hands the error on.
async fn fail_batch(
    store: &Arc<dyn Store>,
    items: Vec<Item>,
    e: DbErr,
    replies: &mut Vec<(bool, Reply)>,
) -> Result<(), DbErr> {
    if let Ok(failed) = store.store(Err(&e), items).await {
        replies.extend(failed);
    }
    Err(e)
}
