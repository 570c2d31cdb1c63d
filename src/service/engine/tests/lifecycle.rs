//! Start, invocation outcomes, retries, stop and execution timeout.

use super::*;

#[test]
fn start_is_idempotent_by_name_and_input() {
    let mut h = H::new();
    let first = h
        .eng
        .start_execution(StartExecution::new("orders", "{\"id\":1}").named("o-1"))
        .unwrap();
    assert!(first.created);
    assert!(first.arn.starts_with(
        "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/o-1/"
    ));
    let again = h
        .eng
        .start_execution(StartExecution::new("orders", "{\"id\":1}").named("o-1"))
        .unwrap();
    assert_eq!(
        again,
        Started {
            arn: first.arn.clone(),
            created: false
        }
    );
    let e = h
        .eng
        .start_execution(StartExecution::new("orders", "{\"id\":2}").named("o-1"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::DurableExecutionAlreadyStarted);
    assert_eq!(e.code.http_status(), 409);
    // Another function may reuse the name.
    assert!(
        h.eng
            .start_execution(StartExecution::new("other", "{}").named("o-1"))
            .unwrap()
            .created
    );
    assert_eq!(h.eng.execution_count(), 2);
}

#[test]
fn the_execution_operation_mirrors_the_arn() {
    let mut h = H::new();
    let mut req = StartExecution::new("orders", "{\"x\":1}").named("n1");
    req.invocation_id = Some("inv-7".into());
    req.qualifier = Some("3".into());
    let arn = h.eng.start_execution(req).unwrap().arn;
    assert_eq!(
        arn,
        "arn:aws:lambda:us-east-1:123456789012:function:orders:3/durable-execution/n1/inv-7"
    );
    let input = h.begin(&arn);
    let ops = input.initial_execution_state.unwrap().operations;
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].id, "inv-7");
    assert_eq!(ops[0].op_type, OperationType::Execution);
    assert_eq!(ops[0].name.as_deref(), Some("n1"));
    assert_eq!(
        ops[0]
            .execution_details
            .as_ref()
            .unwrap()
            .input_payload
            .as_deref(),
        Some("{\"x\":1}")
    );
    let started = &h.history(&arn)[0];
    assert_eq!(started.event_id, 1);
    let d = started.execution_started_details.as_ref().unwrap();
    assert_eq!(d.input, Some(EventPayload::full("{\"x\":1}")));
    // A generated name is a UUID.
    let generated = h
        .eng
        .start_execution(StartExecution::new("orders", "{}"))
        .unwrap()
        .arn;
    assert_eq!(generated.split('/').nth(2).map(str::len), Some(36));
}

#[test]
fn invalid_names_name_the_field() {
    let mut h = H::new();
    let cases = [
        (
            StartExecution::new("orders", "{}").named("bad name"),
            "DurableExecutionName",
        ),
        (
            StartExecution::new("orders", "{}").named("x".repeat(65)),
            "DurableExecutionName",
        ),
        (StartExecution::new("or:ders", "{}"), "FunctionName"),
        (
            StartExecution {
                invocation_id: Some("a/b".into()),
                ..StartExecution::new("f", "{}")
            },
            "InvocationId",
        ),
        (
            StartExecution {
                qualifier: Some("prod".into()),
                ..StartExecution::new("f", "{}")
            },
            "Qualifier",
        ),
        (
            StartExecution::new("f", "{}").timeout_seconds(0),
            "ExecutionTimeout",
        ),
    ];
    for (req, field) in cases {
        let e = h.eng.start_execution(req).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains(field), "{e}");
    }
}

