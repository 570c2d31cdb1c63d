//! The engine's invariants: what every snapshot, every accepted request and every history
//! must satisfy (operations.md §2–§5, api.md §3–§4, history-and-conformance.md §1).

use crate::requests::MISSING_FUNCTION;
use crate::wire::{details_members, operation_details_member};
use crate::world::Snap;
use durable_fsm::model::{OperationAction as A, OperationType as T, *};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The operations a state read shows: all but the descendants of a completed CONTEXT that
/// was not closed with ReplayChildren (operations.md §3).
pub fn visible(ops: &[Operation]) -> Vec<&Operation> {
    let by_id: HashMap<&str, &Operation> = ops.iter().map(|o| (o.id.as_str(), o)).collect();
    let hides = |o: &Operation| {
        o.op_type == T::Context
            && o.status.is_terminal()
            && o.context_details.as_ref().and_then(|d| d.replay_children) != Some(true)
    };
    ops.iter()
        .filter(|o| {
            let mut parent = o.parent_id.as_deref().and_then(|p| by_id.get(p));
            while let Some(p) = parent {
                if hides(p) {
                    return false;
                }
                parent = p.parent_id.as_deref().and_then(|q| by_id.get(q));
            }
            true
        })
        .collect()
}

/// Operations as JSON values.
pub fn json_of(ops: &[&Operation]) -> Vec<Value> {
    ops.iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect()
}

/// What must hold across snapshots.
#[derive(Default)]
pub struct Tracker {
    /// Operations seen in a terminal status, as JSON.
    terminal: HashMap<String, Value>,
    /// The highest STEP `Attempt` seen.
    attempts: HashMap<String, u32>,
    /// The execution and its operations once it ended.
    ended: Option<(Value, Vec<Value>)>,
}

impl Tracker {
    pub fn check(&mut self, prev: &Snap, cur: &Snap) -> Result<(), TestCaseError> {
        // History: append-only, EventIds 1..n, one details member named after the type,
        // the operation's identity fields.
        prop_assert!(
            cur.events_json.starts_with(&prev.events_json),
            "recorded events changed"
        );
        let by_id: HashMap<&str, &Operation> = cur.ops.iter().map(|o| (o.id.as_str(), o)).collect();
        for (i, (ev, v)) in cur.events.iter().zip(&cur.events_json).enumerate() {
            prop_assert_eq!(ev.event_id, i as u64 + 1, "EventIds are 1..n");
            let want = format!("{}Details", ev.event_type);
            prop_assert_eq!(details_members(v), vec![want], "event {}", v);
            if let Some(id) = &ev.id {
                let op = by_id.get(id.as_str());
                prop_assert!(op.is_some(), "event about an unknown operation: {}", v);
                let op = op.unwrap();
                prop_assert_eq!(
                    (&ev.name, &ev.sub_type, &ev.parent_id),
                    (&op.name, &op.sub_type, &op.parent_id),
                    "event {} vs its operation",
                    v
                );
            }
        }
        // Operations: unique ids, creation order kept, only their own details member.
        prop_assert_eq!(by_id.len(), cur.ops.len(), "duplicate operation ids");
        let prev_ids: Vec<&str> = prev.ops.iter().map(|o| o.id.as_str()).collect();
        let cur_ids: Vec<&str> = cur.ops.iter().map(|o| o.id.as_str()).collect();
        prop_assert!(
            cur_ids.starts_with(&prev_ids),
            "operations reordered or lost"
        );
        for (op, v) in cur.ops.iter().zip(&cur.ops_json) {
            let members = details_members(v);
            prop_assert!(
                members.is_empty() || members == [operation_details_member(op.op_type)],
                "operation {}",
                v
            );
            prop_assert_eq!(
                op.status.is_terminal(),
                op.end_timestamp.is_some(),
                "EndTimestamp exactly when terminal: {}",
                v
            );
            prop_assert!(op.end_timestamp.is_none_or(|end| end >= op.start_timestamp));
            if let Some(d) = &op.step_details {
                prop_assert_eq!(
                    d.next_attempt_timestamp.is_some(),
                    op.status == OperationStatus::Pending,
                    "NextAttemptTimestamp exactly while PENDING: {}",
                    v
                );
            }
            if let Some(frozen) = self.terminal.get(&op.id) {
                prop_assert_eq!(v, frozen, "a terminal operation changed");
            } else if op.status.is_terminal() {
                self.terminal.insert(op.id.clone(), v.clone());
            }
            if let Some(attempt) = op.step_details.as_ref().and_then(|d| d.attempt) {
                let seen = self.attempts.entry(op.id.clone()).or_insert(attempt);
                prop_assert!(attempt >= *seen, "Attempt of {} went down", op.id);
                *seen = attempt;
            }
        }
        check_event_times(cur, &by_id)?;
        // The execution's end is recorded once, as the last event (history §1.2).
        let ends: Vec<usize> = (0..cur.events.len())
            .filter(|&i| ends_execution(cur.events[i].event_type))
            .collect();
        prop_assert!(ends.len() <= 1, "the execution ended twice");
        if let Some(&i) = ends.first() {
            prop_assert_eq!(i + 1, cur.events.len(), "events after the execution's end");
        }
        // Once ended, the execution and its operations never change again; operations
        // still STARTED stay STARTED (operations.md §2.3).
        if let Some((execution, ops)) = &self.ended {
            prop_assert_eq!(&cur.execution_json, execution, "an ended execution changed");
            prop_assert_eq!(&cur.ops_json, ops, "an operation changed after the end");
        } else if cur.execution_json["Status"] != "RUNNING" {
            self.ended = Some((cur.execution_json.clone(), cur.ops_json.clone()));
        }
        Ok(())
    }
}

