//! The event sequences of history-and-conformance.md §1.3, driven by hand.

use super::*;
use EventType as E;

fn ids(h: &H, arn: &str) -> Vec<u64> {
    h.history(arn).iter().map(|e| e.event_id).collect()
}

#[test]
fn wait_two_seconds() {
    let mut h = H::new();
    let (arn, t) = h.running("wait2");
    h.cp_ok(&arn, &t, vec![wait("w", 2)]);
    h.complete(&arn, InvocationOutput::pending());
    assert!(h.eng.runnable().is_empty());
    assert_eq!(
        h.eng.next_due(),
        Some(h.clock.now().add(Duration::from_secs(2)))
    );
    h.advance(1);
    assert!(h.eng.fire_due().is_empty());
    h.advance(1);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let input = h.begin(&arn);
    assert_eq!(input.updated_operation_ids, Some(vec!["w".to_string()]));
    let ops = input.initial_execution_state.unwrap().operations;
    assert_eq!(ops[1].status, OperationStatus::Succeeded);
    h.complete(&arn, InvocationOutput::succeeded("\"done\""));
    let hist = h.history(&arn);
    assert_eq!(
        hist.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            E::ExecutionStarted,
            E::WaitStarted,
            E::InvocationCompleted,
            E::WaitSucceeded,
            E::InvocationCompleted,
            E::ExecutionSucceeded
        ]
    );
    assert_eq!(ids(&h, &arn), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        hist[1].wait_started_details.as_ref().unwrap().duration,
        Some(2)
    );
    assert_eq!(
        hist[3].wait_succeeded_details.as_ref().unwrap().duration,
        Some(2)
    );
    assert_eq!(hist[3].id.as_deref(), Some("w"));
    assert_eq!(hist[3].sub_type.as_deref(), Some("Wait"));
    let ic = hist[2].invocation_completed_details.as_ref().unwrap();
    assert_eq!(ic.request_id.as_deref(), Some("req-1"));
    assert!(ic.start_timestamp.is_some() && ic.end_timestamp.is_some() && ic.error.is_none());
    assert_eq!(
        hist[5].execution_succeeded_details.as_ref().unwrap().result,
        Some(EventPayload::full("\"done\""))
    );
    assert_eq!(hist[0].id.as_deref(), arn.rsplit('/').next());
    assert_eq!(hist[0].name.as_deref(), Some("wait2"));
}

#[test]
fn step_fails_twice_then_succeeds() {
    let mut h = H::new();
    let arn = h.start("retries");
    for attempt in 1..=3u32 {
        let t = h.begin(&arn).checkpoint_token;
        let (t, _) = h.cp_ok(&arn, &t, vec![step("s", A::Start)]);
        if attempt < 3 {
            let delay = i64::from(attempt) * 5;
            h.cp_ok(
                &arn,
                &t,
                vec![retry("s", delay, Some(err("ValueError", "nope")), None)],
            );
            h.complete(&arn, InvocationOutput::pending());
            assert_eq!(h.op(&arn, "s").status, OperationStatus::Pending);
            h.advance(delay as u64);
            assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
            assert_eq!(h.op(&arn, "s").status, OperationStatus::Ready);
        } else {
            h.cp_ok(&arn, &t, vec![succeed("s", "42")]);
            h.complete(&arn, InvocationOutput::succeeded("42"));
        }
    }
    let hist = h.history(&arn);
    assert_eq!(
        hist.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            E::ExecutionStarted,
            E::StepStarted,
            E::StepFailed,
            E::InvocationCompleted,
            E::StepStarted,
            E::StepFailed,
            E::InvocationCompleted,
            E::StepStarted,
            E::StepSucceeded,
            E::InvocationCompleted,
            E::ExecutionSucceeded
        ]
    );
    let retry_of = |i: usize| {
        let ev = &hist[i];
        ev.step_failed_details
            .as_ref()
            .and_then(|d| d.retry_details.clone())
            .or_else(|| {
                ev.step_succeeded_details
                    .as_ref()
                    .and_then(|d| d.retry_details.clone())
            })
            .unwrap()
    };
    assert_eq!(
        retry_of(2),
        RetryDetails {
            current_attempt: Some(1),
            next_attempt_delay_seconds: Some(5)
        }
    );
    assert_eq!(
        retry_of(5),
        RetryDetails {
            current_attempt: Some(2),
            next_attempt_delay_seconds: Some(10)
        }
    );
    assert_eq!(
        retry_of(8),
        RetryDetails {
            current_attempt: Some(3),
            next_attempt_delay_seconds: None
        }
    );
    assert_eq!(
        hist[2].step_failed_details.as_ref().unwrap().error,
        Some(EventError::full(err("ValueError", "nope")))
    );
    assert_eq!(
        hist[8].step_succeeded_details.as_ref().unwrap().result,
        Some(EventPayload::full("42"))
    );
    assert_eq!(h.op(&arn, "s").step_details.unwrap().attempt, Some(3));
}