#[test]
fn nothing_to_invoke_returns_none() {
    let mut h = H::new();
    let (arn, _t) = h.running("busy");
    assert_eq!(
        h.eng.begin_invocation(&arn).unwrap(),
        None,
        "already invoking"
    );
    h.complete(&arn, InvocationOutput::succeeded("1"));
    assert_eq!(h.eng.begin_invocation(&arn).unwrap(), None, "terminal");
    assert_eq!(
        h.eng.begin_invocation("arn:nope").unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

#[test]
fn invalid_outputs_fail_the_execution() {
    let cases = [
        (
            InvocationOutput {
                error: Some(ErrorObject::default()),
                ..InvocationOutput::succeeded("1")
            },
            "Cannot provide an Error for SUCCEEDED status.",
        ),
        (
            InvocationOutput {
                result: Some("1".into()),
                ..InvocationOutput::failed(err("E", "x"))
            },
            "Cannot provide a Result for FAILED status.",
        ),
    ];
    for (out, msg) in cases {
        let mut h = H::new();
        let (arn, _t) = h.running("bad-output");
        h.complete(&arn, out);
        let got = h.eng.get_execution(&arn, true).unwrap();
        assert_eq!(got.status, ExecutionStatus::Failed);
        assert_eq!(got.error.unwrap().error_message.as_deref(), Some(msg));
    }
}

#[test]
fn pending_with_nothing_pending_fails_after_three_tries() {
    let mut h = H::new();
    let arn = h.start("idle");
    for _ in 0..2 {
        h.begin(&arn);
        h.complete(&arn, InvocationOutput::pending());
        assert_eq!(h.eng.runnable(), vec![arn.clone()], "retried at once");
    }
    h.begin(&arn);
    h.complete(&arn, InvocationOutput::pending());
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.status, ExecutionStatus::Failed);
    assert_eq!(
        got.error.unwrap().error_message.as_deref(),
        Some("Cannot return PENDING status with no pending operations.")
    );
}

#[test]
fn pending_with_an_unseen_change_is_invoked_again_at_once() {
    let mut h = H::new();
    let (arn, t) = h.running("unseen");
    let (_t, ops) = h.cp_ok(&arn, &t, vec![callback("cb", 0, 0)]);
    h.eng
        .send_callback_success(&callback_id(&ops[0]), b"1")
        .unwrap();
    h.complete(&arn, InvocationOutput::pending());
    assert_eq!(h.eng.runnable(), vec![arn.clone()]);
    // Suspending on something still pending waits.
    let t = h.begin(&arn).checkpoint_token;
    h.cp_ok(&arn, &t, vec![wait("w", 60)]);
    h.complete(&arn, InvocationOutput::pending());
    assert!(h.eng.runnable().is_empty());
}

#[test]
fn failed_invocations_are_retried_then_fail_the_execution() {
    let mut h = H::new();
    let arn = h.start("flaky");
    for n in 1..=5 {
        h.begin(&arn);
        h.outcome(
            &arn,
            InvocationOutcome::Error(err("Runtime.ExitError", &format!("crash {n}"))),
        );
        if n < 5 {
            assert!(h.eng.runnable().is_empty());
            assert_eq!(
                h.eng.next_due(),
                Some(h.clock.now().add(Duration::from_secs(5)))
            );
            h.advance(5);
            assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
        }
    }
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.status, ExecutionStatus::Failed);
    assert_eq!(got.error, Some(err("Runtime.ExitError", "crash 5")));
    let types = h.types(&arn);
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == EventType::InvocationCompleted)
            .count(),
        5
    );
    assert_eq!(types.last(), Some(&EventType::ExecutionFailed));
    // A success in between resets the count.
    let mut h = H::new();
    let arn = h.start("reset");
    h.begin(&arn);
    h.outcome(&arn, InvocationOutcome::Error(err("E", "1")));
    assert_eq!(h.eng.recs[&arn].h.consecutive_failures, 1);
    let mut h2 = H::new();
    let arn2 = h2.start("unrecoverable");
    h2.begin(&arn2);
    h2.outcome(
        &arn2,
        InvocationOutcome::Unrecoverable(err("ResourceNotFoundException", "Function not found")),
    );
    assert_eq!(h2.status(&arn2), ExecutionStatus::Failed);
}

