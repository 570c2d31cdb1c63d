//! The real aws-sdk-lambda client against a fake HTTP endpoint: what each of the nine calls
//! puts on the wire, how responses and AWS errors come back, and the retry policy.

mod fake;
pub(crate) mod samples;
mod start;

use super::{AwsDurableApi, RetryConfig};
use crate::api::{DurableApi, ErrorCode};
use crate::model::*;
use fake::{FakeServer, Reply, percent_decode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

fn fast() -> RetryConfig {
    RetryConfig::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn api(server: &FakeServer) -> AwsDurableApi {
    AwsDurableApi::with_endpoint(&server.url, "us-east-1").with_retry(fast())
}

fn parse<T: DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

/// The decoded path segment after `prefix` (an ARN or a callback id).
fn label(path: &str, prefix: &str) -> String {
    let rest = path
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{path} does not start with {prefix}"));
    percent_decode(rest.split(['/', '?']).next().unwrap_or_default())
}

/// The sample's reply: its exact body when captured, else the (elided) JSON.
fn sample_reply(ex: &Value) -> (Reply, Value) {
    let resp = &ex["response"];
    let body = match resp["body"].as_str() {
        Some(text) => text.to_string(),
        None => resp["body_json"].to_string(),
    };
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (
        Reply::json(resp["status"].as_u64().unwrap_or(200) as u16, body),
        value,
    )
}

const DURABLE: &str = "/2025-12-01/durable-executions/";
const CALLBACKS: &str = "/2025-12-01/durable-execution-callbacks/";

#[tokio::test]
async fn checkpoint_sends_the_captured_request_and_parses_the_response() {
    for name in [
        "success-STEP.START+STEP.SUCCEED",
        "success-WAIT.START",
        "success-CALLBACK.START",
        "success-STEP.FAIL+STEP.START",
        "success-CHAINED_INVOKE.START",
    ] {
        let ex = samples::example("CheckpointDurableExecution", name);
        let server = FakeServer::start();
        let (reply, resp_body) = sample_reply(&ex);
        server.reply(reply);
        let sent = &ex["request"];
        let mut req: CheckpointDurableExecutionRequest = parse(&sent["body_json"]);
        req.durable_execution_arn = label(sent["path"].as_str().unwrap(), DURABLE);

        let out = api(&server).checkpoint(req).await.unwrap();
        assert_eq!(
            out,
            parse::<CheckpointDurableExecutionResponse>(&resp_body),
            "{name}"
        );

        let got = &server.requests()[0];
        assert_eq!(got.method, "POST");
        assert_eq!(got.target, sent["path"].as_str().unwrap(), "{name}");
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert!(
            got.header("authorization")
                .is_some_and(|a| a.contains("Credential=dummy/"))
        );
        let mut expected = sent["body_json"].clone();
        // The Rust client leaves out CallbackOptions members that are 0 (api.md §3.3).
        for u in expected["Updates"].as_array_mut().into_iter().flatten() {
            if let Some(opts) = u.get_mut("CallbackOptions").and_then(Value::as_object_mut) {
                opts.retain(|_, v| v != &json!(0));
            }
        }
        assert!(
            samples::same(&got.json(), &expected),
            "{name}\nsent: {}\nwant: {expected}",
            got.json()
        );
    }
}

#[tokio::test]
async fn state_history_execution_and_list_match_the_captured_exchanges() {
    // GetDurableExecutionState: path, token/marker/page size in the query.
    let ex = samples::example("GetDurableExecutionState", "success");
    let server = FakeServer::start();
    let (reply, body) = sample_reply(&ex);
    server.reply(reply);
    let path = ex["request"]["path"].as_str().unwrap();
    let query: Vec<(String, String)> = fake::Request {
        method: String::new(),
        target: path.into(),
        headers: vec![],
        body: vec![],
    }
    .query();
    let token = query
        .iter()
        .find(|(k, _)| k == "CheckpointToken")
        .map(|(_, v)| percent_decode(v));
    let out = api(&server)
        .get_state(GetDurableExecutionStateRequest {
            durable_execution_arn: label(path, DURABLE),
            checkpoint_token: token.unwrap(),
            marker: Some("9:8".into()),
            max_items: Some(1000),
        })
        .await
        .unwrap();
    assert_eq!(out, parse::<GetDurableExecutionStateResponse>(&body));
    let got = &server.requests()[0];
    assert_eq!(
        (got.method.as_str(), got.path()),
        ("GET", path.split('?').next().unwrap())
    );
    assert_eq!(got.query(), query);

    // GetDurableExecution: IncludeExecutionData always sent.
    let ex = samples::example("GetDurableExecution", "success");
    let server = FakeServer::start();
    let (reply, body) = sample_reply(&ex);
    server.reply(reply);
    let path = ex["request"]["path"].as_str().unwrap();
    let out = api(&server)
        .get_execution(&label(path, DURABLE), true)
        .await
        .unwrap();
    assert_eq!(out, parse::<GetDurableExecutionResponse>(&body));
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.path()), ("GET", path));
    assert_eq!(
        got.query(),
        vec![("IncludeExecutionData".into(), "true".into())]
    );

    // GetDurableExecutionHistory.
    let ex = samples::example("GetDurableExecutionHistory", "success");
    let server = FakeServer::start();
    let (reply, body) = sample_reply(&ex);
    server.reply(reply);
    let path = ex["request"]["path"].as_str().unwrap();
    let out = api(&server)
        .get_history(GetDurableExecutionHistoryRequest {
            durable_execution_arn: label(path, DURABLE),
            include_execution_data: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out, parse::<GetDurableExecutionHistoryResponse>(&body));
    assert!(out.events.len() > 5);
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.target.as_str()), ("GET", path));

    // ListDurableExecutionsByFunction.
    let ex = samples::example("ListDurableExecutionsByFunction", "success");
    let server = FakeServer::start();
    let (reply, body) = sample_reply(&ex);
    server.reply(reply);
    let out = api(&server)
        .list_by_function(ListDurableExecutionsByFunctionRequest {
            function_name: "with-callback".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out, parse::<ListDurableExecutionsByFunctionResponse>(&body));
    let got = &server.requests()[0];
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("GET", ex["request"]["path"].as_str().unwrap())
    );
}

