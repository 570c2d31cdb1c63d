//! Suite 6, wait_for_condition: a check polled inside a transition until a strategy stops it.

use super::step::StepFailure;
use super::{Case, workflow};
use durable_fsm::machine::StepError;
use durable_fsm::machine::ops::{Serdes, WaitDecision, WaitStrategy};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "6-1" => workflow::<Count<0, false>>(),
        "6-2" => workflow::<Unchanged>(),
        "6-3" => workflow::<Count<0, true>>(),
        "6-4" => workflow::<Count<5, false>>(),
        "6-5" => workflow::<Count<0, false>>(),
        "6-6" => workflow::<NeverMet>(),
        "6-7" => workflow::<Throws<false>>(),
        "6-8" => workflow::<Throws<true>>(),
        "6-9" => workflow::<Record>(),
        "6-10" => workflow::<Null>(),
        "6-11" => workflow::<Encoded>(),
        "6-12" => workflow::<ThenStep>(),
        "6-13" => workflow::<TwoPolls>(),
        _ => return None,
    })
}

fn threshold(input: &Value) -> i64 {
    input.as_i64().unwrap_or(0)
}

/// Every 2 s until the count reaches `target`.
fn reaches(target: i64) -> WaitStrategy<i64> {
    WaitStrategy::until(move |n: &i64| *n >= target).every(Duration::from_secs(2))
}

/// 6-1, 6-3, 6-4, 6-5: count up from `FROM` until the input threshold (the operation named
/// `poll-status` when `NAMED`).
#[derive(Serialize, Deserialize)]
pub enum Count<const FROM: i64, const NAMED: bool> {
    Poll { target: i64 },
}

impl<const FROM: i64, const NAMED: bool> Transition for Count<FROM, NAMED> {
    type Input = Value;
    type Output = i64;

    fn start(input: Value) -> Self {
        Count::Poll {
            target: threshold(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Count::Poll { target } = self;
        let name = if NAMED { "poll-status" } else { "" };
        let n = ctx
            .wait_for_condition(
                name,
                FROM,
                |n, _| async move { Ok::<_, StepFailure>(n + 1) },
                reaches(target),
            )
            .await?;
        Ok(Next::done(n))
    }
}

/// 6-2: the condition already holds for the initial state 5.
#[derive(Serialize, Deserialize)]
pub enum Unchanged {
    Poll { target: i64 },
}

impl Transition for Unchanged {
    type Input = Value;
    type Output = i64;

    fn start(input: Value) -> Self {
        Unchanged::Poll {
            target: threshold(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Unchanged::Poll { target } = self;
        let n = ctx
            .wait_for_condition(
                "",
                5,
                |n, _| async move { Ok::<_, StepFailure>(n) },
                reaches(target),
            )
            .await?;
        Ok(Next::done(n))
    }
}

/// 6-6: the condition never holds; the strategy allows 3 checks.
#[derive(Serialize, Deserialize)]
pub enum NeverMet {
    Poll,
}

impl Transition for NeverMet {
    type Input = Value;
    type Output = i64;

    fn start(_: Value) -> Self {
        NeverMet::Poll
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = WaitStrategy::until(|_: &i64| false)
            .every(Duration::from_secs(1))
            .max_attempts(3);
        let n = ctx
            .wait_for_condition(
                "",
                0,
                |n, _| async move { Ok::<_, StepFailure>(n + 1) },
                strategy,
            )
            .await?;
        Ok(Next::done(n))
    }
}

/// 6-7, 6-8: the first check throws; with `CATCH` the handler recovers.
#[derive(Serialize, Deserialize)]
pub enum Throws<const CATCH: bool> {
    Poll,
}

impl<const CATCH: bool> Transition for Throws<CATCH> {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Throws::Poll
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let outcome = ctx
            .wait_for_condition(
                "",
                0i64,
                |_, _| async { Err::<i64, _>(StepFailure("the check failed".into())) },
                reaches(1),
            )
            .await;
        Ok(match outcome {
            Ok(n) => Next::done(n.to_string()),
            Err(StepError::Failed(_)) if CATCH => Next::done("recovered".to_string()),
            Err(e) => return Err(e.into()),
        })
    }
}

/// 6-9's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    status: String,
    attempts: u32,
}

/// 6-9: a structured state, DONE after two checks.
#[derive(Serialize, Deserialize)]
pub enum Record {
    Poll,
}

impl Transition for Record {
    type Input = Value;
    type Output = Job;

    fn start(_: Value) -> Self {
        Record::Poll
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let initial = Job {
            status: "PENDING".into(),
            attempts: 0,
        };
        let strategy =
            WaitStrategy::until(|j: &Job| j.status == "DONE").every(Duration::from_secs(1));
        let job = ctx
            .wait_for_condition(
                "",
                initial,
                |mut job, _| async move {
                    job.attempts += 1;
                    if job.attempts >= 2 {
                        job.status = "DONE".into();
                    }
                    Ok::<_, StepFailure>(job)
                },
                strategy,
            )
            .await?;
        Ok(Next::done(job))
    }
}

/// 6-10: the check returns null and the strategy stops at once.
#[derive(Serialize, Deserialize)]
pub enum Null {
    Poll,
}

impl Transition for Null {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        Null::Poll
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let strategy = WaitStrategy::custom(|_: &Value, _| WaitDecision::Stop);
        let v = ctx
            .wait_for_condition(
                "",
                json!("initial"),
                |_, _| async { Ok::<_, StepFailure>(Value::Null) },
                strategy,
            )
            .await?;
        Ok(Next::done(v))
    }
}

/// 6-11: the string state is stored by a custom codec (reversed text in a JSON object).
#[derive(Serialize, Deserialize)]
pub enum Encoded {
    Poll,
}

impl Transition for Encoded {
    type Input = Value;
    type Output = String;

