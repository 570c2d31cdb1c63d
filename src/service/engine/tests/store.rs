//! The persistence boundary: batches carry everything needed to rebuild, a store failure
//! leaves no trace, and a reopened engine carries on.

use super::*;
use crate::service::store::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Rows as a table store would keep them.
#[derive(Default)]
struct Tables {
    executions: BTreeMap<String, ExecutionRow>,
    operations: BTreeMap<(String, usize), OperationRow>,
    events: BTreeMap<(String, u64), Event>,
    callbacks: BTreeMap<String, CallbackRow>,
    commits: usize,
    fail_next: bool,
}

#[derive(Clone, Default)]
struct TableStore(Arc<Mutex<Tables>>);

impl Store for TableStore {
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError> {
        let mut t = self.0.lock().unwrap();
        if std::mem::take(&mut t.fail_next) {
            return Err(StoreError::Backend("disk full".into()));
        }
        t.commits += 1;
        for e in &batch.executions {
            t.executions.insert(e.arn.clone(), e.clone());
        }
        for o in &batch.operations {
            t.operations.insert((o.arn.clone(), o.index), o.clone());
        }
        for e in &batch.events {
            let key = (e.arn.clone(), e.event.event_id);
            assert!(!t.events.contains_key(&key), "events are only appended");
            t.events.insert(key, e.event.clone());
        }
        for c in &batch.callbacks {
            t.callbacks.insert(c.callback_id.clone(), c.clone());
        }
        Ok(())
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        let t = self.0.lock().unwrap();
        Ok(t.executions
            .values()
            .map(|e| StoredExecution {
                execution: e.clone(),
                operations: t
                    .operations
                    .values()
                    .filter(|o| o.arn == e.arn)
                    .cloned()
                    .collect(),
                events: t
                    .events
                    .iter()
                    .filter(|((a, _), _)| *a == e.arn)
                    .map(|(_, ev)| ev.clone())
                    .collect(),
            })
            .collect())
    }
}

fn open(store: &TableStore, clock: &VirtualClock) -> Engine {
    Engine::open(
        EngineConfig::default(),
        Arc::new(clock.clone()),
        Box::new(store.clone()),
    )
    .unwrap()
}

#[test]
fn a_reopened_engine_carries_on() {
    let store = TableStore::default();
    let clock = VirtualClock::default();
    let mut h = H {
        eng: open(&store, &clock),
        clock: clock.clone(),
    };
    let (arn, t) = h.running("durable");
    let (t, ops) = h.cp_ok(
        &arn,
        &t,
        vec![
            ctx("c", A::Start),
            child(succeed("s", "1"), "c"),
            ctx("c", A::Succeed),
        ],
    );
    assert_eq!(ops.len(), 2);
    let (_t, ops) = h.cp_ok(&arn, &t, vec![wait("w", 10), callback("cb", 0, 30)]);
    let cb = callback_id(&ops[1]);
    h.complete(&arn, InvocationOutput::pending());
    let before_history = h.history(&arn);
    let before = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(store.0.lock().unwrap().callbacks.len(), 1);

    let mut h = H {
        eng: open(&store, &clock),
        clock: clock.clone(),
    };
    assert_eq!(h.history(&arn), before_history);
    assert_eq!(h.eng.get_execution(&arn, true).unwrap(), before);
    assert_eq!(
        h.eng.next_due(),
        Some(clock.now().add(Duration::from_secs(10)))
    );
    h.eng.send_callback_heartbeat(&cb).unwrap();
    h.advance(10);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let input = h.begin(&arn);
    assert_eq!(input.updated_operation_ids, Some(vec!["w".to_string()]));
    let ids: Vec<String> = input
        .initial_execution_state
        .unwrap()
        .operations
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(
        &ids[1..],
        ["c", "w", "cb"],
        "children of the closed context stay hidden"
    );
    h.eng.send_callback_success(&cb, b"ok").unwrap();
    h.complete(&arn, InvocationOutput::succeeded("1"));
    let final_history = h.history(&arn);

    let h = H {
        eng: open(&store, &clock),
        clock,
    };
    assert_eq!(h.history(&arn), final_history);
    assert_eq!(h.status(&arn), ExecutionStatus::Succeeded);
}

