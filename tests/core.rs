//! The executor through the public API, on the in-process runner: every `Next` command,
//! retries, interrupted transitions, paging, long executions and bad input.

use durable_fsm::executor::{self, TRANSITION_SUBTYPE};
use durable_fsm::machine::retry::{Backoff, Jitter};
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome, RetryStrategy, Terminal};
use durable_fsm::model::*;
use durable_fsm::testing::{CallbackReply, Fault, TestRunner};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

fn transition_steps(ops: &[Operation]) -> Vec<&Operation> {
    ops.iter()
        .filter(|o| o.sub_type.as_deref() == Some(TRANSITION_SUBTYPE))
        .collect()
}

// ---------------------------------------------------------------- to / done / sleep / fail

#[derive(Serialize, Deserialize)]
enum Trip {
    Plan { city: String },
    Book { city: String, nights: u32 },
    Rest { city: String },
    Cancel,
}

impl Transition for Trip {
    type Input = String;
    type Output = String;
    fn start(city: String) -> Self {
        Trip::Plan { city }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Trip::Plan { city } if city == "nowhere" => Next::to(Trip::Cancel),
            Trip::Plan { city } => Next::to(Trip::Book { city, nights: 3 }),
            Trip::Book { city, nights } => Next::sleep(
                Duration::from_secs(u64::from(nights) * 86_400),
                Trip::Rest { city },
            ),
            Trip::Rest { city } => Next::done(format!("rested in {city}")),
            Trip::Cancel => Next::fail(ErrorObject::new("NoDestination", "nowhere to go")),
        })
    }
}

#[tokio::test]
async fn to_sleep_done_record_one_step_per_transition() {
    let out = TestRunner::<Trip>::new().run("Lisbon").await.unwrap();
    assert_eq!(out.output::<String>().unwrap(), "rested in Lisbon");
    let steps = transition_steps(&out.operations);
    let names: Vec<_> = steps.iter().map(|o| o.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["Plan", "Book", "Rest"]);
    assert_eq!(
        steps[0].step_details.as_ref().unwrap().result.as_deref(),
        Some(r#"{"Book":{"city":"Lisbon","nights":3}}"#)
    );
    // The sleep is one WAIT of three days, and the run took three days of virtual time.
    let waits: Vec<_> = out
        .operations
        .iter()
        .filter(|o| o.op_type == OperationType::Wait)
        .collect();
    assert_eq!(waits.len(), 1);
    assert_eq!(
        out.events_of(EventType::WaitStarted)
            .next()
            .unwrap()
            .wait_started_details
            .as_ref()
            .unwrap()
            .duration,
        Some(3 * 86_400)
    );
    assert!(out.elapsed >= Duration::from_secs(3 * 86_400));
    // Two invocations: before and after the timer; the second ran only the last transition.
    assert_eq!(out.invocations, 2);
    assert_eq!(out.last_invocation_transitions, 1);
    assert_eq!(out.transitions_run, 3);
    // One checkpoint call per transition.
    assert_eq!(out.checkpoint_calls, 3);
    assert_eq!(
        out.events.last().unwrap().event_type,
        EventType::ExecutionSucceeded
    );
}

#[tokio::test]
async fn fail_ends_the_execution_with_the_error() {
    let out = TestRunner::<Trip>::new().run("nowhere").await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error,
        Some(ErrorObject::new("NoDestination", "nowhere to go"))
    );
    let last_step = transition_steps(&out.operations).pop().unwrap();
    assert_eq!(last_step.status, OperationStatus::Failed);
    assert_eq!(last_step.name.as_deref(), Some("Cancel"));
}

// ---------------------------------------------------------------- retries

#[derive(Serialize, Deserialize)]
enum Flaky {
    Call { failures: u32 },
}

#[derive(Debug, thiserror::Error)]
#[error("upstream returned 503")]
struct Upstream;

