//! Suite 5, invoke: chained invokes of other functions (plain targets registered beside the
//! handlers).

use super::step::StepFailure;
use super::{Case, workflow};
use durable_fsm::machine::StepError;
use durable_fsm::machine::ops::{InvokeConfig, Serdes};
use durable_fsm::model::ErrorObject;
use durable_fsm::service::runtime::Registry;
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

/// Returns its input.
pub const ECHO: &str = "conformance-echo";
/// Always fails.
pub const FAIL: &str = "conformance-fail";
/// Returns the length of the `data` string it gets.
pub const SIZE: &str = "conformance-size";

/// A chained-invoke target: the input JSON text in, the result JSON text or an error out.
pub type Target = fn(&str) -> Result<String, ErrorObject>;

fn echo(input: &str) -> Result<String, ErrorObject> {
    Ok(input.to_string())
}

fn fail(_: &str) -> Result<String, ErrorObject> {
    Err(ErrorObject::new(
        "TargetError",
        "the target function failed",
    ))
}

fn size(input: &str) -> Result<String, ErrorObject> {
    let v: Value =
        serde_json::from_str(input).map_err(|e| ErrorObject::new("InvalidInput", e.to_string()))?;
    let n = v.get("data").and_then(Value::as_str).map_or(0, str::len);
    Ok(json!({ "received": n }).to_string())
}

/// Every target, by function name.
pub const TARGETS: [(&str, Target); 3] = [(ECHO, echo), (FAIL, fail), (SIZE, size)];

/// Registers the targets as plain functions of the local service.
pub fn register_targets(registry: &mut Registry) {
    for (name, target) in TARGETS {
        registry.register_plain(name, move |v: Value| async move {
            let out = target(&v.to_string())?;
            serde_json::from_str(&out).map_err(|e| ErrorObject::new("InvalidResult", e.to_string()))
        });
    }
}

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "5-1" | "5-3" | "5-4" => workflow::<Echo>(),
        "5-2" => workflow::<Named>(),
        "5-5" => workflow::<Failing<false>>(),
        "5-6" => workflow::<Failing<true>>(),
        "5-7" => workflow::<Large>(),
        "5-8" => workflow::<Tenant>(),
        "5-9" => workflow::<ThenSleep<false>>(),
        "5-10" => workflow::<ThenSleep<true>>(),
        "5-11" => workflow::<StepThenInvoke>(),
        "5-12" => workflow::<InvokeThenStep>(),
        "5-13" => workflow::<InChild>(),
        "5-14" => workflow::<TwoInvokes>(),
        "5-15" => workflow::<PayloadCodec>(),
        "5-16" => workflow::<ResultCodec>(),
        _ => return None,
    })
}

/// 5-1, 5-3, 5-4: the echo target gets the input; its result is the output.
#[derive(Serialize, Deserialize)]
pub enum Echo {
    Call(Value),
}

impl Transition for Echo {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Echo::Call(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Echo::Call(input) = self;
        let out: Value = ctx.invoke("", ECHO, &input).await?;
        Ok(Next::done(out))
    }
}

/// 5-2: the invoke is named by the input's `name`.
#[derive(Serialize, Deserialize)]
pub enum Named {
    Call { name: String, payload: Value },
}

impl Transition for Named {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Named::Call {
            name: input["name"].as_str().unwrap_or_default().to_string(),
            payload: input["payload"].clone(),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Named::Call { name, payload } = self;
        let out: Value = ctx.invoke(&name, ECHO, &payload).await?;
        Ok(Next::done(out))
    }
}

/// 5-5, 5-6: the target fails; with `CATCH` the handler returns a fallback.
#[derive(Serialize, Deserialize)]
pub enum Failing<const CATCH: bool> {
    Call,
}

impl<const CATCH: bool> Transition for Failing<CATCH> {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        Failing::Call
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match ctx.invoke::<_, Value>("", FAIL, &Value::Null).await {
            Ok(v) => Next::done(v),
            Err(StepError::Failed(_)) if CATCH => Next::done(json!("fallback")),
            Err(e) => return Err(e.into()),
        })
    }
}

/// 5-7: a 200 KB payload.
#[derive(Serialize, Deserialize)]
pub enum Large {
    Call,
}

impl Transition for Large {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        Large::Call
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let payload = json!({ "data": "x".repeat(200 * 1024) });
        let out: Value = ctx.invoke("", SIZE, &payload).await?;
        Ok(Next::done(out))
    }
}

/// 5-8: an invoke for the tenant named by the input.
#[derive(Serialize, Deserialize)]
pub enum Tenant {
    Call { payload: Value, tenant_id: String },
}

impl Transition for Tenant {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Tenant::Call {
            payload: input["payload"].clone(),
            tenant_id: input["tenantId"].as_str().unwrap_or_default().to_string(),
        }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Tenant::Call { payload, tenant_id } = self;
        let config = InvokeConfig::new().tenant(tenant_id);
        let out: Value = ctx.invoke_with("", ECHO, &payload, config).await?;
        Ok(Next::done(out))
    }
}

