//! aws-sdk-lambda, unmodified, against the local durable service over HTTP: every durable API
//! call and Invoke, with results and errors read through the SDK's own types.
//!
//! The function host of [`support::Stack`] runs the executor over aws-sdk-lambda too, so the
//! successful CheckpointDurableExecution and GetDurableExecutionState calls are exercised by
//! every execution here; their traces are the transition STEPs in the histories.
#![cfg(all(feature = "aws", feature = "server", feature = "lambda"))]

mod support;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::get_durable_execution::GetDurableExecutionOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    ErrorObject, Event, EventType, ExecutionStatus, InvocationType, OperationAction, OperationType,
    OperationUpdate,
};
use durable_fsm::executor::TRANSITION_SUBTYPE;
use durable_fsm::server::ServerConfig;
use serde_json::Value;
use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use support::{DESK_CALLBACK, DESK_HEARTBEAT_SECS, DESK_TIMEOUT_SECS, Stack, eventually};

/// A well-formed ARN of an execution that does not exist.
const UNKNOWN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:desk:$LATEST/durable-execution/nobody/00000000-0000-4000-8000-000000000000";
/// A well-formed callback id that was never minted.
const UNKNOWN_CALLBACK_ID: &str = "bm9ib2R5LWtub3dzLXRoaXMtY2FsbGJhY2s=";
/// A checkpoint token the service never issued.
const MADE_UP_TOKEN: &str = "bWFkZS11cC10b2tlbg==";

// ---- helpers ------------------------------------------------------------------------------

