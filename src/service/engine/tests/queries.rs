//! Paging of state, history and lists; hidden children of completed contexts.

use super::*;

fn state(
    h: &H,
    arn: &str,
    token: &str,
    marker: Option<String>,
    max: Option<u32>,
) -> Result<GetDurableExecutionStateResponse, ApiError> {
    h.eng.get_state(GetDurableExecutionStateRequest {
        durable_execution_arn: arn.into(),
        checkpoint_token: token.into(),
        marker,
        max_items: max,
    })
}

/// Reads every page; returns the ids and the number of pages.
fn all_state(
    h: &H,
    arn: &str,
    token: &str,
    mut marker: Option<String>,
    max: Option<u32>,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page = state(h, arn, token, marker, max).unwrap();
        pages += 1;
        ids.extend(page.operations.into_iter().map(|o| o.id));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => return (ids, pages),
        }
    }
}

#[test]
fn get_state_pages_in_creation_order() {
    let mut h = H::new();
    let (arn, t) = h.running("paged");
    let updates: Vec<_> = (0..249)
        .map(|i| succeed(&format!("s{i:03}"), "1"))
        .collect();
    let (t, _) = h.cp_ok(&arn, &t, updates);
    let (ids, pages) = all_state(&h, &arn, &t, None, None);
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 250);
    assert_eq!(ids[1], "s000");
    assert_eq!(ids[249], "s248");
    let (_, pages) = all_state(&h, &arn, &t, None, Some(1000));
    assert_eq!(pages, 1);
    assert_eq!(
        state(&h, &arn, &t, Some("bogus".into()), None)
            .unwrap_err()
            .message,
        "Invalid marker"
    );
    assert_eq!(
        state(&h, &arn, &t, Some("h1".into()), None)
            .unwrap_err()
            .message,
        "Invalid marker"
    );
    assert_eq!(
        state(&h, &arn, &t, None, Some(1001)).unwrap_err().code,
        ErrorCode::InvalidParameterValue
    );
}

#[test]
fn the_invocation_input_holds_the_first_page() {
    let mut h = H::new();
    let (arn, t) = h.running("big");
    let updates: Vec<_> = (0..1200).map(|i| succeed(&format!("s{i}"), "1")).collect();
    let r = h.cp(&arn, &t, updates).unwrap();
    // The checkpoint response is paged too; the rest comes with the new token.
    let new_state = r.new_execution_state;
    assert_eq!(new_state.operations.as_ref().map(Vec::len), Some(1000));
    let t = r.checkpoint_token.unwrap();
    let (rest, _) = all_state(&h, &arn, &t, new_state.next_marker, Some(1000));
    assert_eq!(rest.len(), 200);
    assert_eq!(rest[0], "s1000");
    h.complete(&arn, InvocationOutput::pending());
    let input = h.begin(&arn);
    let first = input.initial_execution_state.unwrap();
    assert_eq!(first.operations.len(), 1000);
    let (rest, _) = all_state(
        &h,
        &arn,
        &input.checkpoint_token,
        first.next_marker,
        Some(1000),
    );
    assert_eq!(rest.len(), 201);
}

#[test]
fn large_payloads_shrink_the_page() {
    let mut h = H::new();
    let (arn, t) = h.running("heavy");
    let big = "x".repeat(2 * 1024 * 1024);
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![succeed("a", &big), succeed("b", &big), succeed("c", &big)],
    );
    let (ids, pages) = all_state(&h, &arn, &t, None, Some(1000));
    assert_eq!(&ids[1..], ["a", "b", "c"]);
    assert_eq!(pages, 2);
}

