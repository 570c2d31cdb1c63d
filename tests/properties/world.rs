//! One engine with one execution, driven by replayable [`Step`]s, and what a run knows
//! about its tokens and about what the handler has seen.

use crate::invariants::json_of;
use crate::requests::{Answer, PLAIN_FUNCTION};
use durable_fsm::api::ApiError;
use durable_fsm::model::*;
use durable_fsm::service::{
    Clock, Engine, EngineConfig, FunctionConfig, InvocationOutcome, StartExecution, VirtualClock,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The function of the execution under test.
const FUNCTION: &str = "fsm";
/// Its EXECUTION operation id (fixed, so a replay has the same ARN).
const EXECUTION_ID: &str = "exec-0";
/// A well-formed token the engine never issued.
pub const MADE_UP_TOKEN: &str = "bWFkZS11cC10b2tlbg==";

/// What changed the engine, in order, for the replay. Rejected calls are not recorded.
#[derive(Clone, Debug)]
pub enum Step {
    /// Move the clock this many seconds.
    Advance(u8),
    /// `Engine::fire_due`.
    FireDue,
    /// `Engine::begin_invocation`, when the execution waits for one.
    Begin,
    /// A checkpoint with the current token.
    Checkpoint(Vec<OperationUpdate>),
    /// End the invocation in flight (outcome, RequestId).
    Complete(InvocationOutcome, String),
    /// Answer the CALLBACK operation with this id (the number goes into the body).
    Answer(String, Answer, u32),
    /// Complete the CHAINED_INVOKE operation with this id, with a result or an error.
    FinishInvoke(String, bool),
    /// StopDurableExecution.
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
    pub fn json(&self) -> (&[Value], &[Value], &Value) {
        (&self.ops_json, &self.events_json, &self.execution_json)
    }
}

/// One engine, one execution, and what the run knows about its tokens.
pub struct World {
    pub eng: Engine,
    pub clock: VirtualClock,
    pub arn: String,
    /// The token of the invocation in flight, while the execution runs.
    pub token: Option<String>,
    /// Every token consumed or superseded.
    pub spent: Vec<String>,
    pub issued: HashSet<String>,
    /// The last accepted request that carried a ClientToken, and its response.
    pub cached: Option<(CheckpointDurableExecutionRequest, Value)>,
    /// What the handler has seen of each operation: the invocation input, then the
    /// checkpoint responses.
    pub view: HashMap<String, Value>,
    /// The operations and UpdatedOperationIds of the last invocation input.
    pub input: Vec<Value>,
    pub updated: Vec<String>,
    pub fresh: u32,
    pub calls: u32,
    pub log: Vec<Step>,
}

impl World {
    pub fn new(timeout: Option<i64>) -> World {
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

    pub fn snap(&self) -> Snap {
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

    pub fn running(&self) -> bool {
        self.eng.get_execution(&self.arn, false).unwrap().status == ExecutionStatus::Running
    }

    /// Applies one recorded step (the run records, the replay repeats).
    pub fn apply(&mut self, step: &Step) -> Result<(), ApiError> {
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
    pub fn see(&mut self, resp: &CheckpointDurableExecutionResponse) {
        for op in resp.new_execution_state.operations.iter().flatten() {
            self.view
                .insert(op.id.clone(), serde_json::to_value(op).unwrap());
        }
    }

    /// The whole history through GetDurableExecutionHistory pages of `max` events, oldest
    /// first.
    pub fn history(&self, max: u32, reverse: bool) -> Vec<Event> {
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
    pub fn state(&self, token: &str) -> Vec<Operation> {
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
    pub fn record(&mut self, step: Step) {
        self.apply(&step).unwrap();
        self.log.push(step);
    }

    /// Begins an invocation when the execution waits for one.
    pub fn settle(&mut self) {
        if self.running() && !self.eng.is_invoking(&self.arn) {
            self.record(Step::Begin);
        }
    }

    pub fn callback_id(&self, op_id: &str) -> String {
        self.eng
            .operations(&self.arn)
            .unwrap()
            .into_iter()
            .find(|o| o.id == op_id)
            .and_then(|o| o.callback_details?.callback_id)
            .unwrap_or_default()
    }
}
