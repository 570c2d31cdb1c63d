//! The engine end to end on a SqliteStore file: everything survives dropping the engine and
//! reopening it from the same file.

use super::TempDir;
use crate::model::{OperationAction as A, OperationType as T, *};
use crate::service::clock::{Clock, VirtualClock};
use crate::service::{Engine, EngineConfig, InvocationOutcome, SqliteStore, StartExecution};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn open(path: &Path, clock: &VirtualClock) -> Engine {
    let store = SqliteStore::open(path).unwrap();
    Engine::open(
        EngineConfig::default(),
        Arc::new(clock.clone()),
        Box::new(store),
    )
    .unwrap()
}

fn upd(id: &str, t: T, a: A, sub_type: &str) -> OperationUpdate {
    let mut u = OperationUpdate::new(id, t, a);
    u.name = Some(format!("{id}-name"));
    u.sub_type = Some(sub_type.into());
    u
}

fn checkpoint(eng: &mut Engine, arn: &str, token: &str, updates: Vec<OperationUpdate>) -> String {
    eng.checkpoint(CheckpointDurableExecutionRequest {
        durable_execution_arn: arn.into(),
        checkpoint_token: token.into(),
        updates: Some(updates),
        client_token: None,
    })
    .unwrap()
    .checkpoint_token
    .unwrap()
}

fn complete(eng: &mut Engine, clock: &VirtualClock, arn: &str, out: InvocationOutput) {
    let id = eng.invocation_id(arn).unwrap();
    eng.complete_invocation(
        arn,
        &id,
        InvocationOutcome::Output(out),
        "req-1".into(),
        clock.now(),
    )
    .unwrap();
}

fn history(eng: &Engine, arn: &str) -> Vec<Event> {
    eng.get_history(GetDurableExecutionHistoryRequest {
        durable_execution_arn: arn.into(),
        max_items: Some(1000),
        ..Default::default()
    })
    .unwrap()
    .events
}

#[test]
fn an_engine_on_a_file_survives_a_restart() {
    let dir = TempDir::new("engine");
    let path = dir.file("engine.db");
    let clock = VirtualClock::default();
    let mut eng = open(&path, &clock);
    let arn = eng
        .start_execution(StartExecution::new("fn", "{\"n\":1}").named("restart"))
        .unwrap()
        .arn;
    let t = eng
        .begin_invocation(&arn)
        .unwrap()
        .unwrap()
        .checkpoint_token;
    let mut s = upd("s", T::Step, A::Succeed, "Step");
    s.payload = Some("{\"state\":\"Next\"}".into());
    let t = checkpoint(
        &mut eng,
        &arn,
        &t,
        vec![upd("c", T::Context, A::Start, "RunInChildContext"), {
            s.parent_id = Some("c".into());
            s
        }],
    );
    let t = checkpoint(
        &mut eng,
        &arn,
        &t,
        vec![upd("c", T::Context, A::Succeed, "RunInChildContext")],
    );
    let mut w = upd("w", T::Wait, A::Start, "Wait");
    w.wait_options = Some(WaitOptions {
        wait_seconds: Some(10),
    });
    let mut cb = upd("cb", T::Callback, A::Start, "Callback");
    cb.callback_options = Some(CallbackOptions {
        timeout_seconds: Some(0),
        heartbeat_timeout_seconds: Some(30),
    });
    checkpoint(&mut eng, &arn, &t, vec![w, cb]);
    complete(&mut eng, &clock, &arn, InvocationOutput::pending());
    let callbacks = eng.open_callbacks(&arn).unwrap();
    assert_eq!(callbacks.len(), 1);
    let callback_id = callbacks[0].1.clone();
    let execution = eng.get_execution(&arn, true).unwrap();
    let operations = eng.operations(&arn).unwrap();
    let events = eng.events(&arn).unwrap();
    let hist = history(&eng, &arn);
    let due = eng.next_due();
    assert_eq!(due, Some(clock.now().add(Duration::from_secs(10))));
    assert_eq!(operations.len(), 5, "EXECUTION, c, s, w, cb");
    drop(eng);

    let mut eng = open(&path, &clock);
    assert_eq!(eng.execution_count(), 1);
    assert_eq!(eng.get_execution(&arn, true).unwrap(), execution);
    assert_eq!(eng.operations(&arn).unwrap(), operations);
    assert_eq!(eng.events(&arn).unwrap(), events);
    assert_eq!(history(&eng, &arn), hist);
    assert_eq!(eng.next_due(), due, "the WAIT timer survived");
    assert_eq!(eng.open_callbacks(&arn).unwrap(), callbacks);
    eng.send_callback_heartbeat(&callback_id).unwrap();
    eng.send_callback_success(&callback_id, b"\"approved\"")
        .unwrap();
    clock.advance(Duration::from_secs(10));
    assert_eq!(eng.fire_due(), vec![arn.clone()]);
    let input = eng.begin_invocation(&arn).unwrap().unwrap();
    let mut updated = input.updated_operation_ids.unwrap_or_default();
    updated.sort();
    assert_eq!(updated, ["cb", "w"]);
    complete(
        &mut eng,
        &clock,
        &arn,
        InvocationOutput::succeeded("\"done\""),
    );
    let hist = history(&eng, &arn);
    drop(eng);

    let eng = open(&path, &clock);
    let execution = eng.get_execution(&arn, true).unwrap();
    assert_eq!(execution.status, ExecutionStatus::Succeeded);
    assert_eq!(history(&eng, &arn), hist);
    assert_eq!(eng.next_due(), None);
    let cb = eng
        .operations(&arn)
        .unwrap()
        .into_iter()
        .find(|o| o.id == "cb")
        .unwrap();
    assert_eq!(
        cb.callback_details.unwrap().result.as_deref(),
        Some("\"approved\"")
    );
}

#[test]
fn an_interrupted_invocation_is_failed_durably_on_reopen() {
    let dir = TempDir::new("interrupted");
    let path = dir.file("engine.db");
    let clock = VirtualClock::default();
    let mut eng = open(&path, &clock);
    let arn = eng
        .start_execution(StartExecution::new("fn", "{}").named("crash"))
        .unwrap()
        .arn;
    let t = eng
        .begin_invocation(&arn)
        .unwrap()
        .unwrap()
        .checkpoint_token;
    checkpoint(
        &mut eng,
        &arn,
        &t,
        vec![upd("s", T::Step, A::Start, "Step")],
    );
    drop(eng);

    // The first reopen records the failure through the store; the second must see it.
    let eng = open(&path, &clock);
    let after_first = history(&eng, &arn);
    let last = after_first.last().unwrap();
    assert_eq!(last.event_type, EventType::InvocationCompleted);
    let due = eng.next_due();
    assert!(due.is_some(), "the invocation retry is scheduled");
    drop(eng);
    let eng = open(&path, &clock);
    assert_eq!(history(&eng, &arn), after_first);
    assert_eq!(eng.next_due(), due);
    assert!(!eng.is_invoking(&arn));
}