#[test]
fn wait_for_condition_three_polls() {
    let mut h = H::new();
    let arn = h.start("poll");
    for poll in 1..=3 {
        let t = h.begin(&arn).checkpoint_token;
        let mut start = step("c", A::Start);
        start.sub_type = Some("WaitForCondition".into());
        let (t, _) = h.cp_ok(&arn, &t, vec![start]);
        let state = poll.to_string();
        if poll < 3 {
            let mut u = retry("c", 2, None, Some(&state));
            u.sub_type = Some("WaitForCondition".into());
            h.cp_ok(&arn, &t, vec![u]);
            h.complete(&arn, InvocationOutput::pending());
            h.advance(2);
            h.eng.fire_due();
            assert_eq!(
                h.op(&arn, "c").step_details.unwrap().result.as_deref(),
                Some(state.as_str())
            );
        } else {
            let mut u = succeed("c", &state);
            u.sub_type = Some("WaitForCondition".into());
            h.cp_ok(&arn, &t, vec![u]);
            h.complete(&arn, InvocationOutput::succeeded(&state));
        }
    }
    let hist = h.history(&arn);
    let types: Vec<E> = hist.iter().map(|e| e.event_type).collect();
    assert_eq!(types.len(), 11);
    assert_eq!(types[10], E::ExecutionSucceeded);
    for (i, payload) in [(2, "1"), (5, "2"), (8, "3")] {
        assert_eq!(hist[i].event_type, E::StepSucceeded);
        assert_eq!(hist[i].sub_type.as_deref(), Some("WaitForCondition"));
        let d = hist[i].step_succeeded_details.as_ref().unwrap();
        assert_eq!(d.result, Some(EventPayload::full(payload)));
    }
    assert_eq!(
        hist[10]
            .execution_succeeded_details
            .as_ref()
            .unwrap()
            .result,
        Some(EventPayload::full("3"))
    );
}