#[test]
fn children_of_completed_contexts_are_left_out() {
    let mut h = H::new();
    let (arn, t) = h.running("epochs");
    let (t, _) = h.cp_ok(
        &arn,
        &t,
        vec![
            ctx("e1", A::Start),
            child(succeed("e1-a", "1"), "e1"),
            child(ctx("e1-inner", A::Start), "e1"),
            child(succeed("e1-inner-a", "1"), "e1-inner"),
            ctx("e2", A::Start),
            child(succeed("e2-a", "1"), "e2"),
            ctx("e3", A::Start),
            child(succeed("e3-a", "1"), "e3"),
        ],
    );
    let mut replay = ctx("e2", A::Succeed);
    replay.context_options = Some(ContextOptions {
        replay_children: Some(true),
    });
    let (t, ops) = h.cp_ok(&arn, &t, vec![ctx("e1", A::Succeed), replay]);
    assert_eq!(ops.len(), 2);
    let (ids, _) = all_state(&h, &arn, &t, None, None);
    assert_eq!(&ids[1..], ["e1", "e2", "e2-a", "e3", "e3-a"]);
    // An orphan created under a completed context is hidden too.
    let (t, _) = h.cp_ok(&arn, &t, vec![child(succeed("e1-late", "1"), "e1")]);
    let (ids, _) = all_state(&h, &arn, &t, None, None);
    assert!(!ids.contains(&"e1-late".to_string()));
    h.complete(&arn, InvocationOutput::pending());
    let ids: Vec<String> = h
        .begin(&arn)
        .initial_execution_state
        .unwrap()
        .operations
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(&ids[1..], ["e1", "e2", "e2-a", "e3", "e3-a"]);
}

