//! The workloads on durable-fsm: its in-process test runner, and the executor against the
//! in-memory service for the timed last invocation (as `benches/executor.rs` does).

use crate::{Economy, Resume};
use durable_fsm::executor::{self, RunOptions};
use durable_fsm::machine::ops::BatchConfig;
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome};
use durable_fsm::model::{ExecutionStatus, OperationType, Timestamp};
use durable_fsm::service::{
    Clock, EngineConfig, InvocationOutcome, LocalService, StartExecution, VirtualClock,
};
use durable_fsm::testing::{CallbackReply, TestOutcome, TestRunner};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// N trivial transitions; with `sleep`, a one-second timer before one last transition.
#[derive(Serialize, Deserialize)]
enum Count {
    Step { n: u64, to: u64, sleep: bool },
    Last { n: u64 },
}

impl Transition for Count {
    type Input = (u64, bool);
    type Output = u64;
    fn start((to, sleep): (u64, bool)) -> Self {
        Count::Step { n: 0, to, sleep }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Count::Step { n, to, sleep } if n + 1 >= to => {
                if sleep {
                    Next::sleep(Duration::from_secs(1), Count::Last { n: n + 1 })
                } else {
                    Next::done(n + 1)
                }
            }
            Count::Step { n, to, sleep } => Next::to(Count::Step {
                n: n + 1,
                to,
                sleep,
            }),
            Count::Last { n } => Next::done(n + 1),
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build a tokio runtime: {e}"))
}

/// Time of one run of `n` sequential transitions on the test runner.
pub fn throughput(n: u64) -> Result<Duration, String> {
    let rt = runtime()?;
    let runner = TestRunner::<Count>::new();
    let started = Instant::now();
    let outcome = rt
        .block_on(runner.run((n, false)))
        .map_err(|e| format!("durable-fsm run of {n} transitions: {e}"))?;
    let took = started.elapsed();
    if outcome.status != ExecutionStatus::Succeeded || outcome.transitions_run != n {
        return Err(format!(
            "durable-fsm run of {n} transitions ended {} after {} transitions",
            outcome.status, outcome.transitions_run
        ));
    }
    Ok(took)
}

/// The service, with the time spent in its checkpoint and state calls (the service side of
/// an invocation) noted.
struct Timed<'a> {
    inner: &'a LocalService,
    service_time: std::sync::Mutex<Duration>,
}

impl Timed<'_> {
    async fn time<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = f.await;
        let took = started.elapsed();
        *self
            .service_time
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += took;
        out
    }
}

mod timed_api {
    use super::Timed;
    use durable_fsm::api::{ApiError, DurableApi, StartExecutionRequest, StartExecutionResponse};
    use durable_fsm::model::*;

    impl DurableApi for Timed<'_> {
        async fn checkpoint(
            &self,
            req: CheckpointDurableExecutionRequest,
        ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
            self.time(self.inner.checkpoint(req)).await
        }
        async fn get_state(
            &self,
            req: GetDurableExecutionStateRequest,
        ) -> Result<GetDurableExecutionStateResponse, ApiError> {
            self.time(self.inner.get_state(req)).await
        }
        async fn get_execution(
            &self,
            arn: &str,
            include_execution_data: bool,
        ) -> Result<GetDurableExecutionResponse, ApiError> {
            self.inner.get_execution(arn, include_execution_data).await
        }
        async fn get_history(
            &self,
            req: GetDurableExecutionHistoryRequest,
        ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
            self.inner.get_history(req).await
        }
        async fn list_by_function(
            &self,
            req: ListDurableExecutionsByFunctionRequest,
        ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
            self.inner.list_by_function(req).await
        }
        async fn send_callback_success(
            &self,
            callback_id: &str,
            result: Vec<u8>,
        ) -> Result<(), ApiError> {
            self.inner.send_callback_success(callback_id, result).await
        }
        async fn send_callback_failure(
            &self,
            callback_id: &str,
            error: ErrorObject,
        ) -> Result<(), ApiError> {
            self.inner.send_callback_failure(callback_id, error).await
        }
        async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
            self.inner.send_callback_heartbeat(callback_id).await
        }
        async fn stop(
            &self,
            arn: &str,
            error: Option<ErrorObject>,
        ) -> Result<StopDurableExecutionResponse, ApiError> {
            self.inner.stop(arn, error).await
        }
        async fn start_execution(
            &self,
            req: StartExecutionRequest,
        ) -> Result<StartExecutionResponse, ApiError> {
            self.inner.start_execution(req).await
        }
    }
}

