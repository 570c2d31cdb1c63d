//! The durable operations a transition creates through `Ctx`: steps, waits, chained invokes,
//! wait-for-callback, wait-for-condition, child machines, map and parallel — run on the
//! in-process runner (the real engine, virtual time).

use durable_fsm::machine::ops::{
    BatchConfig, BatchResult, CompletionReason, StepConfig, WaitStrategy,
};
use durable_fsm::machine::{CallbackConfig, RetryStrategy, StepError, Terminal};
use durable_fsm::model::{ErrorObject, EventType, OperationStatus, OperationType};
use durable_fsm::testing::{CallbackReply, TestOutcome, TestRunner};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

fn count(outcome: &TestOutcome, t: EventType) -> usize {
    outcome.events_of(t).count()
}

fn sub_types(outcome: &TestOutcome) -> Vec<(EventType, String)> {
    outcome
        .events
        .iter()
        .filter(|e| e.sub_type.as_deref() != Some("Transition"))
        .filter_map(|e| e.sub_type.clone().map(|s| (e.event_type, s)))
        .collect()
}

// ---- step ------------------------------------------------------------------------------

static GREET_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
enum Greet {
    Start(String),
    Pause(String),
}

impl Transition for Greet {
    type Input = String;
    type Output = String;
    fn start(name: String) -> Self {
        Greet::Start(name)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Greet::Start(name) => {
                let greeting = ctx
                    .step("greet", |_| async move {
                        GREET_RUNS.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(format!("Hello, {name}!"))
                    })
                    .await?;
                // Suspends once: the transition runs again and must not re-run the step.
                ctx.wait("pause", Duration::from_secs(2)).await?;
                Ok(Next::to(Greet::Pause(greeting)))
            }
            Greet::Pause(greeting) => Ok(Next::done(greeting)),
        }
    }
}

#[tokio::test]
async fn a_step_runs_once_and_its_recorded_value_is_reused() {
    let outcome = TestRunner::<Greet>::new().run("World").await.unwrap();
    assert_eq!(
        outcome.status.as_str(),
        "SUCCEEDED",
        "{}",
        outcome.history_table()
    );
    assert_eq!(outcome.output::<String>().unwrap(), "Hello, World!");
    assert_eq!(GREET_RUNS.load(Ordering::SeqCst), 1);
    let step = outcome
        .operations
        .iter()
        .find(|op| op.name.as_deref() == Some("greet"))
        .unwrap();
    assert_eq!(step.sub_type.as_deref(), Some("Step"));
    assert_eq!(
        step.step_details.as_ref().unwrap().result.as_deref(),
        Some("\"Hello, World!\"")
    );
    assert_eq!(count(&outcome, EventType::WaitSucceeded), 1);
    // Without the Transition steps: the official SDK's shape.
    assert_eq!(
        sub_types(&outcome),
        vec![
            (EventType::StepStarted, "Step".into()),
            (EventType::StepSucceeded, "Step".into()),
            (EventType::WaitStarted, "Wait".into()),
            (EventType::WaitSucceeded, "Wait".into()),
        ]
    );
}

#[derive(Serialize, Deserialize)]
enum Chain {
    A(u32),
    B(u32),
}

impl Transition for Chain {
    type Input = u32;
    type Output = u32;
    fn start(n: u32) -> Self {
        Chain::A(n)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Chain::A(n) => {
                let doubled = ctx
                    .step("double", |_| async move { Ok::<_, std::io::Error>(n * 2) })
                    .await?;
                Ok(Next::to(Chain::B(doubled)))
            }
            Chain::B(n) => {
                let plus = ctx
                    .step("inc", |_| async move { Ok::<_, std::io::Error>(n + 1) })
                    .await?;
                Ok(Next::done(plus))
            }
        }
    }
}

#[tokio::test]
async fn a_step_shares_its_transition_s_checkpoint_call() {
    let outcome = TestRunner::<Chain>::new().run(20).await.unwrap();
    assert_eq!(outcome.output::<u32>().unwrap(), 41);
    assert_eq!(outcome.transitions_run, 2);
    assert_eq!(outcome.checkpoint_calls, 2, "one call per transition");
}

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
enum Flaky {
    Go,
}

