//! Engine invariants under random runs of checkpoints, timers, callbacks and invocations.

use crate::config;
use crate::invariants::{Tracker, check_retry_details, events_for, json_of, visible};
use crate::requests::{Answer, Cmd, Ending, Fault, PLAIN_FUNCTION, Request};
use durable_fsm::api::{ApiError, ErrorCode};
use durable_fsm::model::{OperationType as T, *};
use durable_fsm::service::{
    Clock, Engine, EngineConfig, FunctionConfig, InvocationOutcome, StartExecution, VirtualClock,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The function of the execution under test.
const FUNCTION: &str = "fsm";
/// Its EXECUTION operation id (fixed, so a replay has the same ARN).
const EXECUTION_ID: &str = "exec-0";
/// A well-formed token the engine never issued.
const MADE_UP_TOKEN: &str = "bWFkZS11cC10b2tlbg==";

/// What changed the engine, in order, for the replay. Rejected calls are not recorded.
#[derive(Clone, Debug)]
enum Step {
    Advance(u8),
    FireDue,
    Begin,
    Checkpoint(Vec<OperationUpdate>),
    Complete(InvocationOutcome, String),
    Answer(String, Answer, u32),
    FinishInvoke(String, bool),
    Stop,
}

/// Everything the API shows of the execution, as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Snap {
    pub ops: Vec<Operation>,
    pub events: Vec<Event>,
    pub ops_json: Vec<Value>,
    pub events_json: Vec<Value>,
    pub execution_json: Value,
}

impl Snap {
    fn json(&self) -> (&[Value], &[Value], &Value) {
        (&self.ops_json, &self.events_json, &self.execution_json)
    }
}

/// One engine, one execution, and what the run knows about its tokens.
struct World {
    eng: Engine,
    clock: VirtualClock,
    arn: String,
    /// The token of the invocation in flight, while the execution runs.
    token: Option<String>,
    /// Every token consumed or superseded.
    spent: Vec<String>,
    issued: HashSet<String>,
    /// The last accepted request that carried a ClientToken, and its response.
    cached: Option<(CheckpointDurableExecutionRequest, Value)>,
    /// What the handler has seen of each operation: the invocation input, then the
    /// checkpoint responses.
    view: HashMap<String, Value>,
    /// The operations and UpdatedOperationIds of the last invocation input.
    input: Vec<Value>,
    updated: Vec<String>,
    fresh: u32,
    calls: u32,
    log: Vec<Step>,
}

impl World {
    fn new(timeout: Option<i64>) -> World {
        let clock = VirtualClock::default();
        let config = EngineConfig {
            invocation_retry_delay: Duration::ZERO,
            max_invocation_failures: 1000,
            ..EngineConfig::default()
        }
        .with_function(PLAIN_FUNCTION, FunctionConfig::plain());
        let mut eng = Engine::new(config, Arc::new(clock.clone()));
        let start = StartExecution {
            invocation_id: Some(EXECUTION_ID.into()),
            execution_timeout_seconds: timeout,
            ..StartExecution::new(FUNCTION, "{\"n\":1}").named("prop")
        };
        let arn = eng.start_execution(start).unwrap().arn;
        World {
            eng,
            clock,
            arn,
            token: None,
            spent: Vec::new(),
            issued: HashSet::new(),
            cached: None,
            view: HashMap::new(),
            input: Vec::new(),
            updated: Vec::new(),
            fresh: 0,
            calls: 0,
            log: Vec::new(),
        }
    }

    fn snap(&self) -> Snap {
        let ops = self.eng.operations(&self.arn).unwrap();
        let events = self.eng.events(&self.arn).unwrap();
        Snap {
            ops_json: ops
                .iter()
                .map(|o| serde_json::to_value(o).unwrap())
                .collect(),
            events_json: events
                .iter()
                .map(|e| serde_json::to_value(e).unwrap())
                .collect(),
            execution_json: serde_json::to_value(self.eng.get_execution(&self.arn, true).unwrap())
                .unwrap(),
            ops,
            events,
        }
    }

    fn running(&self) -> bool {
        self.eng.get_execution(&self.arn, false).unwrap().status == ExecutionStatus::Running
    }

