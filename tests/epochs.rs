//! Bounded resume: long executions group their transitions into epochs, and an invocation
//! sees a bounded number of operations however long the history is.

use durable_fsm::executor::{self, EPOCH_SIZE, EPOCH_SUBTYPE, RunOptions};
use durable_fsm::machine::{Callback, CallbackConfig};
use durable_fsm::model::*;
use durable_fsm::service::{
    Clock, EngineConfig, InvocationOutcome, LocalService, StartExecution, VirtualClock,
};
use durable_fsm::testing::{CallbackReply, TestRunner};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

#[derive(Serialize, Deserialize)]
enum Count {
    Step { n: u64, to: u64 },
    Last { n: u64 },
}

impl Transition for Count {
    type Input = u64;
    type Output = u64;
    fn start(to: u64) -> Self {
        Count::Step { n: 0, to }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Count::Step { n, to } if n + 1 >= to => {
                Next::sleep(Duration::from_secs(1), Count::Last { n: n + 1 })
            }
            // A timer now and then, also where epochs close.
            Count::Step { n, to } if (n + 1) % 97 == 0 => {
                Next::sleep(Duration::from_secs(5), Count::Step { n: n + 1, to })
            }
            Count::Step { n, to } => Next::to(Count::Step { n: n + 1, to }),
            Count::Last { n } => Next::done(n),
        })
    }
}

/// Drives an execution of `Count` invocation by invocation, `per_invocation` transitions
/// at a time; returns (result, operations loaded per invocation, the final history).
async fn drive_count(n: u64, per_invocation: u64) -> (u64, Vec<usize>, Vec<Event>, Vec<Operation>) {
    let clock = VirtualClock::new(Timestamp::from_secs(1_800_000_000));
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let service = LocalService::in_memory(EngineConfig::default(), c);
    let arn = service
        .with_engine(|e| e.start_execution(StartExecution::new("count", n.to_string())))
        .unwrap()
        .unwrap()
        .arn;
    let options = RunOptions {
        max_transitions: Some(per_invocation),
        ..RunOptions::default()
    };
    let mut loaded = Vec::new();
    for _ in 0..10_000 {
        service.with_engine(|e| e.fire_due()).unwrap();
        let status = service
            .lock()
            .unwrap()
            .get_execution(&arn, false)
            .unwrap()
            .status;
        if status.is_terminal() {
            break;
        }
        let Some(input) = service
            .with_engine(|e| e.begin_invocation(&arn))
            .unwrap()
            .unwrap()
        else {
            clock.advance(Duration::from_secs(1));
            continue;
        };
        let token = input.checkpoint_token.clone();
        let (output, stats) = executor::run_with::<Count, _>(&service, input, &options)
            .await
            .unwrap();
        loaded.push(stats.operations_loaded);
        service
            .with_engine(|e| {
                e.complete_invocation(
                    &arn,
                    &token,
                    InvocationOutcome::Output(output),
                    "test".into(),
                    clock.now(),
                )
            })
            .unwrap()
            .unwrap();
    }
    let engine = service.lock().unwrap();
    let exec = engine.get_execution(&arn, true).unwrap();
    assert_eq!(exec.status.as_str(), "SUCCEEDED", "{:?}", exec.error);
    let result: u64 = serde_json::from_str(exec.result.as_deref().unwrap()).unwrap();
    (
        result,
        loaded,
        engine.events(&arn).unwrap(),
        engine.operations(&arn).unwrap(),
    )
}

#[tokio::test]
async fn a_long_execution_resumes_from_a_bounded_number_of_operations() {
    let n = 2_000;
    let (result, loaded, events, operations) = drive_count(n, 45).await;
    assert_eq!(result, n);
    // Every transition ran and was recorded exactly once.
    let succeeded = events
        .iter()
        .filter(|e| {
            e.event_type == EventType::StepSucceeded && e.sub_type.as_deref() == Some("Transition")
        })
        .count() as u64;
    assert_eq!(succeeded, n + 1);
    let mut ids: Vec<&str> = operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some("Transition"))
        .map(|op| op.id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, n + 1, "transition ids are unique");
    let epochs = operations
        .iter()
        .filter(|op| op.sub_type.as_deref() == Some(EPOCH_SUBTYPE))
        .collect::<Vec<_>>();
    assert!(
        epochs.len() as u64 > n / EPOCH_SIZE,
        "{} epochs",
        epochs.len()
    );
    assert!(
        epochs
            .iter()
            .any(|op| op.name.as_deref() == Some("epoch-L2"))
    );
    // Bounded: far below the history's length, and not growing with it.
    let max = *loaded.iter().max().unwrap();
    assert!(max < 160, "an invocation loaded {max} operations");
    let late = loaded[loaded.len() - 5..].iter().max().unwrap();
    assert!(*late < 160, "late invocations loaded {late}");
}

