//! `start_execution` on the wire: an `Event` Invoke of the qualified function with the
//! execution name, and the ARN read from the response header.

use super::api;
use super::fake::{FakeServer, Reply, percent_decode};
use crate::api::{DurableApi, ErrorCode, StartExecutionRequest};

const EXECUTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:renewal:7/durable-execution/sub-1-g2/5f2c";

fn request() -> StartExecutionRequest {
    StartExecutionRequest::new(
        "arn:aws:lambda:us-east-1:123456789012:function:renewal",
        "sub-1-g2",
        r#"{"$continue":{"base":"sub-1","generation":2}}"#,
    )
    .qualifier("7")
}

#[tokio::test]
async fn start_execution_is_an_event_invoke_with_the_execution_name() {
    let server = FakeServer::start();
    server.reply(Reply::json(202, "").with_header("X-Amz-Durable-Execution-Arn", EXECUTION_ARN));
    let started = api(&server).start_execution(request()).await.unwrap();
    assert_eq!(started.durable_execution_arn, EXECUTION_ARN);

    let got = &server.requests()[0];
    assert_eq!(got.method, "POST");
    assert_eq!(
        percent_decode(got.path()),
        "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:renewal/invocations"
    );
    assert_eq!(got.query(), [("Qualifier".to_string(), "7".to_string())]);
    assert_eq!(got.header("x-amz-invocation-type"), Some("Event"));
    assert_eq!(got.header("x-amz-durable-execution-name"), Some("sub-1-g2"));
    assert_eq!(got.body, request().input.into_bytes());
}

#[tokio::test]
async fn start_execution_reports_aws_errors_and_a_function_that_is_not_durable() {
    let server = FakeServer::start();
    server.reply(Reply::aws_error(
        409,
        "DurableExecutionAlreadyStartedException",
        serde_json::json!({"Type": "User", "message": "already started with another input"}),
    ));
    let e = api(&server).start_execution(request()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::DurableExecutionAlreadyStarted);
    assert!(!e.is_retryable());

    // A plain function answers 202 without an execution ARN.
    let server = FakeServer::start();
    server.reply(Reply::json(202, ""));
    let e = api(&server).start_execution(request()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    assert!(e.message.contains("not a durable function"), "{e}");
}