#[tokio::test]
async fn list_filters_go_in_the_query() {
    let server = FakeServer::start();
    server.reply(Reply::ok(&json!({"DurableExecutions": []})));
    api(&server)
        .list_by_function(ListDurableExecutionsByFunctionRequest {
            function_name: "arn:aws:lambda:us-east-1:123456789012:function:orders".into(),
            qualifier: Some("$LATEST".into()),
            durable_execution_name: Some("order-42".into()),
            statuses: vec![ExecutionStatus::Running, ExecutionStatus::Failed],
            started_after: Some(Timestamp::parse_rfc3339("2025-01-02T03:04:05Z").unwrap()),
            started_before: Some(Timestamp::parse_rfc3339("2025-01-03T00:00:00.5Z").unwrap()),
            reverse_order: Some(true),
            marker: Some("AAAB+/=".into()),
            max_items: Some(50),
        })
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!(
        got.path(),
        "/2025-12-01/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders/durable-executions"
    );
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        got.query(),
        pairs(&[
            ("DurableExecutionName", "order-42"),
            ("Marker", "AAAB%2B%2F%3D"),
            ("MaxItems", "50"),
            ("Qualifier", "%24LATEST"),
            ("ReverseOrder", "true"),
            ("StartedAfter", "2025-01-02T03%3A04%3A05Z"),
            ("StartedBefore", "2025-01-03T00%3A00%3A00.5Z"),
            ("Statuses", "FAILED"),
            ("Statuses", "RUNNING"),
        ])
    );
}

