//! Suites 8 (parallel) and 9 (map): many child machines under one CONTEXT.

use super::step::StepFailure;
use super::{Case, workflow};
use durable_fsm::machine::Terminal;
use durable_fsm::machine::ops::{
    BatchConfig, BatchItem, BatchResult, BatchSerdes, CompletionReason, ItemStatus, Serdes,
};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    let (suite, n) = id.split_once('-')?;
    let n: u16 = n.parse().ok()?;
    macro_rules! table {
        ($($code:literal)*) => {
            match u16::from(suite.parse::<u8>().ok()?) * 100 + n {
                $($code => workflow::<Batch<$code>>(),)*
                _ => return None,
            }
        };
    }
    Some(table!(
        801 802 803 804 805 806 807 808 809 810 811 813 814 815 816 817 818 819 820 821 822
        901 902 903 904 905 906 907 908 909 910 911 913 914 915 917 918 919 920
    ))
}

/// One child of a batch: a branch of a parallel or an item of a map.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Branch {
    /// Return this value directly.
    Direct(Value),
    /// Return this value from a step.
    Step(Value),
    /// Fail.
    Fail,
    /// Sleep this many seconds, then return the value directly.
    SleepThen(u64, Value),
    /// Sleep this many seconds, then return the value from a step.
    SleepThenStep(u64, Value),
    /// Run an inner parallel of steps returning these values; return their list.
    Inner(Vec<Value>),
    /// Greet the name from a step.
    Greet(String),
    /// Double the number.
    Double(i64),
    /// Add the item's index to it.
    AddIndex(i64, usize),
    /// Multiply by ten.
    Times10(i64),
    /// Upper-case the text.
    Upper(String),
    /// Wake after a sleep: return the value, from a step when the flag is set.
    Woken(bool, Value),
}

impl Transition for Branch {
    type Input = Branch;
    type Output = Value;

    fn start(branch: Branch) -> Self {
        branch
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let step = |v: Value| move |_| async move { Ok::<_, StepFailure>(v) };
        Ok(match self {
            Branch::Direct(v) | Branch::Woken(false, v) => Next::done(v),
            Branch::Step(v) | Branch::Woken(true, v) => Next::done(ctx.step("", step(v)).await?),
            Branch::Fail => return Err(Terminal::new("BranchError", "the branch failed").into()),
            Branch::SleepThen(secs, v) => {
                Next::sleep(Duration::from_secs(secs), Branch::Woken(false, v))
            }
            Branch::SleepThenStep(secs, v) => {
                Next::sleep(Duration::from_secs(secs), Branch::Woken(true, v))
            }
            Branch::Inner(values) => {
                let branches = values
                    .into_iter()
                    .map(|v| (String::new(), Branch::Step(v)))
                    .collect();
                let inner = ctx
                    .parallel::<Branch>("", branches, BatchConfig::new().max_concurrency(1))
                    .await?;
                Next::done(Value::Array(inner.successes().cloned().collect()))
            }
            Branch::Greet(name) => {
                Next::done(ctx.step("", step(json!(format!("Hello, {name}!")))).await?)
            }
            Branch::Double(n) => Next::done(json!(n * 2)),
            Branch::AddIndex(n, i) => Next::done(json!(n + i as i64)),
            Branch::Times10(n) => Next::done(json!(n * 10)),
            Branch::Upper(s) => Next::done(json!(s.to_uppercase())),
        })
    }
}

/// What the handler returns from the batch result.
#[derive(Clone, Copy)]
enum Shape {
    /// The successful results in index order.
    List,
    /// {completionReason, status, successCount, failureCount, totalCount}.
    Full,
    /// {completionReason, successCount, totalCount}.
    Reached,
    /// {completionReason, successCount, failureCount, totalCount}.
    Counts,
    /// {hasFailure, successCount, failureCount, errorCount}.
    Accessors,
    /// The results, or the first failure re-raised.
    Rethrow,
}

