//! Engine tests, driven by hand-written checkpoint calls on a virtual clock.

mod callbacks;
mod chained;
mod history;
mod legality;
mod lifecycle;
mod queries;
mod store;
mod tokens;

use super::*;
use crate::api::ApiError;
use crate::model::{OperationAction as A, OperationType as T, *};
use crate::service::clock::VirtualClock;
use crate::service::store::ExecutionRow;
use std::time::Duration;

/// An engine on a virtual clock, with shortcuts.
pub(super) struct H {
    pub eng: Engine,
    pub clock: VirtualClock,
}

impl H {
    pub fn new() -> H {
        H::with_config(EngineConfig::default())
    }

    pub fn with_config(config: EngineConfig) -> H {
        let clock = VirtualClock::default();
        H {
            eng: Engine::new(config, Arc::new(clock.clone())),
            clock,
        }
    }

    /// Starts an execution of function `fn` with input `{}`.
    pub fn start(&mut self, name: &str) -> String {
        self.eng
            .start_execution(StartExecution::new("fn", "{}").named(name))
            .unwrap()
            .arn
    }

    /// Begins an invocation that must be possible.
    pub fn begin(&mut self, arn: &str) -> InvocationInput {
        self.eng
            .begin_invocation(arn)
            .unwrap()
            .expect("execution should need an invocation")
    }

    /// Starts an execution and begins its first invocation; returns (arn, input token).
    pub fn running(&mut self, name: &str) -> (String, String) {
        let arn = self.start(name);
        let token = self.begin(&arn).checkpoint_token;
        (arn, token)
    }

    pub fn cp(
        &mut self,
        arn: &str,
        token: &str,
        updates: Vec<OperationUpdate>,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        self.eng.checkpoint(CheckpointDurableExecutionRequest {
            durable_execution_arn: arn.into(),
            checkpoint_token: token.into(),
            updates: Some(updates),
            client_token: None,
        })
    }

    /// A checkpoint that must succeed; returns (next token, returned operations).
    pub fn cp_ok(
        &mut self,
        arn: &str,
        token: &str,
        updates: Vec<OperationUpdate>,
    ) -> (String, Vec<Operation>) {
        let r = self.cp(arn, token, updates).unwrap();
        (
            r.checkpoint_token.unwrap_or_default(),
            r.new_execution_state.operations.unwrap_or_default(),
        )
    }

    /// Completes the invocation in flight with an output.
    pub fn complete(&mut self, arn: &str, out: InvocationOutput) {
        self.outcome(arn, InvocationOutcome::Output(out));
    }

    pub fn outcome(&mut self, arn: &str, outcome: InvocationOutcome) {
        let id = self
            .eng
            .invocation_id(arn)
            .expect("an invocation in flight");
        let started = self.clock.now();
        self.eng
            .complete_invocation(arn, &id, outcome, "req-1".into(), started)
            .unwrap();
    }

