//! Runtime tests on real time: in-process workflows, parallel executions, invocation retries,
//! panics, and recovery after a restart (in memory and over SQLite).

#[cfg(feature = "server")]
mod frontend;
#[cfg(feature = "server")]
mod http;

use super::*;
use crate::api::ErrorCode;
use crate::machine::{Callback, CallbackConfig, CtxError, Terminal};
use crate::service::{Engine, EngineConfig, StartExecution, SystemClock};
use crate::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

/// Waits (on the notifier, not by polling) until `f` returns something.
pub(super) async fn wait_until<T>(
    service: &LocalService,
    timeout: Duration,
    mut f: impl FnMut(&Engine) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = service.notifier().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let found = {
            let engine = service.lock().unwrap();
            f(&engine)
        };
        if let Some(v) = found {
            return v;
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => panic!("condition not met within {timeout:?}"),
        }
    }
}

/// A fast engine configuration: invocation retries after 100 ms.
pub(super) fn fast_config() -> EngineConfig {
    EngineConfig {
        invocation_retry_delay: Duration::from_millis(100),
        ..EngineConfig::default()
    }
}

pub(super) fn start(service: &LocalService, function: &str, input: &str) -> String {
    service
        .with_engine(|e| e.start_execution(StartExecution::new(function, input)))
        .unwrap()
        .unwrap()
        .arn
}

/// The error types of the execution's InvocationCompleted events (`None` = success).
pub(super) fn invocation_errors(service: &LocalService, arn: &str) -> Vec<Option<String>> {
    service
        .lock()
        .unwrap()
        .events(arn)
        .unwrap()
        .iter()
        .filter(|e| e.event_type == EventType::InvocationCompleted)
        .map(|e| {
            e.invocation_completed_details
                .as_ref()
                .and_then(|d| d.error.as_ref())
                .and_then(|e| e.payload.as_ref())
                .and_then(|p| p.error_type.clone())
        })
        .collect()
}

/// Doubles its input in two transitions.
#[derive(Serialize, Deserialize)]
pub(super) enum Double {
    Start(i64),
    Doubled(i64),
}

impl Transition for Double {
    type Input = i64;
    type Output = i64;
    fn start(n: i64) -> Self {
        Double::Start(n)
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Double::Start(n) => Next::to(Double::Doubled(n * 2)),
            Double::Doubled(n) => Next::done(n),
        })
    }
}

/// Sleeps one second, then waits for an approval callback.
#[derive(Serialize, Deserialize)]
enum Approve {
    Start { who: String },
    Asking { who: String },
    Waiting { who: String, cb: Callback },
}

impl Transition for Approve {
    type Input = String;
    type Output = String;
    fn start(who: String) -> Self {
        Approve::Start { who }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Approve::Start { who } => Next::sleep(Duration::from_secs(1), Approve::Asking { who }),
            Approve::Asking { who } => {
                let config = CallbackConfig::timeout(Duration::from_secs(60));
                let cb = ctx.callback("approve", config).await?;
                Next::to(Approve::Waiting { who, cb })
            }
            Approve::Waiting { who, cb } => {
                let body = ctx.callback_outcome(&cb)?.into_result().map_err(Terminal)?;
                Next::done(format!("{who}: {body}"))
            }
        })
    }
}

fn runtime_with(registry: Registry, config: EngineConfig) -> RuntimeHandle {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = LocalService::in_memory(config, clock.clone());
    Runtime::start(service, Invokers::new(registry), clock)
}

#[tokio::test]
async fn a_workflow_with_a_sleep_and_a_callback_runs_to_completion() {
    let mut registry = Registry::new();
    registry.register::<Approve>("approve");
    let rt = runtime_with(registry, fast_config());
    let arn = start(rt.service(), "approve", "\"ana\"");
    let callback_id = wait_until(rt.service(), Duration::from_secs(5), |e| {
        e.open_callbacks(&arn)
            .ok()?
            .into_iter()
            .next()
            .map(|(_, id)| id)
    })
    .await;
    rt.service()
        .send_callback_success(&callback_id, b"approved".to_vec())
        .await
        .unwrap();
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.result.as_deref(), Some("\"ana: approved\""));
    let elapsed = done.end_timestamp.unwrap().since(done.start_timestamp);
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    // Start → sleep, the wait fired → callback created, the callback → done.
    assert_eq!(
        invocation_errors(rt.service(), &arn),
        vec![None, None, None]
    );
    rt.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_executions_run_in_parallel() {
    let mut registry = Registry::new();
    registry.register::<Double>("double");
    let rt = runtime_with(registry, fast_config());
    let arns: Vec<String> = (0..20)
        .map(|n| start(rt.service(), "double", &n.to_string()))
        .collect();
    let mut waits = tokio::task::JoinSet::new();
    for (n, arn) in arns.into_iter().enumerate() {
        let rt = rt.clone();
        waits.spawn(async move { (n, rt.wait_for_end(&arn, Duration::from_secs(10)).await) });
    }
    let mut finished = 0;
    while let Some(joined) = waits.join_next().await {
        let (n, done) = joined.unwrap();
        let done = done.unwrap();
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        assert_eq!(done.result, Some((n * 2).to_string()));
        finished += 1;
    }
    assert_eq!(finished, 20);
    rt.shutdown().await;
}

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails its first two invocations with a retryable API error.
#[derive(Serialize, Deserialize)]
enum Flaky {
    Start,
}

