//! Suite 4, callback: create a callback, hand its id out, and await the external answer.

use super::{Case, workflow};
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome, Terminal};
use durable_fsm::model::{ErrorObject, Timestamp};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "4-1" | "4-2" | "4-6" => workflow::<AwaitOne<0, 0>>(),
        "4-3" => workflow::<AwaitOne<5, 0>>(),
        "4-4" => workflow::<AwaitOne<0, 5>>(),
        "4-5" => workflow::<AwaitOne<0, 10>>(),
        "4-7" => workflow::<StepBetween<0>>(),
        "4-8" => workflow::<StepBetween<5>>(),
        "4-9" | "4-10" => workflow::<SleepThenAwait<0, 5>>(),
        "4-11" => workflow::<SleepThenAwait<3, 6>>(),
        "4-12" => workflow::<AwaitThenSleep<0, false>>(),
        "4-13" => workflow::<AwaitThenSleep<0, true>>(),
        "4-14" => workflow::<AwaitThenSleep<3, true>>(),
        "4-15" => workflow::<Typed>(),
        "4-16" => workflow::<Count>(),
        "4-17" => workflow::<TwoInSequence>(),
        "4-18" => workflow::<TwoAtOnce<false>>(),
        "4-19" => workflow::<TwoAtOnce<true>>(),
        _ => return None,
    })
}

/// A callback configuration from whole seconds (0 = none).
fn config(timeout: u64, heartbeat: u64) -> CallbackConfig {
    CallbackConfig {
        timeout: (timeout > 0).then(|| Duration::from_secs(timeout)),
        heartbeat_timeout: (heartbeat > 0).then(|| Duration::from_secs(heartbeat)),
    }
}

/// The callback's name: the input, or `approval` when there is none.
fn name_of(input: Value) -> String {
    match input {
        Value::String(s) => s,
        _ => "approval".to_string(),
    }
}

/// A success body as JSON, or as a string when it is not JSON.
fn body_value(body: String) -> Value {
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

/// The answer, or the callback's error as the execution's failure.
fn answer(outcome: CallbackOutcome) -> Result<Value, ErrorObject> {
    outcome.into_result().map(body_value)
}

/// 4-1 to 4-6: create a callback named by the input (timeouts from the type), await it and
/// end with its result; a failure or timeout fails the execution.
#[derive(Serialize, Deserialize)]
pub enum AwaitOne<const TIMEOUT: u64, const HEARTBEAT: u64> {
    Create { name: String },
    Waiting(Callback),
}

impl<const TIMEOUT: u64, const HEARTBEAT: u64> Transition for AwaitOne<TIMEOUT, HEARTBEAT> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        AwaitOne::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            AwaitOne::Create { name } => {
                let cb = ctx.callback(&name, config(TIMEOUT, HEARTBEAT)).await?;
                Next::to(AwaitOne::Waiting(cb))
            }
            AwaitOne::Waiting(cb) => match answer(ctx.callback_outcome(&cb)?) {
                Ok(v) => Next::done(v),
                Err(e) => Next::fail(e),
            },
        })
    }
}

/// 4-9 to 4-11: create a callback, sleep, then read the callback's outcome.
#[derive(Serialize, Deserialize)]
pub enum SleepThenAwait<const TIMEOUT: u64, const SLEEP: u64> {
    Create { name: String },
    Read(Callback),
}

impl<const TIMEOUT: u64, const SLEEP: u64> Transition for SleepThenAwait<TIMEOUT, SLEEP> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        SleepThenAwait::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            SleepThenAwait::Create { name } => {
                let cb = ctx.callback(&name, config(TIMEOUT, 0)).await?;
                Next::sleep(Duration::from_secs(SLEEP), SleepThenAwait::Read(cb))
            }
            SleepThenAwait::Read(cb) => match answer(ctx.callback_outcome(&cb)?) {
                Ok(v) => Next::done(v),
                Err(e) => Next::fail(e),
            },
        })
    }
}

/// 4-12 to 4-14: await a callback, sleep 2 s, then end with its result (or, when `CATCH`, with
/// a message about its error).
#[derive(Serialize, Deserialize)]
pub enum AwaitThenSleep<const TIMEOUT: u64, const CATCH: bool> {
    Create { name: String },
    Waiting(Callback),
    Finish(Value),
}

impl<const TIMEOUT: u64, const CATCH: bool> Transition for AwaitThenSleep<TIMEOUT, CATCH> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        AwaitThenSleep::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            AwaitThenSleep::Create { name } => {
                let cb = ctx.callback(&name, config(TIMEOUT, 0)).await?;
                Next::to(AwaitThenSleep::Waiting(cb))
            }
            AwaitThenSleep::Waiting(cb) => {
                let value = match answer(ctx.callback_outcome(&cb)?) {
                    Ok(v) => v,
                    Err(e) if CATCH => json!(format!("callback failed: {e}")),
                    Err(e) => return Ok(Next::fail(e)),
                };
                Next::sleep(Duration::from_secs(2), AwaitThenSleep::Finish(value))
            }
            AwaitThenSleep::Finish(value) => Next::done(value),
        })
    }
}