struct Plan {
    map: bool,
    name: &'static str,
    items: Vec<(String, Branch)>,
    config: BatchConfig,
    shape: Shape,
    serdes: BatchSerdes<Value>,
    sleep_after: bool,
    /// Wait inside the transition after the batch, so that it runs again and reads the
    /// recorded batch result back.
    wait_after: bool,
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// 8-15: each branch's result is stored as `{"wrapped": v}`.
fn wrapped_json() -> Serdes<Value> {
    Serdes::new(
        |v: &Value| Ok(json!({ "wrapped": v }).to_string()),
        |s: &str| {
            let mut envelope: Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
            match envelope.get_mut("wrapped") {
                Some(v) => Ok(v.take()),
                None => Err(format!("no `wrapped` member in {s}")),
            }
        },
    )
}

/// 9-14: each item's (text) result is stored as `wrapped:<text>`.
fn wrapped_text() -> Serdes<Value> {
    Serdes::new(
        |v: &Value| Ok(format!("wrapped:{}", text(v))),
        |s: &str| match s.strip_prefix("wrapped:") {
            Some(t) => Ok(json!(t)),
            None => Err(format!("{s:?} does not start with `wrapped:`")),
        },
    )
}

/// 9-19, 9-20: the whole map result of text items is stored as `OPSERDE:<a>,<b>,...`.
fn opserde() -> Serdes<BatchResult<Value>> {
    Serdes::new(
        |r: &BatchResult<Value>| {
            let items: Vec<&str> = r.successes().map(text).collect();
            Ok(format!("OPSERDE:{}", items.join(",")))
        },
        |s: &str| {
            let list = s
                .strip_prefix("OPSERDE:")
                .ok_or_else(|| format!("{s:?} does not start with `OPSERDE:`"))?;
            let all = list
                .split(',')
                .filter(|t| !t.is_empty())
                .enumerate()
                .map(|(index, t)| BatchItem {
                    index,
                    name: None,
                    status: ItemStatus::Succeeded,
                    result: Some(json!(t)),
                    error: None,
                })
                .collect();
            Ok(BatchResult {
                all,
                completion_reason: CompletionReason::AllCompleted,
            })
        },
    )
}

fn s(v: &str) -> Value {
    json!(v)
}

fn plan(code: u16, input: &Value) -> Plan {
    use Branch::*;
    let mc1 = BatchConfig::new().max_concurrency(1);
    let ok = |v: &str| Direct(s(v));
    let ints = || -> Vec<i64> {
        input
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let (items, config, shape): (Vec<Branch>, BatchConfig, Shape) = match code % 100 {
        _ if code < 900 => match code {
            801 => (vec![Step(s("task-1")), Step(s("task-2"))], mc1, Shape::List),
            802 => (vec![ok("alpha"), ok("beta")], mc1, Shape::List),
            803 => (vec![ok("one"), ok("two")], mc1, Shape::List),
            804 => (
                vec![ok("hello"), Direct(json!(42)), Direct(json!({"k": "v"}))],
                mc1,
                Shape::List,
            ),
            805 => (vec![], BatchConfig::new(), Shape::List),
            806 => (
                vec![ok("ok"), Fail, ok("never")],
                mc1.tolerated_failures(0),
                Shape::Full,
            ),
            807 => (
                vec![Fail, ok("never")],
                mc1.tolerated_failures(0),
                Shape::Rethrow,
            ),
            808 => (
                vec![ok("a"), ok("b"), ok("c"), ok("d")],
                mc1.min_successful(2),
                Shape::Reached,
            ),
            809 => (
                vec![ok("a"), Fail, ok("c")],
                mc1.tolerated_failures(1),
                Shape::Full,
            ),
            810 => (
                vec![Fail, Fail, ok("c")],
                mc1.tolerated_failures(1),
                Shape::Counts,
            ),
            811 => (
                vec![ok("r0"), ok("r1"), ok("r2")],
                BatchConfig::new().max_concurrency(2),
                Shape::List,
            ),
            813 => (
                vec![Fail, Fail, ok("c"), ok("d")],
                mc1.tolerated_failure_percentage(25.0),
                Shape::Counts,
            ),
            814 => (vec![Step(s("b0")), SleepThen(2, s("b1"))], mc1, Shape::List),
            815 => (vec![ok("x"), ok("y")], mc1, Shape::List),
            816 => (
                vec![Fail, Fail, Fail],
                mc1.tolerated_failures(3),
                Shape::Full,
            ),
            817 => (
                vec![ok("a"), Fail, ok("c")],
                mc1.min_successful(3),
                Shape::Full,
            ),
            818 => (
                vec![Fail, Fail, ok("c"), ok("d")],
                mc1.min_successful(3).tolerated_failures(1),
                Shape::Counts,
            ),
            819 => (
                vec![ok("a"), ok("b")],
                BatchConfig::new().max_concurrency(0),
                Shape::List,
            ),
            820 => (
                vec![ok("a"), Fail, ok("c")],
                mc1.tolerated_failures(1),
                Shape::Accessors,
            ),
            821 => (vec![Inner(vec![s("i1"), s("i2")])], mc1, Shape::List),
            _ => (
                vec![Fail, ok("b"), ok("c"), ok("d")],
                mc1.tolerated_failure_percentage(25.0),
                Shape::Full,
            ),
        },
        1 => (
            input
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| Greet(v.as_str().unwrap_or_default().into()))
                        .collect()
                })
                .unwrap_or_default(),
            mc1,
            Shape::List,
        ),
        2 => (ints().into_iter().map(Double).collect(), mc1, Shape::List),
        3 => (
            ints()
                .into_iter()
                .enumerate()
                .map(|(i, n)| AddIndex(n, i))
                .collect(),
            mc1,
            Shape::List,
        ),
        4 => (vec![], mc1, Shape::List),
        5 => (
            vec![ok("ok"), Fail, ok("never")],
            mc1.tolerated_failures(0),
            Shape::Full,
        ),
        6 => (
            vec![Fail, ok("never")],
            mc1.tolerated_failures(0),
            Shape::Rethrow,
        ),
        7 => (
            vec![ok("a"), ok("b"), ok("c"), ok("d")],
            mc1.min_successful(2),
            Shape::Reached,
        ),
        8 => (
            vec![ok("a"), Fail, ok("c")],
            mc1.tolerated_failures(1),
            Shape::Full,
        ),
        9 => (
            vec![Fail, Fail, ok("c")],
            mc1.tolerated_failures(1),
            Shape::Counts,
        ),
        10 => (
            vec![Fail, Fail, ok("c"), ok("d")],
            mc1.tolerated_failure_percentage(25.0),
            Shape::Counts,
        ),
        11 => (
            vec![ok("r0"), ok("r1"), ok("r2")],
            BatchConfig::new().max_concurrency(2),
            Shape::List,
        ),
        13 => (ints().into_iter().map(Times10).collect(), mc1, Shape::List),
        15 => (
            vec![Step(s("r0")), SleepThenStep(1, s("r1"))],
            mc1,
            Shape::List,
        ),
        18 => (vec![ok("ok"), Fail], mc1.tolerated_failures(1), Shape::Full),
        14 | 19 | 20 => (vec![Upper("x".into()), Upper("y".into())], mc1, Shape::List),
        _ => (vec![Upper("a".into()), Upper("b".into())], mc1, Shape::List),
    };
    let names = ["first", "second"];
    Plan {
        map: code >= 900,
        name: match code {
            801 => "parallel",
            803 => "named",
            804 => "hetero",
            805 => "empty",
            806 => "failfast",
            807 => "throwing",
            901 => "map",
            _ => "",
        },
        items: items
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let name = if code == 803 {
                    names[i].to_string()
                } else {
                    String::new()
                };
                (name, b)
            })
            .collect(),
        config,
        shape,
        serdes: match code {
            815 => BatchSerdes::new().item(wrapped_json()),
            914 => BatchSerdes::new().item(wrapped_text()),
            919 | 920 => BatchSerdes::new().result(opserde()),
            _ => BatchSerdes::new(),
        },
        sleep_after: matches!(code, 917 | 918),
        wait_after: code == 920,
    }
}