impl Transition for Flaky {
    type Input = ();
    type Output = u32;
    fn start(_: ()) -> Self {
        Flaky::Go
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let attempt = ctx
            .step("flaky", |step| async move {
                FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
                if step.attempt() < 3 {
                    Err(format!("attempt {} failed", step.attempt()).into())
                } else {
                    Ok::<_, TransitionError>(step.attempt())
                }
            })
            .await?;
        Ok(Next::done(attempt))
    }
}

#[tokio::test]
async fn a_failing_step_is_retried_with_backoff_then_succeeds() {
    let outcome = TestRunner::<Flaky>::new().run(()).await.unwrap();
    assert_eq!(
        outcome.output::<u32>().unwrap(),
        3,
        "{}",
        outcome.history_table()
    );
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), 3);
    let failed: Vec<_> = outcome
        .events_of(EventType::StepFailed)
        .filter(|e| e.sub_type.as_deref() == Some("Step"))
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(count(&outcome, EventType::InvocationCompleted), 3);
    // Each attempt starts the step again.
    let started = outcome
        .events_of(EventType::StepStarted)
        .filter(|e| e.sub_type.as_deref() == Some("Step"))
        .count();
    assert_eq!(started, 3);
}

#[derive(Serialize, Deserialize)]
enum Declined {
    Charge,
}

impl Transition for Declined {
    type Input = ();
    type Output = String;
    fn start(_: ()) -> Self {
        Declined::Charge
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let config = StepConfig::new()
            .retry(RetryStrategy::none())
            .at_most_once();
        let charged = ctx
            .step_with("charge", config, |_| async {
                Err::<String, _>(Terminal::new("CardDeclined", "insufficient funds"))
            })
            .await;
        match charged {
            Err(StepError::Failed(e)) => Ok(Next::done(format!(
                "handled {}",
                e.error_type.unwrap_or_default()
            ))),
            other => other.map(Next::done).map_err(Into::into),
        }
    }
}

#[tokio::test]
async fn a_failed_step_can_be_handled_by_the_transition() {
    let outcome = TestRunner::<Declined>::new().run(()).await.unwrap();
    assert_eq!(outcome.output::<String>().unwrap(), "handled CardDeclined");
    let step = outcome
        .operations
        .iter()
        .find(|op| op.name.as_deref() == Some("charge"))
        .unwrap();
    assert_eq!(step.status, OperationStatus::Failed);
    // At-most-once: the START went out on its own before the step ran.
    assert_eq!(outcome.checkpoint_calls, 2);
}

// ---- chained invoke -----------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Caller {
    Call(u64),
}