#[test]
fn stop_a_suspended_execution() {
    let mut h = H::new();
    let (arn, t) = h.running("stop");
    h.cp_ok(&arn, &t, vec![wait("w", 60)]);
    h.complete(&arn, InvocationOutput::pending());
    h.advance(3);
    let r = h
        .eng
        .stop(&arn, Some(err("Cancelled", "operator")))
        .unwrap();
    assert_eq!(r.stop_timestamp, h.clock.now());
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(
        (got.status, got.end_timestamp),
        (ExecutionStatus::Stopped, Some(h.clock.now()))
    );
    assert_eq!(got.error, Some(err("Cancelled", "operator")));
    let ev = h.history(&arn).pop().unwrap();
    assert_eq!(ev.event_type, EventType::ExecutionStopped);
    assert_eq!(
        ev.execution_stopped_details.unwrap().error,
        Some(EventError::full(err("Cancelled", "operator")))
    );
    assert_eq!(h.eng.next_due(), None, "no timers survive the end");
    h.advance(100);
    assert!(h.eng.fire_due().is_empty());
    assert_eq!(h.op(&arn, "w").status, OperationStatus::Started);
    // Stopping again reports the original end time.
    h.advance(10);
    let again = h.eng.stop(&arn, None).unwrap();
    assert_eq!(again.stop_timestamp, got.end_timestamp.unwrap());
    assert_eq!(
        h.eng.stop("arn:unknown", None).unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

#[test]
fn stop_during_an_invocation() {
    let mut h = H::new();
    let (arn, t) = h.running("stop-running");
    let (t, _) = h.cp_ok(&arn, &t, vec![step("s", A::Start)]);
    h.eng.stop(&arn, None).unwrap();
    assert!(
        h.cp(&arn, &t, vec![succeed("s", "1")])
            .unwrap_err()
            .is_invalid_token()
    );
    assert_eq!(h.status(&arn), ExecutionStatus::Stopped);
    assert_eq!(
        h.types(&arn).last(),
        Some(&EventType::StepStarted),
        "held until the invocation ends"
    );
    h.complete(&arn, InvocationOutput::succeeded("ignored"));
    assert_eq!(
        h.types(&arn),
        [
            EventType::ExecutionStarted,
            EventType::StepStarted,
            EventType::InvocationCompleted,
            EventType::ExecutionStopped
        ]
    );
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.status, ExecutionStatus::Stopped);
    assert_eq!(got.result, None);
    assert_eq!(
        got.error.unwrap().error_message.as_deref(),
        Some("Execution stopped by user request")
    );
    assert!(h.eng.runnable().is_empty());
}

#[test]
fn execution_timeout() {
    let mut h = H::new();
    let arn = h
        .eng
        .start_execution(
            StartExecution::new("f", "{}")
                .named("slow")
                .timeout_seconds(30),
        )
        .unwrap()
        .arn;
    assert_eq!(
        h.history(&arn)[0]
            .execution_started_details
            .as_ref()
            .unwrap()
            .execution_timeout,
        Some(30)
    );
    let t = h.begin(&arn).checkpoint_token;
    h.cp_ok(&arn, &t, vec![wait("w", 3600)]);
    h.complete(&arn, InvocationOutput::pending());
    assert_eq!(
        h.eng.next_due(),
        Some(h.clock.now().add(Duration::from_secs(30)))
    );
    h.advance(30);
    assert!(h.eng.fire_due().is_empty());
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.status, ExecutionStatus::TimedOut);
    assert_eq!(
        got.error,
        Some(ErrorObject::message(
            "Execution timed out after 30 seconds."
        ))
    );
    assert_eq!(h.types(&arn).last(), Some(&EventType::ExecutionTimedOut));
    assert_eq!(h.eng.next_due(), None);
}

#[test]
fn registered_functions_supply_the_timeout() {
    let config = EngineConfig::default().with_function("fn", FunctionConfig::durable(45));
    let mut h = H::with_config(config);
    let arn = h.start("x");
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.durable_config.unwrap().execution_timeout, Some(45));
    assert!(got.expected_execution_timeout_timestamp.is_some());
}

#[test]
fn a_checkpoint_after_the_deadline_times_the_execution_out() {
    let mut h = H::new();
    let arn = h
        .eng
        .start_execution(
            StartExecution::new("f", "{}")
                .named("late")
                .timeout_seconds(10),
        )
        .unwrap()
        .arn;
    let t = h.begin(&arn).checkpoint_token;
    h.advance(11);
    assert!(
        h.cp(&arn, &t, vec![step("s", A::Start)])
            .unwrap_err()
            .is_invalid_token()
    );
    assert_eq!(h.status(&arn), ExecutionStatus::TimedOut);
    h.complete(&arn, InvocationOutput::succeeded("too late"));
    assert_eq!(
        h.types(&arn),
        [
            EventType::ExecutionStarted,
            EventType::InvocationCompleted,
            EventType::ExecutionTimedOut
        ]
    );
    // An overdue execution is not invoked either.
    let arn = h
        .eng
        .start_execution(
            StartExecution::new("f", "{}")
                .named("later")
                .timeout_seconds(10),
        )
        .unwrap()
        .arn;
    h.advance(10);
    assert_eq!(h.eng.begin_invocation(&arn).unwrap(), None);
    assert_eq!(h.status(&arn), ExecutionStatus::TimedOut);
}