    fn start(_: Value) -> Self {
        Encoded::Poll
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let serdes: Serdes<String> = Serdes::new(
            |s: &String| Ok(json!({ "encoded": s.chars().rev().collect::<String>() }).to_string()),
            |text: &str| {
                let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                let encoded = v
                    .get("encoded")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("no `encoded` member in {text}"))?;
                Ok(encoded.chars().rev().collect())
            },
        );
        let strategy = WaitStrategy::until(|s: &String| s.len() >= 2).every(Duration::from_secs(1));
        let s = ctx
            .wait_for_condition_with(
                "",
                String::new(),
                |s, _| async move { Ok::<_, StepFailure>(format!("{s}x")) },
                strategy,
                serdes,
            )
            .await?;
        Ok(Next::done(s))
    }
}

/// 6-12: the polled value feeds a step.
#[derive(Serialize, Deserialize)]
pub enum ThenStep {
    Poll { target: i64 },
}

impl Transition for ThenStep {
    type Input = Value;
    type Output = i64;

    fn start(input: Value) -> Self {
        ThenStep::Poll {
            target: threshold(&input),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let ThenStep::Poll { target } = self;
        let n = ctx
            .wait_for_condition(
                "",
                0,
                |n, _| async move { Ok::<_, StepFailure>(n + 1) },
                reaches(target),
            )
            .await?;
        let times_ten = ctx
            .step("", |_| async move { Ok::<_, StepFailure>(n * 10) })
            .await?;
        Ok(Next::done(times_ten))
    }
}

/// 6-13: two polls in a row; the first one's result seeds the second.
#[derive(Serialize, Deserialize)]
pub enum TwoPolls {
    First,
    Second(i64),
}

impl Transition for TwoPolls {
    type Input = Value;
    type Output = i64;

    fn start(_: Value) -> Self {
        TwoPolls::First
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let increment = |n: i64, _| async move { Ok::<_, StepFailure>(n + 1) };
        Ok(match self {
            TwoPolls::First => {
                let n = ctx.wait_for_condition("", 0, increment, reaches(2)).await?;
                Next::to(TwoPolls::Second(n))
            }
            TwoPolls::Second(from) => {
                let n = ctx
                    .wait_for_condition("", from, increment, reaches(4))
                    .await?;
                Next::done(n)
            }
        })
    }
}