impl Transition for Caller {
    type Input = u64;
    type Output = String;
    fn start(n: u64) -> Self {
        Caller::Call(n)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Caller::Call(n) = self;
        let target = if n == 0 { "missing" } else { "payments" };
        match ctx.invoke::<_, String>("charge", target, &n).await {
            Ok(receipt) => Ok(Next::done(receipt)),
            Err(StepError::Failed(e)) => Ok(Next::done(format!(
                "failed: {}",
                e.error_type.unwrap_or_default()
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

fn payments(input: &str) -> Result<String, ErrorObject> {
    let cents: u64 =
        serde_json::from_str(input).map_err(|e| ErrorObject::message(e.to_string()))?;
    if cents > 1000 {
        return Err(ErrorObject::new("Declined", "too much"));
    }
    Ok(format!("\"receipt-{cents}\""))
}

#[tokio::test]
async fn a_chained_invoke_returns_the_target_s_result_or_error() {
    let ok = TestRunner::<Caller>::new()
        .on_invoke("payments", payments)
        .run(250)
        .await
        .unwrap();
    assert_eq!(
        ok.output::<String>().unwrap(),
        "receipt-250",
        "{}",
        ok.history_table()
    );
    assert_eq!(count(&ok, EventType::ChainedInvokeStarted), 1);
    assert_eq!(count(&ok, EventType::ChainedInvokeSucceeded), 1);
    let op = ok
        .operations
        .iter()
        .find(|op| op.op_type == OperationType::ChainedInvoke)
        .unwrap();
    assert_eq!(op.sub_type.as_deref(), Some("ChainedInvoke"));

    let declined = TestRunner::<Caller>::new()
        .on_invoke("payments", payments)
        .run(5000)
        .await
        .unwrap();
    assert_eq!(declined.output::<String>().unwrap(), "failed: Declined");

    let missing = TestRunner::<Caller>::new().run(0).await.unwrap();
    assert_eq!(
        missing.output::<String>().unwrap(),
        "failed: ResourceNotFoundException"
    );
}

// ---- wait for callback ----------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Approve {
    Ask,
}

impl Transition for Approve {
    type Input = ();
    type Output = String;
    fn start(_: ()) -> Self {
        Approve::Ask
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let config = CallbackConfig::timeout(Duration::from_secs(60));
        match ctx
            .wait_for_callback::<String, _, _, _>("approval", config, |id| async move {
                assert!(!id.is_empty());
                Ok::<_, std::io::Error>(())
            })
            .await
        {
            Ok(answer) => Ok(Next::done(answer)),
            Err(StepError::Failed(e)) => Ok(Next::done(format!(
                "no: {}",
                e.error_type.unwrap_or_default()
            ))),
            Err(e) => Err(e.into()),
        }
    }
}

#[tokio::test]
async fn wait_for_callback_returns_the_callback_result() {
    let outcome = TestRunner::<Approve>::new()
        .on_callback("*", CallbackReply::succeed("\"yes\""))
        .run(())
        .await
        .unwrap();
    assert_eq!(
        outcome.output::<String>().unwrap(),
        "yes",
        "{}",
        outcome.history_table()
    );
    assert_eq!(
        sub_types(&outcome),
        vec![
            (EventType::ContextStarted, "WaitForCallback".into()),
            (EventType::CallbackStarted, "Callback".into()),
            (EventType::StepStarted, "Step".into()),
            (EventType::StepSucceeded, "Step".into()),
            (EventType::CallbackSucceeded, "Callback".into()),
            (EventType::ContextSucceeded, "WaitForCallback".into()),
        ]
    );
    let context = outcome
        .operations
        .iter()
        .find(|op| op.sub_type.as_deref() == Some("WaitForCallback"))
        .unwrap();
    for op in &outcome.operations {
        if matches!(op.sub_type.as_deref(), Some("Callback" | "Step")) {
            assert_eq!(op.parent_id.as_deref(), Some(context.id.as_str()));
        }
    }
}

#[tokio::test]
async fn wait_for_callback_reports_a_timeout_as_a_failure() {
    let outcome = TestRunner::<Approve>::new()
        .on_callback("*", CallbackReply::Ignore)
        .run(())
        .await
        .unwrap();
    assert_eq!(outcome.output::<String>().unwrap(), "no: Callback.Timeout");
}

// ---- wait for condition --------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Poller {
    Poll,
}

impl Transition for Poller {
    type Input = ();
    type Output = u32;
    fn start(_: ()) -> Self {
        Poller::Poll
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = WaitStrategy::until(|n: &u32| *n >= 3).every(Duration::from_secs(2));
        let n = ctx
            .wait_for_condition(
                "count",
                0u32,
                |n, _| async move { Ok::<_, std::io::Error>(n + 1) },
                strategy,
            )
            .await?;
        Ok(Next::done(n))
    }
}

#[tokio::test]
async fn wait_for_condition_checks_once_per_invocation_until_done() {
    let outcome = TestRunner::<Poller>::new().run(()).await.unwrap();
    assert_eq!(
        outcome.output::<u32>().unwrap(),
        3,
        "{}",
        outcome.history_table()
    );
    let payloads: Vec<String> = outcome
        .events_of(EventType::StepSucceeded)
        .filter(|e| e.sub_type.as_deref() == Some("WaitForCondition"))
        .filter_map(|e| {
            e.step_succeeded_details
                .as_ref()
                .and_then(|d| d.result.as_ref())
                .and_then(|r| r.payload.clone())
        })
        .collect();
    assert_eq!(payloads, vec!["1", "2", "3"]);
    assert_eq!(outcome.invocations, 3);
    assert!(outcome.elapsed >= Duration::from_secs(4));
}

#[derive(Serialize, Deserialize)]
enum Impatient {
    Poll,
}

impl Transition for Impatient {
    type Input = ();
    type Output = u32;
    fn start(_: ()) -> Self {
        Impatient::Poll
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = WaitStrategy::until(|n: &u32| *n >= 100).max_attempts(2);
        let n = ctx
            .wait_for_condition(
                "count",
                0u32,
                |n, _| async move { Ok::<_, std::io::Error>(n + 1) },
                strategy,
            )
            .await?;
        Ok(Next::done(n))
    }
}

#[tokio::test]
async fn wait_for_condition_fails_when_attempts_run_out() {
    let outcome = TestRunner::<Impatient>::new().run(()).await.unwrap();
    assert_eq!(outcome.status.as_str(), "FAILED");
    assert_eq!(
        outcome.error.unwrap().error_type.as_deref(),
        Some("WaitForConditionMaxAttemptsExceeded")
    );
}

// ---- child machines ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Shipping {
    Book(String),
    Wait(String),
    Booked(String),
}

impl Transition for Shipping {
    type Input = String;
    type Output = String;
    fn start(order: String) -> Self {
        Shipping::Book(order)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Shipping::Book(order) if order.contains("fail") => {
                return Err(Terminal::new("NoCarrier", format!("cannot ship {order}")).into());
            }
            Shipping::Book(order) => {
                let parcel = ctx
                    .step("label", |_| async move {
                        Ok::<_, std::io::Error>(format!("parcel:{order}"))
                    })
                    .await?;
                Next::sleep(Duration::from_secs(10), Shipping::Wait(parcel))
            }
            Shipping::Wait(parcel) => Next::to(Shipping::Booked(parcel)),
            Shipping::Booked(parcel) => Next::done(parcel),
        })
    }
}

#[derive(Serialize, Deserialize)]
enum Order {
    Ship(String),
    Shipped(String),
}

impl Transition for Order {
    type Input = String;
    type Output = String;
    fn start(order: String) -> Self {
        Order::Ship(order)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Order::Ship(order) => match ctx.child::<Shipping>("shipping", order).await {
                Ok(parcel) => Ok(Next::to(Order::Shipped(parcel))),
                Err(StepError::Failed(e)) => Ok(Next::done(format!(
                    "not shipped: {}",
                    e.error_message.unwrap_or_default()
                ))),
                Err(e) => Err(e.into()),
            },
            Order::Shipped(parcel) => Ok(Next::done(parcel)),
        }
    }
}

