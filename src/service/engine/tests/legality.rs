//! operations.md §2: every row of the legality table, the request-level rules, and that a
//! rejected request changes nothing.

use super::*;

/// Expects the request to be rejected with `msg` and to leave everything as it was
/// (operations, events, row including the token), and the token to keep working.
fn reject(h: &mut H, arn: &str, token: &str, updates: Vec<OperationUpdate>, msg: &str) {
    let before = h.snapshot(arn);
    let e = h.cp(arn, token, updates).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{e}");
    assert_eq!(e.message, msg);
    assert_eq!(h.snapshot(arn), before, "a rejected request changed state");
}

/// An execution with one invocation running and an operation of each status prepared:
/// STEP started/ready/pending/succeeded, CONTEXT started/succeeded, WAIT started/succeeded.
fn prepared() -> (H, String, String) {
    let mut h = H::new();
    let (arn, t) = h.running("legal");
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![
            step("started", A::Start),
            step("ready", A::Start),
            step("pending", A::Start),
        ],
    );
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![
            retry("ready", 1, Some(err("E", "x")), None),
            retry("pending", 100, None, Some("s")),
        ],
    );
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![
            succeed("done", "1"),
            ctx("ctx", A::Start),
            ctx("closed", A::Start),
            ctx("closed", A::Succeed),
        ],
    );
    let (t, _) = h.cp_ok(&arn, &t, vec![wait("waiting", 100), wait("waited", 1)]);
    h.advance(1);
    let (t, ops) = h.cp_ok(&arn, &t, vec![]);
    let status = |id: &str| ops.iter().find(|o| o.id == id).map(|o| o.status);
    assert_eq!(status("ready"), Some(OperationStatus::Ready));
    assert_eq!(status("waited"), Some(OperationStatus::Succeeded));
    (h, arn, t)
}

#[test]
fn step_rows() {
    let (mut h, arn, t) = prepared();
    // — START → STARTED, Attempt 0
    let (t, ops) = h.cp_ok(&arn, &t, vec![step("new", A::Start)]);
    let new = ops.iter().find(|o| o.id == "new").unwrap();
    assert_eq!(
        (new.status, new.step_details.as_ref().unwrap().attempt),
        (OperationStatus::Started, Some(0))
    );
    // READY START → STARTED, Attempt unchanged, Result/Error cleared
    let (t, ops) = h.cp_ok(&arn, &t, vec![step("ready", A::Start)]);
    let d = ops.iter().find(|o| o.id == "ready").unwrap();
    assert_eq!(d.status, OperationStatus::Started);
    assert_eq!(
        d.step_details,
        Some(StepDetails {
            attempt: Some(1),
            ..Default::default()
        })
    );
    // STARTED START, PENDING START, terminal START
    for id in ["started", "pending", "done"] {
        reject(
            &mut h,
            &arn,
            &t,
            vec![step(id, A::Start)],
            "Invalid current STEP state to start.",
        );
    }
    for id in ["pending", "done"] {
        reject(
            &mut h,
            &arn,
            &t,
            vec![succeed(id, "1")],
            "Invalid current STEP state to close.",
        );
        reject(
            &mut h,
            &arn,
            &t,
            vec![step(id, A::Fail)],
            "Invalid current STEP state to close.",
        );
        reject(
            &mut h,
            &arn,
            &t,
            vec![retry(id, 1, None, None)],
            "Invalid current STEP state to re-attempt.",
        );
    }
    // Field rules on existing operations.
    let mut bad = succeed("started", "1");
    bad.error = Some(err("E", "x"));
    reject(
        &mut h,
        &arn,
        &t,
        vec![bad],
        "Cannot provide an Error for SUCCEED action.",
    );
    let mut bad = step("started", A::Fail);
    bad.payload = Some("p".into());
    reject(
        &mut h,
        &arn,
        &t,
        vec![bad],
        "Cannot provide a Payload for FAIL action.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![step("started", A::Retry)],
        "Invalid StepOptions for the given action.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![retry("started", 1, Some(err("E", "x")), Some("p"))],
        "Cannot provide both error and payload to RETRY a STEP.",
    );
    // The runner does not apply them to a STEP first seen in the request.
    let mut lenient = succeed("fresh", "1");
    lenient.error = Some(err("E", "x"));
    let (t, _) = h.cp_ok(&arn, &t, vec![lenient]);
    // STARTED SUCCEED / FAIL / RETRY.
    let (t, ops) = h.cp_ok(&arn, &t, vec![succeed("started", "\"ok\"")]);
    let s = &ops[0];
    assert_eq!(s.status, OperationStatus::Succeeded);
    assert_eq!(s.step_details.as_ref().unwrap().attempt, Some(1));
    assert_eq!(
        s.step_details.as_ref().unwrap().result.as_deref(),
        Some("\"ok\"")
    );
    assert_eq!(s.end_timestamp, Some(h.clock.now()));
    let (t, ops) = h.cp_ok(&arn, &t, vec![step("ready", A::Fail)]);
    assert_eq!(ops[0].status, OperationStatus::Failed);
    assert_eq!(ops[0].step_details.as_ref().unwrap().attempt, Some(2));
    let (_t, ops) = h.cp_ok(
        &arn,
        &t,
        vec![step("r2", A::Start), retry("r2", 7, None, Some("state"))],
    );
    let d = ops[0].step_details.as_ref().unwrap();
    assert_eq!(ops[0].status, OperationStatus::Pending);
    assert_eq!(d.attempt, Some(1));
    assert_eq!(d.result.as_deref(), Some("state"));
    assert_eq!(
        d.next_attempt_timestamp,
        Some(h.clock.now().add(Duration::from_secs(7)))
    );
}