#[test]
fn history_pages_both_ways_and_can_omit_payloads() {
    let mut h = H::new();
    let (arn, t) = h.running("hist");
    let updates: Vec<_> = (0..150)
        .map(|i| succeed(&format!("s{i}"), "\"v\""))
        .collect();
    h.cp_ok(&arn, &t, updates);
    h.complete(&arn, InvocationOutput::succeeded("\"r\""));
    let page = |marker: Option<String>, reverse: bool, max: Option<u32>| {
        h.eng
            .get_history(GetDurableExecutionHistoryRequest {
                durable_execution_arn: arn.clone(),
                include_execution_data: None,
                max_items: max,
                marker,
                reverse_order: Some(reverse),
            })
            .unwrap()
    };
    let p1 = page(None, false, None);
    assert_eq!(p1.events.len(), 100);
    assert_eq!(p1.events[0].event_id, 1);
    let p2 = page(p1.next_marker.clone(), false, None);
    assert_eq!(
        p2.events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        (101..=153).collect::<Vec<_>>()
    );
    assert_eq!(p2.next_marker, None);
    let r1 = page(None, true, Some(150));
    assert_eq!(r1.events[0].event_id, 153);
    assert_eq!(r1.events[0].event_type, EventType::ExecutionSucceeded);
    let r2 = page(r1.next_marker, true, Some(150));
    assert_eq!(
        r2.events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(r2.next_marker, None);
    let stripped = h
        .eng
        .get_history(GetDurableExecutionHistoryRequest {
            durable_execution_arn: arn.clone(),
            include_execution_data: Some(false),
            max_items: Some(1000),
            ..Default::default()
        })
        .unwrap();
    let started = stripped.events[0]
        .execution_started_details
        .as_ref()
        .unwrap();
    assert_eq!(
        started.input,
        Some(EventPayload {
            payload: None,
            truncated: Some(true)
        })
    );
    let done = stripped.events[152]
        .execution_succeeded_details
        .as_ref()
        .unwrap();
    assert_eq!(
        done.result,
        Some(EventPayload {
            payload: None,
            truncated: Some(true)
        })
    );
    let e = h
        .eng
        .get_history(GetDurableExecutionHistoryRequest {
            durable_execution_arn: arn.clone(),
            marker: Some("h999".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.message, "Invalid marker");
    let e = h
        .eng
        .get_history(GetDurableExecutionHistoryRequest::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceNotFound);
}

#[test]
fn get_execution_with_and_without_data() {
    let mut h = H::new();
    let (arn, _t) = h.running("data");
    h.complete(&arn, InvocationOutput::succeeded("\"r\""));
    let full = h.eng.get_execution(&arn, true).unwrap();
    assert_eq!(
        full.function_arn,
        "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"
    );
    assert_eq!(
        (full.input_payload.as_deref(), full.result.as_deref()),
        (Some("{}"), Some("\"r\""))
    );
    assert_eq!(full.version.as_deref(), Some("$LATEST"));
    assert_eq!(full.expected_execution_timeout_timestamp, None);
    let lean = h.eng.get_execution(&arn, false).unwrap();
    assert_eq!(
        (
            lean.input_payload,
            lean.result,
            lean.execution_data_included
        ),
        (None, None, Some(false))
    );
    assert_eq!(
        h.eng.get_execution("nope", true).unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

fn list(
    h: &H,
    req: ListDurableExecutionsByFunctionRequest,
) -> ListDurableExecutionsByFunctionResponse {
    h.eng.list_by_function(req).unwrap()
}

#[test]
fn list_by_function_filters_and_pages() {
    let mut h = H::new();
    let mut arns = Vec::new();
    for i in 0..5 {
        arns.push(h.start(&format!("e{i}")));
        h.advance(1);
    }
    h.eng
        .start_execution(StartExecution::new("other", "{}").named("x"))
        .unwrap();
    h.eng.stop(&arns[1], None).unwrap();
    let by = |f: &str| ListDurableExecutionsByFunctionRequest {
        function_name: f.into(),
        ..Default::default()
    };
    let all = list(&h, by("fn"));
    let names: Vec<_> = all
        .durable_executions
        .iter()
        .map(|e| e.durable_execution_name.as_str())
        .collect();
    assert_eq!(names, ["e4", "e3", "e2", "e1", "e0"], "newest first");
    assert_eq!(all.durable_executions[3].status, ExecutionStatus::Stopped);
    let oldest = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            reverse_order: Some(true),
            ..by("fn")
        },
    );
    assert_eq!(oldest.durable_executions[0].durable_execution_name, "e0");
    // Pages of two.
    let mut marker = None;
    let mut seen = Vec::new();
    loop {
        let page = list(
            &h,
            ListDurableExecutionsByFunctionRequest {
                max_items: Some(2),
                marker: marker.clone(),
                ..by("fn")
            },
        );
        seen.extend(
            page.durable_executions
                .into_iter()
                .map(|e| e.durable_execution_name),
        );
        marker = page.next_marker;
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["e4", "e3", "e2", "e1", "e0"]);
    // Filters.
    let stopped = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            statuses: vec![ExecutionStatus::Stopped],
            ..by("fn")
        },
    );
    assert_eq!(stopped.durable_executions.len(), 1);
    let named = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            durable_execution_name: Some("e2".into()),
            ..by("fn")
        },
    );
    assert_eq!(named.durable_executions[0].durable_execution_arn, arns[2]);
    let start = h
        .eng
        .get_execution(&arns[2], false)
        .unwrap()
        .start_timestamp;
    let after = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            started_after: Some(start),
            ..by("fn")
        },
    );
    assert_eq!(after.durable_executions.len(), 3);
    let before = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            started_before: Some(start),
            ..by("fn")
        },
    );
    assert_eq!(before.durable_executions.len(), 3);
    let v2 = list(
        &h,
        ListDurableExecutionsByFunctionRequest {
            qualifier: Some("2".into()),
            ..by("fn")
        },
    );
    assert!(v2.durable_executions.is_empty());
    // Names, qualified names and ARNs all work.
    for f in [
        "fn:$LATEST",
        "123456789012:function:fn",
        "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST",
    ] {
        assert_eq!(list(&h, by(f)).durable_executions.len(), 5, "{f}");
    }
    assert!(list(&h, by("fn:7")).durable_executions.is_empty());
    for f in ["ghost", "arn:aws:lambda:eu-west-1:123456789012:function:fn"] {
        assert_eq!(
            h.eng.list_by_function(by(f)).unwrap_err().code,
            ErrorCode::ResourceNotFound,
            "{f}"
        );
    }
    let e = h
        .eng
        .list_by_function(ListDurableExecutionsByFunctionRequest {
            marker: Some("s1".into()),
            ..by("fn")
        });
    assert_eq!(e.unwrap_err().message, "Invalid marker");
    // A registered function without executions lists nothing.
    h.eng.register_function("empty", FunctionConfig::plain());
    assert!(list(&h, by("empty")).durable_executions.is_empty());
    // Over all functions.
    let everything = h.eng.list_executions(ListExecutions::default()).unwrap();
    assert_eq!(everything.durable_executions.len(), 6);
    assert_eq!(everything.durable_executions[0].durable_execution_name, "x");
}