#[tokio::test]
async fn a_child_machine_runs_in_its_context_and_feeds_the_parent() {
    let outcome = TestRunner::<Order>::new().run("o-1").await.unwrap();
    assert_eq!(
        outcome.output::<String>().unwrap(),
        "parcel:o-1",
        "{}",
        outcome.history_table()
    );
    let context = outcome
        .operations
        .iter()
        .find(|op| op.op_type == OperationType::Context)
        .unwrap();
    assert_eq!(context.sub_type.as_deref(), Some("RunInChildContext"));
    assert_eq!(context.name.as_deref(), Some("shipping"));
    assert_eq!(
        context.context_details.as_ref().unwrap().result.as_deref(),
        Some("\"parcel:o-1\"")
    );
    // The child's transitions, its step and its timer live inside its context.
    let inside: Vec<_> = outcome
        .operations
        .iter()
        .filter(|op| op.parent_id.as_deref() == Some(context.id.as_str()))
        .collect();
    assert_eq!(
        inside
            .iter()
            .filter(|op| op.sub_type.as_deref() == Some("Transition"))
            .count(),
        3
    );
    assert!(
        inside
            .iter()
            .any(|op| op.sub_type.as_deref() == Some("Step"))
    );
    assert!(inside.iter().any(|op| op.op_type == OperationType::Wait));
    // The child's timer suspended the parent once.
    assert_eq!(outcome.invocations, 2);
    assert!(outcome.elapsed >= Duration::from_secs(10));

    let failed = TestRunner::<Order>::new().run("fail-2").await.unwrap();
    assert_eq!(
        failed.output::<String>().unwrap(),
        "not shipped: cannot ship fail-2"
    );
}