#[test]
fn context_rows() {
    let (mut h, arn, t) = prepared();
    reject(
        &mut h,
        &arn,
        &t,
        vec![ctx("ctx", A::Start)],
        "Cannot start a CONTEXT that already exist.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![ctx("closed", A::Succeed)],
        "Invalid current CONTEXT state to close.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![ctx("closed", A::Fail)],
        "Invalid current CONTEXT state to close.",
    );
    let mut bad = ctx("ctx", A::Succeed);
    bad.error = Some(err("E", "x"));
    reject(
        &mut h,
        &arn,
        &t,
        vec![bad.clone()],
        "Cannot provide an Error for SUCCEED action.",
    );
    bad.id = "brand-new".into();
    reject(
        &mut h,
        &arn,
        &t,
        vec![bad],
        "Cannot provide an Error for SUCCEED action.",
    );
    let mut bad = ctx("ctx", A::Fail);
    bad.payload = Some("p".into());
    reject(
        &mut h,
        &arn,
        &t,
        vec![bad],
        "Cannot provide a Payload for FAIL action.",
    );
    let mut ok = ctx("ctx", A::Succeed);
    ok.payload = Some("r".into());
    ok.context_options = Some(ContextOptions {
        replay_children: Some(true),
    });
    let mut fail = ctx("new-ctx", A::Fail);
    fail.error = Some(err("E", "boom"));
    let (_t, ops) = h.cp_ok(&arn, &t, vec![ok, fail]);
    assert_eq!(ops[0].status, OperationStatus::Succeeded);
    assert_eq!(
        ops[0].context_details,
        Some(ContextDetails {
            replay_children: Some(true),
            result: Some("r".into()),
            error: None
        })
    );
    assert_eq!(ops[1].status, OperationStatus::Failed);
    assert_eq!(
        ops[1].context_details.as_ref().unwrap().error,
        Some(err("E", "boom"))
    );
}

#[test]
fn wait_callback_chained_and_execution_rows() {
    let (mut h, arn, t) = prepared();
    reject(
        &mut h,
        &arn,
        &t,
        vec![wait("waiting", 1)],
        "Cannot start a WAIT that already exist.",
    );
    let cancel = |id: &str| upd(id, T::Wait, A::Cancel);
    for id in ["nope", "waited"] {
        reject(
            &mut h,
            &arn,
            &t,
            vec![cancel(id)],
            "Cannot cancel a WAIT that does not exist or has already completed.",
        );
    }
    let (t, ops) = h.cp_ok(&arn, &t, vec![cancel("waiting"), callback("cb", 0, 0)]);
    assert_eq!(ops[0].status, OperationStatus::Cancelled);
    assert!(ops[0].end_timestamp.is_some());
    assert!(callback_id(&ops[1]).len() >= 32);
    reject(
        &mut h,
        &arn,
        &t,
        vec![callback("cb", 0, 0)],
        "Cannot start a CALLBACK that already exist.",
    );
    let mut no_opts = upd("ci", T::ChainedInvoke, A::Start);
    reject(
        &mut h,
        &arn,
        &t,
        vec![no_opts.clone()],
        "Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.",
    );
    no_opts.chained_invoke_options = Some(ChainedInvokeOptions {
        function_name: "nowhere".into(),
        ..Default::default()
    });
    let (t, _) = h.cp_ok(&arn, &t, vec![no_opts.clone()]);
    reject(
        &mut h,
        &arn,
        &t,
        vec![no_opts],
        "Cannot start a CHAINED_INVOKE operation that already exists.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![exec(A::Succeed, Some("1"), Some(err("E", "x")))],
        "Cannot provide an Error for SUCCEED action.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![exec(A::Fail, Some("1"), Some(err("E", "x")))],
        "Cannot provide a Payload for FAIL action.",
    );
}

#[test]
fn actions_must_fit_the_type() {
    let (mut h, arn, t) = prepared();
    for (ty, a) in [
        (T::Step, A::Cancel),
        (T::Context, A::Retry),
        (T::Context, A::Cancel),
        (T::Wait, A::Succeed),
        (T::Wait, A::Retry),
        (T::Callback, A::Succeed),
        (T::Callback, A::Cancel),
        (T::ChainedInvoke, A::Fail),
        (T::Execution, A::Start),
        (T::Execution, A::Retry),
    ] {
        reject(
            &mut h,
            &arn,
            &t,
            vec![upd("x", ty, a)],
            "Invalid action for the given operation type.",
        );
    }
}

