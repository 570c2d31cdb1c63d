//! Group commit: the durable store of a [`LocalService`](super::LocalService) is written by
//! one committer thread, which commits the batches of many concurrent calls in one store
//! transaction (one fsync) and then answers all their callers.
//!
//! Every call still validates and applies its change to the in-memory engine under the
//! engine lock, as before; the engine hands its batch to a [`QueueStore`] instead of the real
//! store, which numbers it (its *sequence number*) and queues it. The caller releases the lock
//! and waits until its sequence number is resolved. A caller that only read waits for the
//! newest batch queued when it read, so nothing it saw can still be lost: no answer of the
//! service ever reflects a change that is not on disk.
//!
//! Batches are queued in the order the engine applied them, and the committer commits them in
//! that order, so a change never becomes durable before a change it built on. When a group
//! fails to commit, everything applied after the last good commit is suspect: the committer
//! takes the engine lock, fails the group and every batch queued since (their callers get a
//! `ServiceException`), and rebuilds the engine from what the store holds. If even that fails
//! the service is *poisoned*: every later call fails, and a restart recovers from the store.

#[cfg(test)]
mod tests;

use super::engine::Engine;
use super::store::{Store, StoreError, StoredExecution, WriteBatch};
use crate::api::{ApiError, ErrorCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::thread::{JoinHandle, ThreadId};
use tokio::sync::{Notify, watch};

/// How many failed ranges are remembered for late waiters; older ones count as failed.
const REMEMBERED_FAILURES: usize = 1024;

/// Counters of a group-committing service, for benchmarks and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Batches queued so far (the newest sequence number).
    pub queued: u64,
    /// Batches resolved so far (committed or failed).
    pub resolved: u64,
    /// Store transactions attempted.
    pub groups: u64,
    /// Store transactions that failed.
    pub failed_groups: u64,
}

/// State shared by the queue (inside the engine), the committer thread and the waiters.
pub(super) struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Sequence number of the newest queued batch; written under the queue lock by calls
    /// that hold the engine lock, so read under the engine lock it is exact.
    queued: AtomicU64,
    /// Highest resolved sequence number.
    resolved: watch::Sender<u64>,
    failures: Mutex<Failures>,
    poisoned: AtomicBool,
    groups: AtomicU64,
    failed_groups: AtomicU64,
}

#[derive(Default)]
struct Queue {
    batches: Vec<WriteBatch>,
    closed: bool,
    /// Why new batches are refused, once poisoned.
    poisoned: Option<String>,
}

