//! The interop workflows: one small workflow per durable feature, each served as its own
//! Lambda function by `main.rs`, driven by `tests/interop.rs` through AWS's emulator and
//! through `durable-fsm serve`.

use durable_fsm::machine::retry::{Backoff, Jitter};
use durable_fsm::machine::{Callback, CallbackConfig, RetryStrategy};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// The variable that picks the workflow; without it the function's name does.
pub const WORKFLOW_ENV: &str = "INTEROP_WORKFLOW";

/// The workflows, by the function name each is served under.
pub const WORKFLOWS: [&str; 5] = [
    "three-steps",
    "with-sleep",
    "with-callback",
    "retries",
    "paged-state",
];

/// The name of the callback `with-callback` creates.
pub const CALLBACK_NAME: &str = "approval";
/// How long `with-callback` waits for its callback.
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(300);
/// Failed attempts of `retries` before it succeeds.
pub const FLAKY_FAILURES: u32 = 2;

// ---- three-steps ----------------------------------------------------------------------------

/// Three transitions, no durable operations: `First` → `Second` → `Third` → done.
#[derive(Debug, Serialize, Deserialize)]
pub enum ThreeSteps {
    First(i64),
    Second(i64),
    Third(i64),
}

impl Transition for ThreeSteps {
    type Input = i64;
    type Output = Value;

    fn start(n: i64) -> Self {
        ThreeSteps::First(n)
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            ThreeSteps::First(n) => Next::to(ThreeSteps::Second(n + 1)),
            ThreeSteps::Second(n) => Next::to(ThreeSteps::Third(n * 2)),
            ThreeSteps::Third(n) => Next::done(json!({ "value": n, "steps": 3 })),
        })
    }
}

// ---- with-sleep -----------------------------------------------------------------------------

/// The input of `with-sleep`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SleepInput {
    /// Length of the durable sleep.
    #[serde(default = "one")]
    pub seconds: u64,
}

fn one() -> u64 {
    1
}

/// A durable sleep between two transitions: `Start` sleeps, `Woke` ends.
#[derive(Debug, Serialize, Deserialize)]
pub enum WithSleep {
    Start { seconds: u64 },
    Woke { slept: u64 },
}

impl Transition for WithSleep {
    type Input = SleepInput;
    type Output = Value;

    fn start(input: SleepInput) -> Self {
        WithSleep::Start {
            seconds: input.seconds,
        }
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            WithSleep::Start { seconds } => Next::sleep(
                Duration::from_secs(seconds),
                WithSleep::Woke { slept: seconds },
            ),
            WithSleep::Woke { slept } => Next::done(json!({ "slept": slept })),
        })
    }
}

// ---- with-callback --------------------------------------------------------------------------

/// Creates a callback (`Ask`), waits for it (`Waiting`) and ends with its body.
#[derive(Debug, Serialize, Deserialize)]
pub enum WithCallback {
    Ask,
    Waiting(Callback),
}

impl Transition for WithCallback {
    type Input = Value;
    type Output = Value;

    fn start(_input: Value) -> Self {
        WithCallback::Ask
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            WithCallback::Ask => {
                let config = CallbackConfig::timeout(CALLBACK_TIMEOUT);
                let callback = ctx.callback(CALLBACK_NAME, config).await?;
                tracing::info!(callback_id = callback.id(), "waiting for the callback");
                Next::to(WithCallback::Waiting(callback))
            }
            WithCallback::Waiting(callback) => {
                match ctx.callback_outcome(&callback)?.into_result() {
                    Ok(body) => {
                        let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                        Next::done(json!({ "callback": value }))
                    }
                    Err(error) => Next::fail(error),
                }
            }
        })
    }
}

// ---- retries --------------------------------------------------------------------------------

/// The error `retries` fails with.
#[derive(Debug)]
pub struct TransientFailure {
    /// The attempt that failed.
    pub attempt: u32,
}

impl std::fmt::Display for TransientFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "transient failure on attempt {}", self.attempt)
    }
}

impl std::error::Error for TransientFailure {}

/// One state that fails [`FLAKY_FAILURES`] times, then ends; retried after 1 s, no jitter.
#[derive(Debug, Serialize, Deserialize)]
pub enum Retries {
    Flaky,
}

impl Transition for Retries {
    type Input = Value;
    type Output = Value;

    fn start(_input: Value) -> Self {
        Retries::Flaky
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let attempt = ctx.attempt();
        if attempt <= FLAKY_FAILURES {
            return Err(TransientFailure { attempt }.into());
        }
        Ok(Next::done(json!({ "attempts": attempt })))
    }

    fn retry_strategy(&self) -> RetryStrategy {
        let second = Duration::from_secs(1);
        RetryStrategy::new(FLAKY_FAILURES + 1)
            .initial_delay(second)
            .max_delay(second)
            .backoff(Backoff::Exponential { rate: 1.0 })
            .jitter(Jitter::None)
    }
}

// ---- paged-state ----------------------------------------------------------------------------

/// The input of `paged-state`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PagedInput {
    /// `Fill` transitions to run before the sleep.
    pub transitions: u32,
    /// Bytes of filler each `Fill` state carries.
    pub state_bytes: usize,
    /// Steps the first transition runs, each returning `state_bytes` of filler: they stay
    /// visible (top level) however the transitions are grouped into epochs.
    #[serde(default)]
    pub steps: u32,
}

/// Many transitions with large-ish states, then a durable sleep, so the invocation after the
/// sleep receives more operations than one page of the invocation input holds and the
/// executor pages the rest with GetDurableExecutionState.
#[derive(Debug, Serialize, Deserialize)]
pub enum PagedState {
    Fill {
        /// `Fill` transitions run before this state.
        done: u32,
        total: u32,
        state_bytes: usize,
        filler: String,
        /// Filler steps the first transition runs.
        #[serde(default)]
        steps: u32,
    },
    Check {
        filled: u32,
        last_filler: String,
    },
}

/// Filler that names its transition, so a state resumed from the wrong operation shows.
pub fn filler(index: u32, bytes: usize) -> String {
    let unit = format!("{index:06}.");
    unit.repeat(bytes / unit.len() + 1)[..bytes].to_string()
}

impl Transition for PagedState {
    type Input = PagedInput;
    type Output = Value;

    fn start(input: PagedInput) -> Self {
        PagedState::Fill {
            done: 0,
            total: input.transitions,
            state_bytes: input.state_bytes,
            filler: String::new(),
            steps: input.steps,
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            PagedState::Fill {
                done,
                total,
                state_bytes,
                steps,
                ..
            } => {
                if done == 0 {
                    for i in 0..steps {
                        ctx.step("filler", |_| async move {
                            Ok::<_, std::convert::Infallible>(filler(i, state_bytes))
                        })
                        .await?;
                    }
                }
                let filled = done + 1;
                let filler = filler(filled, state_bytes);
                if filled < total {
                    Next::to(PagedState::Fill {
                        done: filled,
                        total,
                        state_bytes,
                        filler,
                        steps,
                    })
                } else {
                    let check = PagedState::Check {
                        filled,
                        last_filler: filler,
                    };
                    Next::sleep(Duration::from_secs(1), check)
                }
            }
            PagedState::Check {
                filled,
                last_filler,
            } => {
                let expected = filler(filled, last_filler.len());
                Next::done(json!({
                    "transitions": filled,
                    "state_bytes": last_filler.len(),
                    "filler_intact": last_filler == expected,
                }))
            }
        })
    }
}