#[tokio::test]
async fn callbacks_and_stop_match_the_captured_exchanges() {
    let ex = samples::example("SendDurableExecutionCallbackSuccess", "success");
    let server = FakeServer::start();
    server.reply(sample_reply(&ex).0);
    let path = ex["request"]["path"].as_str().unwrap();
    let body = ex["request"]["body"].as_str().unwrap();
    api(&server)
        .send_callback_success(&label(path, CALLBACKS), body.as_bytes().to_vec())
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", path));
    assert_eq!(got.body, body.as_bytes(), "the result is the raw body");
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));

    let ex = samples::example("SendDurableExecutionCallbackFailure", "success");
    let server = FakeServer::start();
    server.reply(sample_reply(&ex).0);
    let path = ex["request"]["path"].as_str().unwrap();
    let error: ErrorObject = parse(&ex["request"]["body_json"]);
    api(&server)
        .send_callback_failure(&label(path, CALLBACKS), error)
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", path));
    assert!(
        samples::same(&got.json(), &ex["request"]["body_json"]),
        "the ErrorObject is the body"
    );

    let ex = samples::example("SendDurableExecutionCallbackHeartbeat", "success");
    let server = FakeServer::start();
    server.reply(sample_reply(&ex).0);
    let path = ex["request"]["path"].as_str().unwrap();
    api(&server)
        .send_callback_heartbeat(&label(path, CALLBACKS))
        .await
        .unwrap();
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", path));
    assert!(got.body.is_empty());

    let ex = samples::example("StopDurableExecution", "success");
    let server = FakeServer::start();
    let (reply, body) = sample_reply(&ex);
    server.reply(reply);
    let path = ex["request"]["path"].as_str().unwrap();
    let error: ErrorObject = parse(&ex["request"]["body_json"]);
    let out = api(&server)
        .stop(&label(path, DURABLE), Some(error))
        .await
        .unwrap();
    assert_eq!(out, parse::<StopDurableExecutionResponse>(&body));
    let got = &server.requests()[0];
    assert_eq!((got.method.as_str(), got.target.as_str()), ("POST", path));
    assert!(samples::same(&got.json(), &ex["request"]["body_json"]));
}

const REAL_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/order-42/7c1e5a7e-3f0a-4b51-9d1e-0c4f2e9d8a11";

fn checkpoint_request() -> CheckpointDurableExecutionRequest {
    CheckpointDurableExecutionRequest {
        durable_execution_arn: REAL_ARN.into(),
        checkpoint_token: "eyJzZXEiOjF9".into(),
        updates: Some(vec![OperationUpdate::new(
            "1ced",
            OperationType::Step,
            OperationAction::Start,
        )]),
        client_token: None,
    }
}

fn empty_checkpoint_response() -> Reply {
    Reply::ok(&json!({"CheckpointToken": "next", "NewExecutionState": {"Operations": []}}))
}

#[tokio::test]
async fn an_arn_is_one_percent_encoded_path_segment() {
    let server = FakeServer::start();
    server.reply(empty_checkpoint_response());
    api(&server).checkpoint(checkpoint_request()).await.unwrap();
    assert_eq!(
        server.requests()[0].target,
        "/2025-12-01/durable-executions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aorders%3A%24LATEST%2Fdurable-execution%2Forder-42%2F7c1e5a7e-3f0a-4b51-9d1e-0c4f2e9d8a11/checkpoint"
    );
}

fn stale_token() -> Reply {
    Reply::aws_error(
        400,
        "InvalidParameterValueException",
        json!({"Type": "User", "message": "Invalid checkpoint token"}),
    )
}