/// An in-memory service holding one execution.
struct Fixture {
    service: LocalService,
    clock: VirtualClock,
    arn: String,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    /// An execution of `n` transitions that is sleeping before its last one.
    fn sleeping_after(n: u64) -> Result<Fixture, String> {
        let rt = runtime()?;
        let clock = VirtualClock::new(Timestamp::from_secs(1_800_000_000));
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let service = LocalService::in_memory(EngineConfig::default(), c);
        let input = serde_json::to_string(&(n, true)).map_err(|e| e.to_string())?;
        let arn = service
            .with_engine(|e| e.start_execution(StartExecution::new("count", input)))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
            .arn;
        let f = Fixture {
            service,
            clock,
            arn,
            rt,
        };
        let (_, ran, _) = f.invoke(|| {})?;
        if ran != n {
            return Err(format!(
                "the first invocation ran {ran} transitions, not {n}"
            ));
        }
        f.clock.advance(Duration::from_secs(2));
        f.service
            .with_engine(|e| e.fire_due())
            .map_err(|e| e.to_string())?;
        Ok(f)
    }

    /// Runs one invocation; `before` runs just before the clock starts. Returns (its
    /// duration, transitions it ran, operations it loaded).
    fn invoke(&self, before: impl FnOnce()) -> Result<(Duration, u64, usize), String> {
        self.invoke_timed(before)
            .map(|(took, _, ran, loaded)| (took, ran, loaded))
    }

    /// As `invoke`, also returning the time spent in the service's calls.
    fn invoke_timed(
        &self,
        before: impl FnOnce(),
    ) -> Result<(Duration, Duration, u64, usize), String> {
        let input = self
            .service
            .with_engine(|e| e.begin_invocation(&self.arn))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
            .ok_or("the execution is not runnable")?;
        let token = input.checkpoint_token.clone();
        if std::env::var_os("COMPARE_DEBUG").is_some() {
            let json = serde_json::to_string(&input).unwrap_or_default();
            eprintln!("durable-fsm invocation input: {} bytes", json.len());
        }
        let api = Timed {
            inner: &self.service,
            service_time: std::sync::Mutex::new(Duration::ZERO),
        };
        before();
        let started = Instant::now();
        let (output, stats) = self
            .rt
            .block_on(executor::run_with::<Count, _>(
                &api,
                input,
                &RunOptions::default(),
            ))
            .map_err(|e| format!("invocation failed: {e}"))?;
        let took = started.elapsed();
        let service_time = *api
            .service_time
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.service
            .with_engine(|e| {
                e.complete_invocation(
                    &self.arn,
                    &token,
                    InvocationOutcome::Output(output),
                    "compare".into(),
                    Timestamp::now(),
                )
            })
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok((
            took,
            service_time,
            stats.transitions_run,
            stats.operations_loaded,
        ))
    }
}

/// The last invocation of `n` transitions, a timer and one more transition.
pub fn resume(n: u64) -> Result<Resume, String> {
    let f = Fixture::sleeping_after(n)?;
    let (took, service_time, ran, loaded) = f.invoke_timed(|| {})?;
    if ran != 1 {
        return Err(format!("the resume ran {ran} transitions, not 1"));
    }
    Ok(Resume {
        time: took,
        service_time: Some(service_time),
        visible_operations: loaded as u64,
    })
}

/// Peak RSS in KiB of this process: over its whole life, and since the resume began.
pub fn memory(n: u64) -> Result<crate::rss::Peaks, String> {
    let f = Fixture::sleeping_after(n)?;
    let mut before = None;
    f.invoke(|| before = crate::rss::reset_peak())?;
    crate::rss::peaks(before)
}

