//! Suite 1, step: durable units of work inside a transition, with retries and custom codecs.

use super::{Case, workflow};
use durable_fsm::machine::ops::{Serdes, StepConfig};
use durable_fsm::machine::retry::{Backoff, Jitter};
use durable_fsm::machine::{RetryStrategy, StepError};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "1-1" | "1-7" => workflow::<Greet<false>>(),
        "1-2" => workflow::<Greet<true>>(),
        "1-3" => workflow::<Chain>(),
        "1-4" => workflow::<Build>(),
        "1-5" => workflow::<Nothing>(),
        "1-6" => workflow::<Uppercase>(),
        "1-8" => workflow::<StepThenSleep<2>>(),
        "1-9" => workflow::<StepThenSleep<1>>(),
        "1-10" => workflow::<CaughtThenSleep>(),
        "1-11" => workflow::<Flaky<1>>(),
        "1-12" => workflow::<AlwaysFails>(),
        "1-13" => workflow::<Flaky<2>>(),
        "1-14" => workflow::<Flaky<3>>(),
        "1-15" => workflow::<Transient<true>>(),
        "1-16" => workflow::<Transient<false>>(),
        "1-17" => workflow::<AtMostOnce<false>>(),
        "1-18" => workflow::<AtMostOnce<true>>(),
        "1-19" => workflow::<Fails>(),
        "1-20" => workflow::<Fallback>(),
        _ => return None,
    })
}

/// An error of the step code, recorded with its message.
#[derive(Debug)]
pub struct StepFailure(pub String);

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StepFailure {}

fn text(input: &Value) -> String {
    input.as_str().unwrap_or_default().to_string()
}

/// 1-1, 1-2, 1-7: one step greets the input (named `custom_step_name` when `NAMED`).
#[derive(Serialize, Deserialize)]
pub enum Greet<const NAMED: bool> {
    Run(String),
}

impl<const NAMED: bool> Transition for Greet<NAMED> {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        Greet::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Greet::Run(name) = self;
        let step_name = if NAMED { "custom_step_name" } else { "" };
        let arn = ctx.execution_arn().to_string();
        let greeting = ctx
            .step(step_name, |_| async move {
                let arn = arn.as_str();
                tracing::info!(
                    durableExecutionArn = arn,
                    "Greeting step started for: {name}"
                );
                let greeting = format!("Hello, {name}!");
                tracing::info!(
                    durableExecutionArn = arn,
                    "Greeting step completed with: {greeting}"
                );
                Ok::<_, StepFailure>(greeting)
            })
            .await?;
        Ok(Next::done(greeting))
    }
}

/// 1-3: the second step uses the first one's result.
#[derive(Serialize, Deserialize)]
pub enum Chain {
    Run,
}

impl Transition for Chain {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Chain::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let first: String = ctx
            .step("", |_| async { Ok::<_, StepFailure>("first".to_string()) })
            .await?;
        let second = ctx
            .step("", |_| async move {
                Ok::<_, StepFailure>(format!("{first}_second"))
            })
            .await?;
        Ok(Next::done(second))
    }
}

/// 1-4: a step returns a nested object.
#[derive(Serialize, Deserialize)]
pub enum Build {
    Run(Value),
}

impl Transition for Build {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Build::Run(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Build::Run(event) = self;
        let response = ctx
            .step("", |_| async move {
                let tags = event.get("tags").cloned().unwrap_or(json!([]));
                let count = tags.as_array().map_or(0, Vec::len);
                Ok::<_, StepFailure>(json!({
                    "user": { "name": event.get("name"), "tags": tags },
                    "count": count,
                }))
            })
            .await?;
        Ok(Next::done(response))
    }
}

/// 1-5: a step returns nothing.
#[derive(Serialize, Deserialize)]
pub enum Nothing {
    Run,
}

impl Transition for Nothing {
    type Input = Value;
    type Output = ();

    fn start(_: Value) -> Self {
        Nothing::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        ctx.step("", |_| async { Ok::<_, StepFailure>(()) }).await?;
        Ok(Next::done(()))
    }
}