    /// Applies one recorded step (the run records, the replay repeats).
    fn apply(&mut self, step: &Step) -> Result<(), ApiError> {
        match step {
            Step::Advance(secs) => self.clock.advance(Duration::from_secs(u64::from(*secs))),
            Step::FireDue => {
                self.eng.fire_due();
            }
            Step::Begin => {
                if let Some(input) = self.eng.begin_invocation(&self.arn)? {
                    if let Some(old) = self.token.replace(input.checkpoint_token) {
                        self.spent.push(old);
                    }
                    self.cached = None;
                    self.updated = input.updated_operation_ids.unwrap_or_default();
                    let ops = input.initial_execution_state.unwrap_or_default().operations;
                    self.input = json_of(&ops.iter().collect::<Vec<_>>());
                    self.view = ops
                        .iter()
                        .map(|o| o.id.clone())
                        .zip(self.input.clone())
                        .collect();
                }
            }
            Step::Checkpoint(updates) => {
                let token = self.token.clone().unwrap_or_default();
                let resp = self.eng.checkpoint(CheckpointDurableExecutionRequest {
                    durable_execution_arn: self.arn.clone(),
                    checkpoint_token: token,
                    updates: Some(updates.clone()),
                    client_token: None,
                })?;
                self.see(&resp);
                self.token = resp.checkpoint_token;
            }
            Step::Complete(outcome, request_id) => {
                let id = self.eng.invocation_id(&self.arn).unwrap_or_default();
                let now = self.clock.now();
                self.eng.complete_invocation(
                    &self.arn,
                    &id,
                    outcome.clone(),
                    request_id.clone(),
                    now,
                )?;
                if let Some(old) = self.token.take() {
                    self.spent.push(old);
                }
            }
            Step::Answer(op_id, answer, n) => {
                let id = self.callback_id(op_id);
                match answer {
                    Answer::Succeed => self
                        .eng
                        .send_callback_success(&id, format!("{{\"answer\":{n}}}").as_bytes())?,
                    Answer::Fail => self
                        .eng
                        .send_callback_failure(&id, ErrorObject::new("Rejected", "no"))?,
                    Answer::Heartbeat => self.eng.send_callback_heartbeat(&id)?,
                }
            }
            Step::FinishInvoke(op_id, ok) => {
                let outcome = if *ok {
                    Ok("\"done\"".to_string())
                } else {
                    Err(ErrorObject::new("Downstream", "the target failed"))
                };
                self.eng.complete_plain_invoke(&self.arn, op_id, outcome)?;
            }
            Step::Stop => {
                let error = ErrorObject::new("Cancelled", "stopped by the property");
                self.eng.stop(&self.arn, Some(error))?;
            }
        }
        Ok(())
    }

    /// Records what a checkpoint response showed the handler.
    fn see(&mut self, resp: &CheckpointDurableExecutionResponse) {
        for op in resp.new_execution_state.operations.iter().flatten() {
            self.view
                .insert(op.id.clone(), serde_json::to_value(op).unwrap());
        }
    }

    /// The whole history through GetDurableExecutionHistory pages of `max` events, oldest
    /// first.
    fn history(&self, max: u32, reverse: bool) -> Vec<Event> {
        let mut events = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .eng
                .get_history(GetDurableExecutionHistoryRequest {
                    durable_execution_arn: self.arn.clone(),
                    max_items: Some(max),
                    marker: marker.take(),
                    reverse_order: Some(reverse),
                    ..Default::default()
                })
                .unwrap();
            events.extend(page.events);
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        if reverse {
            events.reverse();
        }
        events
    }

    /// Every page of GetDurableExecutionState with the current token.
    fn state(&self, token: &str) -> Vec<Operation> {
        let mut ops = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .eng
                .get_state(GetDurableExecutionStateRequest {
                    durable_execution_arn: self.arn.clone(),
                    checkpoint_token: token.into(),
                    marker: marker.take(),
                    max_items: Some(7),
                })
                .unwrap();
            ops.extend(page.operations);
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m),
                None => return ops,
            }
        }
    }

    /// Applies and records a step that must succeed.
    fn record(&mut self, step: Step) {
        self.apply(&step).unwrap();
        self.log.push(step);
    }

    /// Begins an invocation when the execution waits for one.
    fn settle(&mut self) {
        if self.running() && !self.eng.is_invoking(&self.arn) {
            self.record(Step::Begin);
        }
    }

    fn callback_id(&self, op_id: &str) -> String {
        self.eng
            .operations(&self.arn)
            .unwrap()
            .into_iter()
            .find(|o| o.id == op_id)
            .and_then(|o| o.callback_details?.callback_id)
            .unwrap_or_default()
    }
}