/// Sequence number ranges whose batches failed to commit.
#[derive(Default)]
struct Failures {
    ranges: std::collections::VecDeque<(u64, u64, Arc<str>)>,
    /// Every sequence number up to here whose range was forgotten counts as failed.
    forgotten_upto: u64,
    /// Why the service is poisoned.
    poisoned: Option<Arc<str>>,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            queued: AtomicU64::new(0),
            resolved: watch::Sender::new(0),
            failures: Mutex::new(Failures::default()),
            poisoned: AtomicBool::new(false),
            groups: AtomicU64::new(0),
            failed_groups: AtomicU64::new(0),
        })
    }

    /// The newest queued sequence number (exact when read under the engine lock).
    pub(super) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Acquire)
    }

    /// The counters.
    pub(super) fn stats(&self) -> CommitStats {
        CommitStats {
            queued: self.queued(),
            resolved: *self.resolved.borrow(),
            groups: self.groups.load(Ordering::Relaxed),
            failed_groups: self.failed_groups.load(Ordering::Relaxed),
        }
    }

    /// Why the service refuses every call, once a failed commit could not be repaired.
    pub(super) fn poisoned(&self) -> Option<ApiError> {
        if !self.poisoned.load(Ordering::Acquire) {
            return None;
        }
        let why = lock(&self.failures).poisoned.clone().unwrap_or_default();
        Some(ApiError::new(
            ErrorCode::Service,
            format!(
                "The local durable service is unavailable: {why}; restart it to recover from \
                 its store."
            ),
        ))
    }

    /// Waits until batch `seq` (and so every batch before it) is resolved; an error if it
    /// failed to commit.
    pub(super) async fn wait(&self, seq: u64) -> Result<(), ApiError> {
        if seq == 0 {
            return Ok(());
        }
        if *self.resolved.borrow() < seq {
            let mut rx = self.resolved.subscribe();
            if rx.wait_for(|&r| r >= seq).await.is_err() {
                return Err(unavailable("the committer is gone"));
            }
        }
        self.outcome(seq)
    }

    /// The outcome of a resolved batch.
    fn outcome(&self, seq: u64) -> Result<(), ApiError> {
        let f = lock(&self.failures);
        if f.ranges.is_empty() && f.forgotten_upto == 0 {
            return Ok(());
        }
        if let Some((_, _, why)) = f.ranges.iter().find(|(a, b, _)| (*a..=*b).contains(&seq)) {
            return Err(store_failed(why));
        }
        if seq <= f.forgotten_upto {
            return Err(store_failed("a commit failed"));
        }
        Ok(())
    }

    /// Marks `first..=last` committed.
    fn committed(&self, last: u64) {
        self.resolved.send_replace(last);
    }

    /// Marks `first..=last` failed with `why`.
    fn failed(&self, first: u64, last: u64, why: &str) {
        if first <= last {
            let mut f = lock(&self.failures);
            if f.ranges.len() >= REMEMBERED_FAILURES
                && let Some((_, b, _)) = f.ranges.pop_front()
            {
                f.forgotten_upto = f.forgotten_upto.max(b);
            }
            f.ranges.push_back((first, last, Arc::from(why)));
        }
        self.resolved.send_replace(last);
    }

    /// Refuses every later batch and call.
    fn poison(&self, why: &str) {
        tracing::error!(error = why, "the local durable service is poisoned");
        lock(&self.failures).poisoned = Some(Arc::from(why));
        lock(&self.queue).poisoned = Some(why.to_string());
        self.poisoned.store(true, Ordering::Release);
    }

    /// Takes every queued batch; `None` once closed and empty.
    fn take(&self) -> Option<Vec<WriteBatch>> {
        let mut q = lock(&self.queue);
        while q.batches.is_empty() && !q.closed {
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.batches.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut q.batches))
        }
    }

    /// Takes what is queued without waiting.
    fn take_now(&self) -> Vec<WriteBatch> {
        std::mem::take(&mut lock(&self.queue).batches)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn store_failed(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Service,
        format!("The local store failed: {why}; the change was not saved."),
    )
}

fn unavailable(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Service,
        format!("The local durable service is unavailable: {why}."),
    )
}

/// The engine's store under group commit: queues each batch for the committer thread.
pub(super) struct QueueStore {
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
    committer_id: Option<ThreadId>,
}

impl Store for QueueStore {
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.commit_owned(batch.clone())
    }

    fn commit_owned(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut q = lock(&self.shared.queue);
        if let Some(why) = &q.poisoned {
            return Err(StoreError::Backend(why.clone()));
        }
        if q.closed {
            return Err(StoreError::Backend("the store is closed".into()));
        }
        q.batches.push(batch);
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        drop(q);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        Err(StoreError::Backend(
            "the group-commit queue cannot be loaded; open the engine on the store itself".into(),
        ))
    }
}

impl Drop for QueueStore {
    /// Closes the queue and waits until the committer has written what was queued.
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.wake.notify_all();
        if self.committer_id == Some(std::thread::current().id()) {
            // The committer dropped the last handle on the engine; it exits by itself.
            return;
        }
        if let Some(handle) = self.committer.take()
            && handle.join().is_err()
        {
            tracing::error!("the group-commit thread panicked");
        }
    }
}