// ---- map and parallel ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Square {
    Of(i64),
    Nap(i64),
}

impl Transition for Square {
    type Input = i64;
    type Output = i64;
    fn start(n: i64) -> Self {
        Square::Of(n)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Square::Of(n) if n < 0 => Err(Terminal::new("Negative", format!("{n} < 0")).into()),
            Square::Of(n) if n % 2 == 1 => Ok(Next::sleep(Duration::from_secs(5), Square::Nap(n))),
            Square::Of(n) | Square::Nap(n) => {
                let sq = ctx
                    .step("square", |_| async move { Ok::<_, std::io::Error>(n * n) })
                    .await?;
                Ok(Next::done(sq))
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct MapInput {
    items: Vec<i64>,
    max_concurrency: Option<usize>,
    min_successful: Option<usize>,
    tolerated: Option<usize>,
}

#[derive(Serialize, Deserialize)]
enum Squares {
    Run(MapInput),
}

impl Transition for Squares {
    type Input = MapInput;
    type Output = BatchResult<i64>;
    fn start(input: MapInput) -> Self {
        Squares::Run(input)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Squares::Run(input) = self;
        let mut config = BatchConfig::new();
        if let Some(n) = input.max_concurrency {
            config = config.max_concurrency(n);
        }
        if let Some(n) = input.min_successful {
            config = config.min_successful(n);
        }
        if let Some(n) = input.tolerated {
            config = config.tolerated_failures(n);
        }
        let batch = ctx.map::<Square>("squares", input.items, config).await?;
        Ok(Next::done(batch))
    }
}

fn map_input(items: Vec<i64>) -> MapInput {
    MapInput {
        items,
        max_concurrency: None,
        min_successful: None,
        tolerated: None,
    }
}

#[tokio::test]
async fn map_returns_results_in_index_order() {
    let outcome = TestRunner::<Squares>::new()
        .run(map_input(vec![2, 3, 4, 5]))
        .await
        .unwrap();
    let batch: BatchResult<i64> = outcome.output().unwrap();
    assert_eq!(batch.completion_reason, CompletionReason::AllCompleted);
    assert_eq!(
        batch.successes().copied().collect::<Vec<_>>(),
        vec![4, 9, 16, 25]
    );
    // Odd items slept: all of them in the same invocation, so one suspension.
    assert_eq!(outcome.invocations, 2, "{}", outcome.history_table());
    let iterations = outcome
        .operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some("MapIteration"))
        .count();
    assert_eq!(iterations, 4);
}

#[tokio::test]
async fn map_with_max_concurrency_one_runs_items_one_after_another() {
    let mut input = map_input(vec![1, 3]);
    input.max_concurrency = Some(1);
    let outcome = TestRunner::<Squares>::new().run(input).await.unwrap();
    let batch: BatchResult<i64> = outcome.output().unwrap();
    assert_eq!(batch.successes().copied().collect::<Vec<_>>(), vec![1, 9]);
    // Item 1 only starts once item 0 (which sleeps) has finished.
    assert_eq!(outcome.invocations, 3, "{}", outcome.history_table());
    let order: Vec<_> = sub_types(&outcome)
        .into_iter()
        .filter(|(_, s)| s == "MapIteration")
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        order,
        vec![
            EventType::ContextStarted,
            EventType::ContextSucceeded,
            EventType::ContextStarted,
            EventType::ContextSucceeded
        ]
    );
}

#[tokio::test]
async fn map_completion_policies() {
    // Fail-fast: the first failure completes the batch; later items never start.
    let mut input = map_input(vec![2, -1, 4]);
    input.max_concurrency = Some(1);
    let batch: BatchResult<i64> = TestRunner::<Squares>::new()
        .run(input)
        .await
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(
        batch.completion_reason,
        CompletionReason::FailureToleranceExceeded
    );
    assert_eq!((batch.success_count(), batch.failure_count()), (1, 1));
    assert_eq!(batch.all.len(), 2, "the item never started is left out");

    // Tolerating one failure lets the rest finish.
    let mut input = map_input(vec![2, -1, 4]);
    input.tolerated = Some(1);
    let batch: BatchResult<i64> = TestRunner::<Squares>::new()
        .run(input)
        .await
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(batch.completion_reason, CompletionReason::AllCompleted);
    assert_eq!((batch.success_count(), batch.failure_count()), (2, 1));
    assert_eq!(
        batch.failures().next().unwrap().error_type.as_deref(),
        Some("Negative")
    );

    // Done once two succeeded.
    let mut input = map_input(vec![2, 4, 6, 8]);
    input.max_concurrency = Some(1);
    input.min_successful = Some(2);
    let batch: BatchResult<i64> = TestRunner::<Squares>::new()
        .run(input)
        .await
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(
        batch.completion_reason,
        CompletionReason::MinSuccessfulReached
    );
    assert_eq!(batch.success_count(), 2);
}

#[derive(Serialize, Deserialize)]
enum Fan {
    Out(Vec<i64>),
}

impl Transition for Fan {
    type Input = Vec<i64>;
    type Output = Vec<i64>;
    fn start(items: Vec<i64>) -> Self {
        Fan::Out(items)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Fan::Out(items) = self;
        let branches = items
            .iter()
            .map(|n| (format!("b{n}"), Squares::Run(map_input(vec![*n, n + 1]))))
            .collect();
        let batch = ctx
            .parallel::<Nested>("fan", branches, BatchConfig::new())
            .await?;
        let sums = batch
            .into_values()
            .map_err(Terminal)?
            .into_iter()
            .map(|b| b.successes().sum())
            .collect();
        Ok(Next::done(sums))
    }
}

/// A parallel branch that itself maps (nesting).
#[derive(Serialize, Deserialize)]
enum Nested {
    Inner(Squares),
}

impl Transition for Nested {
    type Input = Squares;
    type Output = BatchResult<i64>;
    fn start(s: Squares) -> Self {
        Nested::Inner(s)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Nested::Inner(Squares::Run(input)) = self;
        let batch = ctx
            .map::<Square>("inner", input.items, BatchConfig::new())
            .await?;
        Ok(Next::done(batch))
    }
}

#[tokio::test]
async fn parallel_branches_can_nest_maps() {
    let outcome = TestRunner::<Fan>::new().run(vec![1, 10]).await.unwrap();
    assert_eq!(
        outcome.output::<Vec<i64>>().unwrap(),
        vec![1 + 4, 100 + 121],
        "{}",
        outcome.history_table()
    );
    let branches: Vec<_> = outcome
        .operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some("ParallelBranch"))
        .map(|op| op.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(branches, vec!["b1", "b10"]);
    assert_eq!(
        outcome
            .operations
            .iter()
            .filter(|op| op.sub_type.as_deref() == Some("Map"))
            .count(),
        2
    );
}

// ---- large results ------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
enum Big {
    Make(usize),
}

impl Transition for Big {
    type Input = usize;
    type Output = String;
    fn start(n: usize) -> Self {
        Big::Make(n)
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Big::Make(n) = self;
        // Multi-byte characters, so parts must split on character boundaries.
        Ok(Next::done("é".repeat(n)))
    }
}

#[derive(Serialize, Deserialize)]
enum Collect {
    Run(usize),
    Measure(usize),
}

impl Transition for Collect {
    type Input = usize;
    type Output = usize;
    fn start(n: usize) -> Self {
        Collect::Run(n)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Collect::Run(n) => {
                let text = ctx.child::<Big>("big", n).await?;
                let batch = ctx
                    .map::<Big>("bigs", vec![n, 10], BatchConfig::new())
                    .await?;
                let total = text.chars().count()
                    + batch.successes().map(|s| s.chars().count()).sum::<usize>();
                Ok(Next::sleep(Duration::from_secs(1), Collect::Measure(total)))
            }
            Collect::Measure(total) => Ok(Next::done(total)),
        }
    }
}

