//! Suite 3, child: child machines, each run in its own CONTEXT.

use super::step::StepFailure;
use super::{Case, workflow};
use durable_fsm::machine::ops::{Serdes, StepConfig};
use durable_fsm::machine::retry::{Backoff, Jitter};
use durable_fsm::machine::{RetryStrategy, StepError, Terminal};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "3-1" => workflow::<Parent<0>>(),
        "3-3" => workflow::<Parent<1>>(),
        "3-4" => workflow::<Parent<2>>(),
        "3-6" => workflow::<Parent<3>>(),
        "3-7" => workflow::<Parent<4>>(),
        "3-8" => workflow::<Parent<5>>(),
        "3-10" => workflow::<Parent<6>>(),
        "3-12" => workflow::<Parent<7>>(),
        "3-15" => workflow::<Parent<8>>(),
        "3-16" => workflow::<Parent<9>>(),
        "3-2" => workflow::<NamedParent>(),
        "3-5" => workflow::<Recovers>(),
        "3-9" => workflow::<ChildThenSleep<0>>(),
        "3-17" => workflow::<ChildThenSleep<10>>(),
        "3-13" => workflow::<ChildThenStep>(),
        "3-14" => workflow::<Uppercase>(),
        "3-18" => workflow::<Mixed>(),
        _ => return None,
    })
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Which child body a requirement runs.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Body {
    /// 3-1: one step returning the input.
    OneStep,
    /// 3-3: two steps, the second returning the first one's result.
    TwoSteps,
    /// 3-4: a step that fails without retries.
    FailingStep,
    /// 3-6: a step, then a nested child with its own step.
    Nested,
    /// 3-7: a step that fails once and is retried after 1 s.
    RetriedStep,
    /// 3-8: a step that always fails, 2 attempts.
    ExhaustedStep,
    /// 3-10: a step, then a 1 s sleep.
    StepThenSleep,
    /// 3-12: a step whose first run crashes the process.
    Crashes,
    /// 3-15: the body fails without any operation.
    Throws,
    /// 3-16: the body returns null.
    Null,
    /// 3-17: the body logs the input and returns it, without any operation.
    Log,
}

/// The child machine: runs a [`Body`] on a string input.
#[derive(Serialize, Deserialize)]
pub enum Child {
    Run(Body, String),
    Sleeping(String),
}

/// Set once 3-12's step has crashed the process (its "first run" marker, kept outside the
/// durable state like a database row would be).
static CRASHED: AtomicBool = AtomicBool::new(false);

impl Transition for Child {
    type Input = (Body, String);
    type Output = Value;

    fn start((body, input): (Body, String)) -> Self {
        Child::Run(body, input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let (body, input) = match self {
            Child::Run(body, input) => (body, input),
            Child::Sleeping(v) => return Ok(Next::done(Value::String(v))),
        };
        let echo = |v: String| move |_| async move { Ok::<_, StepFailure>(v) };
        Ok(match body {
            Body::OneStep => Next::done(Value::String(ctx.step("", echo(input)).await?)),
            Body::TwoSteps => {
                let first = ctx.step("", echo(input)).await?;
                Next::done(Value::String(ctx.step("", echo(first)).await?))
            }
            Body::FailingStep => {
                let v: String = ctx
                    .step_with(
                        "",
                        StepConfig::new().retry(RetryStrategy::none()),
                        |_| async { Err::<String, _>(StepFailure("the step failed".into())) },
                    )
                    .await?;
                Next::done(Value::String(v))
            }
            Body::Nested => {
                let v = ctx.step("", echo(input)).await?;
                Next::done(ctx.child::<Child>("inner", (Body::OneStep, v)).await?)
            }
            Body::RetriedStep | Body::ExhaustedStep => {
                let always = matches!(body, Body::ExhaustedStep);
                let strategy = RetryStrategy::new(2)
                    .initial_delay(Duration::from_secs(1))
                    .backoff(Backoff::Exponential { rate: 1.0 })
                    .jitter(Jitter::None);
                let v = ctx
                    .step_with("", StepConfig::new().retry(strategy), |step| async move {
                        if always || step.attempt() == 1 {
                            Err(StepFailure(format!("attempt {} failed", step.attempt())))
                        } else {
                            Ok(input)
                        }
                    })
                    .await?;
                Next::done(Value::String(v))
            }
            Body::StepThenSleep => {
                let v = ctx.step("", echo(input)).await?;
                Next::sleep(Duration::from_secs(1), Child::Sleeping(v))
            }
            Body::Crashes => {
                // The step's start is checkpointed (with the child's CONTEXT start) before
                // the body runs, so the crash leaves both in the history.
                let v = ctx
                    .step_with("", StepConfig::new().record_start(), |_| async move {
                        if !CRASHED.swap(true, Ordering::SeqCst) {
                            panic!("{}", super::CRASH);
                        }
                        Ok::<_, StepFailure>(input)
                    })
                    .await?;
                Next::done(Value::String(v))
            }
            Body::Throws => {
                return Err(Terminal::new("ChildError", "the child failed").into());
            }
            Body::Null => Next::done(Value::Null),
            Body::Log => {
                tracing::info!(durableExecutionArn = ctx.execution_arn(), "{input}");
                Next::done(Value::String(input))
            }
        })
    }
}

/// 3-1, 3-3, 3-4, 3-6, 3-7, 3-8, 3-10, 3-12, 3-15, 3-16: one child machine running body
/// number `B` of [`Body`]; the child's output is the execution's.
#[derive(Serialize, Deserialize)]
pub enum Parent<const B: u8> {
    Run(String),
}

const BODIES: [Body; 11] = [
    Body::OneStep,
    Body::TwoSteps,
    Body::FailingStep,
    Body::Nested,
    Body::RetriedStep,
    Body::ExhaustedStep,
    Body::StepThenSleep,
    Body::Crashes,
    Body::Throws,
    Body::Null,
    Body::Log,
];

impl<const B: u8> Transition for Parent<B> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Parent::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Parent::Run(input) = self;
        let body = BODIES[usize::from(B)];
        Ok(Next::done(
            ctx.child::<Child>("child", (body, input)).await?,
        ))
    }
}

