//! CHAINED_INVOKE: unknown targets, durable children, plain targets.

use super::*;

fn engine() -> H {
    let config = EngineConfig::default()
        .with_function("child", FunctionConfig::durable(60))
        .with_function("echo", FunctionConfig::plain());
    H::with_config(config)
}

#[test]
fn an_unknown_target_fails_in_the_same_response() {
    let mut h = engine();
    let (arn, t) = h.running("parent");
    let (_t, ops) = h.cp_ok(&arn, &t, vec![chained("ci", "ghost", Some("{}"))]);
    assert_eq!(ops[0].status, OperationStatus::Failed);
    let error = ops[0]
        .chained_invoke_details
        .as_ref()
        .unwrap()
        .error
        .clone()
        .unwrap();
    assert_eq!(
        error,
        err("ResourceNotFoundException", "Function not found: ghost.")
    );
    assert_eq!(
        h.types(&arn)[1..],
        [
            EventType::ChainedInvokeStarted,
            EventType::ChainedInvokeFailed
        ]
    );
    // Another region does not resolve either.
    let t = h.eng.recs[&arn]
        .h
        .invocation
        .clone()
        .unwrap()
        .token
        .unwrap();
    let (_t, ops) = h.cp_ok(
        &arn,
        &t,
        vec![chained(
            "ci2",
            "arn:aws:lambda:eu-west-1:123456789012:function:child",
            None,
        )],
    );
    assert_eq!(ops[0].status, OperationStatus::Failed);
}

#[test]
fn a_durable_target_runs_as_a_child_execution() {
    let mut h = engine();
    let (arn, t) = h.running("parent");
    h.cp_ok(
        &arn,
        &t,
        vec![chained("ci", "child:$LATEST", Some("{\"n\":1}"))],
    );
    let started = h.history(&arn)[1]
        .chained_invoke_started_details
        .clone()
        .unwrap();
    let child_arn = started.durable_execution_arn.clone().unwrap();
    assert!(
        child_arn.contains(":function:child:$LATEST/durable-execution/"),
        "{child_arn}"
    );
    assert_eq!(started.executed_version.as_deref(), Some("$LATEST"));
    assert_eq!(started.function_name.as_deref(), Some("child:$LATEST"));
    assert_eq!(started.input, Some(EventPayload::full("{\"n\":1}")));
    h.complete(&arn, InvocationOutput::pending());
    assert_eq!(h.eng.runnable(), vec![child_arn.clone()]);
    let child_input = h.begin(&child_arn);
    let exec_op = &child_input.initial_execution_state.unwrap().operations[0];
    assert_eq!(
        exec_op
            .execution_details
            .as_ref()
            .unwrap()
            .input_payload
            .as_deref(),
        Some("{\"n\":1}")
    );
    h.complete(&child_arn, InvocationOutput::succeeded("\"child-result\""));
    let op = h.op(&arn, "ci");
    assert_eq!(op.status, OperationStatus::Succeeded);
    assert_eq!(
        op.chained_invoke_details.unwrap().result.as_deref(),
        Some("\"child-result\"")
    );
    assert_eq!(h.eng.runnable(), vec![arn.clone()]);
    assert_eq!(
        h.types(&arn),
        [
            EventType::ExecutionStarted,
            EventType::ChainedInvokeStarted,
            EventType::InvocationCompleted,
            EventType::ChainedInvokeSucceeded
        ]
    );
}

#[test]
fn a_child_timeout_times_out_the_parent_operation() {
    let mut h = engine();
    let (arn, t) = h.running("parent");
    h.cp_ok(&arn, &t, vec![chained("ci", "child", None)]);
    h.complete(&arn, InvocationOutput::pending());
    h.advance(60);
    let due = h.eng.fire_due();
    assert_eq!(due, vec![arn.clone()]);
    let op = h.op(&arn, "ci");
    assert_eq!(op.status, OperationStatus::TimedOut);
    assert_eq!(
        op.chained_invoke_details.unwrap().error,
        Some(err(
            "ChainedInvoke.Timeout",
            "CHAINED_INVOKE timed out after 60 seconds."
        ))
    );
    assert_eq!(
        h.types(&arn).last(),
        Some(&EventType::ChainedInvokeTimedOut)
    );
}

#[test]
fn a_stopped_child_stops_the_parent_operation() {
    let mut h = engine();
    let (arn, t) = h.running("parent");
    h.cp_ok(&arn, &t, vec![chained("ci", "child", None)]);
    let child_arn = h.eng.recs[&arn]
        .find("ci")
        .unwrap()
        .meta
        .child_arn
        .clone()
        .unwrap();
    assert_eq!(
        h.eng
            .get_execution(&child_arn, true)
            .unwrap()
            .input_payload
            .as_deref(),
        Some("{}")
    );
    h.eng.stop(&child_arn, Some(err("Stop", "enough"))).unwrap();
    assert_eq!(h.op(&arn, "ci").status, OperationStatus::Stopped);
    h.complete(&arn, InvocationOutput::pending());
    let types = h.types(&arn);
    assert_eq!(
        &types[types.len() - 2..],
        [
            EventType::InvocationCompleted,
            EventType::ChainedInvokeStopped
        ]
    );
    assert_eq!(
        h.eng.runnable(),
        vec![arn],
        "the parent saw nothing of it yet"
    );
}

#[test]
fn a_plain_target_is_handed_to_a_driver() {
    let mut h = engine();
    let (arn, t) = h.running("parent");
    h.cp_ok(
        &arn,
        &t,
        vec![
            chained("ci", "echo", Some("{\"x\":1}")),
            chained("ci2", "echo", None),
        ],
    );
    let started = h.history(&arn)[1]
        .chained_invoke_started_details
        .clone()
        .unwrap();
    assert_eq!(started.durable_execution_arn.as_deref(), Some(""));
    assert_eq!(started.executed_version.as_deref(), Some("$LATEST"));
    let pending = h.eng.take_plain_invokes();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        pending[0],
        PendingInvoke {
            parent_arn: arn.clone(),
            op_id: "ci".into(),
            function_name: "echo".into(),
            qualifier: "$LATEST".into(),
            payload: Some("{\"x\":1}".into()),
            tenant_id: None,
        }
    );
    assert!(h.eng.take_plain_invokes().is_empty());
    h.eng
        .complete_plain_invoke(&arn, "ci", Ok("{\"x\":1}".into()))
        .unwrap();
    h.eng
        .complete_plain_invoke(&arn, "ci2", Err(err("ChainedInvoke.Timeout", "slow")))
        .unwrap();
    assert_eq!(h.op(&arn, "ci").status, OperationStatus::Succeeded);
    assert_eq!(h.op(&arn, "ci2").status, OperationStatus::TimedOut);
    // Completing twice is ignored; unknown operations are errors.
    h.eng
        .complete_plain_invoke(&arn, "ci", Err(err("E", "x")))
        .unwrap();
    assert_eq!(h.op(&arn, "ci").status, OperationStatus::Succeeded);
    assert!(
        h.eng
            .complete_plain_invoke(&arn, "nope", Ok(String::new()))
            .is_err()
    );
    h.complete(&arn, InvocationOutput::pending());
    let types = h.types(&arn);
    assert_eq!(
        &types[3..],
        [
            EventType::InvocationCompleted,
            EventType::ChainedInvokeSucceeded,
            EventType::ChainedInvokeTimedOut
        ]
    );
}
