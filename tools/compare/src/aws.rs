//! The workloads on AWS's official Rust SDK (aws-durable-execution-sdk 0.1.0), driven by its
//! in-process `LocalRunner` in single-page mode (its fastest: no state pagination).
//!
//! The runner drives every invocation itself, so the time of one invocation is taken from
//! inside it: the handler's input type notes the instant the SDK deserializes it (right after
//! the SDK receives the invocation envelope, before it loads the history), and the handler
//! notes the instant it returns.

use crate::{Economy, Resume};
use aws_durable_execution_sdk::builders::wait_for_condition::WaitDecision;
use aws_durable_execution_sdk::observability;
use aws_durable_execution_sdk::test_util::{LocalRunner, TestResult};
use aws_durable_execution_sdk::{BoxError, DurableContext, RetryDecision};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Instants at which invocations began (their input was deserialized), and at which the
/// handler returned.
static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
static END: Mutex<Option<Instant>> = Mutex::new(None);
/// Reset the peak RSS when the second invocation begins (memory measurement).
static RESET_PEAK_ON_RESUME: AtomicBool = AtomicBool::new(false);
/// What that reset saw.
static AT_RESET: Mutex<Option<crate::rss::AtReset>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn clear_marks() {
    lock(&STARTS).clear();
    *lock(&END) = None;
}

/// The input of the counting workflow; deserializing it marks the start of an invocation.
#[derive(Serialize)]
struct CountInput {
    n: u64,
    sleep: bool,
}

impl<'de> Deserialize<'de> for CountInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let now = Instant::now();
        let invocations = {
            let mut starts = lock(&STARTS);
            starts.push(now);
            starts.len()
        };
        if invocations == 2 && RESET_PEAK_ON_RESUME.load(Ordering::SeqCst) {
            *lock(&AT_RESET) = crate::rss::reset_peak();
        }
        #[derive(Deserialize)]
        struct Raw {
            n: u64,
            sleep: bool,
        }
        let raw = Raw::deserialize(d)?;
        Ok(CountInput {
            n: raw.n,
            sleep: raw.sleep,
        })
    }
}

/// N trivial steps; with `sleep`, a one-second wait and one more step.
async fn count(input: CountInput, ctx: DurableContext) -> Result<u64, BoxError> {
    for i in 0..input.n {
        ctx.step(move |_| async move { Ok(i + 1) }).await?;
    }
    if input.sleep {
        ctx.wait(Duration::from_secs(1)).await?;
        ctx.step(|_| async { Ok(0_u64) }).await?;
    }
    *lock(&END) = Some(Instant::now());
    Ok(input.n + u64::from(input.sleep))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a tokio runtime: {e}"))
}

fn run_count(n: u64, sleep: bool) -> Result<(Duration, TestResult<u64>), String> {
    let rt = runtime()?;
    clear_marks();
    let runner = LocalRunner::new().single_page();
    let started = Instant::now();
    let result = rt.block_on(runner.run(count, CountInput { n, sleep }));
    let took = started.elapsed();
    if !result.is_success() || result.output() != Some(&(n + u64::from(sleep))) {
        return Err(format!(
            "official SDK run of {n} steps did not succeed: {:?} {:?}",
            result.error_type(),
            result.error_message()
        ));
    }
    Ok((took, result))
}

/// Time of one run of `n` sequential steps on the LocalRunner.
pub fn throughput(n: u64) -> Result<Duration, String> {
    let (took, result) = run_count(n, false)?;
    if result.invocation_count() != 1 || result.operations().len() as u64 != n {
        return Err(format!(
            "official SDK run of {n} steps took {} invocations and {} operations",
            result.invocation_count(),
            result.operations().len()
        ));
    }
    Ok(took)
}

/// The last invocation of `n` steps, a wait and one more step.
pub fn resume(n: u64) -> Result<Resume, String> {
    let (_, result) = run_count(n, true)?;
    let starts = lock(&STARTS).clone();
    let end = (*lock(&END)).ok_or("the handler never returned")?;
    let [_, last] = starts[..] else {
        return Err(format!(
            "expected two invocations, saw {} (runner says {})",
            starts.len(),
            result.invocation_count()
        ));
    };
    // The envelope of the last invocation carried every operation recorded before it (all
    // but its own step) plus the EXECUTION operation.
    let visible = result.operations().len() as u64;
    Ok(Resume {
        time: end.duration_since(last),
        service_time: None,
        visible_operations: visible,
    })
}