#[tokio::test]
async fn large_child_and_map_results_are_stored_in_parts() {
    let n = 400_000; // 800 KB of UTF-8, over the 256 KiB checkpoint limit
    let outcome = TestRunner::<Collect>::new().run(n).await.unwrap();
    assert_eq!(outcome.status.as_str(), "SUCCEEDED", "{:?}", outcome.error);
    assert_eq!(outcome.output::<usize>().unwrap(), 2 * n + 10);
    let contexts: Vec<_> = outcome
        .operations
        .iter()
        .filter(|op| matches!(op.sub_type.as_deref(), Some("RunInChildContext" | "Map")))
        .collect();
    assert_eq!(contexts.len(), 2);
    for op in contexts {
        let details = op.context_details.as_ref().unwrap();
        assert_eq!(details.replay_children, Some(true), "{}", op.id);
        assert!(details.result.is_none());
    }
    let parts = outcome
        .operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some("ResultPart"))
        .count();
    assert!(parts >= 8, "{parts} parts");
}

#[derive(Serialize, Deserialize)]
enum Reread {
    First(usize),
}

impl Transition for Reread {
    type Input = usize;
    type Output = usize;
    fn start(n: usize) -> Self {
        Reread::First(n)
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Reread::First(n) = self;
        let text = ctx.child::<Big>("big", n).await?;
        // Suspend once after the child finished: the re-run reads the child's result back.
        ctx.wait("pause", Duration::from_secs(1)).await?;
        Ok(Next::done(text.chars().count()))
    }
}