/// 1-6: the step's result is written by a codec that upper-cases it.
#[derive(Serialize, Deserialize)]
pub enum Uppercase {
    Run(String),
}

impl Transition for Uppercase {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        Uppercase::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Uppercase::Run(input) = self;
        let upper: Serdes<String> = Serdes::new(
            |s: &String| serde_json::to_string(&s.to_uppercase()).map_err(|e| e.to_string()),
            |s: &str| serde_json::from_str(s).map_err(|e| e.to_string()),
        );
        let value = ctx
            .step_with("", StepConfig::new().serdes(upper), |_| async move {
                Ok::<_, StepFailure>(input)
            })
            .await?;
        Ok(Next::done(value))
    }
}

/// 1-8, 1-9: a step, then a durable sleep of `SECS`, then its result.
#[derive(Serialize, Deserialize)]
pub enum StepThenSleep<const SECS: u64> {
    Compute,
    Finish(String),
}

impl<const SECS: u64> Transition for StepThenSleep<SECS> {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        StepThenSleep::Compute
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            StepThenSleep::Compute => {
                let value = if SECS == 2 {
                    "computed"
                } else {
                    "cached_value"
                };
                let v = ctx
                    .step("", |_| async move {
                        tracing::info!("step executed");
                        Ok::<_, StepFailure>(value.to_string())
                    })
                    .await?;
                Next::sleep(Duration::from_secs(SECS), StepThenSleep::Finish(v))
            }
            StepThenSleep::Finish(v) => Next::done(v),
        })
    }
}

fn no_retry<T>() -> StepConfig<T> {
    StepConfig::new().retry(RetryStrategy::none())
}

/// 1-10: a step fails for good, the error is handled, then a 1 s sleep.
#[derive(Serialize, Deserialize)]
pub enum CaughtThenSleep {
    Try,
    Finish(String),
}

impl Transition for CaughtThenSleep {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        CaughtThenSleep::Try
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            CaughtThenSleep::Try => {
                let outcome = ctx
                    .step_with("", no_retry(), |_| async {
                        Err::<String, _>(StepFailure("step executed and failed".into()))
                    })
                    .await;
                let message = match outcome {
                    Ok(v) => v,
                    Err(StepError::Failed(e)) => format!("caught: {e}"),
                    Err(other) => return Err(other.into()),
                };
                Next::sleep(Duration::from_secs(1), CaughtThenSleep::Finish(message))
            }
            CaughtThenSleep::Finish(m) => Next::done(m),
        })
    }
}

/// 1-11, 1-13, 1-14: a step fails on its first attempts and then succeeds.
/// `PLAN` 1: one failure, 1 s fixed delay; 2: two failures, AWS's default strategy;
/// 3: two failures, 2 s initial delay growing ×3, no jitter.
#[derive(Serialize, Deserialize)]
pub enum Flaky<const PLAN: u8> {
    Run,
}

impl<const PLAN: u8> Transition for Flaky<PLAN> {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Flaky::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let (failures, config) = match PLAN {
            1 => (
                1,
                StepConfig::new().retry(
                    RetryStrategy::new(3)
                        .initial_delay(Duration::from_secs(1))
                        .backoff(Backoff::Exponential { rate: 1.0 })
                        .jitter(Jitter::None),
                ),
            ),
            2 => (2, StepConfig::new()),
            _ => (
                2,
                StepConfig::new().retry(
                    RetryStrategy::new(5)
                        .initial_delay(Duration::from_secs(2))
                        .max_delay(Duration::from_secs(60))
                        .backoff(Backoff::Exponential { rate: 3.0 })
                        .jitter(Jitter::None),
                ),
            ),
        };
        let result = ctx
            .step_with("", config, |step| async move {
                if step.attempt() <= failures {
                    Err(StepFailure(format!("attempt {} failed", step.attempt())))
                } else {
                    Ok("Operation succeeded".to_string())
                }
            })
            .await?;
        Ok(Next::done(result))
    }
}