#[test]
fn an_invocation_interrupted_by_a_restart_counts_as_failed() {
    let store = TableStore::default();
    let clock = VirtualClock::default();
    let mut h = H {
        eng: open(&store, &clock),
        clock: clock.clone(),
    };
    let (arn, t) = h.running("restart");
    h.cp_ok(&arn, &t, vec![step("s", A::Start)]);
    let mut h = H {
        eng: open(&store, &clock),
        clock,
    };
    assert!(h.cp(&arn, &t, vec![]).unwrap_err().is_invalid_token());
    let last = h.history(&arn).pop().unwrap();
    let details = last.invocation_completed_details.unwrap();
    assert_eq!(
        details
            .error
            .unwrap()
            .payload
            .unwrap()
            .error_type
            .as_deref(),
        Some("Runtime.ExitError")
    );
    h.advance(5);
    assert_eq!(h.eng.fire_due(), vec![arn]);
}

#[test]
fn a_failed_commit_changes_nothing() {
    let store = TableStore::default();
    let clock = VirtualClock::default();
    let mut h = H {
        eng: open(&store, &clock),
        clock,
    };
    let (arn, t) = h.running("rollback");
    let (t, ops) = h.cp_ok(&arn, &t, vec![callback("cb", 0, 0), wait("w", 5)]);
    let cb = callback_id(&ops[0]);
    let before = h.snapshot(&arn);
    let due = h.eng.next_due();
    store.0.lock().unwrap().fail_next = true;
    let e = h
        .cp(
            &arn,
            &t,
            vec![
                ctx("c", A::Start),
                child(callback("cb2", 9, 0), "c"),
                ctx("c", A::Succeed),
                succeed("s", "1"),
            ],
        )
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Service);
    assert_eq!(h.snapshot(&arn), before);
    assert_eq!(h.eng.next_due(), due);
    assert_eq!(h.eng.recs[&arn].open_ops(), 2);
    // Callbacks, starts and stops roll back too.
    store.0.lock().unwrap().fail_next = true;
    assert_eq!(
        h.eng.send_callback_success(&cb, b"x").unwrap_err().code,
        ErrorCode::Service
    );
    assert_eq!(h.snapshot(&arn), before);
    store.0.lock().unwrap().fail_next = true;
    assert!(
        h.eng
            .start_execution(StartExecution::new("fn", "{}").named("ghost"))
            .is_err()
    );
    assert_eq!(h.eng.execution_count(), 1);
    assert!(
        h.eng
            .list_executions(ListExecutions::default())
            .unwrap()
            .durable_executions
            .len()
            == 1
    );
    store.0.lock().unwrap().fail_next = true;
    assert!(h.eng.stop(&arn, None).is_err());
    assert_eq!(h.status(&arn), ExecutionStatus::Running);
    // The same token works once the store recovers.
    let (_t, ops) = h.cp_ok(&arn, &t, vec![succeed("s", "1")]);
    assert_eq!(ops.len(), 1);
    assert!(
        h.eng
            .start_execution(StartExecution::new("fn", "{}").named("ghost"))
            .unwrap()
            .created
    );
}

#[test]
fn the_memory_store_skips_batches() {
    assert!(!MemStore.needs_batches());
    let mut m = MemStore;
    assert!(m.load().unwrap().is_empty());
    assert!(m.commit(&WriteBatch::default()).is_ok());
}

#[test]
fn ten_thousand_transitions_in_one_invocation() {
    // Performance guard by construction: each checkpoint returns only what it touched, and
    // epochs keep the visible state small.
    let mut h = H::new();
    let (arn, mut t) = h.running("long");
    for epoch in 0..100 {
        let e = format!("epoch-{epoch}");
        let (next, _) = h.cp_ok(&arn, &t, vec![ctx(&e, A::Start)]);
        t = next;
        for i in 0..100 {
            let (next, ops) = h.cp_ok(
                &arn,
                &t,
                vec![child(succeed(&format!("{e}-s{i}"), "{\"state\":1}"), &e)],
            );
            assert_eq!(ops.len(), 1);
            t = next;
        }
        let (next, _) = h.cp_ok(&arn, &t, vec![ctx(&e, A::Succeed)]);
        t = next;
    }
    assert_eq!(h.eng.recs[&arn].events.len(), 10_201);
    let page = h
        .eng
        .get_state(GetDurableExecutionStateRequest {
            durable_execution_arn: arn.clone(),
            checkpoint_token: t,
            max_items: Some(1000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.operations.len(), 101);
    assert_eq!(page.next_marker, None);
}