/// Puts group commit between `engine` and its store: swaps in a [`QueueStore`] and starts
/// the committer thread, which owns the real store from then on. `notify` is woken after the
/// engine was rebuilt from the store.
pub(super) fn install(
    engine: &Arc<Mutex<Engine>>,
    notify: Arc<Notify>,
) -> Result<Arc<Shared>, ApiError> {
    let shared = Shared::new();
    let mut guard = engine
        .lock()
        .map_err(|_| unavailable("the engine lock is poisoned"))?;
    // The store reaches the thread once the thread exists, so a failed spawn loses nothing.
    let (send, recv) = std::sync::mpsc::channel::<Box<dyn Store>>();
    let committer = {
        let shared = shared.clone();
        let engine = Arc::downgrade(engine);
        move || {
            if let Ok(store) = recv.recv() {
                Committer {
                    store,
                    shared,
                    engine,
                    notify,
                    resolved: 0,
                }
                .run();
            }
        }
    };
    let handle = std::thread::Builder::new()
        .name("durable-fsm-commit".into())
        .spawn(committer)
        .map_err(|e| unavailable(&format!("cannot start the group-commit thread: {e}")))?;
    let queue = QueueStore {
        shared: shared.clone(),
        committer_id: Some(handle.thread().id()),
        committer: Some(handle),
    };
    let store = guard.replace_store(Box::new(queue));
    if let Err(std::sync::mpsc::SendError(store)) = send.send(store) {
        // The thread died before taking it: keep committing directly.
        drop(guard.replace_store(store));
        return Err(unavailable("the group-commit thread did not start"));
    }
    Ok(shared)
}

/// The committer thread: owns the real store.
struct Committer {
    store: Box<dyn Store>,
    shared: Arc<Shared>,
    engine: Weak<Mutex<Engine>>,
    notify: Arc<Notify>,
    /// Highest resolved sequence number.
    resolved: u64,
}

impl Committer {
    fn run(mut self) {
        let _guard = PanicGuard(self.shared.clone());
        while let Some(group) = self.shared.take() {
            let last = self.resolved + group.len() as u64;
            self.shared.groups.fetch_add(1, Ordering::Relaxed);
            match self.store.commit_group(&group) {
                Ok(()) => {
                    self.shared.committed(last);
                    self.resolved = last;
                }
                Err(e) => {
                    self.shared.failed_groups.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(code = e.code(), error = %e, batches = group.len(), "group commit failed");
                    // Sets `resolved` past the batches it drains as well.
                    self.recover(last, &e.to_string());
                }
            }
        }
    }

    /// After a failed group ending at `last`: fails it and everything queued since, and
    /// rebuilds the engine from the store.
    fn recover(&mut self, mut last: u64, why: &str) {
        let first = self.resolved + 1;
        let Some(engine) = self.engine.upgrade() else {
            // The engine is gone: nothing to repair, only callers to answer.
            last += self.shared.take_now().len() as u64;
            self.shared.failed(first, last, why);
            self.resolved = last;
            return;
        };
        {
            let mut engine = engine.lock().unwrap_or_else(PoisonError::into_inner);
            // Applied after the failed group, possibly on top of it: fail them too.
            last += self.shared.take_now().len() as u64;
            let reloaded = self.store.load().and_then(|loaded| engine.reload(loaded));
            if let Err(e) = reloaded {
                self.shared.poison(&format!(
                    "a commit failed ({why}) and the state could not be reloaded from the \
                     store ({e})"
                ));
            }
            self.shared.failed(first, last, why);
            self.resolved = last;
        }
        self.notify.notify_waiters();
    }
}

/// Poisons the service if the committer panics, so no caller waits forever.
struct PanicGuard(Arc<Shared>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        self.0.poison("the group-commit thread panicked");
        let last = self.0.queued();
        let first = *self.0.resolved.borrow() + 1;
        self.0
            .failed(first, last, "the group-commit thread panicked");
    }
}