impl Transition for Flaky {
    type Input = u32;
    type Output = u32;
    fn start(failures: u32) -> Self {
        Flaky::Call { failures }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Flaky::Call { failures } = self;
        if ctx.attempt() <= failures {
            return Err(Upstream.into());
        }
        Ok(Next::done(ctx.attempt()))
    }
    fn retry_strategy(&self) -> RetryStrategy {
        RetryStrategy::new(4)
            .initial_delay(Duration::from_secs(2))
            .backoff(Backoff::Exponential { rate: 3.0 })
            .jitter(Jitter::None)
    }
}

#[tokio::test]
async fn retries_follow_the_strategy_then_give_up() {
    let out = TestRunner::<Flaky>::new().run(2).await.unwrap();
    assert_eq!(
        out.output::<u32>().unwrap(),
        3,
        "succeeds on the third attempt"
    );
    let failed: Vec<_> = out.events_of(EventType::StepFailed).collect();
    assert_eq!(failed.len(), 2);
    let details: Vec<_> = failed
        .iter()
        .map(|e| {
            e.step_failed_details
                .as_ref()
                .unwrap()
                .retry_details
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(
        details[0],
        RetryDetails {
            current_attempt: Some(1),
            next_attempt_delay_seconds: Some(2)
        }
    );
    assert_eq!(
        details[1],
        RetryDetails {
            current_attempt: Some(2),
            next_attempt_delay_seconds: Some(6)
        }
    );
    let err = failed[0]
        .step_failed_details
        .as_ref()
        .unwrap()
        .error
        .as_ref()
        .unwrap()
        .payload
        .clone()
        .unwrap();
    assert_eq!(err, ErrorObject::new("Upstream", "upstream returned 503"));
    let ok = out.events_of(EventType::StepSucceeded).last().unwrap();
    assert_eq!(
        ok.step_succeeded_details
            .as_ref()
            .unwrap()
            .retry_details
            .as_ref()
            .unwrap()
            .current_attempt,
        Some(3)
    );
    assert_eq!(
        transition_steps(&out.operations).len(),
        1,
        "one STEP for all attempts"
    );
    assert!(out.elapsed >= Duration::from_secs(8));

    let out = TestRunner::<Flaky>::new().run(10).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error,
        Some(ErrorObject::new("Upstream", "upstream returned 503"))
    );
    let last = out.events_of(EventType::StepFailed).last().unwrap();
    assert_eq!(
        last.step_failed_details
            .as_ref()
            .unwrap()
            .retry_details
            .as_ref()
            .unwrap()
            .current_attempt,
        Some(4)
    );
    assert_eq!(out.events_of(EventType::StepFailed).count(), 4);
}

#[derive(Serialize, Deserialize)]
struct Doomed;

impl Transition for Doomed {
    type Input = ();
    type Output = ();
    fn start(_: ()) -> Self {
        Doomed
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Err(Terminal::new("Invalid", "card number is malformed").into())
    }
}

#[tokio::test]
async fn terminal_errors_are_not_retried() {
    let out = TestRunner::<Doomed>::new().run(()).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.invocations, 1);
    assert_eq!(
        out.error,
        Some(ErrorObject::new("Invalid", "card number is malformed"))
    );
}

// ---------------------------------------------------------------- poll

#[derive(Serialize, Deserialize)]
enum Job {
    Poll { checks: u32 },
}

impl Transition for Job {
    type Input = ();
    type Output = u32;
    fn start(_: ()) -> Self {
        Job::Poll { checks: 0 }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Job::Poll { checks } = self;
        Ok(if checks + 1 >= 3 {
            Next::done(checks + 1)
        } else {
            Next::poll(Duration::from_secs(30), Job::Poll { checks: checks + 1 })
        })
    }
}