/// The history events one accepted update records at once (operations.md §5).
pub fn events_for(u: &OperationUpdate) -> Vec<EventType> {
    use EventType as E;
    match (u.op_type, u.action) {
        (T::Step, A::Start) => vec![E::StepStarted],
        (T::Step, A::Succeed) => vec![E::StepSucceeded],
        (T::Step, A::Fail) => vec![E::StepFailed],
        (T::Step, A::Retry) if u.error.is_some() => vec![E::StepFailed],
        (T::Step, A::Retry) => vec![E::StepSucceeded],
        (T::Context, A::Start) => vec![E::ContextStarted],
        (T::Context, A::Succeed) => vec![E::ContextSucceeded],
        (T::Context, A::Fail) => vec![E::ContextFailed],
        (T::Wait, A::Start) => vec![E::WaitStarted],
        (T::Wait, A::Cancel) => vec![E::WaitCancelled],
        (T::Callback, A::Start) => vec![E::CallbackStarted],
        (T::ChainedInvoke, A::Start) => {
            let missing = u
                .chained_invoke_options
                .as_ref()
                .is_some_and(|o| o.function_name == MISSING_FUNCTION);
            if missing {
                vec![E::ChainedInvokeStarted, E::ChainedInvokeFailed]
            } else {
                vec![E::ChainedInvokeStarted]
            }
        }
        // The EXECUTION's end is recorded after the invocation's InvocationCompleted.
        (T::Execution, _) => vec![],
        (t, a) => panic!("an accepted request holds {t} {a}"),
    }
}

/// The events that end the execution.
fn ends_execution(t: EventType) -> bool {
    use EventType as E;
    matches!(
        t,
        E::ExecutionSucceeded | E::ExecutionFailed | E::ExecutionTimedOut | E::ExecutionStopped
    )
}

/// Events that record a start rather than an outcome.
fn starts(t: EventType) -> bool {
    use EventType as E;
    matches!(
        t,
        E::ExecutionStarted
            | E::StepStarted
            | E::ContextStarted
            | E::WaitStarted
            | E::CallbackStarted
            | E::ChainedInvokeStarted
    )
}

/// An operation's first event is stamped with its StartTimestamp; the event that closed a
/// terminal operation with its EndTimestamp (history §1.4). An outcome the service recorded
/// while an invocation ran is held back until that invocation ends, so a terminal operation
/// may have no closing event yet.
fn check_event_times(cur: &Snap, by_id: &HashMap<&str, &Operation>) -> Result<(), TestCaseError> {
    let mut first = HashSet::new();
    let mut last: HashMap<&str, &Event> = HashMap::new();
    for ev in &cur.events {
        let Some(id) = ev.id.as_deref() else { continue };
        let op = by_id[id];
        if first.insert(id) {
            prop_assert_eq!(
                ev.event_timestamp,
                op.start_timestamp,
                "first event of {}",
                id
            );
        }
        last.insert(id, ev);
    }
    for op in cur.ops.iter().filter(|o| o.status.is_terminal()) {
        if let Some(ev) = last.get(op.id.as_str()).filter(|e| !starts(e.event_type)) {
            prop_assert_eq!(
                Some(ev.event_timestamp),
                op.end_timestamp,
                "{} closing {}",
                ev.event_type,
                op.id
            );
        }
    }
    Ok(())
}

/// `RetryDetails` of the event a STEP close recorded: the attempt that just ended (the
/// operation's `Attempt` now), and for a RETRY the delay asked for (operations.md §5).
pub fn check_retry_details(
    u: &OperationUpdate,
    ev: &Event,
    op: &Operation,
) -> Result<(), TestCaseError> {
    if u.op_type != T::Step || u.action == A::Start {
        return Ok(());
    }
    let details = ev
        .step_succeeded_details
        .as_ref()
        .map(|d| &d.retry_details)
        .or(ev.step_failed_details.as_ref().map(|d| &d.retry_details))
        .cloned()
        .flatten()
        .unwrap_or_default();
    let attempt = op.step_details.as_ref().and_then(|d| d.attempt);
    prop_assert_eq!(
        details.current_attempt,
        attempt,
        "CurrentAttempt of {}",
        u.id
    );
    if u.action == A::Retry {
        let delay = u
            .step_options
            .as_ref()
            .and_then(|o| o.next_attempt_delay_seconds);
        prop_assert_eq!(
            details.next_attempt_delay_seconds,
            delay,
            "delay of {}",
            u.id
        );
    }
    Ok(())
}
