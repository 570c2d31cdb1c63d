//! The HTTP invoker against a tiny Lambda-Invoke-compatible function server on 127.0.0.1:0
//! whose handlers run the executor against the same `LocalService`.

use super::*;
use crate::executor;
use crate::service::InvocationOutcome;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Mutex as StdMutex;

/// One request the function server received.
#[derive(Clone, Debug)]
struct Call {
    path: String,
    invocation_type: Option<String>,
    handler: Option<String>,
    tenant: Option<String>,
}

struct FnServer {
    service: LocalService,
    calls: StdMutex<Vec<Call>>,
    flaky: AtomicU32,
    served: AtomicU32,
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn json_reply(status: StatusCode, extra: &[(&'static str, String)], body: String) -> Response {
    let mut r = (status, body).into_response();
    for (k, v) in extra {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

/// The function server: behaviour by function name.
async fn handle(
    State(s): State<Arc<FnServer>>,
    Path(target): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    s.calls.lock().unwrap().push(Call {
        path: uri.path().to_string(),
        invocation_type: header(&headers, "x-amz-invocation-type"),
        handler: header(&headers, "x-dex-handler-invoke"),
        tenant: header(&headers, "x-amz-tenant-id"),
    });
    let n = s.served.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = ("x-amzn-requestid", format!("req-{n}"));
    let name = target.split(':').next().unwrap_or_default();
    let run = |output: InvocationOutput| {
        json_reply(
            StatusCode::OK,
            std::slice::from_ref(&request_id),
            serde_json::to_string(&output).unwrap(),
        )
    };
    match name {
        "remote" => {
            let input = InvocationInput::from_slice(&body).unwrap();
            run(executor::run::<Double, _>(&s.service, input).await.unwrap())
        }
        "flaky" if s.flaky.fetch_add(1, Ordering::SeqCst) == 0 => json_reply(
            StatusCode::OK,
            &[("x-amz-function-error", "Unhandled".into())],
            r#"{"errorType":"Boom","errorMessage":"first call fails"}"#.into(),
        ),
        "flaky" => {
            let input = InvocationInput::from_slice(&body).unwrap();
            run(executor::run::<Double, _>(&s.service, input).await.unwrap())
        }
        "missing" => json_reply(
            StatusCode::NOT_FOUND,
            &[("x-amzn-errortype", "ResourceNotFoundException".into())],
            r#"{"Type":"User","message":"Function not found: missing"}"#.into(),
        ),
        "garbage" => json_reply(StatusCode::OK, &[], "not json".into()),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            json_reply(StatusCode::OK, &[], r#"{"Status":"PENDING"}"#.into())
        }
        "echo" => json_reply(StatusCode::OK, &[], String::from_utf8_lossy(&body).into()),
        "boom" => json_reply(
            StatusCode::OK,
            &[("x-amz-function-error", "Unhandled".into())],
            r#"{"errorType":"KeyError","errorMessage":"no such key"}"#.into(),
        ),
        "chainer" => {
            let input = InvocationInput::from_slice(&body).unwrap();
            run(chainer(&s.service, input).await)
        }
        _ => json_reply(StatusCode::INTERNAL_SERVER_ERROR, &[], "{}".into()),
    }
}

/// A handler written against the raw protocol: two chained invokes of plain functions (one
/// in-process, one served over HTTP), then the two results.
async fn chainer(service: &LocalService, input: InvocationInput) -> InvocationOutput {
    let ops = input.initial_execution_state.unwrap_or_default().operations;
    let result = |id: &str| {
        ops.iter()
            .find(|op| op.id == id && op.status == OperationStatus::Succeeded)
            .and_then(|op| op.chained_invoke_details.as_ref()?.result.clone())
    };
    if let (Some(a), Some(b)) = (result("ci1"), result("ci2")) {
        return InvocationOutput::succeeded(format!("[{a},{b}]"));
    }
    if !ops.iter().any(|op| op.id == "ci1") {
        let invoke = |id: &str, function: &str, payload: &str| {
            let mut u =
                OperationUpdate::new(id, OperationType::ChainedInvoke, OperationAction::Start);
            u.sub_type = Some("ChainedInvoke".into());
            u.payload = Some(payload.into());
            u.chained_invoke_options = Some(ChainedInvokeOptions {
                function_name: function.into(),
                tenant_id: None,
                x_amzn_trace_id: None,
            });
            u
        };
        let req = CheckpointDurableExecutionRequest {
            durable_execution_arn: input.durable_execution_arn,
            checkpoint_token: input.checkpoint_token,
            updates: Some(vec![
                invoke("ci1", "twice", "21"),
                invoke("ci2", "echo", "\"hi\""),
            ]),
            client_token: None,
        };
        service.checkpoint(req).await.unwrap();
    }
    InvocationOutput::pending()
}

async fn function_server(service: LocalService) -> (String, Arc<FnServer>) {
    let state = Arc::new(FnServer {
        service,
        calls: StdMutex::new(Vec::new()),
        flaky: AtomicU32::new(0),
        served: AtomicU32::new(0),
    });
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(handle),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), state)
}

/// A runtime whose functions are served by the function server, except the in-process plain
/// function `twice`; `echo` is a plain function known to the engine.
async fn remote_runtime() -> (RuntimeHandle, Arc<FnServer>) {
    let config = EngineConfig {
        max_invocation_failures: 2,
        ..fast_config()
    }
    .with_function("echo", crate::service::FunctionConfig::plain());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = LocalService::in_memory(config, clock.clone());
    let (url, server) = function_server(service.clone()).await;
    let mut registry = Registry::new();
    registry.register_plain("twice", |v: serde_json::Value| async move {
        Ok(serde_json::json!(v.as_i64().unwrap_or(0) * 2))
    });
    let invokers = Invokers::new(registry)
        .with_lambda_endpoint(url)
        .with_invocation_timeout(Duration::from_millis(300));
    (Runtime::start(service, invokers, clock), server)
}

#[tokio::test]
async fn handler_invocations_use_the_runner_request() {
    let (rt, server) = remote_runtime().await;
    let mut req = StartExecution::new("remote", "21");
    req.tenant_id = Some("tenant-1".into());
    let arn = rt
        .service()
        .with_engine(|e| e.start_execution(req))
        .unwrap()
        .unwrap()
        .arn;
    let mut req = StartExecution::new("remote", "2");
    req.qualifier = Some("7".into());
    let versioned = rt
        .service()
        .with_engine(|e| e.start_execution(req))
        .unwrap()
        .unwrap()
        .arn;
    for (arn, want) in [(&arn, "42"), (&versioned, "4")] {
        let done = rt.wait_for_end(arn, Duration::from_secs(5)).await.unwrap();
        assert_eq!(done.result.as_deref(), Some(want));
        assert_eq!(invocation_errors(rt.service(), arn), vec![None]);
        let events = rt.service().lock().unwrap().events(arn).unwrap();
        let completed = events
            .iter()
            .find_map(|e| e.invocation_completed_details.as_ref())
            .unwrap();
        assert!(completed.request_id.as_deref().unwrap().starts_with("req-"));
    }
    let calls = server.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.invocation_type.as_deref(), Some("RequestResponse"));
        assert_eq!(call.handler.as_deref(), Some("true"));
    }
    let plain = calls.iter().find(|c| c.tenant.is_some()).unwrap();
    assert_eq!(plain.path, "/2015-03-31/functions/remote/invocations");
    assert_eq!(plain.tenant.as_deref(), Some("tenant-1"));
    let v7 = calls.iter().find(|c| c.tenant.is_none()).unwrap();
    assert_eq!(v7.path, "/2015-03-31/functions/remote%3A7/invocations");
    rt.shutdown().await;
}

#[tokio::test]
async fn http_failures_are_retried_or_fail_the_execution() {
    let (rt, _server) = remote_runtime().await;
    let cases = [
        (
            "missing",
            ExecutionStatus::Failed,
            "ResourceNotFoundException",
            1,
        ),
        (
            "garbage",
            ExecutionStatus::Failed,
            "InvalidParameterValueException",
            1,
        ),
        ("slow", ExecutionStatus::Failed, "Sandbox.Timedout", 2),
        ("flaky", ExecutionStatus::Succeeded, "Boom", 1),
    ];
    let arns: Vec<String> = cases
        .iter()
        .map(|(f, ..)| start(rt.service(), f, "3"))
        .collect();
    for ((function, status, error_type, failures), arn) in cases.into_iter().zip(&arns) {
        let done = rt.wait_for_end(arn, Duration::from_secs(5)).await.unwrap();
        assert_eq!(done.status, status, "{function}");
        if status == ExecutionStatus::Failed {
            let error = done.error.unwrap();
            assert_eq!(error.error_type.as_deref(), Some(error_type), "{function}");
        } else {
            assert_eq!(done.result.as_deref(), Some("6"));
        }
        let errors = invocation_errors(rt.service(), arn);
        let failed = errors
            .iter()
            .filter(|e| e.as_deref() == Some(error_type))
            .count();
        assert_eq!(failed, failures, "{function}: {errors:?}");
    }
    rt.shutdown().await;
}

#[tokio::test]
async fn plain_invokes_send_no_handler_marker() {
    let (rt, server) = remote_runtime().await;
    let url = server_url(&rt);
    let inv = HttpInvoker::new(url, Duration::from_secs(1)).unwrap();
    let echoed = inv
        .invoke_plain("echo", "$LATEST", None, b"{\"a\":1}")
        .await;
    assert_eq!(echoed.unwrap(), "{\"a\":1}");
    let err = inv
        .invoke_plain("boom", "$LATEST", Some("t"), b"{}")
        .await
        .unwrap_err();
    assert_eq!(err, ErrorObject::new("KeyError", "no such key"));
    let calls = server.calls.lock().unwrap().clone();
    assert!(calls.iter().all(|c| c.handler.is_none()));
    assert_eq!(calls[1].tenant.as_deref(), Some("t"));
    // Nothing listens on port 1: a transport error, retried by the engine.
    let closed = HttpInvoker::new("http://127.0.0.1:1", Duration::from_secs(1)).unwrap();
    let input = InvocationInput {
        durable_execution_arn: "a".into(),
        checkpoint_token: "t".into(),
        initial_execution_state: None,
        updated_operation_ids: None,
    };
    let (outcome, request_id) = closed.invoke_handler("f", "$LATEST", None, &input).await;
    assert!(
        matches!(outcome, InvocationOutcome::Error(_)),
        "{outcome:?}"
    );
    assert!(request_id.starts_with("local-"));
    rt.shutdown().await;
}

fn server_url(rt: &RuntimeHandle) -> String {
    match &rt.inner.dispatcher.http {
        Some(Ok(h)) => h.endpoint().to_string(),
        _ => panic!("no endpoint"),
    }
}

#[tokio::test]
async fn chained_invokes_of_plain_functions_complete() {
    let (rt, server) = remote_runtime().await;
    let arn = start(rt.service(), "chainer", "{}");
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.result.as_deref(), Some("[42,\"hi\"]"));
    let calls = server.calls.lock().unwrap().clone();
    let echo = calls.iter().find(|c| c.path.contains("/echo/")).unwrap();
    assert_eq!(echo.handler, None);
    rt.shutdown().await;
}
