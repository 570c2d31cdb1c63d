//! Every route's success path: what the frontend receives and what the client gets back.

use super::*;
use serde_json::json;

#[tokio::test]
async fn checkpoint_parses_the_body_and_takes_the_arn_from_the_path() {
    let fake = Fake::new();
    let body = r#"{"CheckpointToken":"eyJzZXEiOjF9+/=","ClientToken":"0f6b2d0e",
        "Updates":[{"Id":"s1","Type":"STEP","SubType":"Step","Name":"charge","Action":"START"},
                   {"Id":"s1","Type":"STEP","Action":"SUCCEED","Payload":"{\"ok\":true}"}]}"#;
    let reply = send(
        fake.app(),
        json_request("POST", &exec_path("/checkpoint"), body),
    )
    .await;
    let out = reply.assert_ok(200);
    assert_eq!(out["CheckpointToken"], "next+token==");
    assert_eq!(out["NewExecutionState"]["Operations"][0]["Id"], "step-1");
    assert_eq!(
        out["NewExecutionState"]["Operations"][0]["StartTimestamp"],
        1_732_700_000.101
    );
    let Call::Checkpoint(req) = fake.only_call() else {
        panic!("wrong call")
    };
    assert_eq!(req.durable_execution_arn, ARN);
    assert_eq!(req.checkpoint_token, "eyJzZXEiOjF9+/=");
    assert_eq!(req.client_token.as_deref(), Some("0f6b2d0e"));
    let updates = req.updates.unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].action, OperationAction::Start);
    assert_eq!(updates[1].payload.as_deref(), Some("{\"ok\":true}"));
}

#[tokio::test]
async fn checkpoint_without_updates_is_allowed() {
    let fake = Fake::new();
    let reply = send(
        fake.app(),
        json_request(
            "POST",
            &exec_path("/checkpoint"),
            r#"{"CheckpointToken":"t"}"#,
        ),
    )
    .await;
    reply.assert_ok(200);
    let Call::Checkpoint(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.updates, None);
}

#[tokio::test]
async fn arn_with_slash_colon_and_dollar_round_trips() {
    let fake = Fake::new();
    let reply = send(fake.app(), request("GET", &exec_path(""), Body::empty())).await;
    let out = reply.assert_ok(200);
    assert_eq!(out["DurableExecutionArn"], ARN);
    assert_eq!(fake.only_call(), Call::GetExecution(ARN.into(), true));
}

#[tokio::test]
async fn labels_keep_plus_and_decode_lowercase_escapes() {
    let fake = Fake::new();
    // `+` in a path segment is a literal plus; `%2f` (lower case) is a slash.
    let uri = "/2025-12-01/durable-executions/a+b%2fc%3d/history";
    send(fake.app(), request("GET", uri, Body::empty()))
        .await
        .assert_ok(200);
    let Call::GetHistory(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.durable_execution_arn, "a+b/c=");
}