#[tokio::test]
async fn a_large_child_result_is_read_back_from_its_parts() {
    let outcome = TestRunner::<Reread>::new().run(300_000).await.unwrap();
    assert_eq!(
        outcome.output::<usize>().unwrap(),
        300_000,
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.invocations, 2);
}

// ---- at-most-once transitions ------------------------------------------------------------------

static PAYOUTS: AtomicU32 = AtomicU32::new(0);
static NOTICES: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize, Deserialize)]
enum Payout {
    Send,
    Notify,
}

impl Transition for Payout {
    type Input = ();
    type Output = ();
    fn start(_: ()) -> Self {
        Payout::Send
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Payout::Send => {
                PAYOUTS.fetch_add(1, Ordering::SeqCst);
                Next::to(Payout::Notify)
            }
            Payout::Notify => {
                NOTICES.fetch_add(1, Ordering::SeqCst);
                Next::done(())
            }
        })
    }
    fn semantics(&self) -> durable_fsm::machine::ops::StepSemantics {
        match self {
            Payout::Send => durable_fsm::machine::ops::StepSemantics::AtMostOnce,
            Payout::Notify => durable_fsm::machine::ops::StepSemantics::AtLeastOnce,
        }
    }
    fn retry_strategy(&self) -> RetryStrategy {
        RetryStrategy::none()
    }
}

#[tokio::test]
async fn an_interrupted_at_most_once_transition_is_not_run_again() {
    use durable_fsm::testing::Fault;
    // Call 1 records the START of `Send`; call 2 (its result) fails, ending the invocation.
    let outcome = TestRunner::<Payout>::new()
        .fail_checkpoint(2, Fault::FailBefore)
        .run(())
        .await
        .unwrap();
    assert_eq!(PAYOUTS.load(Ordering::SeqCst), 1, "the payout ran once");
    assert_eq!(
        outcome.status.as_str(),
        "FAILED",
        "{}",
        outcome.history_table()
    );
    assert_eq!(
        outcome.error.unwrap().error_type.as_deref(),
        Some("StepInterrupted")
    );
    assert_eq!(NOTICES.load(Ordering::SeqCst), 0);

    // Uninterrupted, it runs normally: START first, then its result with the next state.
    let outcome = TestRunner::<Payout>::new().run(()).await.unwrap();
    assert_eq!(outcome.status.as_str(), "SUCCEEDED");
    assert_eq!(outcome.checkpoint_calls, 3);
}
