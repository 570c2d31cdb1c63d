//! The path an execution took, read from its history events: the states it visited, the
//! edges it took and how often, where it is now and how it ended.
//!
//! Each transition is a STEP operation (SubType `Transition`, Name = the state that ran) whose
//! events say what it did: StepSucceeded with the next state as payload (`to`, or `sleep`
//! when its timer follows, or `poll` when a retry delay is set, or `done` for a `$done`
//! payload, or `continue` for a continue-as-new marker), StepFailed with a retry delay (`retry`) or without (`fail`).

use crate::executor::TRANSITION_SUBTYPE;
use crate::machine::ids::step_id;
use crate::machine::{Edge, EdgeKind, Graph};
use crate::model::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// An edge of a trace and how many times the execution took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EdgeCount {
    /// The edge.
    pub edge: Edge,
    /// How many times it was taken.
    pub count: u64,
}

/// The path an execution took, from its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Trace {
    /// The state the execution started in (the first transition's), if any ran.
    pub start: Option<String>,
    /// The execution's status: RUNNING until an execution-ending event.
    pub status: ExecutionStatus,
    /// The state the execution is in. While it runs: the newest state, whose transition runs
    /// next (or is running, retrying or polling). Once it ended: the state whose transition
    /// ended it with `done` or `fail`, or the state it was in when it timed out or was stopped.
    pub current: Option<String>,
    /// How many times each state was entered: the start once, plus each `to`, `sleep` and
    /// `poll` edge into it (retries re-run a state without entering it again).
    pub visits: BTreeMap<String, u64>,
    /// The edges taken, in the order first taken, with counts.
    pub edges: Vec<EdgeCount>,
}

/// One transition STEP event, as far as the trace cares.
struct Step {
    name: String,
    kind: Option<EdgeKind>,
    /// The next state's name read from the payload, for `to`, `sleep` and `poll`.
    next: Option<String>,
}

impl Trace {
    /// Reads the trace from history events, oldest first (a whole history, every page).
    pub fn from_events(events: &[Event]) -> Trace {
        let is_transition =
            |e: &Event| e.parent_id.is_none() && e.sub_type.as_deref() == Some(TRANSITION_SUBTYPE);
        let waits: HashSet<&str> = events
            .iter()
            .filter(|e| e.event_type == EventType::WaitStarted)
            .filter_map(|e| e.id.as_deref())
            .collect();
        let mut status = ExecutionStatus::Running;
        let mut steps: Vec<Step> = Vec::new();
        for e in events {
            match e.event_type {
                EventType::ExecutionSucceeded => status = ExecutionStatus::Succeeded,
                EventType::ExecutionFailed => status = ExecutionStatus::Failed,
                EventType::ExecutionTimedOut => status = ExecutionStatus::TimedOut,
                EventType::ExecutionStopped => status = ExecutionStatus::Stopped,
                _ if !is_transition(e) => {}
                EventType::StepStarted => steps.push(Step {
                    name: step_name(e),
                    kind: None,
                    next: None,
                }),
                EventType::StepSucceeded => {
                    let details = e.step_succeeded_details.as_ref();
                    let payload = details
                        .and_then(|d| d.result.as_ref())
                        .and_then(|p| p.payload.as_deref());
                    let polled = details
                        .and_then(|d| d.retry_details.as_ref())
                        .is_some_and(|r| r.next_attempt_delay_seconds.is_some());
                    let slept = || {
                        e.id.as_deref()
                            .is_some_and(|id| waits.contains(step_id(Some(id), 0).as_str()))
                    };
                    let continued = payload.and_then(crate::executor::continued_state);
                    let kind = if polled {
                        EdgeKind::Poll
                    } else if continued.is_some() {
                        EdgeKind::Continue
                    } else if payload.is_some_and(is_done) {
                        EdgeKind::Done
                    } else if slept() {
                        EdgeKind::Sleep
                    } else {
                        EdgeKind::To
                    };
                    steps.push(Step {
                        name: step_name(e),
                        kind: Some(kind),
                        next: continued.or_else(|| payload.and_then(state_name)),
                    });
                }
                EventType::StepFailed => {
                    let retried = e
                        .step_failed_details
                        .as_ref()
                        .and_then(|d| d.retry_details.as_ref())
                        .is_some_and(|r| r.next_attempt_delay_seconds.is_some());
                    steps.push(Step {
                        name: step_name(e),
                        kind: Some(if retried {
                            EdgeKind::Retry
                        } else {
                            EdgeKind::Fail
                        }),
                        next: None,
                    });
                }
                _ => {}
            }
        }
        Trace::from_steps(steps, status)
    }