fn project(shape: Shape, r: BatchResult<Value>) -> Result<Value, Terminal> {
    let reason = serde_json::to_value(r.completion_reason).unwrap_or(Value::Null);
    let (ok, failed) = (r.success_count(), r.failure_count());
    let total = r
        .all
        .iter()
        .filter(|i| i.status != ItemStatus::NotStarted)
        .count();
    let status = if failed > 0 { "FAILED" } else { "SUCCEEDED" };
    Ok(match shape {
        Shape::List => Value::Array(r.successes().cloned().collect()),
        Shape::Full => json!({
            "completionReason": reason, "status": status,
            "successCount": ok, "failureCount": failed, "totalCount": total,
        }),
        Shape::Reached => {
            json!({ "completionReason": reason, "successCount": ok, "totalCount": total })
        }
        Shape::Counts => json!({
            "completionReason": reason, "successCount": ok, "failureCount": failed, "totalCount": total,
        }),
        Shape::Accessors => json!({
            "hasFailure": failed > 0, "successCount": ok, "failureCount": failed,
            "errorCount": r.failures().count(),
        }),
        Shape::Rethrow => {
            let started = r
                .all
                .into_iter()
                .filter(|i| i.status != ItemStatus::NotStarted);
            let mut values = Vec::new();
            for item in started {
                match (item.result, item.error) {
                    (Some(v), _) => values.push(v),
                    (None, Some(e)) => return Err(Terminal(e)),
                    (None, None) => {}
                }
            }
            Value::Array(values)
        }
    })
}

/// Every requirement of suites 8 and 9 (`CODE` = suite × 100 + number): a parallel or a map
/// of [`Branch`] machines, its result projected as the requirement asks, optionally followed
/// by a 1 s sleep (a new state) or a 1 s wait (in the same transition).
#[derive(Serialize, Deserialize)]
pub enum Batch<const CODE: u16> {
    Run(Value),
    Finish(Value),
}

impl<const CODE: u16> Transition for Batch<CODE> {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Batch::Run(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let input = match self {
            Batch::Run(input) => input,
            Batch::Finish(v) => return Ok(Next::done(v)),
        };
        let plan = plan(CODE, &input);
        let result = if plan.map {
            let inputs = plan.items.into_iter().map(|(_, b)| b).collect();
            ctx.map_with::<Branch>(plan.name, inputs, plan.config, plan.serdes)
                .await?
        } else {
            ctx.parallel_with::<Branch>(plan.name, plan.items, plan.config, plan.serdes)
                .await?
        };
        if plan.wait_after {
            ctx.wait("", Duration::from_secs(1)).await?;
        }
        let out = project(plan.shape, result)?;
        Ok(if plan.sleep_after {
            Next::sleep(Duration::from_secs(1), Batch::Finish(out))
        } else {
            Next::done(out)
        })
    }
}