#[tokio::test]
async fn short_executions_open_no_epoch() {
    let (result, _, _, operations) = drive_count(EPOCH_SIZE - 2, 100).await;
    assert_eq!(result, EPOCH_SIZE - 2);
    assert!(
        operations
            .iter()
            .all(|op| op.sub_type.as_deref() != Some(EPOCH_SUBTYPE))
    );
}

/// Creates a callback on every 16th transition and awaits it in the next state: an epoch
/// must not close over an open callback.
#[derive(Serialize, Deserialize)]
enum Approvals {
    Work { n: u64 },
    Await { n: u64, cb: Callback },
}

impl Transition for Approvals {
    type Input = ();
    type Output = u64;
    fn start(_: ()) -> Self {
        Approvals::Work { n: 0 }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Approvals::Work { n } if n >= 100 => Next::done(n),
            Approvals::Work { n } if n % EPOCH_SIZE == EPOCH_SIZE - 1 => {
                let cb = ctx
                    .callback("approve", CallbackConfig::timeout(Duration::from_secs(60)))
                    .await?;
                Next::to(Approvals::Await { n: n + 1, cb })
            }
            Approvals::Work { n } => Next::to(Approvals::Work { n: n + 1 }),
            Approvals::Await { n, cb } => {
                let body = ctx
                    .callback_outcome(&cb)?
                    .into_result()
                    .map_err(durable_fsm::machine::Terminal)?;
                let add: u64 = body.parse().unwrap_or(0);
                Next::to(Approvals::Work { n: n + add })
            }
        })
    }
}

#[tokio::test]
async fn an_epoch_stays_open_while_a_callback_in_it_is_open() {
    let mut runner = TestRunner::<Approvals>::new().max_transitions_per_invocation(7);
    for _ in 0..10 {
        runner = runner.on_callback(
            "approve",
            CallbackReply::succeed("1").after(Duration::from_secs(3)),
        );
    }
    let outcome = runner.run(()).await.unwrap();
    assert_eq!(
        outcome.status.as_str(),
        "SUCCEEDED",
        "{}",
        outcome.history_table()
    );
    assert!(outcome.output::<u64>().unwrap() >= 100);
    let callbacks = outcome
        .operations
        .iter()
        .filter(|op| op.op_type == OperationType::Callback)
        .count();
    assert!(callbacks >= 5);
    assert!(
        outcome
            .operations
            .iter()
            .any(|op| op.sub_type.as_deref() == Some(EPOCH_SUBTYPE))
    );
}

/// Fails once on the first transition of the first epoch: the retry resumes inside it.
#[derive(Serialize, Deserialize)]
enum Flaky {
    Go { n: u64, failed: bool },
}

static FAILS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Transition for Flaky {
    type Input = ();
    type Output = u64;
    fn start(_: ()) -> Self {
        Flaky::Go {
            n: 0,
            failed: false,
        }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Flaky::Go { n, failed } = self;
        if n == EPOCH_SIZE && ctx.attempt() == 1 {
            FAILS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err("flaky".into());
        }
        Ok(if n >= 40 {
            Next::done(n)
        } else {
            Next::to(Flaky::Go { n: n + 1, failed })
        })
    }
}

#[tokio::test]
async fn a_retry_at_an_epoch_boundary_resumes_in_the_epoch() {
    let outcome = TestRunner::<Flaky>::new().run(()).await.unwrap();
    assert_eq!(
        outcome.output::<u64>().unwrap(),
        40,
        "{}",
        outcome.history_table()
    );
    assert_eq!(FAILS.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(outcome.transitions_run, 42);
}