/// 5-9, 5-10: an invoke (failing and handled when `FAILS`), then a 1 s sleep.
#[derive(Serialize, Deserialize)]
pub enum ThenSleep<const FAILS: bool> {
    Call,
    Finish(Value),
}

impl<const FAILS: bool> Transition for ThenSleep<FAILS> {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        ThenSleep::Call
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            ThenSleep::Call => {
                let target = if FAILS { FAIL } else { ECHO };
                let v = match ctx.invoke::<_, Value>("", target, &json!("ping")).await {
                    Ok(v) => v,
                    Err(StepError::Failed(e)) => json!(format!("caught: {e}")),
                    Err(e) => return Err(e.into()),
                };
                Next::sleep(Duration::from_secs(1), ThenSleep::Finish(v))
            }
            ThenSleep::Finish(v) => Next::done(v),
        })
    }
}

/// 5-11: a step's result is sent to the target.
#[derive(Serialize, Deserialize)]
pub enum StepThenInvoke {
    Run,
}

impl Transition for StepThenInvoke {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        StepThenInvoke::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let v = ctx
            .step("", |_| async {
                Ok::<_, StepFailure>(json!({ "prepared": true }))
            })
            .await?;
        let out: Value = ctx.invoke("", ECHO, &v).await?;
        Ok(Next::done(out))
    }
}

/// 5-12: the target's result goes through a step.
#[derive(Serialize, Deserialize)]
pub enum InvokeThenStep {
    Run,
}

impl Transition for InvokeThenStep {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        InvokeThenStep::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let v: Value = ctx.invoke("", ECHO, &json!("from target")).await?;
        let out = ctx
            .step("", |_| async move {
                Ok::<_, StepFailure>(json!({ "processed": v }))
            })
            .await?;
        Ok(Next::done(out))
    }
}

/// 5-14: two invokes, one per state.
#[derive(Serialize, Deserialize)]
pub enum TwoInvokes {
    First,
    Second(Value),
}

impl Transition for TwoInvokes {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        TwoInvokes::First
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            TwoInvokes::First => {
                let a: Value = ctx.invoke("", ECHO, &json!("one")).await?;
                Next::to(TwoInvokes::Second(a))
            }
            TwoInvokes::Second(a) => {
                let b: Value = ctx.invoke("", ECHO, &json!("two")).await?;
                Next::done(json!([a, b]))
            }
        })
    }
}

/// 5-15: the payload is written by a codec that upper-cases its strings.
#[derive(Serialize, Deserialize)]
pub enum PayloadCodec {
    Call(Value),
}

fn upper(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_uppercase()),
        Value::Array(a) => Value::Array(a.iter().map(upper).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), upper(v))).collect()),
        other => other.clone(),
    }
}

impl Transition for PayloadCodec {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        PayloadCodec::Call(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let PayloadCodec::Call(input) = self;
        let serdes = Serdes::new(
            |v: &Value| serde_json::to_string(&upper(v)).map_err(|e| e.to_string()),
            |s: &str| serde_json::from_str(s).map_err(|e| e.to_string()),
        );
        let config = InvokeConfig::new().input_serdes(serdes);
        let out: Value = ctx.invoke_with("", ECHO, &input, config).await?;
        Ok(Next::done(out))
    }
}

/// 5-16: the result is read by a codec that upper-cases the recorded JSON text.
#[derive(Serialize, Deserialize)]
pub enum ResultCodec {
    Call(Value),
}

impl Transition for ResultCodec {
    type Input = Value;
    type Output = String;

    fn start(input: Value) -> Self {
        ResultCodec::Call(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let ResultCodec::Call(input) = self;
        // Only the reading half runs for a result; the writing half is its inverse.
        let serdes = Serdes::new(
            |v: &String| Ok(v.to_lowercase()),
            |s: &str| Ok(s.to_uppercase()),
        );
        let config = InvokeConfig::new().result_serdes(serdes);
        let out: String = ctx.invoke_with("", ECHO, &input, config).await?;
        Ok(Next::done(out))
    }
}

/// 5-13's child machine: one invoke of the echo target.
#[derive(Serialize, Deserialize)]
pub enum Invoker {
    Call(Value),
}

impl Transition for Invoker {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Invoker::Call(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Invoker::Call(input) = self;
        let out: Value = ctx.invoke("", ECHO, &input).await?;
        Ok(Next::done(out))
    }
}

/// 5-13: the invoke runs inside a child machine.
#[derive(Serialize, Deserialize)]
pub enum InChild {
    Run(Value),
}

impl Transition for InChild {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        InChild::Run(input)
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let InChild::Run(input) = self;
        Ok(Next::done(ctx.child::<Invoker>("", input).await?))
    }
}
