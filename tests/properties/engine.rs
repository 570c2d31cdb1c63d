//! Engine invariants under random runs of checkpoints, timers, callbacks and invocations.
//!
//! Each run drives one execution on an in-memory engine with a virtual clock through up to
//! 40 commands (`requests.rs`). After every command:
//!
//! * a checkpoint request is accepted exactly when it is legal (no fault drawn, and a token of
//!   the running invocation); a refused one changes nothing (operations, events and
//!   GetDurableExecution compared as JSON) and answers InvalidParameterValueException;
//! * an accepted one consumes its token (reusing it fails and changes nothing), returns a
//!   token never issued before (none once the execution ended), records one event per update
//!   in order with the §5 types and `RetryDetails`, and returns every operation it touched
//!   plus every visible operation that changed since the handler last looked;
//! * an idempotent retry (same ClientToken and CheckpointToken) returns the cached response
//!   and changes nothing; a refused callback answer changes nothing;
//! * the invariants of `invariants.rs` hold (history append-only with EventIds 1..n, one
//!   details member named after the type, unique operation ids in creation order, terminal
//!   operations frozen, `Attempt` never decreasing, timestamps, the execution's end last);
//! * history pages (either direction) add up to the history; the invocation input and
//!   GetDurableExecutionState show exactly the visible operations; a superseded token reads
//!   nothing; asynchronous completions are recorded after the running invocation's
//!   InvocationCompleted.
//!
//! At the end the recorded (accepted) calls are replayed on a fresh engine and clock, which
//! must produce the same operations, history and execution, callback ids masked.

use crate::config;
use crate::invariants::{Tracker, check_retry_details, events_for, json_of, visible};
use crate::requests::{Answer, Cmd, Ending, Fault, Request};
use crate::world::{MADE_UP_TOKEN, Snap, Step, World};
use durable_fsm::api::{ApiError, ErrorCode};
use durable_fsm::model::{OperationType as T, *};
use durable_fsm::service::InvocationOutcome;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

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
                if invoking {
                    w.calls += 1;
                    w.record(Step::Complete(outcome(*ending), format!("req-{}", w.calls)));
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
        check_reads(&w, &cur, began.then_some(&seen))?;
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

/// What an invocation that ends this way reports.
fn outcome(ending: Ending) -> InvocationOutcome {
    let failed = || ErrorObject::new("Fatal", "the handler gave up");
    match ending {
        Ending::Pending => InvocationOutcome::Output(InvocationOutput::pending()),
        Ending::Error => InvocationOutcome::Error(ErrorObject::new("Sandbox.Timedout", "slow")),
        Ending::Succeeded => InvocationOutcome::Output(InvocationOutput::succeeded("\"ok\"")),
        Ending::Failed => InvocationOutcome::Output(InvocationOutput::failed(failed())),
        Ending::Malformed => InvocationOutcome::Output(InvocationOutput {
            error: Some(failed()),
            ..InvocationOutput::succeeded("\"ok\"")
        }),
    }
}

/// The read APIs agree with the snapshot. `seen` is what the handler had seen before an
/// invocation that just began.
fn check_reads(
    w: &World,
    cur: &Snap,
    seen: Option<&HashMap<String, Value>>,
) -> Result<(), TestCaseError> {
    // GetDurableExecutionHistory pages, either way, add up to the history.
    prop_assert_eq!(&w.history(4, false), &cur.events);
    prop_assert_eq!(&w.history(3, true), &cur.events);
    // State reads show the visible operations: the invocation input, then
    // GetDurableExecutionState.
    let shown = json_of(&visible(&cur.ops));
    if let Some(seen) = seen {
        prop_assert_eq!(&w.input, &shown, "the invocation input");
        // UpdatedOperationIds names every operation the service changed since the previous
        // invocation last saw it.
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
    if let Some(token) = w.token.as_deref().filter(|_| w.running()) {
        let state = w.state(token);
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
        (timeout, cmds) in crate::requests::runs(),
    ) {
        run(timeout, &cmds)?;
    }
}
