//! Password hashing, bounded. An argon2id hash takes 19 MiB and most of a core for tens
//! of milliseconds, and anyone may ask for one (a sign-in needs no account): unbounded,
//! 64 parallel anonymous sign-ins took the server to 6.6 GB. So at most
//! `hash_concurrency` hashes run at once (one per core by default), off the async
//! threads, at most `hash_queue` requests wait for a slot, and the rest are refused at
//! once (503 with Retry-After). Memory stays flat under any flood; the waiting requests
//! are served in turn.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use super::domain::HashMemory;
use crate::state::AppState;

/// The gate, kept in the state's caches, sized from the settings on first use; with the
/// hashes' working memory, one per slot at most, kept for the next hash.
#[derive(Default)]
pub struct HashGate {
    slots: OnceLock<Semaphore>,
    waiting: AtomicUsize,
    memory: std::sync::Mutex<Vec<HashMemory>>,
}

/// Too many hashes asked for at once.
#[derive(Debug)]
pub struct Busy;

fn slots(state: &AppState) -> usize {
    match state.settings.hash_concurrency {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    }
}

/// Runs `f` (a hash or a verification) when a slot is free, in a slot's working memory;
/// `Busy` if the queue is full.
pub async fn bounded<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
) -> Result<T, Busy> {
    let gate = state.cache::<HashGate>();
    let slots = gate.slots.get_or_init(|| Semaphore::new(slots(state)));
    let queued = gate.waiting.fetch_add(1, Ordering::SeqCst);
    let permit = if queued >= state.settings.hash_queue + slots.available_permits() {
        None
    } else {
        slots.acquire().await.ok()
    };
    gate.waiting.fetch_sub(1, Ordering::SeqCst);
    let _permit = permit.ok_or(Busy)?;
    let pool = || gate.memory.lock().unwrap_or_else(|p| p.into_inner());
    let mut memory = pool().pop().unwrap_or_default();
    let (out, memory) = tokio::task::spawn_blocking(move || (f(&mut memory), memory))
        .await
        .map_err(|_| Busy)?;
    pool().push(memory);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_slots_and_the_queue_a_hash_is_refused_at_once() {
        let settings = crate::settings::Settings {
            hash_concurrency: 1,
            hash_queue: 2,
            ..Default::default()
        };
        let state = AppState::new(
            sea_orm::DatabaseConnection::default(),
            settings,
            std::sync::Arc::new(crate::clock::SystemClock),
        );
        // One hash holds the only slot until released.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = {
            let state = state.clone();
            tokio::spawn(async move { bounded(&state, move |_| hold.recv().is_ok()).await })
        };
        while state
            .cache::<HashGate>()
            .slots
            .get()
            .is_none_or(|s| s.available_permits() > 0)
        {
            tokio::task::yield_now().await;
        }
        // Two wait in the queue...
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let state = state.clone();
                tokio::spawn(async move { bounded(&state, |_| true).await })
            })
            .collect();
        while state.cache::<HashGate>().waiting.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        // ... and the next is refused without waiting.
        assert!(bounded(&state, |_| true).await.is_err());
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap().ok(), Some(true));
        for w in waiting {
            assert_eq!(
                w.await.unwrap().ok(),
                Some(true),
                "the queue is served in turn"
            );
        }
    }
}
