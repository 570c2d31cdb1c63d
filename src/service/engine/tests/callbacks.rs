//! The callback API: success, failure, heartbeat, timeouts, closed and unknown callbacks.

use super::*;

/// An execution suspended on a callback; returns (arn, callback id).
fn suspended(h: &mut H, timeout: i64, heartbeat: i64) -> (String, String) {
    let (arn, t) = h.running("cb");
    let (_t, ops) = h.cp_ok(&arn, &t, vec![callback("cb", timeout, heartbeat)]);
    h.complete(&arn, InvocationOutput::pending());
    (arn, callback_id(&ops[0]))
}

fn last(h: &H, arn: &str) -> Event {
    h.history(arn).pop().unwrap()
}

#[test]
fn success_stores_the_body_as_text() {
    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 0, 0);
    h.eng
        .send_callback_success(&id, "{\"ok\":\"ü\"}".as_bytes())
        .unwrap();
    let op = h.op(&arn, "cb");
    assert_eq!(op.status, OperationStatus::Succeeded);
    assert_eq!(
        op.callback_details.unwrap().result.as_deref(),
        Some("{\"ok\":\"ü\"}")
    );
    assert_eq!(last(&h, &arn).event_type, EventType::CallbackSucceeded);
    assert_eq!(h.eng.runnable(), vec![arn]);
}

#[test]
fn empty_body_means_no_result_and_bad_bodies_are_rejected() {
    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 0, 0);
    let e = h.eng.send_callback_success(&id, &[0xff, 0xfe]).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    let e = h
        .eng
        .send_callback_success(&id, &vec![b'a'; 1_048_577])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    h.eng.send_callback_success(&id, b"").unwrap();
    assert_eq!(h.op(&arn, "cb").callback_details.unwrap().result, None);
}

#[test]
fn failure_stores_the_error() {
    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 0, 0);
    h.eng
        .send_callback_failure(&id, err("Rejected", "no"))
        .unwrap();
    let op = h.op(&arn, "cb");
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(
        op.callback_details.unwrap().error,
        Some(err("Rejected", "no"))
    );
    let ev = last(&h, &arn);
    assert_eq!(ev.event_type, EventType::CallbackFailed);
    assert_eq!(
        ev.callback_failed_details.unwrap().error,
        Some(EventError::full(err("Rejected", "no")))
    );
    assert_eq!(h.eng.runnable(), vec![arn]);
}

#[test]
fn timeout() {
    let mut h = H::new();
    let (arn, _id) = suspended(&mut h, 10, 0);
    h.advance(9);
    assert!(h.eng.fire_due().is_empty());
    h.advance(1);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let op = h.op(&arn, "cb");
    assert_eq!(op.status, OperationStatus::TimedOut);
    assert_eq!(
        op.callback_details.unwrap().error,
        Some(err("Callback.Timeout", "Callback timed out"))
    );
    assert_eq!(last(&h, &arn).event_type, EventType::CallbackTimedOut);
}

#[test]
fn heartbeats_keep_a_callback_alive_until_they_stop() {
    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 100, 10);
    for _ in 0..3 {
        h.advance(8);
        h.eng.send_callback_heartbeat(&id).unwrap();
        assert!(h.eng.fire_due().is_empty());
    }
    assert_eq!(h.op(&arn, "cb").status, OperationStatus::Started);
    h.advance(10);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let op = h.op(&arn, "cb");
    assert_eq!(op.status, OperationStatus::TimedOut);
    assert_eq!(
        op.callback_details.unwrap().error,
        Some(err("Callback.Heartbeat", "Callback timed out on heartbeat"))
    );
    let ev = last(&h, &arn);
    assert_eq!(ev.event_type, EventType::CallbackTimedOut);
    // A heartbeat on a callback without a heartbeat timeout is accepted and changes nothing.
    let mut h = H::new();
    let (_arn, id) = suspended(&mut h, 0, 0);
    h.eng.send_callback_heartbeat(&id).unwrap();
    assert_eq!(h.eng.next_due(), None);
}

#[test]
fn a_closed_callback_is_a_callback_timeout() {
    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 0, 0);
    h.eng.send_callback_success(&id, b"1").unwrap();
    for e in [
        h.eng.send_callback_success(&id, b"2").unwrap_err(),
        h.eng.send_callback_failure(&id, err("E", "x")).unwrap_err(),
        h.eng.send_callback_heartbeat(&id).unwrap_err(),
    ] {
        assert_eq!(e.code, ErrorCode::CallbackTimeout, "{e}");
        assert_eq!(e.code.http_status(), 400);
        assert!(e.message.contains("SUCCEEDED"), "{e}");
    }
    assert_eq!(
        h.op(&arn, "cb").callback_details.unwrap().result.as_deref(),
        Some("1")
    );
}

#[test]
fn timed_out_and_stopped_callbacks_are_closed() {
    let mut h = H::new();
    let (_arn, id) = suspended(&mut h, 1, 0);
    h.advance(1);
    h.eng.fire_due();
    let e = h.eng.send_callback_success(&id, b"late").unwrap_err();
    assert_eq!(e.code, ErrorCode::CallbackTimeout);

    let mut h = H::new();
    let (arn, id) = suspended(&mut h, 0, 0);
    h.eng.stop(&arn, None).unwrap();
    let e = h.eng.send_callback_success(&id, b"late").unwrap_err();
    assert_eq!(e.code, ErrorCode::CallbackTimeout);
    assert!(e.message.contains("STOPPED"), "{e}");
    // Operations stay as they were when the execution ended.
    assert_eq!(h.op(&arn, "cb").status, OperationStatus::Started);
}

#[test]
fn unknown_and_malformed_ids_are_not_found() {
    let mut h = H::new();
    suspended(&mut h, 0, 0);
    for id in [
        "0123456789abcdef0123456789abcdef",
        "not base64!",
        "",
        &"a".repeat(2000),
    ] {
        let e = h.eng.send_callback_success(id, b"x").unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceNotFound, "{id}");
        let e = h.eng.send_callback_heartbeat(id).unwrap_err();
        assert_eq!(e.code, ErrorCode::ResourceNotFound, "{id}");
    }
}
