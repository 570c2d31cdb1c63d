//! The project's handler for each requirement: a workflow written the way a user would, one
//! module per suite.

mod batch;
mod callback;
mod child;
mod invoke;
mod step;
mod wait;
mod wait_for_callback;
mod wait_for_condition;

use durable_fsm::Transition;
use durable_fsm::service::runtime::Registry;
use durable_fsm::testing::{CallbackReply, TestRunner};
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// How one run ended.
pub struct Outcome {
    /// The execution's ARN.
    pub arn: String,
    /// `SUCCEEDED`, `FAILED`, ...
    pub status: String,
    /// The result JSON text.
    pub result: Option<String>,
    /// The whole history, as AWS's JSON.
    pub events: Vec<Value>,
}

type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A requirement's handler, with its workflow type erased.
pub trait Case: Send + Sync {
    /// Runs the handler on the in-process runner (virtual time).
    fn run_virtual(
        &self,
        input: Value,
        replies: Vec<(String, CallbackReply)>,
    ) -> LocalFuture<'_, Result<Outcome, String>>;

    /// Registers the handler as the durable function `name`.
    fn register(&self, registry: &mut Registry, name: &str);
}

struct Workflow<W>(PhantomData<fn() -> W>);

impl<W: Transition> Case for Workflow<W> {
    fn run_virtual(
        &self,
        input: Value,
        replies: Vec<(String, CallbackReply)>,
    ) -> LocalFuture<'_, Result<Outcome, String>> {
        Box::pin(async move {
            let mut runner = TestRunner::<W>::new().max_invocations(200);
            for (name, target) in invoke::TARGETS {
                runner = runner.on_invoke(name, target);
            }
            for (name, reply) in replies {
                runner = runner.on_callback(&name, reply);
            }
            let out = runner.run(input).await.map_err(|e| e.to_string())?;
            let events = out
                .events
                .iter()
                .map(|e| serde_json::to_value(e).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            Ok(Outcome {
                arn: out.arn.clone(),
                status: out.status.as_str().to_string(),
                result: out.result,
                events,
            })
        })
    }

    fn register(&self, registry: &mut Registry, name: &str) {
        registry.register::<W>(name);
    }
}

/// The handler of workflow `W`.
pub fn workflow<W: Transition>() -> Box<dyn Case> {
    Box::new(Workflow::<W>(PhantomData))
}

/// The handler for requirement `id`, when one is written.
pub fn case(id: &str) -> Option<Box<dyn Case>> {
    let suite = id.split('-').next().unwrap_or_default();
    match suite {
        "1" => step::case(id),
        "2" => wait::case(id),
        "3" => child::case(id),
        "4" => callback::case(id),
        "5" => invoke::case(id),
        "6" => wait_for_condition::case(id),
        "7" => wait_for_callback::case(id),
        "8" | "9" => batch::case(id),
        _ => None,
    }
}

/// Why requirement `id` has no counterpart in the state-machine model, if it has none.
pub fn not_applicable(id: &str) -> Option<&'static str> {
    if id.starts_with("10-") {
        return Some("plugin API");
    }
    match id {
        "3-11" | "9-16" => Some(
            "replay-only: AWS re-runs the child to rebuild a result over 256 KiB; durable-fsm never replays and stores the result in parts inside the CONTEXT (ResultPart steps)",
        ),
        "8-12" | "9-12" => Some(
            "a child machine resumes from its own newest state, which lives in its own CONTEXT; FLAT nesting (items' operations directly under the batch) has no place for per-item state",
        ),
        _ => None,
    }
}

/// Plain functions the handlers invoke (chained-invoke targets).
pub fn register_targets(registry: &mut Registry) {
    invoke::register_targets(registry);
}

/// The panic message of a handler that plays a process crash.
pub const CRASH: &str = "the process exits in the middle of the step";

/// Why requirement `id` runs on the local service only, if it does.
pub fn service_only(id: &str) -> Option<&'static str> {
    match id {
        "1-17" | "1-18" | "3-12" => Some(
            "a process crash (a panic the service records as Runtime.ExitError) would end the in-process runner",
        ),
        _ => None,
    }
}

/// Why requirement `id` runs on the in-process runner only, if it does.
pub fn virtual_only(id: &str) -> Option<&'static str> {
    let _ = id;
    None
}