    pub fn advance(&mut self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub fn history(&self, arn: &str) -> Vec<Event> {
        self.eng
            .get_history(GetDurableExecutionHistoryRequest {
                durable_execution_arn: arn.into(),
                max_items: Some(1000),
                ..Default::default()
            })
            .unwrap()
            .events
    }

    pub fn types(&self, arn: &str) -> Vec<EventType> {
        self.history(arn)
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    pub fn op(&self, arn: &str, id: &str) -> Operation {
        self.eng.recs[arn]
            .find(id)
            .expect("operation exists")
            .op
            .clone()
    }

    pub fn status(&self, arn: &str) -> ExecutionStatus {
        self.eng.get_execution(arn, true).unwrap().status
    }

    /// Everything a rejected request must leave untouched.
    pub fn snapshot(&self, arn: &str) -> (Vec<Operation>, Vec<Event>, ExecutionRow) {
        let rec = &self.eng.recs[arn];
        (
            rec.ops.iter().map(|e| e.op.clone()).collect(),
            rec.events.clone(),
            rec.h.clone(),
        )
    }
}

pub(super) fn upd(id: &str, t: T, a: A) -> OperationUpdate {
    let mut u = OperationUpdate::new(id, t, a);
    u.name = Some(format!("{id}-name"));
    u.sub_type = Some(
        match t {
            T::Step => "Step",
            T::Wait => "Wait",
            T::Callback => "Callback",
            T::Context => "RunInChildContext",
            T::ChainedInvoke => "ChainedInvoke",
            T::Execution => "Execution",
        }
        .to_string(),
    );
    if t == T::Execution {
        u.name = None;
        u.sub_type = None;
    }
    u
}

pub(super) fn step(id: &str, a: A) -> OperationUpdate {
    upd(id, T::Step, a)
}

pub(super) fn succeed(id: &str, payload: &str) -> OperationUpdate {
    let mut u = step(id, A::Succeed);
    u.payload = Some(payload.into());
    u
}

pub(super) fn retry(
    id: &str,
    delay: i64,
    error: Option<ErrorObject>,
    payload: Option<&str>,
) -> OperationUpdate {
    let mut u = step(id, A::Retry);
    u.step_options = Some(StepOptions {
        next_attempt_delay_seconds: Some(delay),
    });
    u.error = error;
    u.payload = payload.map(Into::into);
    u
}

pub(super) fn wait(id: &str, secs: i64) -> OperationUpdate {
    let mut u = upd(id, T::Wait, A::Start);
    u.wait_options = Some(WaitOptions {
        wait_seconds: Some(secs),
    });
    u
}

pub(super) fn callback(id: &str, timeout: i64, heartbeat: i64) -> OperationUpdate {
    let mut u = upd(id, T::Callback, A::Start);
    u.callback_options = Some(CallbackOptions {
        timeout_seconds: Some(timeout),
        heartbeat_timeout_seconds: Some(heartbeat),
    });
    u
}

pub(super) fn ctx(id: &str, a: A) -> OperationUpdate {
    upd(id, T::Context, a)
}

pub(super) fn child(mut u: OperationUpdate, parent: &str) -> OperationUpdate {
    u.parent_id = Some(parent.into());
    u
}

pub(super) fn exec(a: A, payload: Option<&str>, error: Option<ErrorObject>) -> OperationUpdate {
    let mut u = upd("execution-result-1", T::Execution, a);
    u.payload = payload.map(Into::into);
    u.error = error;
    u
}

pub(super) fn chained(id: &str, function: &str, payload: Option<&str>) -> OperationUpdate {
    let mut u = upd(id, T::ChainedInvoke, A::Start);
    u.payload = payload.map(Into::into);
    u.chained_invoke_options = Some(ChainedInvokeOptions {
        function_name: function.into(),
        ..Default::default()
    });
    u
}

pub(super) fn err(t: &str, m: &str) -> ErrorObject {
    ErrorObject::new(t, m)
}

/// The callback id of a CALLBACK operation.
pub(super) fn callback_id(op: &Operation) -> String {
    op.callback_details
        .as_ref()
        .and_then(|d| d.callback_id.clone())
        .unwrap()
}

#[test]
fn every_event_has_exactly_its_own_details_member() {
    let mut h = H::new();
    let (arn, t) = h.running("details");
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![ctx("c", A::Start), child(step("s", A::Start), "c")],
    );
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![child(retry("s", 1, Some(err("E", "x")), None), "c")],
    );
    let (t, _) = h.cp_ok(&arn, &t, vec![wait("w", 1), callback("cb", 0, 0)]);
    let (_t, _) = h.cp_ok(&arn, &t, vec![ctx("c2", A::Start), ctx("c2", A::Succeed)]);
    h.complete(&arn, InvocationOutput::pending());
    h.advance(1);
    h.eng.fire_due();
    h.eng.stop(&arn, None).unwrap();
    for ev in h.history(&arn) {
        let v = serde_json::to_value(&ev).unwrap();
        let details: Vec<&String> = v
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.ends_with("Details"))
            .collect();
        assert_eq!(details, vec![&format!("{}Details", ev.event_type)], "{v}");
    }
}