#[tokio::test]
async fn a_stale_token_is_an_invalid_token_error() {
    let server = FakeServer::start();
    server.reply(stale_token());
    let err = api(&server)
        .get_state(GetDurableExecutionStateRequest {
            durable_execution_arn: REAL_ARN.into(),
            checkpoint_token: "old".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_token(), "{err:?}");
    assert_eq!(err.message, "Invalid checkpoint token");
    assert!(err.is_retryable());
    assert_eq!(
        server.requests().len(),
        1,
        "only checkpoints retry a stale token"
    );
}

#[tokio::test]
async fn a_stale_checkpoint_is_resent_identically_then_given_up() {
    let server = FakeServer::start();
    server
        .reply(stale_token())
        .reply(stale_token())
        .reply(empty_checkpoint_response());
    let out = api(&server).checkpoint(checkpoint_request()).await.unwrap();
    assert_eq!(out.checkpoint_token.as_deref(), Some("next"));
    let sent = server.requests();
    assert_eq!(sent.len(), 3);
    let client_token = sent[0].json()["ClientToken"].clone();
    assert!(
        client_token.is_string(),
        "ClientToken is always set explicitly"
    );
    assert!(
        sent.iter().all(|r| r.body == sent[0].body),
        "every retry is the same request"
    );

    let server = FakeServer::start();
    for _ in 0..4 {
        server.reply(stale_token());
    }
    let err = api(&server)
        .checkpoint(checkpoint_request())
        .await
        .unwrap_err();
    assert!(err.is_invalid_token());
    assert_eq!(server.requests().len(), 3, "1 + invalid_token_retries (2)");
}

#[tokio::test]
async fn not_found_keeps_code_and_message() {
    let server = FakeServer::start();
    server.reply(Reply::aws_error(
        404,
        "ResourceNotFoundException",
        json!({"Type": "User", "Message": "Durable Execution does not exist"}),
    ));
    let err = api(&server)
        .get_execution(REAL_ARN, false)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceNotFound);
    assert_eq!(err.message, "Durable Execution does not exist");
    assert!(!err.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let server = FakeServer::start();
    let throttled = Reply::aws_error(
        429,
        "TooManyRequestsException",
        json!({"Type": "User", "message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}),
    )
    .with_header("Retry-After", "0");
    server
        .reply(throttled.clone())
        .reply(throttled)
        .reply(empty_checkpoint_response());
    let out = api(&server).checkpoint(checkpoint_request()).await.unwrap();
    assert_eq!(out.checkpoint_token.as_deref(), Some("next"));
    assert_eq!(server.requests().len(), 3);

    // A Retry-After beyond the backoff cap goes back to the caller with its value.
    let server = FakeServer::start();
    server.reply(
        Reply::aws_error(
            429,
            "TooManyRequestsException",
            json!({"message": "Rate exceeded"}),
        )
        .with_header("Retry-After", "60"),
    );
    let err = api(&server)
        .send_callback_heartbeat("cb")
        .await
        .unwrap_err();
    assert_eq!(
        (err.code, err.retry_after_seconds),
        (ErrorCode::TooManyRequests, Some(60))
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_by_this_layer_only() {
    let server = FakeServer::start();
    let boom = Reply::aws_error(
        500,
        "ServiceException",
        json!({"Type": "Service", "Message": "boom"}),
    );
    for _ in 0..10 {
        server.reply(boom.clone());
    }
    let err = api(&server)
        .get_execution(REAL_ARN, true)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code.clone(), err.message.as_str()),
        (ErrorCode::Service, "boom")
    );
    assert_eq!(
        server.requests().len(),
        3,
        "max_attempts, not multiplied by the SDK's retries"
    );
}

#[tokio::test]
async fn the_sdk_retries_can_be_kept_instead() {
    let server = FakeServer::start();
    let boom = Reply::aws_error(500, "ServiceException", json!({"Message": "boom"}));
    for _ in 0..10 {
        server.reply(boom.clone());
    }
    let sdk_retry = aws_sdk_lambda::config::retry::RetryConfig::standard()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1));
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .endpoint_url(&server.url)
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "dummy", "dummy", None, None, "test",
        ))
        .retry_config(sdk_retry)
        .build();
    let client = aws_sdk_lambda::Client::from_conf(config);
    let api =
        AwsDurableApi::new(client.clone()).with_retry(RetryConfig::none().with_sdk_retries(true));
    let err = api.get_execution(REAL_ARN, true).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Service);
    assert_eq!(
        server.requests().len(),
        2,
        "the SDK's two attempts, none of ours"
    );

    // The same client under the default policy: the SDK's retries are switched off per call.
    let api = AwsDurableApi::new(client).with_retry(fast());
    api.get_execution(REAL_ARN, true).await.unwrap_err();
    assert_eq!(
        server.requests().len(),
        2 + 3,
        "our three attempts, not 3 × 2"
    );
}

#[tokio::test]
async fn kms_errors_are_terminal() {
    let server = FakeServer::start();
    server.reply(Reply::aws_error(
        502,
        "KMSDisabledException",
        json!({"Type": "User", "Message": "key disabled"}),
    ));
    let err = api(&server)
        .checkpoint(checkpoint_request())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Kms("KMSDisabledException".into()));
    assert!(!err.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn without_the_error_type_header_the_status_is_the_code() {
    // What the 1.4.0 runner sends: the Rust client finds no code, like boto3 reports "400".
    let server = FakeServer::start();
    server.reply(Reply::json(
        400,
        json!({"Type": "InvalidParameterValueException", "message": "Invalid checkpoint token"})
            .to_string(),
    ));
    let err = api(&server)
        .checkpoint(checkpoint_request())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Other("400".into()));
    assert!(!err.is_invalid_token());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn connection_failures_are_transport_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = AwsDurableApi::with_endpoint(format!("http://127.0.0.1:{port}"), "us-east-1")
        .with_retry(fast());
    let err = api.send_callback_heartbeat("cb").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Transport, "{err}");
    assert!(err.is_retryable());
}