#[tokio::test]
async fn poll_reruns_the_state_with_its_new_value_on_one_step() {
    let out = TestRunner::<Job>::new().run(()).await.unwrap();
    assert_eq!(out.output::<u32>().unwrap(), 3);
    assert_eq!(transition_steps(&out.operations).len(), 1);
    let polls: Vec<_> = out
        .events_of(EventType::StepSucceeded)
        .map(|e| {
            e.step_succeeded_details
                .as_ref()
                .unwrap()
                .result
                .as_ref()
                .unwrap()
                .payload
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(
        polls,
        [
            r#"{"Poll":{"checks":1}}"#,
            r#"{"Poll":{"checks":2}}"#,
            r#"{"$done":3}"#
        ]
    );
    assert_eq!(out.invocations, 3);
    assert!(out.elapsed >= Duration::from_secs(60));
}

// ---------------------------------------------------------------- callbacks

#[derive(Serialize, Deserialize)]
enum Signoff {
    Ask,
    Wait(Callback),
}

impl Transition for Signoff {
    type Input = ();
    type Output = String;
    fn start(_: ()) -> Self {
        Signoff::Ask
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Signoff::Ask => {
                let cfg = CallbackConfig::timeout(Duration::from_secs(3600))
                    .with_heartbeat(Duration::from_secs(600));
                Next::to(Signoff::Wait(ctx.callback("signoff", cfg).await?))
            }
            Signoff::Wait(cb) => Next::done(match ctx.callback_outcome(&cb)? {
                CallbackOutcome::Succeeded(body) => format!("ok {body}"),
                CallbackOutcome::Failed(e) => {
                    format!("failed {}", e.error_type.unwrap_or_default())
                }
                CallbackOutcome::TimedOut(e) => {
                    format!("timed out {}", e.error_type.unwrap_or_default())
                }
            }),
        })
    }
}

#[tokio::test]
async fn callbacks_succeed_fail_and_time_out() {
    let run = |reply| async move {
        TestRunner::<Signoff>::new()
            .on_callback("signoff", reply)
            .run(())
            .await
            .unwrap()
    };
    let out = run(CallbackReply::succeed("\"yes\"").after(Duration::from_secs(60))).await;
    assert_eq!(out.output::<String>().unwrap(), "ok \"yes\"");
    assert_eq!(out.invocations, 2, "suspended once while waiting");
    let out = run(CallbackReply::fail("Rejected", "no")).await;
    assert_eq!(out.output::<String>().unwrap(), "failed Rejected");
    let out = run(CallbackReply::Ignore).await;
    assert_eq!(
        out.output::<String>().unwrap(),
        "timed out Callback.Heartbeat"
    );
    let beat = CallbackReply::Heartbeat(Box::new(
        CallbackReply::Ignore.after(Duration::from_secs(1)),
    ));
    let mut keep_alive = beat;
    for _ in 0..7 {
        keep_alive = CallbackReply::Heartbeat(Box::new(keep_alive.after(Duration::from_secs(500))));
    }
    let out = run(keep_alive).await;
    assert_eq!(
        out.output::<String>().unwrap(),
        "timed out Callback.Timeout"
    );
}

// ---------------------------------------------------------------- interrupted transitions

thread_local! {
    static SIDE_EFFECTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[derive(Serialize, Deserialize)]
enum Charge {
    Start,
    Bill,
    Ship,
}

impl Transition for Charge {
    type Input = ();
    type Output = u64;
    fn start(_: ()) -> Self {
        Charge::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Charge::Start => Next::to(Charge::Bill),
            Charge::Bill => {
                SIDE_EFFECTS.with(|c| c.set(c.get() + 1));
                Next::to(Charge::Ship)
            }
            Charge::Ship => Next::done(0),
        })
    }
}