// ---- the run ------------------------------------------------------------------------------

fn checkpoint(w: &mut World, req: &Request, prev: &Snap) -> Result<(), TestCaseError> {
    let r = crate::resolve::resolve(req, &prev.ops, &mut w.fresh);
    let mut arn = w.arn.clone();
    let current = w.token.clone();
    let stale = |i: &Index| (!w.spent.is_empty()).then(|| i.get(&w.spent).clone());
    let token = match &r.token_fault {
        Some(Fault::StaleToken(i)) => stale(i),
        Some(Fault::MadeUpToken) => None,
        Some(Fault::UnknownArn) => {
            arn = arn.replace("/durable-execution/prop/", "/durable-execution/nobody/");
            current.clone()
        }
        _ => current.clone().or_else(|| w.spent.last().cloned()),
    }
    .unwrap_or_else(|| MADE_UP_TOKEN.into());
    let legal = !r.faulty && current.is_some() && w.running();
    w.calls += 1;
    let request = CheckpointDurableExecutionRequest {
        durable_execution_arn: arn,
        checkpoint_token: token.clone(),
        updates: Some(r.updates.clone()),
        client_token: req.client_token.then(|| format!("client-{}", w.calls)),
    };
    let result = w.eng.checkpoint(request.clone());
    let cur = w.snap();
    let show = || format!("{:#?}\nbefore: {:#?}", r.updates, prev.ops);
    let resp = match result {
        Err(e) => {
            prop_assert!(!legal, "a legal request was refused: {}\n{}", e, show());
            prop_assert_eq!(&e.code, &ErrorCode::InvalidParameterValue, "{}", e);
            prop_assert_eq!(
                cur.json(),
                prev.json(),
                "a refused request changed something"
            );
            return Ok(());
        }
        Ok(resp) => resp,
    };
    prop_assert!(
        legal,
        "an illegal request was accepted ({:?})\n{}",
        req.fault,
        show()
    );
    let ended = r.updates.iter().any(|u| u.op_type == T::Execution);
    match &resp.checkpoint_token {
        None => prop_assert!(ended, "no new token, yet the execution goes on"),
        Some(next) => {
            prop_assert!(!ended, "a token after the execution ended");
            prop_assert!(w.issued.insert(next.clone()), "token {} issued twice", next);
            prop_assert_ne!(next, &token);
        }
    }
    // The response carries every visible operation that changed since the handler last
    // looked, each with its current contents.
    let now: HashMap<&str, &Value> = cur
        .ops
        .iter()
        .map(|o| o.id.as_str())
        .zip(&cur.ops_json)
        .collect();
    let returned: HashSet<&str> = resp
        .new_execution_state
        .operations
        .iter()
        .flatten()
        .map(|o| o.id.as_str())
        .collect();
    for op in resp.new_execution_state.operations.iter().flatten() {
        let v = serde_json::to_value(op).unwrap();
        prop_assert_eq!(
            Some(&&v),
            now.get(op.id.as_str()),
            "stale contents returned"
        );
    }
    for op in visible(&cur.ops) {
        let v = now[op.id.as_str()];
        if w.view.get(&op.id) != Some(v) {
            prop_assert!(
                returned.contains(op.id.as_str()),
                "{} changed unseen but is not in the response",
                op.id
            );
        }
    }
    w.see(&resp);
    w.spent.push(token.clone());
    w.token = resp.checkpoint_token.clone();
    w.cached = request
        .client_token
        .is_some()
        .then(|| (request, serde_json::to_value(&resp).unwrap()));
    w.log.push(Step::Checkpoint(r.updates.clone()));

    // Each update recorded its own event(s), in order, about its operation.
    let added: Vec<(EventType, Option<&str>)> = cur.events[prev.events.len()..]
        .iter()
        .map(|e| (e.event_type, e.id.as_deref()))
        .collect();
    let caused: Vec<(EventType, &OperationUpdate)> = r
        .updates
        .iter()
        .flat_map(|u| events_for(u).into_iter().map(move |t| (t, u)))
        .collect();
    let expected: Vec<(EventType, Option<&str>)> = caused
        .iter()
        .map(|(t, u)| (*t, Some(u.id.as_str())))
        .collect();
    prop_assert_eq!(added, expected, "events of {}", show());
    for ((_, u), ev) in caused.iter().zip(&cur.events[prev.events.len()..]) {
        let op = cur.ops.iter().find(|o| o.id == u.id);
        check_retry_details(u, ev, op.expect("the operation exists"))?;
    }
    // The response carries every operation the request touched.
    for u in r.updates.iter().filter(|u| u.op_type != T::Execution) {
        prop_assert!(
            returned.contains(u.id.as_str()),
            "{} not in the response",
            u.id
        );
    }
    // The token is consumed: using it again (without the ClientToken) changes nothing.
    let again = w.eng.checkpoint(CheckpointDurableExecutionRequest {
        durable_execution_arn: w.arn.clone(),
        checkpoint_token: token,
        updates: Some(Vec::new()),
        client_token: None,
    });
    prop_assert!(
        again.as_ref().is_err_and(ApiError::is_invalid_token),
        "{:?}",
        again
    );
    let after = w.snap();
    prop_assert_eq!(after.json(), cur.json());
    Ok(())
}

