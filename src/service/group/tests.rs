//! Group commit: callers are answered only after their batch is committed, one transaction
//! answers a whole group, and a failed group fails every caller in it and leaves the engine
//! equal to the store.

use crate::api::DurableApi;
use crate::machine::ids::step_id;
use crate::model::*;
use crate::service::clock::SystemClock;
use crate::service::store::{Store, StoreError, StoredExecution, WriteBatch};
use crate::service::{Engine, EngineConfig, LocalService, SqliteStore, StartExecution};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "durable-fsm-group-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("group.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the test controls in a [`Controlled`] store.
#[derive(Default)]
struct Ctl {
    /// Set by the test to keep the committer inside `commit_group`.
    held: Mutex<bool>,
    released: Condvar,
    /// Groups that reached `commit_group`.
    entered: AtomicUsize,
    /// The group (1-based, counted by `entered`) that fails; 0 = none.
    fail_group: AtomicUsize,
    /// Whether `load` fails.
    fail_load: AtomicBool,
    /// Sizes of the groups committed or failed.
    sizes: Mutex<Vec<usize>>,
}

/// A SqliteStore whose group commits can be held back and made to fail.
struct Controlled {
    inner: SqliteStore,
    ctl: Arc<Ctl>,
}

impl Ctl {
    fn hold(&self) {
        *self.held.lock().unwrap() = true;
    }

    fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }
}

impl Store for Controlled {
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.inner.commit(batch)
    }

    fn commit_group(&mut self, batches: &[WriteBatch]) -> Result<(), StoreError> {
        let n = self.ctl.entered.fetch_add(1, Ordering::SeqCst) + 1;
        let mut held = self.ctl.held.lock().unwrap();
        while *held {
            held = self.ctl.released.wait(held).unwrap();
        }
        drop(held);
        self.ctl.sizes.lock().unwrap().push(batches.len());
        if self.ctl.fail_group.load(Ordering::SeqCst) == n {
            return Err(StoreError::Backend("injected commit failure".into()));
        }
        self.inner.commit_group(batches)
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        if self.ctl.fail_load.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected load failure".into()));
        }
        self.inner.load()
    }
}

fn engine_on(path: &Path, ctl: &Arc<Ctl>) -> Engine {
    let store = Controlled {
        inner: SqliteStore::open(path).unwrap(),
        ctl: ctl.clone(),
    };
    Engine::open(
        EngineConfig::default(),
        Arc::new(SystemClock),
        Box::new(store),
    )
    .unwrap()
}

/// One transition: START and SUCCEED of step `n`.
fn transition(arn: &str, token: &str, n: u64) -> CheckpointDurableExecutionRequest {
    let id = step_id(None, n);
    let mut start = OperationUpdate::new(&id, OperationType::Step, OperationAction::Start);
    start.sub_type = Some("Transition".into());
    let mut succeed = start.clone();
    succeed.action = OperationAction::Succeed;
    succeed.payload = Some(format!("{{\"n\":{n}}}"));
    CheckpointDurableExecutionRequest {
        durable_execution_arn: arn.into(),
        checkpoint_token: token.into(),
        updates: Some(vec![start, succeed]),
        client_token: None,
    }
}

/// Starts `n` executions and begins their invocations: (arn, token) each.
async fn running(service: &LocalService, n: usize) -> Vec<(String, String)> {
    let lanes = service
        .with_engine(|e| {
            (0..n)
                .map(|i| {
                    let arn = e
                        .start_execution(StartExecution::new("fn", "{}").named(format!("e{i}")))
                        .unwrap()
                        .arn;
                    let token = e.begin_invocation(&arn).unwrap().unwrap().checkpoint_token;
                    (arn, token)
                })
                .collect()
        })
        .unwrap();
    service.sync().await.unwrap();
    lanes
}

fn operations(service: &LocalService, arns: &[String]) -> Vec<Vec<Operation>> {
    let engine = service.lock().unwrap();
    arns.iter().map(|a| engine.operations(a).unwrap()).collect()
}