#[tokio::test]
async fn an_interrupted_transition_runs_again_and_nothing_is_recorded_twice() {
    // The checkpoint of `Bill` never reaches the service: the transition ran but was not
    // recorded, so it runs again in the next invocation (at-least-once).
    SIDE_EFFECTS.with(|c| c.set(0));
    let out = TestRunner::<Charge>::new()
        .fail_checkpoint(2, Fault::FailBefore)
        .run(())
        .await
        .unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(SIDE_EFFECTS.with(|c| c.get()), 2);
    let names: Vec<_> = transition_steps(&out.operations)
        .iter()
        .map(|o| o.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["Start", "Bill", "Ship"]);
    assert_eq!(out.invocations, 2);
    let failed_invocation = out.events_of(EventType::InvocationCompleted).find(|e| {
        e.invocation_completed_details
            .as_ref()
            .unwrap()
            .error
            .is_some()
    });
    assert!(
        failed_invocation.is_some(),
        "the failed invocation is in the history"
    );

    // The checkpoint is applied but its response is lost: the next invocation resumes after
    // `Bill` without running it again.
    SIDE_EFFECTS.with(|c| c.set(0));
    let out = TestRunner::<Charge>::new()
        .fail_checkpoint(2, Fault::LoseResponse)
        .run(())
        .await
        .unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(SIDE_EFFECTS.with(|c| c.get()), 1);
    assert_eq!(transition_steps(&out.operations).len(), 3);
    assert_eq!(out.events_of(EventType::StepSucceeded).count(), 3);
}

// ---------------------------------------------------------------- long executions, paging

thread_local! {
    // Per test thread: tests run in parallel, each on its own current-thread runtime.
    static COUNTER_CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[derive(Serialize, Deserialize)]
enum Counter {
    Count { n: u64, to: u64 },
    Nap { n: u64 },
    Finish { n: u64 },
}

impl Transition for Counter {
    type Input = u64;
    type Output = u64;
    fn start(to: u64) -> Self {
        Counter::Count { n: 0, to }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        COUNTER_CALLS.with(|c| c.set(c.get() + 1));
        Ok(match self {
            Counter::Count { n, to } if n + 1 >= to => {
                Next::sleep(Duration::from_secs(1), Counter::Finish { n: n + 1 })
            }
            Counter::Count { n, to } => Next::to(Counter::Count { n: n + 1, to }),
            Counter::Nap { n } => Next::to(Counter::Finish { n }),
            Counter::Finish { n } => Next::done(n),
        })
    }
}

#[tokio::test]
async fn ten_thousand_transitions_and_a_resume_that_reruns_nothing() {
    COUNTER_CALLS.with(|c| c.set(0));
    let out = TestRunner::<Counter>::new().run(10_000u64).await.unwrap();
    assert_eq!(out.output::<u64>().unwrap(), 10_000);
    assert_eq!(
        COUNTER_CALLS.with(|c| c.get()),
        10_001,
        "every transition ran exactly once"
    );
    assert_eq!(out.transitions_run, 10_001);
    assert_eq!(out.invocations, 2);
    // The resume after the timer ran one transition and, thanks to the closed epochs, saw
    // so few of the 10,000+ operations that they came with the invocation: no page read.
    assert_eq!(out.last_invocation_transitions, 1);
    assert_eq!(out.state_reads, 0, "state pages read");
    assert_eq!(transition_steps(&out.operations).len(), 10_001);
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn a_bad_execution_input_fails_with_a_clear_error() {
    let out = TestRunner::<Counter>::new()
        .run("not a number")
        .await
        .unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    let err = out.error.unwrap();
    assert_eq!(err.error_type.as_deref(), Some("InvalidInput"));
    assert!(err.error_message.unwrap().contains("u64"));
}

#[derive(Serialize, Deserialize)]
enum Hoarder {
    Grow,
    Big(String),
}

impl Transition for Hoarder {
    type Input = ();
    type Output = ();
    fn start(_: ()) -> Self {
        Hoarder::Grow
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Hoarder::Grow => Next::to(Hoarder::Big("x".repeat(300 * 1024))),
            Hoarder::Big(_) => Next::done(()),
        })
    }
}