fn retry_last(w: &mut World, prev: &Snap) -> Result<(), TestCaseError> {
    let Some((request, response)) = w.cached.clone() else {
        return Ok(());
    };
    let again = w.eng.checkpoint(request);
    prop_assert!(again.is_ok(), "an idempotent retry failed: {:?}", again);
    prop_assert_eq!(serde_json::to_value(again.unwrap()).unwrap(), response);
    let after = w.snap();
    prop_assert_eq!(
        after.json(),
        prev.json(),
        "an idempotent retry changed something"
    );
    Ok(())
}

fn answer(w: &mut World, pick: &Index, a: Answer, prev: &Snap) -> Result<(), TestCaseError> {
    let callbacks: Vec<&Operation> = prev
        .ops
        .iter()
        .filter(|o| o.op_type == T::Callback)
        .collect();
    if callbacks.is_empty() {
        return Ok(());
    }
    let op = pick.get(&callbacks);
    let open = op.status == OperationStatus::Started && w.running();
    w.calls += 1;
    let step = Step::Answer(op.id.clone(), a, w.calls);
    match w.apply(&step) {
        Ok(()) => {
            prop_assert!(open, "{:?} accepted for a {} callback", a, op.status);
            w.log.push(step);
        }
        Err(e) => {
            prop_assert!(!open, "{:?} refused for an open callback: {}", a, e);
            prop_assert_eq!(&e.code, &ErrorCode::CallbackTimeout, "{}", e);
            let after = w.snap();
            prop_assert_eq!(
                after.json(),
                prev.json(),
                "a refused answer changed something"
            );
        }
    }
    Ok(())
}