#[test]
fn callback_round_trip() {
    let mut h = H::new();
    let (arn, t) = h.running("cb");
    let (_t, ops) = h.cp_ok(&arn, &t, vec![callback("cb", 300, 0)]);
    let id = callback_id(&ops[0]);
    h.complete(&arn, InvocationOutput::pending());
    assert!(h.eng.runnable().is_empty());
    h.eng
        .send_callback_success(&id, br#"{"approved":true}"#)
        .unwrap();
    assert_eq!(h.eng.runnable(), vec![arn.clone()]);
    let input = h.begin(&arn);
    assert_eq!(input.updated_operation_ids, Some(vec!["cb".to_string()]));
    h.complete(&arn, InvocationOutput::succeeded("true"));
    let hist = h.history(&arn);
    assert_eq!(
        hist.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            E::ExecutionStarted,
            E::CallbackStarted,
            E::InvocationCompleted,
            E::CallbackSucceeded,
            E::InvocationCompleted,
            E::ExecutionSucceeded
        ]
    );
    let started = hist[1].callback_started_details.as_ref().unwrap();
    assert_eq!(started.callback_id.as_deref(), Some(id.as_str()));
    assert_eq!(started.timeout, Some(300));
    assert_eq!(
        hist[3].callback_succeeded_details.as_ref().unwrap().result,
        Some(EventPayload::full(r#"{"approved":true}"#))
    );
}

#[test]
fn at_most_once_step_after_a_crash() {
    let mut h = H::new();
    let (arn, t) = h.running("crash");
    h.cp_ok(&arn, &t, vec![step("s", A::Start)]);
    h.outcome(
        &arn,
        InvocationOutcome::Error(err("Runtime.ExitError", "exit status 1")),
    );
    assert!(h.eng.runnable().is_empty(), "retried only after the delay");
    h.advance(5);
    assert_eq!(h.eng.fire_due(), vec![arn.clone()]);
    let t = h.begin(&arn).checkpoint_token;
    h.cp_ok(&arn, &t, vec![step("s", A::Fail)]);
    h.complete(
        &arn,
        InvocationOutput::failed(err("StepInterruptedError", "interrupted")),
    );
    let hist = h.history(&arn);
    assert_eq!(
        hist.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            E::ExecutionStarted,
            E::StepStarted,
            E::InvocationCompleted,
            E::StepFailed,
            E::InvocationCompleted,
            E::ExecutionFailed
        ]
    );
    let crash = hist[2].invocation_completed_details.as_ref().unwrap();
    assert_eq!(
        crash.error,
        Some(EventError::full(err("Runtime.ExitError", "exit status 1")))
    );
    let failed = hist[3].step_failed_details.as_ref().unwrap();
    assert_eq!(
        failed.retry_details,
        Some(RetryDetails {
            current_attempt: Some(1),
            next_attempt_delay_seconds: None
        })
    );
    assert_eq!(
        hist[5].execution_failed_details.as_ref().unwrap().error,
        Some(EventError::full(err("StepInterruptedError", "interrupted")))
    );
}

#[test]
fn map_with_two_items_in_one_invocation() {
    let mut h = H::new();
    let (arn, t) = h.running("map");
    let mut updates = vec![ctx("m", A::Start)];
    for i in 0..2 {
        let item = format!("m-{i}");
        let s = format!("s-{i}");
        updates.push(child(ctx(&item, A::Start), "m"));
        updates.push(child(step(&s, A::Start), &item));
        updates.push(child(succeed(&s, "1"), &item));
        updates.push(child(ctx(&item, A::Succeed), "m"));
    }
    updates.push(ctx("m", A::Succeed));
    h.cp_ok(&arn, &t, updates);
    h.complete(&arn, InvocationOutput::succeeded("[1,1]"));
    let hist = h.history(&arn);
    assert_eq!(hist.len(), 13);
    assert_eq!(hist[2].parent_id.as_deref(), Some("m"));
    assert_eq!(hist[3].parent_id.as_deref(), Some("m-0"));
    assert_eq!(hist[10].event_type, E::ContextSucceeded);
    assert_eq!(hist[11].event_type, E::InvocationCompleted);
}

#[test]
fn completions_during_an_invocation_follow_its_invocation_completed() {
    let mut h = H::new();
    let (arn, t) = h.running("held");
    let (t, ops) = h.cp_ok(&arn, &t, vec![callback("cb", 0, 0)]);
    let id = callback_id(&ops[0]);
    h.eng.send_callback_success(&id, b"\"yes\"").unwrap();
    assert!(h.eng.runnable().is_empty(), "an invocation is running");
    let (_t, ops) = h.cp_ok(&arn, &t, vec![]);
    assert_eq!(
        ops[0].status,
        OperationStatus::Succeeded,
        "delivered in the next response"
    );
    h.complete(&arn, InvocationOutput::succeeded("\"yes\""));
    assert_eq!(
        h.types(&arn),
        [
            E::ExecutionStarted,
            E::CallbackStarted,
            E::InvocationCompleted,
            E::CallbackSucceeded,
            E::ExecutionSucceeded
        ]
    );
}