    fn from_steps(steps: Vec<Step>, status: ExecutionStatus) -> Trace {
        let mut trace = Trace {
            start: steps.first().map(|s| s.name.clone()),
            status,
            current: None,
            visits: BTreeMap::new(),
            edges: Vec::new(),
        };
        if let Some(start) = &trace.start {
            trace.visits.insert(start.clone(), 1);
        }
        let mut current = trace.start.clone();
        for (i, step) in steps.iter().enumerate() {
            let Some(kind) = step.kind else {
                // StepStarted: this state's transition is running.
                current = Some(step.name.clone());
                continue;
            };
            // A payload that does not name a state (postcard, cut): the next transition's
            // Name says which state ran next.
            let next = step
                .next
                .clone()
                .or_else(|| steps.get(i + 1).map(|s| s.name.clone()));
            let to = match kind {
                k if k.has_target() => match next {
                    Some(next) => Some(next),
                    None => {
                        // Taken, but where to is unknown.
                        current = None;
                        continue;
                    }
                },
                _ => None,
            };
            let edge = Edge::new(step.name.clone(), kind, to.as_deref());
            match trace.edges.iter_mut().find(|c| c.edge == edge) {
                Some(c) => c.count += 1,
                None => trace.edges.push(EdgeCount { edge, count: 1 }),
            }
            if let Some(to) = &to {
                *trace.visits.entry(to.clone()).or_default() += 1;
            }
            current = match kind {
                EdgeKind::Done | EdgeKind::Fail | EdgeKind::Retry | EdgeKind::Continue => {
                    Some(step.name.clone())
                }
                _ => to,
            };
        }
        trace.current = current;
        trace
    }

    /// How many times `state` was entered.
    pub fn visits(&self, state: &str) -> u64 {
        self.visits.get(state).copied().unwrap_or(0)
    }

    /// How many times `edge` was taken.
    pub fn count(&self, edge: &Edge) -> u64 {
        self.edges
            .iter()
            .find(|c| &c.edge == edge)
            .map_or(0, |c| c.count)
    }

    /// The path as a graph: the start state and every edge taken; `None` when no transition
    /// ran yet.
    pub fn to_graph(&self) -> Option<Graph> {
        let start = self.start.as_ref()?;
        let mut graph = Graph::new(start.clone()).custom_names();
        for c in &self.edges {
            let e = &c.edge;
            graph = match (e.kind, e.to.clone()) {
                (EdgeKind::To, Some(to)) => graph.edge(e.from.clone(), to),
                (EdgeKind::Sleep, Some(to)) => graph.sleep(e.from.clone(), to),
                (EdgeKind::Poll, Some(to)) => graph.poll(e.from.clone(), to),
                (EdgeKind::Continue, Some(to)) => graph.continue_as_new(e.from.clone(), to),
                (EdgeKind::Retry, _) => graph.retry(e.from.clone()),
                (EdgeKind::Done, _) => graph.done(e.from.clone()),
                (EdgeKind::Fail, _) => graph.fail(e.from.clone()),
                _ => graph,
            };
        }
        Some(graph)
    }
}

fn step_name(e: &Event) -> String {
    e.name.clone().unwrap_or_else(|| "?".into())
}

/// Whether a transition payload is the execution's output (`{"$done": ...}`).
fn is_done(payload: &str) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(payload)
    else {
        return false;
    };
    map.len() == 1 && map.contains_key("$done")
}