fn run(timeout: Option<i64>, cmds: &[Cmd]) -> Result<(), TestCaseError> {
    let mut w = World::new(timeout);
    w.settle();
    let mut tracker = Tracker::default();
    let mut prev = w.snap();
    tracker.check(&prev, &prev)?;
    for cmd in cmds {
        let invoking = w.eng.is_invoking(&w.arn);
        match cmd {
            Cmd::Checkpoint(req) => checkpoint(&mut w, req, &prev)?,
            Cmd::RetryLast => retry_last(&mut w, &prev)?,
            Cmd::Advance(secs) => {
                w.record(Step::Advance(*secs));
                w.record(Step::FireDue);
            }
            Cmd::Reinvoke(ending) => {
                if w.eng.is_invoking(&w.arn) {
                    let failed = || ErrorObject::new("Fatal", "the handler gave up");
                    let outcome = match ending {
                        Ending::Pending => InvocationOutcome::Output(InvocationOutput::pending()),
                        Ending::Error => {
                            InvocationOutcome::Error(ErrorObject::new("Sandbox.Timedout", "slow"))
                        }
                        Ending::Succeeded => {
                            InvocationOutcome::Output(InvocationOutput::succeeded("\"ok\""))
                        }
                        Ending::Failed => {
                            InvocationOutcome::Output(InvocationOutput::failed(failed()))
                        }
                        Ending::Malformed => InvocationOutcome::Output(InvocationOutput {
                            error: Some(failed()),
                            ..InvocationOutput::succeeded("\"ok\"")
                        }),
                    };
                    w.calls += 1;
                    w.record(Step::Complete(outcome, format!("req-{}", w.calls)));
                }
                w.record(Step::FireDue);
            }
            Cmd::Answer(pick, a) => answer(&mut w, pick, *a, &prev)?,
            Cmd::FinishInvoke(pick, ok) => {
                let invokes: Vec<&Operation> = prev
                    .ops
                    .iter()
                    .filter(|o| o.op_type == T::ChainedInvoke)
                    .collect();
                if !invokes.is_empty() {
                    w.record(Step::FinishInvoke(pick.get(&invokes).id.clone(), *ok));
                }
            }
            Cmd::Stop => w.record(Step::Stop),
        }
        // What the service completes while an invocation runs is recorded after that
        // invocation's InvocationCompleted (history §1.3).
        let added = &w.eng.events(&w.arn).unwrap()[prev.events.len()..];
        match cmd {
            Cmd::Advance(_) | Cmd::Answer(..) | Cmd::FinishInvoke(..) | Cmd::Stop if invoking => {
                prop_assert!(
                    added.is_empty(),
                    "recorded during an invocation: {:?}",
                    added
                );
            }
            Cmd::Reinvoke(_) if invoking => {
                prop_assert_eq!(added[0].event_type, EventType::InvocationCompleted);
            }
            _ => {}
        }
        let was_invoking = w.eng.is_invoking(&w.arn);
        let seen = w.view.clone();
        w.settle();
        let began = !was_invoking && w.eng.is_invoking(&w.arn);
        let cur = w.snap();
        tracker.check(&prev, &cur)?;
        // GetDurableExecutionHistory pages, either way, add up to the history.
        prop_assert_eq!(&w.history(4, false), &cur.events);
        prop_assert_eq!(&w.history(3, true), &cur.events);
        // State reads show the visible operations: the invocation input, then
        // GetDurableExecutionState.
        let shown = json_of(&visible(&cur.ops));
        if began {
            prop_assert_eq!(&w.input, &shown, "the invocation input");
            // UpdatedOperationIds names every operation the service changed since the
            // previous invocation last saw it.
            for op in visible(&cur.ops) {
                let old = seen.get(&op.id);
                if old.is_some() && old != Some(&w.view[&op.id]) {
                    prop_assert!(
                        w.updated.contains(&op.id),
                        "{} not in {:?}",
                        op.id,
                        w.updated
                    );
                }
            }
            for id in &w.updated {
                prop_assert!(cur.ops.iter().any(|o| &o.id == id), "unknown id {}", id);
            }
        }
        if let Some(token) = w.token.clone().filter(|_| w.running()) {
            let state = w.state(&token);
            prop_assert_eq!(json_of(&state.iter().collect::<Vec<_>>()), shown);
        }
        // A superseded token reads nothing.
        if let Some(old) = w.spent.last() {
            let read = w.eng.get_state(GetDurableExecutionStateRequest {
                durable_execution_arn: w.arn.clone(),
                checkpoint_token: old.clone(),
                marker: None,
                max_items: None,
            });
            prop_assert!(
                read.as_ref().is_err_and(ApiError::is_invalid_token),
                "{:?}",
                read
            );
        }
        prev = cur;
    }

    // The accepted calls alone, on a fresh engine, make the same execution.
    let mut replay = World::new(timeout);
    for step in &w.log {
        replay
            .apply(step)
            .map_err(|e| TestCaseError::fail(format!("replaying {step:?}: {e}")))?;
    }
    prop_assert_eq!(masked(&replay.snap()), masked(&prev), "the replay differs");
    Ok(())
}

/// The snapshot's JSON with callback ids (minted at random) replaced by their rank.
fn masked(s: &Snap) -> (Vec<Value>, Vec<Value>, Value) {
    let names: HashMap<String, String> = s
        .ops
        .iter()
        .filter_map(|o| o.callback_details.as_ref()?.callback_id.clone())
        .enumerate()
        .map(|(i, id)| (id, format!("callback-{i}")))
        .collect();
    fn walk(v: &mut Value, names: &HashMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(n) = names.get(s.as_str()) {
                    *s = n.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, names)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, names)),
            _ => {}
        }
    }
    let mut out = (
        s.ops_json.clone(),
        s.events_json.clone(),
        s.execution_json.clone(),
    );
    out.0.iter_mut().for_each(|v| walk(v, &names));
    out.1.iter_mut().for_each(|v| walk(v, &names));
    walk(&mut out.2, &names);
    out
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn engine_invariants_hold_under_random_checkpoints(
        (timeout, cmds) in crate::requests::run(),
    ) {
        run(timeout, &cmds)?;
    }
}