/// The modelled error of a call that must fail, and the HTTP status it came with.
fn rejected<T: Debug, E: ProvideErrorMetadata + Debug>(
    result: Result<T, SdkError<E>>,
    call: &str,
) -> (u16, E) {
    match result {
        Ok(out) => panic!("{call} succeeded, expected an error: {out:?}"),
        Err(SdkError::ServiceError(e)) => (e.raw().status().as_u16(), e.into_err()),
        Err(other) => panic!("{call}: expected a service error, got {other:?}"),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Starts a `desk` execution with an `Event` Invoke; returns its ARN.
async fn start_desk(client: &Client, name: &str) -> String {
    let out = client
        .invoke()
        .function_name("desk")
        .invocation_type(InvocationType::Event)
        .durable_execution_name(name)
        .payload(Blob::new(format!(r#"{{"desk":"{name}"}}"#)))
        .send()
        .await
        .expect("Event invoke of desk");
    assert_eq!(out.status_code(), 202, "{out:?}");
    assert_eq!(out.function_error(), None, "{out:?}");
    let arn = out.durable_execution_arn().expect("DurableExecutionArn");
    assert!(
        arn.starts_with("arn:aws:lambda:us-east-1:123456789012:function:desk:$LATEST/")
            && arn.contains(&format!("/durable-execution/{name}/")),
        "{arn}"
    );
    arn.to_string()
}

/// The whole history, oldest first, with payloads.
async fn history(client: &Client, arn: &str) -> Vec<Event> {
    client
        .get_durable_execution_history()
        .durable_execution_arn(arn)
        .include_execution_data(true)
        .max_items(1000)
        .send()
        .await
        .expect("GetDurableExecutionHistory")
        .events()
        .to_vec()
}

/// Waits until the desk execution has opened its callback and its invocation has ended
/// (so nothing changes any more until someone answers); returns the callback id.
async fn wait_for_callback(client: &Client, arn: &str) -> String {
    eventually(
        "CallbackStarted and the end of the invocation",
        || async move {
            let events = history(client, arn).await;
            let at = events
                .iter()
                .position(|e| e.event_type() == Some(&EventType::CallbackStarted))?;
            let suspended = events[at..]
                .iter()
                .any(|e| e.event_type() == Some(&EventType::InvocationCompleted));
            let details = events[at].callback_started_details()?;
            suspended.then(|| details.callback_id().to_string())
        },
    )
    .await
}

async fn get(client: &Client, arn: &str) -> GetDurableExecutionOutput {
    client
        .get_durable_execution()
        .durable_execution_arn(arn)
        .send()
        .await
        .expect("GetDurableExecution")
}

/// Polls GetDurableExecution until the execution has ended.
async fn wait_for_end(client: &Client, arn: &str) -> GetDurableExecutionOutput {
    eventually("the end of the execution", || async move {
        let exec = get(client, arn).await;
        (exec.status() != &ExecutionStatus::Running).then_some(exec)
    })
    .await
}

async fn listed(client: &Client, statuses: &[ExecutionStatus]) -> Vec<(String, ExecutionStatus)> {
    let mut req = client
        .list_durable_executions_by_function()
        .function_name("desk");
    for status in statuses {
        req = req.statuses(status.clone());
    }
    let out = req.send().await.expect("ListDurableExecutionsByFunction");
    out.durable_executions()
        .iter()
        .map(|e| (e.durable_execution_arn().to_string(), e.status().clone()))
        .collect()
}

fn of_type(events: &[Event], t: EventType) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| e.event_type() == Some(&t))
        .collect()
}

// ---- Invoke -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_starts_a_durable_execution_once_per_name() {
    let stack = Stack::start_default().await;
    let client = stack.client();
    let input = r#"{"n":1,"text":"hi"}"#;
    let invoke = |payload: &str| {
        client
            .invoke()
            .function_name("echo")
            .invocation_type(InvocationType::RequestResponse)
            .durable_execution_name("echo-1")
            .payload(Blob::new(payload.to_string()))
            .send()
    };

    let first = invoke(input).await.expect("RequestResponse invoke of echo");
    assert_eq!(first.status_code(), 200, "{first:?}");
    assert_eq!(first.function_error(), None, "{first:?}");
    assert_eq!(first.executed_version(), Some("$LATEST"));
    let payload = first.payload().expect("Payload").as_ref();
    assert_eq!(json(payload), json(input.as_bytes()));
    let arn = first
        .durable_execution_arn()
        .expect("DurableExecutionArn")
        .to_string();
    assert!(
        arn.starts_with(
            "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST/durable-execution/echo-1/"
        ),
        "{arn}"
    );

    // The same name and payload: the same execution, and its result again.
    let again = invoke(input).await.expect("the same Invoke again");
    assert_eq!(again.status_code(), 200);
    assert_eq!(again.durable_execution_arn(), Some(arn.as_str()));
    assert_eq!(
        json(again.payload().expect("Payload").as_ref()),
        json(input.as_bytes())
    );

    // The same name with another payload: the SDK's typed 409.
    let (status, e) = rejected(
        invoke(r#"{"n":2}"#).await,
        "Invoke with the same name and another payload",
    );
    assert_eq!(status, 409, "{e:?}");
    assert!(e.is_durable_execution_already_started_exception(), "{e:?}");
    assert_eq!(e.code(), Some("DurableExecutionAlreadyStartedException"));
    assert!(e.message().is_some_and(|m| m.contains("echo-1")), "{e:?}");

    let exec = get(&client, &arn).await;
    assert_eq!(exec.status(), &ExecutionStatus::Succeeded);
    assert_eq!(exec.durable_execution_name(), "echo-1");
    assert_eq!(
        exec.function_arn(),
        "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST"
    );
    assert_eq!(exec.input_payload(), Some(input));
    assert_eq!(
        json(exec.result().expect("Result").as_bytes()),
        json(input.as_bytes())
    );
    let events = history(&client, &arn).await;
    let steps = of_type(&events, EventType::StepSucceeded);
    assert_eq!(steps.len(), 1, "{events:#?}");
    assert_eq!(steps[0].sub_type(), Some(TRANSITION_SUBTYPE));
    assert_eq!(steps[0].name(), Some("Reply"));
    stack.shutdown().await;
}

// ---- a callback answered with success -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_succeeds_through_the_sdk() {
    let stack = Stack::start_default().await;
    let client = stack.client();
    let arn = start_desk(&client, "desk-ok").await;
    let callback_id = wait_for_callback(&client, &arn).await;

    let events = history(&client, &arn).await;
    let started = of_type(&events, EventType::ExecutionStarted);
    let input = started[0]
        .execution_started_details()
        .and_then(|d| d.input())
        .and_then(|i| i.payload());
    assert_eq!(input, Some(r#"{"desk":"desk-ok"}"#));
    let cb = of_type(&events, EventType::CallbackStarted);
    assert_eq!(cb.len(), 1, "{events:#?}");
    assert_eq!(cb[0].name(), Some(DESK_CALLBACK));
    let details = cb[0].callback_started_details().expect("details");
    assert_eq!(details.timeout(), Some(DESK_TIMEOUT_SECS as i32));
    assert_eq!(
        details.heartbeat_timeout(),
        Some(DESK_HEARTBEAT_SECS as i32)
    );

    // Listed as running, with and without a status filter.
    let running = (arn.clone(), ExecutionStatus::Running);
    assert!(listed(&client, &[]).await.contains(&running));
    assert!(
        listed(&client, &[ExecutionStatus::Running])
            .await
            .contains(&running)
    );
    let finished = [ExecutionStatus::Succeeded, ExecutionStatus::Failed];
    assert!(
        !listed(&client, &finished)
            .await
            .iter()
            .any(|(a, _)| *a == arn)
    );

    let exec = get(&client, &arn).await;
    assert_eq!(exec.status(), &ExecutionStatus::Running);
    assert_eq!(exec.durable_execution_name(), "desk-ok");
    assert_eq!(exec.result(), None);
    assert_eq!(exec.end_timestamp(), None);

    client
        .send_durable_execution_callback_heartbeat()
        .callback_id(&callback_id)
        .send()
        .await
        .expect("SendDurableExecutionCallbackHeartbeat");
    let body = r#"{"approved":true,"by":"alice"}"#;
    client
        .send_durable_execution_callback_success()
        .callback_id(&callback_id)
        .result(Blob::new(body))
        .send()
        .await
        .expect("SendDurableExecutionCallbackSuccess");

    let done = wait_for_end(&client, &arn).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.result(), Some(body));
    assert!(done.end_timestamp().is_some());

    // The callback is closed now: a second answer or a heartbeat is refused.
    let (status, e) = rejected(
        client
            .send_durable_execution_callback_success()
            .callback_id(&callback_id)
            .result(Blob::new("{}"))
            .send()
            .await,
        "a second SendDurableExecutionCallbackSuccess",
    );
    assert_eq!(status, 400, "{e:?}");
    assert!(e.is_callback_timeout_exception(), "{e:?}");
    let (_, e) = rejected(
        client
            .send_durable_execution_callback_heartbeat()
            .callback_id(&callback_id)
            .send()
            .await,
        "a heartbeat after the end",
    );
    assert!(e.is_callback_timeout_exception(), "{e:?}");

    let events = history(&client, &arn).await;
    let last = events.last().expect("events");
    assert_eq!(last.event_type(), Some(&EventType::ExecutionSucceeded));
    let result = last
        .execution_succeeded_details()
        .and_then(|d| d.result())
        .and_then(|r| r.payload());
    assert_eq!(result, Some(body));
    let ids: Vec<i32> = events.iter().map(Event::event_id).collect();
    assert_eq!(ids, (1..=events.len() as i32).collect::<Vec<_>>());
    let answered = of_type(&events, EventType::CallbackSucceeded);
    let answer = answered[0]
        .callback_succeeded_details()
        .and_then(|d| d.result())
        .and_then(|r| r.payload());
    assert_eq!(answer, Some(body));

    // Two invocations (before and after the callback), each with its details.
    let invocations = of_type(&events, EventType::InvocationCompleted);
    assert_eq!(invocations.len(), 2, "{events:#?}");
    for event in invocations {
        let d = event.invocation_completed_details().expect("details");
        assert!(!d.request_id().is_empty(), "{d:?}");
        assert!(d.start_timestamp() <= d.end_timestamp(), "{d:?}");
        assert!(d.error().is_none(), "{d:?}");
    }

    // The transitions were checkpointed by the function host through aws-sdk-lambda.
    let steps: Vec<_> = of_type(&events, EventType::StepSucceeded)
        .into_iter()
        .filter(|e| e.sub_type() == Some(TRANSITION_SUBTYPE))
        .collect();
    let names: Vec<_> = steps.iter().filter_map(|e| e.name()).collect();
    assert_eq!(names, ["Open", "Waiting"], "{events:#?}");
    let open_result = steps[0]
        .step_succeeded_details()
        .and_then(|d| d.result())
        .and_then(|r| r.payload())
        .unwrap_or_default();
    assert!(open_result.contains(&callback_id), "{open_result}");
    stack.shutdown().await;
}

// ---- a callback answered with failure; a stopped execution ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_fails_and_an_execution_is_stopped() {
    let stack = Stack::start_default().await;
    let client = stack.client();

    let rejected_arn = start_desk(&client, "desk-no").await;
    let callback_id = wait_for_callback(&client, &rejected_arn).await;
    let error = ErrorObject::builder()
        .error_type("RejectedError")
        .error_message("no")
        .build();
    client
        .send_durable_execution_callback_failure()
        .callback_id(&callback_id)
        .error(error.clone())
        .send()
        .await
        .expect("SendDurableExecutionCallbackFailure");
    let done = wait_for_end(&client, &rejected_arn).await;
    assert_eq!(done.status(), &ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.result(), Some(r#""failed:RejectedError""#));
    let events = history(&client, &rejected_arn).await;
    let failed = of_type(&events, EventType::CallbackFailed);
    let recorded = failed[0]
        .callback_failed_details()
        .and_then(|d| d.error())
        .and_then(|e| e.payload());
    assert_eq!(recorded, Some(&error));

    let stopped_arn = start_desk(&client, "desk-stop").await;
    let callback_id = wait_for_callback(&client, &stopped_arn).await;
    let cancel = ErrorObject::builder()
        .error_type("Cancelled")
        .error_message("operator cancelled the desk")
        .build();
    let stop = client
        .stop_durable_execution()
        .durable_execution_arn(&stopped_arn)
        .error(cancel.clone())
        .send()
        .await
        .expect("StopDurableExecution");
    let exec = get(&client, &stopped_arn).await;
    assert_eq!(exec.status(), &ExecutionStatus::Stopped);
    assert_eq!(exec.error(), Some(&cancel));
    assert_eq!(exec.end_timestamp(), Some(stop.stop_timestamp()));
    let events = history(&client, &stopped_arn).await;
    let last = events.last().expect("events");
    assert_eq!(last.event_type(), Some(&EventType::ExecutionStopped));
    let recorded = last
        .execution_stopped_details()
        .and_then(|d| d.error())
        .and_then(|e| e.payload());
    assert_eq!(recorded, Some(&cancel));
    assert!(
        !listed(&client, &[ExecutionStatus::Running])
            .await
            .iter()
            .any(|(a, _)| *a == stopped_arn)
    );
    assert!(
        listed(&client, &[ExecutionStatus::Stopped])
            .await
            .contains(&(stopped_arn.clone(), ExecutionStatus::Stopped))
    );

    // Stopping again answers the time it stopped; its callback can no longer be answered.
    let again = client
        .stop_durable_execution()
        .durable_execution_arn(&stopped_arn)
        .send()
        .await
        .expect("StopDurableExecution of a stopped execution");
    assert_eq!(again.stop_timestamp(), stop.stop_timestamp());
    assert_eq!(get(&client, &stopped_arn).await.error(), Some(&cancel));
    let (_, e) = rejected(
        client
            .send_durable_execution_callback_success()
            .callback_id(&callback_id)
            .send()
            .await,
        "SendDurableExecutionCallbackSuccess after the stop",
    );
    assert!(e.is_callback_timeout_exception(), "{e:?}");
    stack.shutdown().await;
}

// ---- modelled errors ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_arrive_as_the_sdk_models_them() {
    let stack = Stack::start_default().await;
    let client = stack.client();
    let arn = start_desk(&client, "desk-errors").await;
    wait_for_callback(&client, &arn).await;
    let before = history(&client, &arn).await;

    let intruder = OperationUpdate::builder()
        .id("intruder")
        .r#type(OperationType::Step)
        .action(OperationAction::Start)
        .name("intruder")
        .build()
        .expect("OperationUpdate");
    let (status, e) = rejected(
        client
            .checkpoint_durable_execution()
            .durable_execution_arn(&arn)
            .checkpoint_token(MADE_UP_TOKEN)
            .updates(intruder)
            .send()
            .await,
        "CheckpointDurableExecution with a made-up token",
    );
    assert_eq!(status, 400, "{e:?}");
    assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
    assert!(
        e.message()
            .is_some_and(|m| m.starts_with("Invalid checkpoint token")),
        "{e:?}"
    );

    let (status, e) = rejected(
        client
            .get_durable_execution_state()
            .durable_execution_arn(&arn)
            .checkpoint_token(MADE_UP_TOKEN)
            .send()
            .await,
        "GetDurableExecutionState with a made-up token",
    );
    assert_eq!(status, 400, "{e:?}");
    assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
    assert!(
        e.message()
            .is_some_and(|m| m.starts_with("Invalid checkpoint token")),
        "{e:?}"
    );
    assert_eq!(history(&client, &arn).await, before, "nothing was applied");

    let (status, e) = rejected(
        client
            .get_durable_execution()
            .durable_execution_arn(UNKNOWN_ARN)
            .send()
            .await,
        "GetDurableExecution of an unknown ARN",
    );
    assert_eq!(status, 404, "{e:?}");
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let (status, e) = rejected(
        client
            .get_durable_execution_history()
            .durable_execution_arn(UNKNOWN_ARN)
            .send()
            .await,
        "GetDurableExecutionHistory of an unknown ARN",
    );
    assert_eq!(status, 404, "{e:?}");
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let (status, e) = rejected(
        client
            .stop_durable_execution()
            .durable_execution_arn(UNKNOWN_ARN)
            .send()
            .await,
        "StopDurableExecution of an unknown ARN",
    );
    assert_eq!(status, 404, "{e:?}");
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    let (status, e) = rejected(
        client
            .send_durable_execution_callback_success()
            .callback_id(UNKNOWN_CALLBACK_ID)
            .result(Blob::new("{}"))
            .send()
            .await,
        "SendDurableExecutionCallbackSuccess with an unknown id",
    );
    assert_eq!(status, 404, "{e:?}");
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let (_, e) = rejected(
        client
            .send_durable_execution_callback_failure()
            .callback_id(UNKNOWN_CALLBACK_ID)
            .send()
            .await,
        "SendDurableExecutionCallbackFailure with an unknown id",
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let (_, e) = rejected(
        client
            .send_durable_execution_callback_heartbeat()
            .callback_id(UNKNOWN_CALLBACK_ID)
            .send()
            .await,
        "SendDurableExecutionCallbackHeartbeat with an unknown id",
    );
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    assert_eq!(get(&client, &arn).await.status(), &ExecutionStatus::Running);
    assert_eq!(history(&client, &arn).await, before);
    stack.shutdown().await;
}

// ---- hostile HTTP -------------------------------------------------------------------------

/// One response read off a raw HTTP/1.1 connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes everything but the unreserved characters, as the SDKs encode path labels.
fn encode(label: &str) -> String {
    label
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the answer to EOF.
/// The body is written from another thread so an early answer is still read.
fn raw_blocking(addr: SocketAddr, method: &str, target: &str, body: Vec<u8>) -> RawResponse {
    let timeout = Some(Duration::from_secs(20));
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(timeout).expect("read timeout");
    stream.set_write_timeout(timeout).expect("write timeout");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut writer = stream.try_clone().expect("clone the stream");
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        writer.write_all(&body)?;
        writer.flush()
    });
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("reading the answer to {method} {target}: {e}"));
    // The server may answer before reading the whole body and close; that is its right.
    let _ = sender.join();

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut rest = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        rest = dechunk(&rest);
    }
    RawResponse {
        status,
        headers,
        body: rest,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

async fn raw(addr: SocketAddr, method: &str, target: &str, body: Vec<u8>) -> RawResponse {
    let (method, target) = (method.to_string(), target.to_string());
    tokio::task::spawn_blocking(move || raw_blocking(addr, &method, &target, body))
        .await
        .expect("the raw HTTP client thread")
}

/// A hostile request and the AWS-shaped answers it may get.
struct Hostile {
    what: &'static str,
    method: &'static str,
    target: String,
    body: Vec<u8>,
    /// Acceptable (HTTP status, `X-Amzn-ErrorType`) pairs.
    answers: &'static [(u16, &'static str)],
}

const INVALID: &[(u16, &str)] = &[(400, "InvalidParameterValueException")];
const NOT_ALLOWED: &[(u16, &str)] = &[(405, "MethodNotAllowedException")];
const INVALID_OR_NOT_FOUND: &[(u16, &str)] = &[
    (400, "InvalidParameterValueException"),
    (404, "ResourceNotFoundException"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_aws_errors_and_change_nothing() {
    let stack = Stack::start_default().await;
    let client = stack.client();
    let addr = stack.service_addr;
    let arn = start_desk(&client, "desk-hostile").await;
    wait_for_callback(&client, &arn).await;
    let enc = encode(&arn);
    let execution_path = format!("/2025-12-01/durable-executions/{enc}");
    let history_path = format!("{execution_path}/history?MaxItems=1000&IncludeExecutionData=true");
    let snapshot = || async {
        let exec = raw(addr, "GET", &execution_path, Vec::new()).await;
        let hist = raw(addr, "GET", &history_path, Vec::new()).await;
        assert_eq!((exec.status, hist.status), (200, 200), "{exec:?} {hist:?}");
        (exec.body, hist.body)
    };
    let before = snapshot().await;

    let checkpoint = format!("{execution_path}/checkpoint");
    let cases = [
        Hostile {
            what: "malformed JSON to /checkpoint",
            method: "POST",
            target: checkpoint.clone(),
            body: br#"{"CheckpointToken":"#.to_vec(),
            answers: INVALID,
        },
        Hostile {
            what: "JSON of the wrong shape to /checkpoint",
            method: "POST",
            target: checkpoint.clone(),
            body: br#"{"CheckpointToken":5,"Updates":"no"}"#.to_vec(),
            answers: INVALID,
        },
        Hostile {
            what: "an unknown route",
            method: "GET",
            target: "/2025-12-01/no-such-operation".to_string(),
            body: Vec::new(),
            answers: &[(404, "UnknownOperationException")],
        },
        Hostile {
            what: "GET of /checkpoint",
            method: "GET",
            target: checkpoint.clone(),
            body: Vec::new(),
            answers: NOT_ALLOWED,
        },
        Hostile {
            what: "PUT of /stop",
            method: "PUT",
            target: format!("{execution_path}/stop"),
            body: b"{}".to_vec(),
            answers: NOT_ALLOWED,
        },
        Hostile {
            what: "a body one byte over the server's limit",
            method: "POST",
            target: checkpoint.clone(),
            body: vec![b' '; ServerConfig::DEFAULT_MAX_BODY_BYTES + 1],
            answers: &[(413, "RequestTooLargeException")],
        },
        Hostile {
            what: "an ARN label that is not UTF-8 once decoded",
            method: "GET",
            target: "/2025-12-01/durable-executions/%ZZ%C3%28%00%FF%2".to_string(),
            body: Vec::new(),
            answers: INVALID,
        },
        Hostile {
            what: "an ARN label with broken escapes",
            method: "GET",
            target: "/2025-12-01/durable-executions/%ZZgarbage%zz/history".to_string(),
            body: Vec::new(),
            answers: INVALID_OR_NOT_FOUND,
        },
        Hostile {
            what: "a callback id of `../` segments, encoded",
            method: "POST",
            target: format!(
                "/2025-12-01/durable-execution-callbacks/{}/succeed",
                encode(&format!("../../durable-executions/{enc}/stop"))
            ),
            body: b"{}".to_vec(),
            answers: INVALID_OR_NOT_FOUND,
        },
        Hostile {
            // Normalizing `..` would turn this into StopDurableExecution of the execution.
            what: "a callback path with a raw `..` segment",
            method: "POST",
            target: format!(
                "/2025-12-01/durable-execution-callbacks/../durable-executions/{enc}/stop"
            ),
            body: b"{}".to_vec(),
            answers: &[(404, "UnknownOperationException")],
        },
        Hostile {
            what: "a callback id `..`",
            method: "POST",
            target: "/2025-12-01/durable-execution-callbacks/../heartbeat".to_string(),
            body: Vec::new(),
            answers: INVALID_OR_NOT_FOUND,
        },
    ];
    for case in cases {
        let shown = format!(
            "{} ({} {})",
            case.what,
            case.method,
            case.target.chars().take(300).collect::<String>()
        );
        let res = raw(addr, case.method, &case.target, case.body).await;
        let code = res.header("x-amzn-errortype").unwrap_or_default();
        assert!(
            case.answers.contains(&(res.status, code)),
            "{shown}: expected one of {:?}, got {res:?}",
            case.answers
        );
        assert!(res.header("x-amzn-requestid").is_some(), "{shown}: {res:?}");
        let body = json(&res.body);
        assert_eq!(body["__type"], code, "{shown}: {body}");
        assert!(
            body["Type"] == "User" || body["Type"] == "Service",
            "{shown}: {body}"
        );
        let message = body
            .get("message")
            .or_else(|| body.get("Message"))
            .and_then(Value::as_str);
        assert!(message.is_some_and(|m| !m.is_empty()), "{shown}: {body}");

        // The server still answers, raw and through the SDK.
        let health = raw(addr, "GET", &execution_path, Vec::new()).await;
        assert_eq!(health.status, 200, "after {shown}: {health:?}");
        assert_eq!(get(&client, &arn).await.status(), &ExecutionStatus::Running);
    }

    assert_eq!(
        get(&client, &arn).await.status(),
        &ExecutionStatus::Running,
        "the execution was not stopped"
    );
    let after = snapshot().await;
    assert!(
        before == after,
        "the hostile requests changed the execution:\nbefore: {}\n{}\nafter: {}\n{}",
        String::from_utf8_lossy(&before.0),
        String::from_utf8_lossy(&before.1),
        String::from_utf8_lossy(&after.0),
        String::from_utf8_lossy(&after.1),
    );
    stack.shutdown().await;
}
