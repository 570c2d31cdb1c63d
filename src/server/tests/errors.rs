//! Every failure is AWS-shaped: status, `X-Amzn-ErrorType`, `__type`, `Type`, message.

use super::*;
use crate::api::ErrorCode;

#[tokio::test]
async fn frontend_errors_keep_their_exception_and_status() {
    let cases = [
        (
            ApiError::invalid_token(),
            400,
            "InvalidParameterValueException",
            "message",
        ),
        (
            ApiError::new(ErrorCode::CallbackTimeout, "expired"),
            400,
            "CallbackTimeoutException",
            "Message",
        ),
        (
            ApiError::not_found("Durable Execution does not exist"),
            404,
            "ResourceNotFoundException",
            "Message",
        ),
        (
            ApiError::new(ErrorCode::DurableExecutionAlreadyStarted, "dup"),
            409,
            "DurableExecutionAlreadyStartedException",
            "Message",
        ),
        (
            ApiError::new(ErrorCode::ResourceConflict, "busy"),
            409,
            "ResourceConflictException",
            "message",
        ),
        (
            ApiError::new(ErrorCode::TooManyRequests, "slow down"),
            429,
            "TooManyRequestsException",
            "message",
        ),
        (
            ApiError::new(ErrorCode::Service, "boom"),
            500,
            "ServiceException",
            "Message",
        ),
        (
            ApiError::new(ErrorCode::Kms("KMSDisabledException".into()), "kms"),
            502,
            "KMSDisabledException",
            "Message",
        ),
    ];
    for (error, status, code, member) in cases {
        let fake = Fake::failing(error.clone());
        let reply = send(fake.app(), request("GET", &exec_path(""), Body::empty())).await;
        let body = reply.assert_error(status, code);
        assert_eq!(body[member], error.message.as_str(), "{body}");
    }
}

#[tokio::test]
async fn throttling_sends_retry_after() {
    let mut error = ApiError::new(ErrorCode::TooManyRequests, "slow down");
    error.retry_after_seconds = Some(3);
    let fake = Fake::failing(error);
    let path = "/2025-12-01/durable-execution-callbacks/x/heartbeat";
    let reply = send(fake.app(), request("POST", path, Body::empty())).await;
    reply.assert_error(429, "TooManyRequestsException");
    assert_eq!(reply.header("retry-after"), Some("3"));
}

#[tokio::test]
async fn errors_on_every_route_kind_are_aws_shaped() {
    let error = ApiError::not_found("gone");
    let requests = [
        json_request(
            "POST",
            &exec_path("/checkpoint"),
            r#"{"CheckpointToken":"t"}"#,
        ),
        request("GET", &exec_path("/state?CheckpointToken=t"), Body::empty()),
        request("GET", &exec_path("/history"), Body::empty()),
        request("POST", &exec_path("/stop"), Body::empty()),
        request(
            "GET",
            "/2025-12-01/functions/f/durable-executions",
            Body::empty(),
        ),
        request("GET", "/2025-12-01/durable-executions", Body::empty()),
        request(
            "POST",
            "/2025-12-01/durable-execution-callbacks/c/succeed",
            "x",
        ),
        request("POST", "/2025-12-01/durable-execution-callbacks/c/fail", ""),
        request("POST", "/2015-03-31/functions/f/invocations", "{}"),
    ];
    for req in requests {
        let uri = req.uri().clone();
        let fake = Fake::failing(error.clone());
        let reply = send(fake.app(), req).await;
        reply.assert_error(404, "ResourceNotFoundException");
        assert_eq!(fake.calls().len(), 1, "{uri}");
    }
}

