//! Checkpoint tokens: rotation, idempotent retries, revocation at the end of the execution and
//! at the end of the invocation.

use super::*;

fn with_client(
    arn: &str,
    token: &str,
    client: &str,
    updates: Vec<OperationUpdate>,
) -> CheckpointDurableExecutionRequest {
    CheckpointDurableExecutionRequest {
        durable_execution_arn: arn.into(),
        checkpoint_token: token.into(),
        updates: Some(updates),
        client_token: Some(client.into()),
    }
}

#[test]
fn each_checkpoint_consumes_its_token() {
    let mut h = H::new();
    let (arn, t0) = h.running("tok");
    assert!(super::super::ids::is_base64_text(
        &t0,
        super::super::ids::MAX_TOKEN_LEN
    ));
    let (t1, _) = h.cp_ok(&arn, &t0, vec![step("a", A::Start)]);
    assert_ne!(t0, t1);
    assert!(h.cp(&arn, &t0, vec![]).unwrap_err().is_invalid_token());
    assert!(
        h.cp(&arn, "garbage", vec![])
            .unwrap_err()
            .is_invalid_token()
    );
    // An empty checkpoint rotates the token too.
    let (t2, ops) = h.cp_ok(&arn, &t1, vec![]);
    assert!(ops.is_empty());
    assert!(h.cp(&arn, &t1, vec![]).unwrap_err().is_invalid_token());
    h.cp_ok(&arn, &t2, vec![]);
}

#[test]
fn a_retry_with_the_same_client_token_gets_the_cached_response() {
    let mut h = H::new();
    let (arn, t0) = h.running("idem");
    let first = h
        .eng
        .checkpoint(with_client(&arn, &t0, "c-1", vec![step("a", A::Start)]))
        .unwrap();
    let events = h.history(&arn).len();
    let again = h
        .eng
        .checkpoint(with_client(&arn, &t0, "c-1", vec![step("a", A::Start)]))
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        h.history(&arn).len(),
        events,
        "the retry must not apply anything"
    );
    // Another client token with the consumed token is stale.
    let e = h
        .eng
        .checkpoint(with_client(&arn, &t0, "c-2", vec![]))
        .unwrap_err();
    assert!(e.is_invalid_token());
    // After the next accepted request the old pair is no longer cached.
    let t1 = first.checkpoint_token.unwrap();
    h.eng
        .checkpoint(with_client(&arn, &t1, "c-3", vec![]))
        .unwrap();
    let e = h
        .eng
        .checkpoint(with_client(&arn, &t0, "c-1", vec![]))
        .unwrap_err();
    assert!(e.is_invalid_token());
}

#[test]
fn no_token_after_an_execution_update_and_the_execution_ends() {
    let mut h = H::new();
    let (arn, t0) = h.running("exec-update");
    let r = h
        .cp(
            &arn,
            &t0,
            vec![succeed("a", "1"), exec(A::Succeed, Some("\"big\""), None)],
        )
        .unwrap();
    assert_eq!(r.checkpoint_token, None);
    assert_eq!(h.status(&arn), ExecutionStatus::Succeeded);
    assert!(h.cp(&arn, &t0, vec![]).unwrap_err().is_invalid_token());
    // The handler's later output is ignored; the terminal event follows InvocationCompleted.
    h.complete(&arn, InvocationOutput::succeeded(""));
    assert_eq!(
        h.types(&arn),
        [
            EventType::ExecutionStarted,
            EventType::StepSucceeded,
            EventType::InvocationCompleted,
            EventType::ExecutionSucceeded
        ]
    );
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.result.as_deref(), Some("\"big\""));
}

#[test]
fn execution_fail_update_fails_the_execution() {
    let mut h = H::new();
    let (arn, t0) = h.running("exec-fail");
    let r = h
        .cp(
            &arn,
            &t0,
            vec![exec(A::Fail, None, Some(err("Big", "too large")))],
        )
        .unwrap();
    assert_eq!(r.checkpoint_token, None);
    h.complete(&arn, InvocationOutput::failed(ErrorObject::default()));
    let got = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(got.status, ExecutionStatus::Failed);
    assert_eq!(got.error, Some(err("Big", "too large")));
}

#[test]
fn tokens_of_an_earlier_invocation_are_rejected() {
    let mut h = H::new();
    let (arn, t0) = h.running("earlier");
    let (t1, _) = h.cp_ok(&arn, &t0, vec![wait("w", 1)]);
    h.complete(&arn, InvocationOutput::pending());
    assert!(
        h.cp(&arn, &t1, vec![]).unwrap_err().is_invalid_token(),
        "no invocation running"
    );
    h.advance(1);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let second = h.begin(&arn);
    assert!(h.cp(&arn, &t1, vec![]).unwrap_err().is_invalid_token());
    assert!(h.cp(&arn, &t0, vec![]).unwrap_err().is_invalid_token());
    let state = |h: &H, token: &str| {
        h.eng.get_state(GetDurableExecutionStateRequest {
            durable_execution_arn: arn.clone(),
            checkpoint_token: token.into(),
            ..Default::default()
        })
    };
    assert!(state(&h, &t1).unwrap_err().is_invalid_token());
    assert_eq!(
        state(&h, &second.checkpoint_token)
            .unwrap()
            .operations
            .len(),
        2
    );
    h.cp_ok(&arn, &second.checkpoint_token, vec![]);
}

#[test]
fn stop_revokes_the_running_invocation() {
    let mut h = H::new();
    let (arn, t0) = h.running("stopped");
    h.eng.stop(&arn, None).unwrap();
    assert!(h.cp(&arn, &t0, vec![]).unwrap_err().is_invalid_token());
}

#[test]
fn the_response_carries_what_changed_since_the_handler_last_looked() {
    let mut h = H::new();
    let (arn, t) = h.running("delta");
    let (t, ops) = h.cp_ok(&arn, &t, vec![step("a", A::Start), wait("w", 2)]);
    assert_eq!(ops.len(), 2);
    let (t, ops) = h.cp_ok(&arn, &t, vec![succeed("a", "1")]);
    assert_eq!(ops.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["a"]);
    // A timer that falls due during the invocation is delivered with the next response,
    // and its event is held until the invocation completes.
    h.advance(2);
    let (_t, ops) = h.cp_ok(&arn, &t, vec![step("b", A::Start)]);
    assert_eq!(
        ops.iter()
            .map(|o| (o.id.as_str(), o.status))
            .collect::<Vec<_>>(),
        [
            ("w", OperationStatus::Succeeded),
            ("b", OperationStatus::Started)
        ]
    );
    assert!(!h.types(&arn).contains(&EventType::WaitSucceeded));
    h.complete(&arn, InvocationOutput::pending());
    let types = h.types(&arn);
    assert_eq!(
        &types[types.len() - 2..],
        [EventType::InvocationCompleted, EventType::WaitSucceeded]
    );
    // The handler saw the WAIT through the checkpoint response and suspended on nothing
    // new; it progressed, so it is invoked again.
    assert_eq!(h.eng.runnable(), vec![arn.clone()]);
}