/// The variant name of a state as serde's JSON writes it: `"Unit"` or `{"Variant": ...}`.
/// `None` for anything else (a postcard payload, a cut one).
fn state_name(payload: &str) -> Option<String> {
    let name = match serde_json::from_str::<serde_json::Value>(payload).ok()? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(map) if map.len() == 1 => map.keys().next()?.clone(),
        _ => return None,
    };
    let identifier = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    identifier.then_some(name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Events of a transition STEP: started, then how it ended.
    pub(crate) struct History {
        pub events: Vec<Event>,
        index: u64,
    }

    impl History {
        pub fn new() -> Self {
            let mut h = History {
                events: Vec::new(),
                index: 0,
            };
            h.push(Event::new(EventType::ExecutionStarted, 0, Timestamp::EPOCH));
            h
        }

        fn push(&mut self, mut e: Event) {
            e.event_id = self.events.len() as u64 + 1;
            self.events.push(e);
        }

        fn step(&mut self, t: EventType, name: &str) -> Event {
            let mut e = Event::new(t, 0, Timestamp::EPOCH);
            e.id = Some(step_id(None, self.index));
            e.name = Some(name.into());
            e.sub_type = Some(TRANSITION_SUBTYPE.into());
            e
        }

        /// A transition from `name` that succeeded with `payload`; `delay` for a poll.
        pub fn ok(mut self, name: &str, payload: &str, delay: Option<i64>) -> Self {
            self.index += 1;
            let started = self.step(EventType::StepStarted, name);
            self.push(started);
            let mut e = self.step(EventType::StepSucceeded, name);
            e.step_succeeded_details = Some(StepSucceededDetails {
                result: Some(EventPayload::full(payload)),
                retry_details: Some(RetryDetails {
                    current_attempt: Some(1),
                    next_attempt_delay_seconds: delay,
                }),
            });
            self.push(e);
            if delay.is_some() {
                self.index -= 1;
            }
            self
        }

        /// A transition from `name` that slept, then went to `payload`.
        pub fn sleep(self, name: &str, payload: &str) -> Self {
            let mut h = self.ok(name, payload, None);
            let id = step_id(None, h.index);
            let mut w = Event::new(EventType::WaitStarted, 0, Timestamp::EPOCH);
            w.id = Some(step_id(Some(&id), 0));
            h.push(w);
            h
        }

        /// A transition from `name` that failed; `delay` for a retry.
        pub fn err(mut self, name: &str, delay: Option<i64>) -> Self {
            self.index += 1;
            let started = self.step(EventType::StepStarted, name);
            self.push(started);
            let mut e = self.step(EventType::StepFailed, name);
            e.step_failed_details = Some(StepFailedDetails {
                error: Some(EventError::full(ErrorObject::new("Boom", "boom"))),
                retry_details: Some(RetryDetails {
                    current_attempt: Some(1),
                    next_attempt_delay_seconds: delay,
                }),
            });
            self.push(e);
            if delay.is_some() {
                self.index -= 1;
            }
            self
        }

        /// A transition from `name` that is running (started, not ended).
        pub fn running(mut self, name: &str) -> Self {
            self.index += 1;
            let started = self.step(EventType::StepStarted, name);
            self.push(started);
            self
        }

        pub fn end(mut self, t: EventType) -> Self {
            self.push(Event::new(t, 0, Timestamp::EPOCH));
            self
        }
    }

    /// Submitted → AwaitingManager → Approved ~sleep~> Payout → done.
    pub(crate) fn approved() -> Vec<Event> {
        History::new()
            .ok("Submitted", r#"{"AwaitingManager":{"expense":1}}"#, None)
            .ok("AwaitingManager", r#"{"Approved":{"by":"alice"}}"#, None)
            .sleep("Approved", r#"{"Payout":{"by":"alice"}}"#)
            .ok("Payout", r#"{"$done":{"paid":true}}"#, None)
            .end(EventType::ExecutionSucceeded)
            .events
    }

    #[test]
    fn reads_a_finished_path() {
        let t = Trace::from_events(&approved());
        assert_eq!(t.start.as_deref(), Some("Submitted"));
        assert_eq!(t.status, ExecutionStatus::Succeeded);
        assert_eq!(t.current.as_deref(), Some("Payout"));
        let edges: Vec<String> = t.edges.iter().map(|c| c.edge.to_string()).collect();
        assert_eq!(
            edges,
            [
                "Submitted → AwaitingManager",
                "AwaitingManager → Approved",
                "Approved → Payout (sleep)",
                "Payout → done"
            ]
        );
        assert_eq!(t.visits("Payout"), 1);
        assert_eq!(t.visits("Rejected"), 0);
    }

    #[test]
    fn counts_polls_and_retries_and_finds_the_current_state() {
        let events = History::new()
            .ok("Check", r#"{"Check":{"tries":1}}"#, Some(5))
            .ok("Check", r#"{"Check":{"tries":2}}"#, Some(5))
            .err("Check", Some(10))
            .ok("Check", r#""Ready""#, None)
            .running("Ready")
            .events;
        let t = Trace::from_events(&events);
        assert_eq!(t.status, ExecutionStatus::Running);
        assert_eq!(t.current.as_deref(), Some("Ready"));
        assert_eq!(t.visits("Check"), 3);
        assert_eq!(t.visits("Ready"), 1);
        let poll = Edge::new("Check", EdgeKind::Poll, Some("Check"));
        assert_eq!(t.count(&poll), 2);
        assert_eq!(t.count(&Edge::new("Check", EdgeKind::Retry, None)), 1);
        // Between transitions, the current state is the newest one checkpointed.
        let events = History::new().ok("Check", r#""Ready""#, None).events;
        let t = Trace::from_events(&events);
        assert_eq!(t.current.as_deref(), Some("Ready"));
    }

    #[test]
    fn unreadable_payloads_take_the_next_transition_name() {
        let events = History::new()
            .ok("Start", "\"AAECAw==\"", None)
            .ok("Middle", r#"{"$done":1}"#, None)
            .end(EventType::ExecutionSucceeded)
            .events;
        let t = Trace::from_events(&events);
        let edges: Vec<String> = t.edges.iter().map(|c| c.edge.to_string()).collect();
        assert_eq!(edges, ["Start → Middle", "Middle → done"]);
        let failed = History::new()
            .err("Start", None)
            .end(EventType::ExecutionFailed)
            .events;
        let t = Trace::from_events(&failed);
        assert_eq!(t.status, ExecutionStatus::Failed);
        assert_eq!(t.edges[0].edge.to_string(), "Start → fail");
        assert!(Trace::from_events(&[]).to_graph().is_none());
    }
}