#[tokio::test]
async fn unknown_route_is_404() {
    let fake = Fake::new();
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/2025-12-01/durable-executions/a/b/checkpoint"),
        ("POST", "/2025-12-01/durable-executions/a/unknown"),
        ("PUT", "/lambda-endpoint"),
        ("GET", "/2025-12-01/durable-execution-callbacks/x"),
    ] {
        let reply = send(fake.app(), request(method, path, Body::empty())).await;
        reply.assert_error(404, "UnknownOperationException");
        assert!(reply.message().contains(method), "{}", reply.message());
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn wrong_method_on_a_known_path_is_405() {
    let fake = Fake::new();
    for (method, path) in [
        ("GET", exec_path("/checkpoint")),
        ("POST", exec_path("/state")),
        ("PUT", exec_path("")),
        (
            "GET",
            "/2025-12-01/durable-execution-callbacks/c/succeed".into(),
        ),
        ("GET", "/2015-03-31/functions/f/invocations".into()),
        ("POST", "/health".into()),
        ("GET", exec_path("/pause")),
    ] {
        let reply = send(fake.app(), request(method, &path, Body::empty())).await;
        reply.assert_error(405, "MethodNotAllowedException");
        assert!(reply.header("allow").is_some(), "{method} {path}");
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn newer_model_operations_are_unsupported() {
    let fake = Fake::new();
    for (method, path, op) in [
        ("POST", exec_path("/pause"), "PauseDurableExecution"),
        ("POST", exec_path("/resume"), "ResumeDurableExecution"),
        ("DELETE", exec_path(""), "DeleteDurableExecution"),
    ] {
        let reply = send(fake.app(), json_request(method, &path, "{}")).await;
        reply.assert_error(501, "UnsupportedOperationException");
        assert!(reply.message().contains(op), "{}", reply.message());
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn malformed_json_is_400() {
    for (path, body) in [
        (exec_path("/checkpoint"), "{not json"),
        (exec_path("/checkpoint"), ""),
        (exec_path("/stop"), "{\"ErrorType\":"),
        (
            "/2025-12-01/durable-execution-callbacks/c/fail".into(),
            "[}",
        ),
        ("/start-durable-execution".into(), "nope"),
    ] {
        let fake = Fake::new();
        let reply = send(fake.app(), json_request("POST", &path, body)).await;
        reply.assert_error(400, "InvalidParameterValueException");
        assert!(fake.calls().is_empty(), "{path}");
    }
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_400_naming_the_member() {
    let cases = [
        (
            exec_path("/checkpoint"),
            r#"{"Updates":[]}"#,
            "CheckpointToken",
        ),
        (
            exec_path("/checkpoint"),
            r#"{"CheckpointToken":7}"#,
            "CheckpointToken",
        ),
        (
            exec_path("/checkpoint"),
            r#"{"CheckpointToken":"t","Updates":[{"Id":"a","Type":"STEP","Action":"JUMP"}]}"#,
            "Action",
        ),
        (
            exec_path("/checkpoint"),
            r#"{"CheckpointToken":"t","Updates":{"Id":"a"}}"#,
            "Updates",
        ),
        (
            exec_path("/stop"),
            r#"{"ErrorMessage":["x"]}"#,
            "ErrorMessage",
        ),
        (
            "/start-durable-execution".into(),
            r#"{"FunctionName":"f"}"#,
            "AccountId",
        ),
        (
            "/start-durable-execution".into(),
            "[]",
            "StartDurableExecutionRequest",
        ),
    ];
    for (path, body, member) in cases {
        let fake = Fake::new();
        let reply = send(fake.app(), json_request("POST", &path, body)).await;
        reply.assert_error(400, "InvalidParameterValueException");
        assert!(
            reply.message().contains(member),
            "{body}: {}",
            reply.message()
        );
        assert!(fake.calls().is_empty());
    }
}

#[tokio::test]
async fn bad_query_values_are_400_naming_the_parameter() {
    let cases = [
        (
            exec_path("/state?CheckpointToken=t&MaxItems=ten"),
            "MaxItems",
        ),
        (
            exec_path("/state?CheckpointToken=t&MaxItems=-1"),
            "MaxItems",
        ),
        (exec_path("/state"), "CheckpointToken"),
        (exec_path("/state?CheckpointToken="), "CheckpointToken"),
        (
            exec_path("?IncludeExecutionData=yes"),
            "IncludeExecutionData",
        ),
        (exec_path("/history?ReverseOrder=1"), "ReverseOrder"),
        (
            "/2025-12-01/functions/f/durable-executions?Statuses=RUNNING&Statuses=running".into(),
            "Statuses",
        ),
        (
            "/2025-12-01/functions/f/durable-executions?StartedAfter=yesterday".into(),
            "StartedAfter",
        ),
        (
            // Epoch seconds are only the emulator list's form.
            "/2025-12-01/functions/f/durable-executions?StartedBefore=1735787045".into(),
            "StartedBefore",
        ),
        (
            "/2025-12-01/durable-executions?MaxItems=1e3".into(),
            "MaxItems",
        ),
        (exec_path("/history?Marker=%FF%FE"), "Marker"),
        (
            "/2025-12-01/durable-executions//state".into(),
            "DurableExecutionArn",
        ),
    ];
    for (uri, name) in cases {
        let fake = Fake::new();
        let reply = send(fake.app(), request("GET", &uri, Body::empty())).await;
        reply.assert_error(400, "InvalidParameterValueException");
        assert!(reply.message().contains(name), "{uri}: {}", reply.message());
        assert!(fake.calls().is_empty());
    }
}

#[tokio::test]
async fn bad_invoke_headers_are_400() {
    for (name, value) in [
        ("X-Amz-Invocation-Type", "Sometimes"),
        ("X-Dex-Handler-Invoke", "maybe"),
    ] {
        let fake = Fake::new();
        let req = Request::builder()
            .method("POST")
            .uri("/2015-03-31/functions/f/invocations")
            .header(name, value)
            .body(Body::empty())
            .unwrap();
        let reply = send(fake.app(), req).await;
        reply.assert_error(400, "InvalidParameterValueException");
        assert!(reply.message().contains(name), "{}", reply.message());
        assert!(fake.calls().is_empty());
    }
    let fake = Fake::new();
    let req = Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions/f/invocations")
        .header("X-Amz-Tenant-Id", &b"t\xffx"[..])
        .body(Body::empty())
        .unwrap();
    send(fake.app(), req)
        .await
        .assert_error(400, "InvalidParameterValueException");
}

#[tokio::test]
async fn invalid_utf8_in_a_path_label_is_400() {
    let fake = Fake::new();
    let reply = send(
        fake.app(),
        request("GET", "/2025-12-01/durable-executions/%FF", Body::empty()),
    )
    .await;
    reply.assert_error(400, "InvalidParameterValueException");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn a_bad_status_code_from_the_frontend_is_a_service_error() {
    let fake = Fake::new();
    fake.set_invoke_response(InvokeResponse {
        status_code: 42,
        ..Default::default()
    });
    let reply = send(
        fake.app(),
        request("POST", "/2015-03-31/functions/f/invocations", ""),
    )
    .await;
    reply.assert_error(500, "ServiceException");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let fake = Fake::new();
    let app = router(
        fake.clone(),
        ServerConfig::default().with_max_body_bytes(64),
    );
    let big = "x".repeat(65);
    for path in [
        exec_path("/checkpoint"),
        exec_path("/stop"),
        "/2025-12-01/durable-execution-callbacks/c/succeed".into(),
        "/2025-12-01/durable-execution-callbacks/c/fail".into(),
        "/2015-03-31/functions/f/invocations".into(),
        "/start-durable-execution".into(),
    ] {
        let reply = send(app.clone(), request("POST", &path, big.clone())).await;
        reply.assert_error(413, "RequestTooLargeException");
        assert!(reply.message().contains("64 bytes"), "{}", reply.message());
    }
    // Without a Content-Length (a stream), the limit still holds.
    let stream = chunked_body(vec![b"x".repeat(40), b"y".repeat(40)]);
    let reply = send(
        app.clone(),
        request("POST", "/2015-03-31/functions/f/invocations", stream),
    )
    .await;
    reply.assert_error(413, "RequestTooLargeException");
    // At the limit is fine.
    let reply = send(
        app,
        request(
            "POST",
            "/2025-12-01/durable-execution-callbacks/c/succeed",
            "x".repeat(64),
        ),
    )
    .await;
    reply.assert_ok(200);
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn default_limit_admits_a_six_mib_payload() {
    let fake = Fake::new();
    let payload = vec![b'a'; 6 * 1024 * 1024];
    let reply = send(
        fake.app(),
        request("POST", "/2015-03-31/functions/f/invocations", payload),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let too_big = vec![b'a'; ServerConfig::DEFAULT_MAX_BODY_BYTES + 1];
    let reply = send(
        fake.app(),
        request("POST", "/2015-03-31/functions/f/invocations", too_big),
    )
    .await;
    reply.assert_error(413, "RequestTooLargeException");
}

/// A body of several chunks with no known length.
fn chunked_body(chunks: Vec<Vec<u8>>) -> Body {
    Body::new(Chunks(chunks.into_iter().map(Into::into).collect()))
}

/// A streamed body: chunks, and no size hint beyond what is left.
struct Chunks(std::collections::VecDeque<axum::body::Bytes>);

impl hyper::body::Body for Chunks {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(hyper::body::Frame::data(c))))
    }
}
