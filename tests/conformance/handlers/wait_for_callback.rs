//! Suite 7, wait_for_callback: create a callback, submit its id, await the answer.

use super::step::StepFailure;
use super::{Case, workflow};
use durable_fsm::machine::ops::StepConfig;
use durable_fsm::machine::retry::{Backoff, Jitter};
use durable_fsm::machine::{CallbackConfig, RetryStrategy, StepError};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "7-1" | "7-2" | "7-4" | "7-15" => workflow::<Await<true, 0, 0, 0>>(),
        "7-3" => workflow::<Await<false, 0, 0, 0>>(),
        "7-5" => workflow::<Await<true, 3, 0, 0>>(),
        "7-6" => workflow::<Await<true, 0, 0, 1>>(),
        "7-7" => workflow::<SubmitterFails>(),
        "7-8" => workflow::<Wrapped>(),
        "7-9" => workflow::<TwoInSequence>(),
        "7-10" => workflow::<AfterSleepAndStep>(),
        "7-11" => workflow::<Status>(),
        "7-12" => workflow::<Await<true, 0, 5, 0>>(),
        "7-13" => workflow::<Await<true, 0, 10, 0>>(),
        "7-14" => workflow::<Await<true, 3, 0, 2>>(),
        _ => return None,
    })
}

fn config(timeout: u64, heartbeat: u64) -> CallbackConfig {
    CallbackConfig {
        timeout: (timeout > 0).then(|| Duration::from_secs(timeout)),
        heartbeat_timeout: (heartbeat > 0).then(|| Duration::from_secs(heartbeat)),
    }
}

fn name_of(input: &Value) -> String {
    input.as_str().unwrap_or("approval").to_string()
}

/// Hands the callback id to the (imagined) external system.
async fn submit(callback_id: String) -> Result<(), StepFailure> {
    tracing::info!(callback_id, "submitted");
    Ok(())
}

/// 7-1 to 7-6, 7-12 to 7-15: one wait-for-callback named by the input (`approval` without
/// one; unnamed unless `NAMED`), with timeouts from the type. `CATCH` 1 recovers from a
/// failure with `recovered`, 2 with `timed-out-handled`.
#[derive(Serialize, Deserialize)]
pub enum Await<const NAMED: bool, const TIMEOUT: u64, const HEARTBEAT: u64, const CATCH: u8> {
    Run { name: String },
}

impl<const NAMED: bool, const TIMEOUT: u64, const HEARTBEAT: u64, const CATCH: u8> Transition
    for Await<NAMED, TIMEOUT, HEARTBEAT, CATCH>
{
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Await::Run {
            name: if NAMED {
                name_of(&input)
            } else {
                String::new()
            },
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Await::Run { name } = self;
        let outcome = ctx
            .wait_for_callback::<Value, _, _, _>(&name, config(TIMEOUT, HEARTBEAT), submit)
            .await;
        Ok(match outcome {
            Ok(v) => Next::done(v),
            Err(StepError::Failed(_)) if CATCH == 1 => Next::done(json!("recovered")),
            Err(StepError::Failed(_)) if CATCH == 2 => Next::done(json!("timed-out-handled")),
            Err(e) => return Err(e.into()),
        })
    }
}

/// 7-7: the submitter always fails; its step allows 2 attempts, 1 s apart.
#[derive(Serialize, Deserialize)]
pub enum SubmitterFails {
    Run { name: String },
}

impl Transition for SubmitterFails {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        SubmitterFails::Run {
            name: name_of(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let SubmitterFails::Run { name } = self;
        let retry = RetryStrategy::new(2)
            .initial_delay(Duration::from_secs(1))
            .backoff(Backoff::Exponential { rate: 1.0 })
            .jitter(Jitter::None);
        let submitter = StepConfig::new().retry(retry);
        let v: Value = ctx
            .wait_for_callback_with(&name, CallbackConfig::default(), submitter, |_| async {
                Err::<(), _>(StepFailure("the submitter failed".into()))
            })
            .await?;
        Ok(Next::done(v))
    }
}

/// 7-9: `first`, then `second`, one per state.
#[derive(Serialize, Deserialize)]
pub enum TwoInSequence {
    First,
    Second,
}

impl Transition for TwoInSequence {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        TwoInSequence::First
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            TwoInSequence::First => {
                let _: Value = ctx
                    .wait_for_callback("first", CallbackConfig::default(), submit)
                    .await?;
                Next::to(TwoInSequence::Second)
            }
            TwoInSequence::Second => {
                let v: Value = ctx
                    .wait_for_callback("second", CallbackConfig::default(), submit)
                    .await?;
                Next::done(v)
            }
        })
    }
}

/// 7-10: a 1 s sleep, a step, then the wait-for-callback.
#[derive(Serialize, Deserialize)]
pub enum AfterSleepAndStep {
    Begin { name: String },
    Work { name: String },
}

impl Transition for AfterSleepAndStep {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        AfterSleepAndStep::Begin {
            name: name_of(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            AfterSleepAndStep::Begin { name } => {
                Next::sleep(Duration::from_secs(1), AfterSleepAndStep::Work { name })
            }
            AfterSleepAndStep::Work { name } => {
                let data = ctx
                    .step("", |_| async {
                        Ok::<_, StepFailure>(json!({ "fixed": "data" }))
                    })
                    .await?;
                let v: Value = ctx
                    .wait_for_callback(&name, CallbackConfig::default(), submit)
                    .await?;
                Next::done(json!({ "data": data, "callback": v }))
            }
        })
    }
}

/// 7-11's payload.
#[derive(Deserialize)]
struct Approval {
    status: String,
}

/// 7-11: the payload is read as a JSON object; the output is its `status`.
#[derive(Serialize, Deserialize)]
pub enum Status {
    Run { name: String },
}

impl Transition for Status {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        Status::Run {
            name: name_of(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Status::Run { name } = self;
        let approval: Approval = ctx
            .wait_for_callback(&name, CallbackConfig::default(), submit)
            .await?;
        Ok(Next::done(approval.status))
    }
}

/// 7-8's child machine: one wait-for-callback named by its input.
#[derive(Serialize, Deserialize)]
pub enum Inner {
    Run(String),
}

impl Transition for Inner {
    type Input = String;
    type Output = Value;

    fn start(name: String) -> Self {
        Inner::Run(name)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Inner::Run(name) = self;
        let v: Value = ctx
            .wait_for_callback(&name, CallbackConfig::default(), submit)
            .await?;
        Ok(Next::done(v))
    }
}

/// 7-8: the wait-for-callback runs in a child machine named `wrapper`.
#[derive(Serialize, Deserialize)]
pub enum Wrapped {
    Run(String),
}

impl Transition for Wrapped {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Wrapped::Run(name_of(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Wrapped::Run(name) = self;
        Ok(Next::done(ctx.child::<Inner>("wrapper", name).await?))
    }
}