/// 4-15: the callback's JSON object is read into a typed record whose RFC 3339 timestamp
/// becomes epoch seconds.
#[derive(Serialize, Deserialize)]
pub enum Typed {
    Create { name: String },
    Waiting(Callback),
}

#[derive(Deserialize)]
struct Delivery {
    id: String,
    message: String,
    timestamp: String,
}

impl Transition for Typed {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Typed::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Typed::Create { name } => {
                Next::to(Typed::Waiting(ctx.callback(&name, config(0, 0)).await?))
            }
            Typed::Waiting(cb) => {
                let d: Delivery = ctx.callback_outcome(&cb)?.json()?;
                let at = Timestamp::parse_rfc3339(&d.timestamp)
                    .map_err(|e| Terminal::new("DeserializationError", e.to_string()))?;
                Next::done(json!({
                    "received": { "id": d.id, "message": d.message, "timestamp": at.as_secs_f64() as i64 }
                }))
            }
        })
    }
}

/// 4-16: the callback's body is a number; end with it and its double.
#[derive(Serialize, Deserialize)]
pub enum Count {
    Create { name: String },
    Waiting(Callback),
}

impl Transition for Count {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Count::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Count::Create { name } => {
                Next::to(Count::Waiting(ctx.callback(&name, config(0, 0)).await?))
            }
            Count::Waiting(cb) => {
                let count: i64 = ctx.callback_outcome(&cb)?.json()?;
                Next::done(json!({ "count": count, "doubled": count * 2 }))
            }
        })
    }
}

fn two_names(input: Value) -> (String, String) {
    let name = |i: usize| {
        input
            .get(i)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (name(0), name(1))
}

/// 4-17: create A, await A, then create B, await B; end with both results.
#[derive(Serialize, Deserialize)]
pub enum TwoInSequence {
    CreateA { a: String, b: String },
    AwaitA { a: Callback, b: String },
    AwaitB { a: Value, b: Callback },
}

impl Transition for TwoInSequence {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        let (a, b) = two_names(input);
        TwoInSequence::CreateA { a, b }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            TwoInSequence::CreateA { a, b } => {
                let a = ctx.callback(&a, config(0, 0)).await?;
                Next::to(TwoInSequence::AwaitA { a, b })
            }
            TwoInSequence::AwaitA { a, b } => {
                let a = answer(ctx.callback_outcome(&a)?).map_err(Terminal)?;
                let b = ctx.callback(&b, config(0, 0)).await?;
                Next::to(TwoInSequence::AwaitB { a, b })
            }
            TwoInSequence::AwaitB { a, b } => {
                let b = answer(ctx.callback_outcome(&b)?).map_err(Terminal)?;
                Next::done(json!([a, b]))
            }
        })
    }
}

/// 4-18 and 4-19: create A and B together, then await them (B first when `B_FIRST`).
#[derive(Serialize, Deserialize)]
pub enum TwoAtOnce<const B_FIRST: bool> {
    Create { a: String, b: String },
    Await { a: Callback, b: Callback },
}

impl<const B_FIRST: bool> Transition for TwoAtOnce<B_FIRST> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        let (a, b) = two_names(input);
        TwoAtOnce::Create { a, b }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            TwoAtOnce::Create { a, b } => {
                let a = ctx.callback(&a, config(0, 0)).await?;
                let b = ctx.callback(&b, config(0, 0)).await?;
                Next::to(TwoAtOnce::Await { a, b })
            }
            TwoAtOnce::Await { a, b } => {
                let (first, second) = if B_FIRST { (&b, &a) } else { (&a, &b) };
                let first = answer(ctx.callback_outcome(first)?).map_err(Terminal)?;
                let second = answer(ctx.callback_outcome(second)?).map_err(Terminal)?;
                let (ra, rb) = if B_FIRST {
                    (second, first)
                } else {
                    (first, second)
                };
                Next::done(json!([ra, rb]))
            }
        })
    }
}

/// 4-7, 4-8: create a callback, run a step, then await the callback.
#[derive(Serialize, Deserialize)]
pub enum StepBetween<const TIMEOUT: u64> {
    Create { name: String },
    Waiting(Callback),
}

impl<const TIMEOUT: u64> Transition for StepBetween<TIMEOUT> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        StepBetween::Create {
            name: name_of(input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            StepBetween::Create { name } => {
                let cb = ctx.callback(&name, config(TIMEOUT, 0)).await?;
                let id = cb.id().to_string();
                ctx.step("", |_| async move {
                    tracing::info!(callback_id = id, "sent for approval");
                    Ok::<_, super::step::StepFailure>(())
                })
                .await?;
                Next::to(StepBetween::Waiting(cb))
            }
            StepBetween::Waiting(cb) => match answer(ctx.callback_outcome(&cb)?) {
                Ok(v) => Next::done(v),
                Err(e) => Next::fail(e),
            },
        })
    }
}