/// 3-2: the child is named by the input's `name` and returns its `value`.
#[derive(Serialize, Deserialize)]
pub enum NamedParent {
    Run { name: String, value: String },
}

impl Transition for NamedParent {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        NamedParent::Run {
            name: text(&input["name"]),
            value: text(&input["value"]),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let NamedParent::Run { name, value } = self;
        Ok(Next::done(
            ctx.child::<Child>(&name, (Body::OneStep, value)).await?,
        ))
    }
}

/// 3-5: the child fails; the parent recovers with a step returning the input.
#[derive(Serialize, Deserialize)]
pub enum Recovers {
    Run(String),
}

impl Transition for Recovers {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Recovers::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Recovers::Run(input) = self;
        match ctx
            .child::<Child>("", (Body::FailingStep, input.clone()))
            .await
        {
            Ok(v) => return Ok(Next::done(v)),
            Err(StepError::Failed(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let v = ctx
            .step("", |_| async move { Ok::<_, StepFailure>(input) })
            .await?;
        Ok(Next::done(Value::String(v)))
    }
}

/// 3-9, 3-17: a child running body number `B` of [`Body`], then a 1 s sleep; the output is
/// the child's.
#[derive(Serialize, Deserialize)]
pub enum ChildThenSleep<const B: u8> {
    Run(String),
    Finish(Value),
}

impl<const B: u8> Transition for ChildThenSleep<B> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        ChildThenSleep::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            ChildThenSleep::Run(input) => {
                let body = BODIES[usize::from(B)];
                let v = ctx.child::<Child>("child", (body, input)).await?;
                Next::sleep(Duration::from_secs(1), ChildThenSleep::Finish(v))
            }
            ChildThenSleep::Finish(v) => Next::done(v),
        })
    }
}

/// 3-13's child: only a 1 s sleep, then the input.
#[derive(Serialize, Deserialize)]
pub enum SleepOnly {
    Sleep(String),
    Wake(String),
}

impl Transition for SleepOnly {
    type Input = String;
    type Output = String;

    fn start(input: String) -> Self {
        SleepOnly::Sleep(input)
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            SleepOnly::Sleep(v) => Next::sleep(Duration::from_secs(1), SleepOnly::Wake(v)),
            SleepOnly::Wake(v) => Next::done(v),
        })
    }
}

/// 3-13: a child that only sleeps, then a step outside it.
#[derive(Serialize, Deserialize)]
pub enum ChildThenStep {
    Run(String),
}

impl Transition for ChildThenStep {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        ChildThenStep::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let ChildThenStep::Run(input) = self;
        let v = ctx.child::<SleepOnly>("child", input).await?;
        let out = ctx
            .step("", |_| async move { Ok::<_, StepFailure>(v) })
            .await?;
        Ok(Next::done(out))
    }
}

/// 3-14: the child's result is written upper-cased by a codec (the CONTEXT's payload is
/// the bare text) and read back as that text.
#[derive(Serialize, Deserialize)]
pub enum Uppercase {
    Run(String),
}

impl Transition for Uppercase {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Uppercase::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Uppercase::Run(input) = self;
        let upper = Serdes::new(
            |v: &Value| Ok(text(v).to_uppercase()),
            |s: &str| Ok(Value::String(s.to_string())),
        );
        let v = ctx
            .child_with::<Child>("child", (Body::OneStep, input), upper)
            .await?;
        Ok(Next::done(v))
    }
}

/// 3-18: a child with a step and a sleep, then a step and a sleep outside it.
#[derive(Serialize, Deserialize)]
pub enum Mixed {
    Run(String),
    Finish(String),
}

impl Transition for Mixed {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        Mixed::Run(text(&input))
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Mixed::Run(input) => {
                let v = ctx
                    .child::<Child>("child", (Body::StepThenSleep, input))
                    .await?;
                let v = ctx
                    .step("", |_| async move { Ok::<_, StepFailure>(text(&v)) })
                    .await?;
                Next::sleep(Duration::from_secs(1), Mixed::Finish(v))
            }
            Mixed::Finish(v) => Next::done(v),
        })
    }
}