#[tokio::test]
async fn a_state_over_the_limit_fails_naming_the_state() {
    let out = TestRunner::<Hoarder>::new().run(()).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    let err = out.error.unwrap();
    assert_eq!(err.error_type.as_deref(), Some("StateTooLarge"));
    let msg = err.error_message.unwrap();
    assert!(msg.contains("`Big`") && msg.contains("262144"), "{msg}");
}

/// The same workflow, renamed between deploys: the stored state no longer deserializes.
mod evolved {
    use super::*;
    #[derive(Serialize, Deserialize)]
    pub enum Trip {
        Plan { destination: String },
        Rest { city: String },
    }
    impl Transition for Trip {
        type Input = String;
        type Output = String;
        fn start(destination: String) -> Self {
            Trip::Plan { destination }
        }
        async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(Next::done(String::new()))
        }
    }
}

#[tokio::test]
async fn a_state_that_no_longer_deserializes_names_the_variant_and_the_error() {
    use durable_fsm::service::{Clock, EngineConfig, LocalService, StartExecution, VirtualClock};
    use std::sync::Arc;
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(Timestamp::now()));
    let service = LocalService::in_memory(EngineConfig::default(), clock);
    let arn = service
        .with_engine(|e| e.start_execution(StartExecution::new("trip", "\"Porto\"")))
        .unwrap()
        .unwrap()
        .arn;
    // The old code runs until its sleep.
    let input = service
        .with_engine(|e| e.begin_invocation(&arn))
        .unwrap()
        .unwrap()
        .unwrap();
    let out = executor::run::<Trip, _>(&service, input).await.unwrap();
    assert_eq!(out.status, InvocationStatus::Pending);
    // The new code is deployed; its invocation sees the stored `Book` state.
    let ops = service.lock().unwrap().operations(&arn).unwrap();
    let plan = ops
        .iter()
        .find(|o| o.name.as_deref() == Some("Plan"))
        .unwrap();
    let event = InvocationInput {
        durable_execution_arn: arn.clone(),
        checkpoint_token: "unused".into(),
        initial_execution_state: Some(InitialExecutionState {
            operations: vec![plan.clone()],
            next_marker: None,
        }),
        updated_operation_ids: None,
    };
    let err = executor::run::<evolved::Trip, _>(&service, event)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`Book`") && msg.contains("unknown variant"),
        "{msg}"
    );
    assert_eq!(err.code(), "StateDecodeError");
}

// ---------------------------------------------------------------- large results

#[derive(Serialize, Deserialize)]
struct Report;

impl Transition for Report {
    type Input = usize;
    type Output = String;
    fn start(_: usize) -> Self {
        Report
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let _ = ctx;
        Ok(Next::done("r".repeat(400 * 1024)))
    }
}

#[tokio::test]
async fn a_large_result_is_checkpointed_with_the_execution() {
    let out = TestRunner::<Report>::new().run(1usize).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(out.output::<String>().unwrap().len(), 400 * 1024);
    // The final STEP marks the end without carrying the 400 KiB output twice.
    let step = transition_steps(&out.operations).pop().unwrap();
    assert_eq!(
        step.step_details.as_ref().unwrap().result.as_deref(),
        Some(r#"{"$done":null}"#)
    );
}

#[tokio::test]
async fn an_invocation_can_yield_and_the_next_one_continues() {
    COUNTER_CALLS.with(|c| c.set(0));
    let out = TestRunner::<Counter>::new()
        .max_transitions_per_invocation(7)
        .run(30u64)
        .await
        .unwrap();
    assert_eq!(out.output::<u64>().unwrap(), 30);
    assert_eq!(
        out.transitions_run, 31,
        "no transition ran twice across the yields"
    );
    assert_eq!(COUNTER_CALLS.with(|c| c.get()), 31);
    // 30 transitions before the sleep in chunks of 7 (5 invocations), one after it.
    assert_eq!(out.invocations, 6);
    let names: Vec<_> = transition_steps(&out.operations)
        .iter()
        .map(|o| o.name.clone().unwrap())
        .collect();
    assert_eq!(names.len(), 31);
}