#[test]
fn request_level_rules() {
    let (mut h, arn, t) = prepared();
    let e = || exec(A::Succeed, Some("1"), None);
    reject(
        &mut h,
        &arn,
        &t,
        vec![e(), e()],
        "Cannot checkpoint multiple EXECUTION updates.",
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![e(), step("a", A::Start)],
        "EXECUTION checkpoint must be the last update.",
    );
    let dup = "Cannot checkpoint multiple operations with the same ID.";
    reject(
        &mut h,
        &arn,
        &t,
        vec![wait("w2", 1), upd("w2", T::Wait, A::Cancel)],
        dup,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![step("a", A::Start), step("a", A::Start)],
        dup,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![step("a", A::Start), succeed("a", "1"), step("a", A::Fail)],
        dup,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![succeed("a", "1"), step("a", A::Fail)],
        dup,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![callback("a", 0, 0), callback("a", 0, 0)],
        dup,
    );
    let bad_parent = "Invalid parent operation id.";
    reject(
        &mut h,
        &arn,
        &t,
        vec![child(step("a", A::Start), "missing")],
        bad_parent,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![child(step("a", A::Start), "started")],
        bad_parent,
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![child(step("a", A::Start), "c9"), ctx("c9", A::Start)],
        bad_parent,
    );
    // A CONTEXT started earlier in the same request is a valid parent.
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![ctx("c9", A::Start), child(step("a", A::Start), "c9")],
    );
    reject(
        &mut h,
        &arn,
        &t,
        vec![upd("started", T::Context, A::Succeed)],
        "Inconsistent operation type.",
    );
    let mut u = succeed("a", "1");
    u.sub_type = Some("Other".into());
    reject(&mut h, &arn, &t, vec![u], "Inconsistent operation subtype.");
    let mut u = child(succeed("a", "1"), "c9");
    u.name = Some("renamed".into());
    reject(&mut h, &arn, &t, vec![u], "Inconsistent operation name.");
    reject(
        &mut h,
        &arn,
        &t,
        vec![child(succeed("a", "1"), "ctx")],
        "Inconsistent parent operation id.",
    );
    // Absent identity fields are not compared.
    let mut bare = OperationUpdate::new("a", T::Step, A::Succeed);
    bare.payload = Some("1".into());
    let (t, _) = h.cp_ok(&arn, &t, vec![bare]);
    let mut big = step("b", A::Fail);
    big.error = Some(ErrorObject::message("x".repeat(40_000)));
    reject(
        &mut h,
        &arn,
        &t,
        vec![big],
        "Error object size must be less than 32768 bytes.",
    );
    let big = chained("ci2", "nowhere", Some(&"x".repeat(1_048_577)));
    reject(
        &mut h,
        &arn,
        &t,
        vec![big],
        "CHAINED_INVOKE input payload size must be less than or equal to 1048576 bytes.",
    );
    let mut malformed = step("has space", A::Start);
    malformed.sub_type = None;
    let before = h.snapshot(&arn);
    assert!(h.cp(&arn, &t, vec![malformed]).is_err());
    assert_eq!(h.snapshot(&arn), before);
}

#[test]
fn a_late_invalid_update_rejects_the_earlier_valid_ones() {
    let (mut h, arn, t) = prepared();
    reject(
        &mut h,
        &arn,
        &t,
        vec![
            step("x1", A::Start),
            wait("x2", 5),
            callback("x3", 10, 0),
            step("started", A::Start),
        ],
        "Invalid current STEP state to start.",
    );
    assert!(h.eng.recs[&arn].find("x1").is_none());
    assert!(h.eng.next_due().is_some_and(|t| t > h.clock.now()));
    // The same token still works afterwards.
    h.cp_ok(&arn, &t, vec![step("x1", A::Start)]);
}

#[test]
fn updates_apply_in_order_with_one_event_each() {
    let mut h = H::new();
    let (arn, t) = h.running("order");
    let (_t, ops) = h.cp_ok(
        &arn,
        &t,
        vec![step("s", A::Start), succeed("s", "1"), wait("w", 3)],
    );
    assert_eq!(
        ops.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["s", "w"]
    );
    assert_eq!(
        h.types(&arn),
        [
            EventType::ExecutionStarted,
            EventType::StepStarted,
            EventType::StepSucceeded,
            EventType::WaitStarted
        ]
    );
    let ws = h.history(&arn)[3].wait_started_details.clone().unwrap();
    assert_eq!(ws.duration, Some(3));
    assert_eq!(
        ws.scheduled_end_timestamp,
        Some(h.clock.now().add(Duration::from_secs(3)))
    );
}