/// Polls `cond` for up to 10 s.
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkpoint_chains_are_all_durable_after_reopen() {
    const EXECUTIONS: usize = 20;
    const STEPS: u64 = 25;
    let dir = TempDir::new("chains");
    let ctl = Arc::new(Ctl::default());
    let service = LocalService::new(engine_on(&dir.file(), &ctl));
    let lanes = running(&service, EXECUTIONS).await;
    let tasks: Vec<_> = lanes
        .iter()
        .cloned()
        .map(|(arn, mut token)| {
            let service = service.clone();
            tokio::spawn(async move {
                // Each checkpoint carries the previous one's token: it must see its effects.
                for n in 1..=STEPS {
                    let resp = service.checkpoint(transition(&arn, &token, n)).await?;
                    token = resp.checkpoint_token.expect("a token");
                }
                Ok::<_, crate::api::ApiError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let arns: Vec<String> = lanes.into_iter().map(|(a, _)| a).collect();
    let before = operations(&service, &arns);
    for ops in &before {
        assert_eq!(
            ops.len(),
            1 + STEPS as usize,
            "EXECUTION + one STEP per transition"
        );
    }
    let stats = service.commit_stats().unwrap();
    assert_eq!(stats.resolved, stats.queued);
    assert_eq!(stats.failed_groups, 0);
    let sizes = ctl.sizes.lock().unwrap().clone();
    assert_eq!(sizes.iter().sum::<usize>() as u64, stats.queued);
    drop(service);

    let reopened = LocalService::new(engine_on(&dir.file(), &Arc::new(Ctl::default())));
    assert_eq!(operations(&reopened, &arns), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_wait_for_the_commit_and_one_commit_answers_the_group() {
    const EXECUTIONS: usize = 8;
    let dir = TempDir::new("group");
    let ctl = Arc::new(Ctl::default());
    let service = LocalService::new(engine_on(&dir.file(), &ctl));
    let lanes = running(&service, EXECUTIONS).await;
    let base = service.commit_stats().unwrap().queued;
    let entered = ctl.entered.load(Ordering::SeqCst);
    ctl.sizes.lock().unwrap().clear();

    ctl.hold();
    let tasks: Vec<_> = lanes
        .iter()
        .cloned()
        .map(|(arn, token)| {
            let service = service.clone();
            tokio::spawn(async move { service.checkpoint(transition(&arn, &token, 1)).await })
        })
        .collect();
    until("every checkpoint to be applied", || {
        service.commit_stats().unwrap().queued == base + EXECUTIONS as u64
    })
    .await;
    until("the committer to hold a group", || {
        ctl.entered.load(Ordering::SeqCst) > entered
    })
    .await;
    // Applied in memory, visible to the engine, but not answered: nothing is on disk yet.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tasks.iter().all(|t| !t.is_finished()));
    ctl.release();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // The first group held whatever had arrived when the committer woke; everything
    // applied while it was held went into the next one.
    let sizes = ctl.sizes.lock().unwrap().clone();
    assert_eq!(sizes.iter().sum::<usize>(), EXECUTIONS);
    assert!(sizes.len() <= 2, "group sizes {sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_fails_every_caller_and_the_engine_matches_the_store() {
    let dir = TempDir::new("fail");
    let ctl = Arc::new(Ctl::default());
    let service = LocalService::new(engine_on(&dir.file(), &ctl));
    let lanes = running(&service, 4).await;
    let arns: Vec<String> = lanes.iter().map(|(a, _)| a.clone()).collect();
    let base = service.commit_stats().unwrap().queued;
    let entered = ctl.entered.load(Ordering::SeqCst);

    // Group 1 holds execution 0's checkpoint; executions 1..4 queue behind it as group 2,
    // which fails.
    ctl.hold();
    let first = {
        let service = service.clone();
        let (arn, token) = lanes[0].clone();
        tokio::spawn(async move { service.checkpoint(transition(&arn, &token, 1)).await })
    };
    until("the committer to hold the first group", || {
        ctl.entered.load(Ordering::SeqCst) == entered + 1
    })
    .await;
    let rest: Vec<_> = lanes[1..]
        .iter()
        .cloned()
        .map(|(arn, token)| {
            let service = service.clone();
            tokio::spawn(async move { service.checkpoint(transition(&arn, &token, 1)).await })
        })
        .collect();
    until("every checkpoint to be applied", || {
        service.commit_stats().unwrap().queued == base + 4
    })
    .await;
    ctl.fail_group.store(entered + 2, Ordering::SeqCst);
    ctl.release();

    first.await.unwrap().expect("the first group commits");
    for t in rest {
        let err = t
            .await
            .unwrap()
            .expect_err("the failed group's callers get an error");
        assert_eq!(err.code, crate::api::ErrorCode::Service);
        assert!(
            err.message.contains("injected commit failure"),
            "{}",
            err.message
        );
    }
    assert_eq!(ctl.sizes.lock().unwrap().last(), Some(&3));
    assert_eq!(service.commit_stats().unwrap().failed_groups, 1);

    // The engine forgot the failed checkpoints: their executions hold only the EXECUTION
    // operation, and the same token is still the current one.
    let ops = operations(&service, &arns);
    assert_eq!(ops[0].len(), 2);
    for o in &ops[1..] {
        assert_eq!(o.len(), 1);
    }
    let (arn, token) = &lanes[1];
    let retried = service.checkpoint(transition(arn, token, 1)).await.unwrap();
    assert!(retried.checkpoint_token.is_some());
    let after = operations(&service, &arns);
    assert_eq!(after[1].len(), 2);
    drop(service);

    // The store holds exactly what the engine held.
    let reopened = LocalService::new(engine_on(&dir.file(), &Arc::new(Ctl::default())));
    assert_eq!(operations(&reopened, &arns), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_that_cannot_be_repaired_poisons_the_service() {
    let dir = TempDir::new("poison");
    let ctl = Arc::new(Ctl::default());
    let service = LocalService::new(engine_on(&dir.file(), &ctl));
    let lanes = running(&service, 1).await;
    let (arn, token) = lanes[0].clone();
    let next = ctl.entered.load(Ordering::SeqCst) + 1;
    ctl.fail_group.store(next, Ordering::SeqCst);
    ctl.fail_load.store(true, Ordering::SeqCst);

    let err = service
        .checkpoint(transition(&arn, &token, 1))
        .await
        .expect_err("the commit fails");
    assert!(
        err.message.contains("injected commit failure"),
        "{}",
        err.message
    );
    let err = service
        .get_execution(&arn, false)
        .await
        .expect_err("a poisoned service refuses calls");
    assert!(err.message.contains("restart it"), "{}", err.message);
    assert!(service.lock().is_err());
    drop(service);

    // A restart recovers what was committed.
    let reopened = LocalService::new(engine_on(&dir.file(), &Arc::new(Ctl::default())));
    assert_eq!(operations(&reopened, &[arn])[0].len(), 1);
}

#[tokio::test]
async fn a_service_in_memory_commits_nothing_and_never_waits() {
    let service = LocalService::in_memory(EngineConfig::default(), Arc::new(SystemClock));
    assert_eq!(service.commit_stats(), None);
    let lanes = running(&service, 1).await;
    let (arn, token) = &lanes[0];
    service.checkpoint(transition(arn, token, 1)).await.unwrap();
    service.sync().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_applied_while_a_failing_group_commits_fail_with_it_and_later_calls_succeed() {
    let dir = TempDir::new("drain");
    let ctl = Arc::new(Ctl::default());
    let service = LocalService::new(engine_on(&dir.file(), &ctl));
    let lanes = running(&service, 3).await;
    let base = service.commit_stats().unwrap().queued;
    let entered = ctl.entered.load(Ordering::SeqCst);

    // Group 1 (execution 0) is held in the store and will fail; executions 1 and 2 are
    // applied meanwhile, on top of it, and queued behind it.
    ctl.fail_group.store(entered + 1, Ordering::SeqCst);
    ctl.hold();
    let spawn = |i: usize| {
        let service = service.clone();
        let (arn, token) = lanes[i].clone();
        tokio::spawn(async move { service.checkpoint(transition(&arn, &token, 1)).await })
    };
    let first = spawn(0);
    until("the committer to hold the first group", || {
        ctl.entered.load(Ordering::SeqCst) == entered + 1
    })
    .await;
    let later = [spawn(1), spawn(2)];
    until("every checkpoint to be applied", || {
        service.commit_stats().unwrap().queued == base + 3
    })
    .await;
    ctl.release();

    first.await.unwrap().expect_err("the failed group");
    for t in later {
        t.await
            .unwrap()
            .expect_err("applied after the failed group");
    }
    let stats = service.commit_stats().unwrap();
    assert_eq!(stats.resolved, stats.queued);
    assert_eq!(
        ctl.sizes.lock().unwrap().last(),
        Some(&1),
        "drained, not committed"
    );

    // The engine is back to what is on disk and the next calls commit normally.
    for (arn, token) in &lanes {
        service.checkpoint(transition(arn, token, 1)).await.unwrap();
    }
    let arns: Vec<String> = lanes.iter().map(|(a, _)| a.clone()).collect();
    let after = operations(&service, &arns);
    assert!(after.iter().all(|ops| ops.len() == 2));
    drop(service);
    let reopened = LocalService::new(engine_on(&dir.file(), &Arc::new(Ctl::default())));
    assert_eq!(operations(&reopened, &arns), after);
}