/// Peak RSS in KiB of this process: over its whole life, and since the resume began.
pub fn memory(n: u64) -> Result<crate::rss::Peaks, String> {
    RESET_PEAK_ON_RESUME.store(true, Ordering::SeqCst);
    let run = run_count(n, true);
    RESET_PEAK_ON_RESUME.store(false, Ordering::SeqCst);
    run?;
    let at_reset = *lock(&AT_RESET);
    crate::rss::peaks(at_reset)
}

// ---- Checkpoint calls, counted from the SDK's documented lifecycle events. ----

/// Counts the lifecycle events that each follow one successful checkpoint call (the SDK
/// sends one operation update per call when checkpoint buffering is off, its default).
struct CheckpointEvents {
    count: AtomicU64,
}

struct MessageIs<'a> {
    names: &'a [&'a str],
    hit: bool,
}

impl tracing::field::Visit for MessageIs<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let text = format!("{value:?}");
            self.hit |= self.names.contains(&text.as_str());
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.hit |= self.names.contains(&value);
        }
    }
}

impl tracing::Subscriber for CheckpointEvents {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target() == observability::TARGET
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut v = MessageIs {
            names: &[
                observability::event_names::OPERATION_STARTED,
                observability::event_names::OPERATION_SUCCEEDED,
                observability::event_names::OPERATION_FAILED,
                observability::event_names::OPERATION_RETRY_SCHEDULED,
            ],
            hit: false,
        };
        event.record(&mut v);
        if v.hit {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[derive(Serialize, Deserialize)]
struct Decision {
    approved: bool,
    by: String,
}

async fn approval(amount: u64, ctx: DurableContext) -> Result<crate::fsm::Receipt, BoxError> {
    let decision: Decision = ctx
        .wait_for_callback(|_, callback_id| async move {
            crate::side_effect(&callback_id);
            Ok(())
        })
        .name("manager-approval")
        .timeout(Duration::from_secs(3 * 86_400))
        .await?;
    if !decision.approved {
        return Ok(crate::fsm::Receipt {
            status: "rejected".into(),
            detail: decision.by,
        });
    }
    ctx.wait(Duration::from_secs(6 * 3600))
        .name("payout-batch")
        .await?;
    let by = decision.by;
    ctx.step(|_| async move {
        crate::side_effect("payout");
        Ok(())
    })
    .name("payout")
    .await?;
    Ok(crate::fsm::Receipt {
        status: "paid".into(),
        detail: format!("{amount} by {by}"),
    })
}

async fn saga(_: (), ctx: DurableContext) -> Result<crate::fsm::Receipt, BoxError> {
    let flight: String = ctx
        .step(|_| async { crate::book("flight").map_err(BoxError::from) })
        .name("book-flight")
        .await?;
    let hotel: String = ctx
        .step(|_| async { crate::book("hotel").map_err(BoxError::from) })
        .name("book-hotel")
        .await?;
    let car = ctx
        .step(|_| async { crate::book("car").map_err(BoxError::from) })
        .name("book-car")
        .retry_strategy(|_, _| RetryDecision::Stop)
        .await;
    let Err(_) = car else {
        return Ok(crate::fsm::Receipt {
            status: "booked".into(),
            detail: String::new(),
        });
    };
    ctx.step(move |_| async move {
        crate::side_effect(&hotel);
        Ok(())
    })
    .name("cancel-hotel")
    .await?;
    ctx.step(move |_| async move {
        crate::side_effect(&flight);
        Ok(())
    })
    .name("cancel-flight")
    .await?;
    Ok(crate::fsm::Receipt {
        status: "cancelled".into(),
        detail: crate::CAR_UNAVAILABLE.into(),
    })
}

#[derive(Clone, Serialize, Deserialize)]
struct PollState {
    job: String,
    checks: u32,
    ready: bool,
}

async fn polling(_: (), ctx: DurableContext) -> Result<crate::fsm::Receipt, BoxError> {
    let job: String = ctx
        .step(|_| async { crate::book("job").map_err(BoxError::from) })
        .name("submit")
        .await?;
    let state = ctx
        .wait_for_condition(
            |_, s: PollState| async move {
                let checks = s.checks + 1;
                Ok(PollState {
                    ready: crate::job_ready(checks),
                    checks,
                    job: s.job,
                })
            },
            PollState {
                job,
                checks: 0,
                ready: false,
            },
        )
        .name("until-ready")
        .wait_strategy_fn(|s: PollState, _| {
            if s.ready {
                WaitDecision::complete()
            } else {
                WaitDecision::continue_with(Duration::from_secs(5))
            }
        })
        .await?;
    Ok(crate::fsm::Receipt {
        status: "ready".into(),
        detail: format!("{} after {} checks", state.job, state.checks),
    })
}

async fn fan_out(items: Vec<u64>, ctx: DurableContext) -> Result<u64, BoxError> {
    let results: Vec<u64> = ctx
        .map(items, |child, item, _| async move {
            let v = child
                .step(move |_| async move { Ok(crate::process(item).await) })
                .await?;
            Ok(v)
        })
        .name("process")
        .max_concurrency(4)
        .await?;
    Ok(results.iter().sum())
}

/// Runs `handler` and returns its JSON result, operations, checkpoint calls and invocations.
/// The count of checkpoint calls is checked by fault injection: with the `count`-th call
/// onwards rejected nothing changes, with the one before rejected the run fails.
fn measure<E, O, F, Fut>(
    name: &str,
    handler: F,
    event: E,
    runner: impl Fn() -> LocalRunner,
) -> Result<(Economy, String), String>
where
    E: Serialize + serde::de::DeserializeOwned + Send + Clone + 'static,
    O: Serialize + serde::de::DeserializeOwned + Send + 'static,
    F: Fn(E, DurableContext) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<O, BoxError>> + Send,
{
    let rt = runtime()?;
    let counter = std::sync::Arc::new(CheckpointEvents {
        count: AtomicU64::new(0),
    });
    let dispatch = tracing::Dispatch::from(std::sync::Arc::clone(&counter));
    let result = tracing::dispatcher::with_default(&dispatch, || {
        rt.block_on(runner().single_page().run(handler.clone(), event.clone()))
    });
    if !result.is_success() {
        return Err(format!(
            "official SDK {name} did not succeed: {:?} {:?}",
            result.error_type(),
            result.error_message()
        ));
    }
    if std::env::var_os("COMPARE_DEBUG").is_some() {
        for op in result.operations() {
            eprintln!(
                "aws {name}: {} {:?} {:?} {}",
                op.op_type(),
                op.sub_type(),
                op.name(),
                op.status()
            );
        }
    }
    let json = serde_json::to_string(&result.output()).map_err(|e| e.to_string())?;
    let calls = counter.count.load(Ordering::SeqCst);
    let skip = usize::try_from(calls).map_err(|e| e.to_string())?;
    let all_pass = rt.block_on(
        runner()
            .single_page()
            .fail_checkpoints_after(skip, 1)
            .run(handler.clone(), event.clone()),
    );
    let last_fails = rt.block_on(
        runner()
            .single_page()
            .fail_checkpoints_after(skip.saturating_sub(1), 1)
            .run(handler, event),
    );
    if !all_pass.is_success() || last_fails.is_success() {
        return Err(format!(
            "official SDK {name}: {calls} checkpoint calls counted from lifecycle events, \
             but fault injection disagrees"
        ));
    }
    Ok((
        Economy {
            operations: result.operations().len() as u64,
            checkpoint_calls: calls,
            transitions: 0,
            invocations: result.invocation_count() as u64,
        },
        json,
    ))
}

/// Runs the four workflows; returns their figures and JSON results.
pub fn economy() -> Result<(Vec<Economy>, crate::Expected), String> {
    let decision = Decision {
        approved: true,
        by: "manager".into(),
    };
    let (a, approval_json) = measure("approval", approval, crate::EXPENSE_CENTS, || {
        LocalRunner::new().callback_success(&decision)
    })?;
    let (s, saga_json) = measure("saga", saga, (), LocalRunner::new)?;
    let (p, polling_json) = measure("polling", polling, (), LocalRunner::new)?;
    let (f, fan_out_json) = measure("fan-out", fan_out, crate::fan_out_items(), LocalRunner::new)?;
    Ok((
        vec![a, s, p, f],
        crate::Expected {
            approval: approval_json,
            saga: saga_json,
            polling: polling_json,
            fan_out: fan_out_json,
        },
    ))
}