#[tokio::test]
async fn get_execution_reads_include_execution_data() {
    let fake = Fake::new();
    let uri = exec_path("?IncludeExecutionData=false");
    send(fake.app(), request("GET", &uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(fake.only_call(), Call::GetExecution(ARN.into(), false));
}

#[tokio::test]
async fn state_reads_token_marker_and_max_items() {
    let fake = Fake::new();
    let uri = exec_path("/state?CheckpointToken=ab%2Bc%2F%3D%3D&Marker=1%3A100&MaxItems=1000");
    let out = send(fake.app(), request("GET", &uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(out["NextMarker"], "1:101");
    assert_eq!(out["Operations"][0]["Status"], "SUCCEEDED");
    assert_eq!(
        fake.only_call(),
        Call::GetState(GetDurableExecutionStateRequest {
            durable_execution_arn: ARN.into(),
            checkpoint_token: "ab+c/==".into(),
            marker: Some("1:100".into()),
            max_items: Some(1000),
        })
    );
}

#[tokio::test]
async fn a_literal_plus_in_a_query_token_stays_a_plus() {
    let fake = Fake::new();
    let uri = exec_path("/state?CheckpointToken=ab+c/==");
    send(fake.app(), request("GET", &uri, Body::empty()))
        .await
        .assert_ok(200);
    let Call::GetState(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.checkpoint_token, "ab+c/==");
    assert_eq!(req.marker, None);
    assert_eq!(req.max_items, None);
}

#[tokio::test]
async fn history_reads_every_query_member() {
    let fake = Fake::new();
    let uri =
        exec_path("/history?IncludeExecutionData=false&MaxItems=5&Marker=7&ReverseOrder=true");
    let out = send(fake.app(), request("GET", &uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(out["Events"][0]["EventType"], "StepStarted");
    assert_eq!(out["Events"][0]["StepStartedDetails"], json!({}));
    assert!(out.get("NextMarker").is_none());
    assert_eq!(
        fake.only_call(),
        Call::GetHistory(GetDurableExecutionHistoryRequest {
            durable_execution_arn: ARN.into(),
            include_execution_data: Some(false),
            max_items: Some(5),
            marker: Some("7".into()),
            reverse_order: Some(true),
        })
    );
}

#[tokio::test]
async fn history_leaves_absent_members_to_the_service() {
    let fake = Fake::new();
    send(
        fake.app(),
        request("GET", &exec_path("/history"), Body::empty()),
    )
    .await
    .assert_ok(200);
    let Call::GetHistory(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.include_execution_data, None);
    assert_eq!(req.reverse_order, None);
}

#[tokio::test]
async fn list_by_function_reads_repeated_statuses_and_iso_timestamps() {
    let fake = Fake::new();
    let uri = "/2025-12-01/functions/\
        arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders/durable-executions\
        ?Qualifier=%24LATEST&DurableExecutionName=order-42&Statuses=RUNNING&Statuses=FAILED\
        &StartedAfter=2025-01-02T03%3A04%3A05Z&StartedBefore=2025-01-03T00:00:00.250Z\
        &ReverseOrder=true&Marker=AAAB%2B&MaxItems=10";
    let out = send(fake.app(), request("GET", uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(out["DurableExecutions"][0]["DurableExecutionArn"], ARN);
    assert_eq!(out["NextMarker"], "AAAB+/=");
    assert_eq!(
        fake.only_call(),
        Call::ListByFunction(ListDurableExecutionsByFunctionRequest {
            function_name: "arn:aws:lambda:us-east-1:123456789012:function:orders".into(),
            qualifier: Some("$LATEST".into()),
            durable_execution_name: Some("order-42".into()),
            statuses: vec![ExecutionStatus::Running, ExecutionStatus::Failed],
            started_after: Some(Timestamp::from_secs(1_735_787_045)),
            started_before: Some(Timestamp::from_micros(1_735_862_400_250_000)),
            reverse_order: Some(true),
            marker: Some("AAAB+".into()),
            max_items: Some(10),
        })
    );
}

#[tokio::test]
async fn list_by_function_with_no_query() {
    let fake = Fake::new();
    let uri = "/2025-12-01/functions/orders/durable-executions";
    send(fake.app(), request("GET", uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(
        fake.only_call(),
        Call::ListByFunction(ListDurableExecutionsByFunctionRequest {
            function_name: "orders".into(),
            ..Default::default()
        })
    );
}

#[tokio::test]
async fn emulator_list_accepts_its_own_query_names() {
    let fake = Fake::new();
    let uri = "/2025-12-01/durable-executions?FunctionName=orders&FunctionVersion=%24LATEST\
        &StatusFilter=SUCCEEDED,STOPPED&StartedAfter=1735787045&MaxItems=3";
    let out = send(fake.app(), request("GET", uri, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(out["DurableExecutions"][0]["Status"], "RUNNING");
    assert_eq!(
        fake.only_call(),
        Call::ListAll(ListDurableExecutionsByFunctionRequest {
            function_name: "orders".into(),
            qualifier: Some("$LATEST".into()),
            statuses: vec![ExecutionStatus::Succeeded, ExecutionStatus::Stopped],
            started_after: Some(Timestamp::from_secs(1_735_787_045)),
            max_items: Some(3),
            ..Default::default()
        })
    );
}

#[tokio::test]
async fn emulator_list_of_every_function() {
    let fake = Fake::new();
    send(
        fake.app(),
        request("GET", "/2025-12-01/durable-executions", Body::empty()),
    )
    .await
    .assert_ok(200);
    assert_eq!(
        fake.only_call(),
        Call::ListAll(ListDurableExecutionsByFunctionRequest::default())
    );
}

#[tokio::test]
async fn stop_takes_the_error_object_as_the_body() {
    let fake = Fake::new();
    let body = r#"{"ErrorType":"Cancelled","ErrorMessage":"operator cancelled order 42"}"#;
    let out = send(fake.app(), json_request("POST", &exec_path("/stop"), body))
        .await
        .assert_ok(200);
    assert_eq!(out, json!({"StopTimestamp": 1_795_776_144.856_124}));
    assert_eq!(
        fake.only_call(),
        Call::Stop(
            ARN.into(),
            Some(ErrorObject::new("Cancelled", "operator cancelled order 42"))
        )
    );
}

#[tokio::test]
async fn stop_accepts_the_emulator_wrapped_form() {
    let fake = Fake::new();
    let body = r#"{"Error":{"ErrorType":"Cancelled","ErrorMessage":"stop"}}"#;
    send(fake.app(), json_request("POST", &exec_path("/stop"), body))
        .await
        .assert_ok(200);
    assert_eq!(
        fake.only_call(),
        Call::Stop(ARN.into(), Some(ErrorObject::new("Cancelled", "stop")))
    );
}

#[tokio::test]
async fn stop_with_an_empty_or_empty_object_body_has_no_error() {
    for body in ["", "{}"] {
        let fake = Fake::new();
        send(fake.app(), request("POST", &exec_path("/stop"), body))
            .await
            .assert_ok(200);
        assert_eq!(fake.only_call(), Call::Stop(ARN.into(), None), "{body:?}");
    }
}

#[tokio::test]
async fn callback_success_passes_raw_bytes_whatever_the_content_type() {
    let id = "eyJhcm4iOiJ4In0=";
    let path = "/2025-12-01/durable-execution-callbacks/eyJhcm4iOiJ4In0%3D/succeed";
    let bytes: &[u8] = b"\x00\xffnot json";
    for content_type in [None, Some("application/octet-stream"), Some("text/plain")] {
        let fake = Fake::new();
        let mut req = Request::builder().method("POST").uri(path);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let reply = send(fake.app(), req.body(Body::from(bytes)).unwrap()).await;
        assert_eq!(reply.assert_ok(200), json!({}));
        assert_eq!(
            fake.only_call(),
            Call::CallbackSuccess(id.into(), bytes.to_vec())
        );
    }
    let fake = Fake::new();
    send(fake.app(), request("POST", path, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(fake.only_call(), Call::CallbackSuccess(id.into(), vec![]));
}

#[tokio::test]
async fn callback_failure_takes_the_error_object_as_the_body() {
    let fake = Fake::new();
    let path = "/2025-12-01/durable-execution-callbacks/cb%2B1/fail";
    let body = r#"{"ErrorType":"RejectedError","ErrorMessage":"no","StackTrace":["a"]}"#;
    let out = send(fake.app(), json_request("POST", path, body))
        .await
        .assert_ok(200);
    assert_eq!(out, json!({}));
    let mut error = ErrorObject::new("RejectedError", "no");
    error.stack_trace = Some(vec!["a".into()]);
    assert_eq!(
        fake.only_call(),
        Call::CallbackFailure("cb+1".into(), error)
    );

    let fake = Fake::new();
    send(fake.app(), request("POST", path, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(
        fake.only_call(),
        Call::CallbackFailure("cb+1".into(), ErrorObject::default())
    );
}

#[tokio::test]
async fn callback_heartbeat() {
    let fake = Fake::new();
    let path = "/2025-12-01/durable-execution-callbacks/abc/heartbeat";
    let out = send(fake.app(), request("POST", path, Body::empty()))
        .await
        .assert_ok(200);
    assert_eq!(out, json!({}));
    assert_eq!(fake.only_call(), Call::CallbackHeartbeat("abc".into()));
}

#[tokio::test]
async fn start_answers_201_with_the_arn() {
    let fake = Fake::new();
    let body = r#"{"AccountId": "123456789012", "FunctionName": "three-steps",
        "FunctionQualifier": "$LATEST", "ExecutionName": "a-three-steps",
        "ExecutionTimeoutSeconds": 120, "ExecutionRetentionPeriodDays": 7,
        "Input": "{\"hello\": \"world\"}"}"#;
    let out = send(
        fake.app(),
        json_request("POST", "/start-durable-execution", body),
    )
    .await
    .assert_ok(201);
    assert_eq!(out, json!({ "ExecutionArn": ARN }));
    let Call::Start(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.function_name, "three-steps");
    assert_eq!(req.execution_timeout_seconds, 120);
    assert_eq!(req.input.as_deref(), Some("{\"hello\": \"world\"}"));
}

#[tokio::test]
async fn health_and_metrics() {
    let fake = Fake::new();
    let health = send(fake.app(), request("GET", "/health", Body::empty())).await;
    assert_eq!(health.assert_ok(200), json!({"status": "healthy"}));
    assert_eq!(health.body, br#"{"status":"healthy"}"#);
    let metrics = send(fake.app(), request("GET", "/metrics", Body::empty())).await;
    assert_eq!(metrics.body, br#"{"metrics":{}}"#);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn invoke_reads_headers_and_query_and_passes_the_body_through() {
    let fake = Fake::new();
    fake.set_invoke_response(InvokeResponse {
        status_code: 202,
        payload: vec![],
        durable_execution_arn: Some(ARN.into()),
        executed_version: Some("$LATEST".into()),
        function_error: None,
    });
    let req = Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions/orders%3Aprod/invocations?Qualifier=%24LATEST")
        .header("X-Amz-Invocation-Type", "Event")
        .header("X-Amz-Durable-Execution-Name", "order-42")
        .header("X-Amz-Tenant-Id", "tenant a")
        .body(Body::from(r#"{"orderId":42}"#))
        .unwrap();
    let reply = send(fake.app(), req).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_request_id(&reply.headers);
    assert_eq!(reply.header("x-amz-durable-execution-arn"), Some(ARN));
    assert_eq!(reply.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(reply.header("x-amz-function-error"), None);
    assert!(reply.body.is_empty());
    assert_eq!(
        fake.only_call(),
        Call::Invoke(InvokeRequest {
            function_name: "orders:prod".into(),
            qualifier: Some("$LATEST".into()),
            invocation_type: InvocationType::Event,
            durable_execution_name: Some("order-42".into()),
            tenant_id: Some("tenant a".into()),
            payload: br#"{"orderId":42}"#.to_vec(),
            handler_invoke: false,
        })
    );
}

#[tokio::test]
async fn invoke_as_a_handler_invocation_with_defaults() {
    let fake = Fake::new();
    fake.set_invoke_response(InvokeResponse {
        status_code: 200,
        payload: br#"{"errorMessage":"boom"}"#.to_vec(),
        function_error: Some("Unhandled".into()),
        ..Default::default()
    });
    let req = Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions/three-steps/invocations")
        .header("X-Dex-Handler-Invoke", "true")
        .body(Body::from(r#"{"DurableExecutionArn":"a/b"}"#))
        .unwrap();
    let reply = send(fake.app(), req).await;
    assert_eq!(reply.assert_ok(200), json!({"errorMessage": "boom"}));
    assert_eq!(reply.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(reply.header("x-amz-durable-execution-arn"), None);
    assert_eq!(
        fake.only_call(),
        Call::Invoke(InvokeRequest {
            function_name: "three-steps".into(),
            invocation_type: InvocationType::RequestResponse,
            payload: br#"{"DurableExecutionArn":"a/b"}"#.to_vec(),
            handler_invoke: true,
            ..Default::default()
        })
    );
}

#[tokio::test]
async fn invoke_dry_run_answers_204_without_a_body() {
    let fake = Fake::new();
    fake.set_invoke_response(InvokeResponse {
        status_code: 204,
        payload: b"ignored".to_vec(),
        ..Default::default()
    });
    let req = Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions/f/invocations")
        .header("X-Amz-Invocation-Type", "DryRun")
        .header("X-Dex-Handler-Invoke", "false")
        .body(Body::empty())
        .unwrap();
    let reply = send(fake.app(), req).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    let Call::Invoke(req) = fake.only_call() else {
        panic!()
    };
    assert_eq!(req.invocation_type, InvocationType::DryRun);
    assert!(!req.handler_invoke);
}