// ---- Checkpoint economy: the four workflows, written as state machines. ----

/// An expense large enough to need a manager: callback, then the payout timer.
#[derive(Serialize, Deserialize)]
enum Approval {
    Submitted { amount: u64 },
    AwaitingManager { amount: u64, callback: Callback },
    Approved { amount: u64, by: String },
    Payout { amount: u64, by: String },
    Rejected { by: String },
}

#[derive(Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub by: String,
}

/// What the approval, saga and polling workflows end with.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Receipt {
    pub status: String,
    pub detail: String,
}

impl Transition for Approval {
    type Input = u64;
    type Output = Receipt;
    fn start(amount: u64) -> Self {
        Approval::Submitted { amount }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Approval::Submitted { amount } => {
                let callback = ctx
                    .callback(
                        "manager-approval",
                        CallbackConfig::timeout(Duration::from_secs(3 * 86_400)),
                    )
                    .await?;
                crate::side_effect(callback.id());
                Next::to(Approval::AwaitingManager { amount, callback })
            }
            Approval::AwaitingManager { amount, callback } => {
                match ctx.callback_outcome(&callback)? {
                    CallbackOutcome::Succeeded(body) => {
                        let d: Decision = serde_json::from_str(&body)?;
                        if d.approved {
                            Next::to(Approval::Approved { amount, by: d.by })
                        } else {
                            Next::to(Approval::Rejected { by: d.by })
                        }
                    }
                    _ => Next::to(Approval::Rejected {
                        by: "nobody".into(),
                    }),
                }
            }
            Approval::Approved { amount, by } => Next::sleep(
                Duration::from_secs(6 * 3600),
                Approval::Payout { amount, by },
            ),
            Approval::Payout { amount, by } => {
                crate::side_effect(ctx.operation_id());
                Next::done(Receipt {
                    status: "paid".into(),
                    detail: format!("{amount} by {by}"),
                })
            }
            Approval::Rejected { by } => Next::done(Receipt {
                status: "rejected".into(),
                detail: by,
            }),
        })
    }
}

/// Book a flight, a hotel and a car; the car fails, so the hotel and flight are cancelled.
#[derive(Serialize, Deserialize)]
enum Trip {
    BookFlight,
    BookHotel {
        flight: String,
    },
    BookCar {
        flight: String,
        hotel: String,
    },
    CancelHotel {
        flight: String,
        hotel: String,
        reason: String,
    },
    CancelFlight {
        flight: String,
        reason: String,
    },
}

impl Transition for Trip {
    type Input = ();
    type Output = Receipt;
    fn start(_: ()) -> Self {
        Trip::BookFlight
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Trip::BookFlight => Next::to(Trip::BookHotel {
                flight: crate::book("flight")?,
            }),
            Trip::BookHotel { flight } => Next::to(Trip::BookCar {
                flight,
                hotel: crate::book("hotel")?,
            }),
            Trip::BookCar { flight, hotel } => match crate::book("car") {
                Ok(_) => Next::done(Receipt {
                    status: "booked".into(),
                    detail: String::new(),
                }),
                Err(reason) => Next::to(Trip::CancelHotel {
                    flight,
                    hotel,
                    reason,
                }),
            },
            Trip::CancelHotel {
                flight,
                hotel,
                reason,
            } => {
                crate::side_effect(&hotel);
                Next::to(Trip::CancelFlight { flight, reason })
            }
            Trip::CancelFlight { flight, reason } => {
                crate::side_effect(&flight);
                Next::done(Receipt {
                    status: "cancelled".into(),
                    detail: reason,
                })
            }
        })
    }
}

/// Submit a job, poll it every five seconds until it is ready (the third check).
#[derive(Serialize, Deserialize)]
enum Polling {
    Submit,
    Waiting { job: String, checks: u32 },
}