impl Transition for Flaky {
    type Input = serde_json::Value;
    type Output = String;
    fn start(_: serde_json::Value) -> Self {
        Flaky::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(CtxError(ApiError::new(ErrorCode::Service, "flaky")).into());
        }
        Ok(Next::done("recovered".into()))
    }
}

#[tokio::test]
async fn an_invocation_error_is_retried() {
    let mut registry = Registry::new();
    registry.register::<Flaky>("flaky");
    let rt = runtime_with(registry, fast_config());
    let arn = start(rt.service(), "flaky", "{}");
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("\"recovered\""));
    let errors = invocation_errors(rt.service(), &arn);
    assert_eq!(
        errors,
        vec![
            Some("DurableApiError".into()),
            Some("DurableApiError".into()),
            None
        ]
    );
    rt.shutdown().await;
}

static PANICS: AtomicU32 = AtomicU32::new(0);

/// Panics in its first invocation.
#[derive(Serialize, Deserialize)]
enum Panicky {
    Start,
}

impl Transition for Panicky {
    type Input = serde_json::Value;
    type Output = String;
    fn start(_: serde_json::Value) -> Self {
        Panicky::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        if PANICS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("deliberate panic in a transition");
        }
        Ok(Next::done("survived".into()))
    }
}

#[tokio::test]
async fn a_panicking_invocation_is_an_invocation_error_and_the_runtime_survives() {
    let mut registry = Registry::new();
    registry
        .register::<Panicky>("panicky")
        .register::<Double>("double");
    let rt = runtime_with(registry, fast_config());
    let arn = start(rt.service(), "panicky", "{}");
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("\"survived\""));
    assert_eq!(
        invocation_errors(rt.service(), &arn),
        vec![Some("Runtime.ExitError".into()), None]
    );
    // The runtime still runs other executions.
    let other = start(rt.service(), "double", "21");
    let done = rt
        .wait_for_end(&other, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("42"));
    rt.shutdown().await;
}

#[tokio::test]
async fn an_unknown_function_fails_at_once() {
    let rt = runtime_with(Registry::new(), fast_config());
    let arn = start(rt.service(), "ghost", "{}");
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Failed);
    let error = done.error.unwrap();
    assert_eq!(
        error.error_type.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        error.error_message.as_deref(),
        Some("Function not found: arn:aws:lambda:us-east-1:123456789012:function:ghost")
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn start_fails_invocations_left_in_flight_and_they_are_retried() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = LocalService::in_memory(fast_config(), clock.clone());
    let arn = start(&service, "double", "5");
    // A driver that began an invocation and vanished.
    let begun = service
        .with_engine(|e| e.begin_invocation(&arn))
        .unwrap()
        .unwrap();
    assert!(begun.is_some());
    let mut registry = Registry::new();
    registry.register::<Double>("double");
    let rt = Runtime::start(service, Invokers::new(registry), clock);
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("10"));
    assert_eq!(
        invocation_errors(rt.service(), &arn),
        vec![Some("Runtime.ExitError".into()), None]
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn wait_for_end_times_out_on_a_running_execution() {
    let mut registry = Registry::new();
    registry.register::<Approve>("approve");
    let rt = runtime_with(registry, fast_config());
    let arn = start(rt.service(), "approve", "\"bo\"");
    let err = rt
        .wait_for_end(&arn, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("DFSM-RUNTIME-WAIT-TIMEOUT"),
        "{err}"
    );
    let err = rt
        .wait_for_end("arn:nope", Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceNotFound);
    rt.shutdown().await;
    // Shutting down twice is fine.
    rt.shutdown().await;
}

static RESUMABLE_RUNS: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];

/// Three transitions with a one-second sleep after the first; counts how often each ran.
#[derive(Serialize, Deserialize)]
enum Resumable {
    Start(i64),
    Slept(i64),
    Finish(i64),
}

impl Transition for Resumable {
    type Input = i64;
    type Output = i64;
    fn start(n: i64) -> Self {
        Resumable::Start(n)
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Resumable::Start(n) => {
                RESUMABLE_RUNS[0].fetch_add(1, Ordering::SeqCst);
                Next::sleep(Duration::from_secs(1), Resumable::Slept(n + 1))
            }
            Resumable::Slept(n) => {
                RESUMABLE_RUNS[1].fetch_add(1, Ordering::SeqCst);
                Next::to(Resumable::Finish(n * 10))
            }
            Resumable::Finish(n) => {
                RESUMABLE_RUNS[2].fetch_add(1, Ordering::SeqCst);
                Next::done(n)
            }
        })
    }
}