/// 1-12: a step that always fails, 4 attempts 1 s apart.
#[derive(Serialize, Deserialize)]
pub enum AlwaysFails {
    Run,
}

impl Transition for AlwaysFails {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        AlwaysFails::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = RetryStrategy::new(4)
            .initial_delay(Duration::from_secs(1))
            .backoff(Backoff::Exponential { rate: 1.0 })
            .jitter(Jitter::None);
        let result = ctx
            .step_with("", StepConfig::new().retry(strategy), |_| async {
                Err::<String, _>(StepFailure("always fails".into()))
            })
            .await?;
        Ok(Next::done(result))
    }
}

/// The error 1-15 and 1-16 retry, or not, by its type.
#[derive(Debug)]
pub struct TransientError;

impl std::fmt::Display for TransientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a transient failure")
    }
}

impl std::error::Error for TransientError {}

/// 1-15, 1-16: the first attempt throws `TransientError`; the strategy retries only that
/// type (`RETRY`) or every type but that one.
#[derive(Serialize, Deserialize)]
pub enum Transient<const RETRY: bool> {
    Run,
}

impl<const RETRY: bool> Transition for Transient<RETRY> {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Transient::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = RetryStrategy::new(3)
            .initial_delay(Duration::from_secs(1))
            .backoff(Backoff::Exponential { rate: 1.0 })
            .jitter(Jitter::None)
            .retry_if_type(if RETRY {
                "TransientError"
            } else {
                "PermanentError"
            });
        let result = ctx
            .step_with("", StepConfig::new().retry(strategy), |step| async move {
                if step.attempt() == 1 {
                    Err(TransientError)
                } else {
                    Ok("recovered".to_string())
                }
            })
            .await?;
        Ok(Next::done(result))
    }
}

/// 1-17, 1-18: an at-most-once step whose first attempt crashes the process (a panic, which
/// the local service records as `Runtime.ExitError`); with `RETRY` the next attempt succeeds.
#[derive(Serialize, Deserialize)]
pub enum AtMostOnce<const RETRY: bool> {
    Run(String),
}

impl<const RETRY: bool> Transition for AtMostOnce<RETRY> {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        AtMostOnce::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let AtMostOnce::Run(input) = self;
        let strategy = if RETRY {
            RetryStrategy::new(3)
                .initial_delay(Duration::from_secs(1))
                .jitter(Jitter::None)
        } else {
            RetryStrategy::none()
        };
        let config = StepConfig::new().retry(strategy).at_most_once();
        let arn = ctx.execution_arn().to_string();
        let result = ctx
            .step_with("at_most_once_flaky_step", config, |step| async move {
                tracing::info!(durableExecutionArn = arn.as_str(), "{input}");
                if step.attempt() == 1 {
                    panic!("{}", super::CRASH);
                }
                Ok::<_, StepFailure>("succeeded on second attempt".to_string())
            })
            .await?;
        Ok(Next::done(result))
    }
}

/// 1-19: a step that fails without retries fails the execution.
#[derive(Serialize, Deserialize)]
pub enum Fails {
    Run,
}

impl Transition for Fails {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Fails::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let result = ctx
            .step_with("", no_retry(), |_| async {
                Err::<String, _>(StepFailure("the step failed".into()))
            })
            .await?;
        Ok(Next::done(result))
    }
}

/// 1-20: a failed step is handled with a fallback, then a second step runs.
#[derive(Serialize, Deserialize)]
pub enum Fallback {
    Run,
}

impl Transition for Fallback {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Fallback::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let first = ctx
            .step_with("", no_retry(), |_| async {
                Err::<String, _>(StepFailure("the step failed".into()))
            })
            .await;
        let value = match first {
            Ok(v) => v,
            Err(StepError::Failed(_)) => "fallback".to_string(),
            Err(other) => return Err(other.into()),
        };
        let result = ctx
            .step("", |_| async move {
                Ok::<_, StepFailure>(format!("{value}_result"))
            })
            .await?;
        Ok(Next::done(result))
    }
}