impl Transition for Polling {
    type Input = ();
    type Output = Receipt;
    fn start(_: ()) -> Self {
        Polling::Submit
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Polling::Submit => Next::to(Polling::Waiting {
                job: crate::book("job")?,
                checks: 0,
            }),
            Polling::Waiting { job, checks } => {
                if crate::job_ready(checks + 1) {
                    Next::done(Receipt {
                        status: "ready".into(),
                        detail: format!("{job} after {} checks", checks + 1),
                    })
                } else {
                    Next::poll(
                        Duration::from_secs(5),
                        Polling::Waiting {
                            job,
                            checks: checks + 1,
                        },
                    )
                }
            }
        })
    }
}

/// Process each item in a child machine of its own with `ctx.map` (four at a time), and sum
/// the results.
#[derive(Serialize, Deserialize)]
enum FanOut {
    Start { items: Vec<u64> },
}

/// The child machine of one item: one transition.
#[derive(Serialize, Deserialize)]
enum Item {
    Process(u64),
}

impl Transition for Item {
    type Input = u64;
    type Output = u64;
    fn start(item: u64) -> Self {
        Item::Process(item)
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Item::Process(item) = self;
        Ok(Next::done(crate::process(item).await))
    }
}

impl Transition for FanOut {
    type Input = Vec<u64>;
    type Output = u64;
    fn start(items: Vec<u64>) -> Self {
        FanOut::Start { items }
    }
    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let FanOut::Start { items } = self;
        let batch = ctx
            .map::<Item>("process", items, BatchConfig::new().max_concurrency(4))
            .await?;
        let values = batch
            .into_values()
            .map_err(|e| TransitionError::from(e.to_string()))?;
        Ok(Next::done(values.iter().sum()))
    }
}

fn economy_of(name: &str, outcome: TestOutcome, expected: &str) -> Result<Economy, String> {
    if outcome.status != ExecutionStatus::Succeeded {
        return Err(format!(
            "durable-fsm {name} ended {}: {:?}",
            outcome.status, outcome.error
        ));
    }
    if std::env::var_os("COMPARE_DEBUG").is_some() {
        for op in &outcome.operations {
            eprintln!(
                "fsm {name}: {:?} {:?} {:?} {:?}",
                op.op_type, op.sub_type, op.name, op.status
            );
        }
    }
    let result = outcome.result.clone().unwrap_or_default();
    if result != expected {
        return Err(format!(
            "durable-fsm {name} returned {result}, not {expected}"
        ));
    }
    let operations = outcome
        .operations
        .iter()
        .filter(|op| op.op_type != OperationType::Execution)
        .count() as u64;
    Ok(Economy {
        operations,
        checkpoint_calls: outcome.checkpoint_calls,
        transitions: outcome.transitions_run,
        invocations: u64::from(outcome.invocations),
    })
}

/// Runs the four workflows; `expected` holds each one's JSON result.
pub fn economy(expected: &crate::Expected) -> Result<Vec<Economy>, String> {
    let rt = runtime()?;
    rt.block_on(async {
        let decision = serde_json::to_string(&Decision {
            approved: true,
            by: "manager".into(),
        })
        .map_err(|e| e.to_string())?;
        let approval = TestRunner::<Approval>::new()
            .on_callback("manager-approval", CallbackReply::succeed(decision))
            .run(crate::EXPENSE_CENTS)
            .await
            .map_err(|e| e.to_string())?;
        let saga = TestRunner::<Trip>::new()
            .run(())
            .await
            .map_err(|e| e.to_string())?;
        let polling = TestRunner::<Polling>::new()
            .run(())
            .await
            .map_err(|e| e.to_string())?;
        let fan_out = TestRunner::<FanOut>::new()
            .run(crate::fan_out_items())
            .await
            .map_err(|e| e.to_string())?;
        Ok(vec![
            economy_of("approval", approval, &expected.approval)?,
            economy_of("saga", saga, &expected.saga)?,
            economy_of("polling", polling, &expected.polling)?,
            economy_of("fan-out", fan_out, &expected.fan_out)?,
        ])
    })
}