struct TempDb(std::path::PathBuf);

impl TempDb {
    fn new() -> Self {
        TempDb(std::env::temp_dir().join(format!("dfsm-runtime-{}.db", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

#[tokio::test]
async fn a_restarted_service_finishes_a_sleeping_execution_over_sqlite() {
    let db = TempDb::new();
    let registry = || {
        let mut r = Registry::new();
        r.register::<Resumable>("resumable");
        r
    };
    let service = LocalService::open(&db.0, fast_config()).unwrap();
    let rt = Runtime::start(service, Invokers::new(registry()), Arc::new(SystemClock));
    let arn = start(rt.service(), "resumable", "4");
    wait_until(rt.service(), Duration::from_secs(5), |e| {
        let sleeping =
            e.operations(&arn).ok()?.iter().any(|op| {
                op.op_type == OperationType::Wait && op.status == OperationStatus::Started
            });
        (sleeping && !e.is_invoking(&arn)).then_some(())
    })
    .await;
    rt.shutdown().await;
    drop(rt);

    let service = LocalService::open(&db.0, fast_config()).unwrap();
    let rt = Runtime::start(service, Invokers::new(registry()), Arc::new(SystemClock));
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.result.as_deref(), Some("50"));
    let runs: Vec<u32> = RESUMABLE_RUNS
        .iter()
        .map(|r| r.load(Ordering::SeqCst))
        .collect();
    assert_eq!(runs, [1, 1, 1], "no transition ran twice");
    let (steps, succeeded) = {
        let engine = rt.service().lock().unwrap();
        let steps: Vec<_> = engine
            .operations(&arn)
            .unwrap()
            .into_iter()
            .filter(|op| op.op_type == OperationType::Step)
            .collect();
        let succeeded = engine
            .events(&arn)
            .unwrap()
            .iter()
            .filter(|e| e.event_type == EventType::StepSucceeded)
            .count();
        (steps, succeeded)
    };
    assert_eq!(steps.len(), 3);
    assert!(steps.iter().all(|s| s.status == OperationStatus::Succeeded));
    assert_eq!(succeeded, 3, "each transition recorded once");
    assert_eq!(invocation_errors(rt.service(), &arn), vec![None, None]);
    rt.shutdown().await;
}

#[tokio::test]
async fn an_invocation_in_flight_when_the_process_died_is_retried_after_reopening() {
    let db = TempDb::new();
    let arn = {
        let service = LocalService::open(&db.0, fast_config()).unwrap();
        let arn = start(&service, "double", "8");
        let begun = service
            .with_engine(|e| e.begin_invocation(&arn))
            .unwrap()
            .unwrap();
        assert!(begun.is_some());
        arn
        // The process "dies" here: the invocation never completes.
    };
    let mut registry = Registry::new();
    registry.register::<Double>("double");
    let service = LocalService::open(&db.0, fast_config()).unwrap();
    let rt = Runtime::start(service, Invokers::new(registry), Arc::new(SystemClock));
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("16"));
    assert_eq!(
        invocation_errors(rt.service(), &arn),
        vec![Some("Runtime.ExitError".into()), None]
    );
    rt.shutdown().await;
}

static HANGS: AtomicU32 = AtomicU32::new(0);

/// Its first invocation hangs (far longer than the test); later ones finish at once.
#[derive(Serialize, Deserialize)]
enum Hangs {
    Start,
}

impl Transition for Hangs {
    type Input = serde_json::Value;
    type Output = String;
    fn start(_: serde_json::Value) -> Self {
        Hangs::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        if HANGS.fetch_add(1, Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(Next::done("finally".into()))
    }
}

#[tokio::test]
async fn shutdown_aborts_invocations_after_the_grace_period_and_a_new_runtime_retries_them() {
    let mut registry = Registry::new();
    registry.register::<Hangs>("hangs");
    let rt = runtime_with(registry.clone(), fast_config());
    let arn = start(rt.service(), "hangs", "{}");
    wait_until(rt.service(), Duration::from_secs(5), |e| {
        e.is_invoking(&arn).then_some(())
    })
    .await;
    rt.shutdown_with_grace(Duration::from_millis(50)).await;
    let service = rt.service().clone();
    assert!(!service.lock().unwrap().is_invoking(&arn));
    assert_eq!(
        invocation_errors(&service, &arn),
        vec![Some("Runtime.ExitError".into())]
    );
    let rt = Runtime::start(service, Invokers::new(registry), Arc::new(SystemClock));
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("\"finally\""));
    rt.shutdown().await;
}
