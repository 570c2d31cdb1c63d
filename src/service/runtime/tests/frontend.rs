//! `Frontend` semantics of the runtime: Lambda Invoke of durable and plain functions, the
//! emulator's start route and the all-functions list.

use super::*;
use crate::server::{Frontend, InvocationType, InvokeRequest};
use crate::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};

/// Always fails the execution.
#[derive(Serialize, Deserialize)]
enum Fails {
    Start,
}

impl Transition for Fails {
    type Input = serde_json::Value;
    type Output = ();
    fn start(_: serde_json::Value) -> Self {
        Fails::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(Next::fail(ErrorObject::new("Nope", "always fails")))
    }
}

fn frontend_runtime() -> RuntimeHandle {
    let mut registry = Registry::new();
    registry
        .register::<Double>("double")
        .register::<Fails>("fails")
        .register_plain("triple", |v: serde_json::Value| async move {
            match v.as_i64() {
                Some(n) => Ok(serde_json::json!(n * 3)),
                None => Err(ErrorObject::new("TypeError", "not a number")),
            }
        });
    runtime_with(registry, fast_config())
}

fn invoke(function: &str, kind: InvocationType, payload: &str) -> InvokeRequest {
    InvokeRequest {
        function_name: function.into(),
        invocation_type: kind,
        payload: payload.as_bytes().to_vec(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_event_invoke_answers_202_with_the_arn_at_once() {
    let rt = frontend_runtime();
    let out = rt
        .invoke(invoke("double", InvocationType::Event, "4"))
        .await
        .unwrap();
    assert_eq!(out.status_code, 202);
    assert_eq!(out.executed_version.as_deref(), Some("$LATEST"));
    let arn = out.durable_execution_arn.unwrap();
    let done = rt.wait_for_end(&arn, Duration::from_secs(5)).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("8"));
    rt.shutdown().await;
}

#[tokio::test]
async fn a_request_response_invoke_waits_for_the_end() {
    let rt = frontend_runtime();
    let out = rt
        .invoke(invoke("double", InvocationType::RequestResponse, "21"))
        .await
        .unwrap();
    assert_eq!(out.status_code, 200);
    assert_eq!(out.payload, b"42");
    assert_eq!(out.function_error, None);
    assert_eq!(out.executed_version.as_deref(), Some("$LATEST"));
    let arn = out.durable_execution_arn.unwrap();
    let status = rt
        .service()
        .lock()
        .unwrap()
        .get_execution(&arn, false)
        .unwrap()
        .status;
    assert_eq!(status, ExecutionStatus::Succeeded);

    let out = rt
        .invoke(invoke("fails", InvocationType::RequestResponse, "{}"))
        .await
        .unwrap();
    assert_eq!(out.status_code, 200);
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert!(out.durable_execution_arn.is_some());
    let body: serde_json::Value = serde_json::from_slice(&out.payload).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"errorType": "Nope", "errorMessage": "always fails"})
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn execution_names_are_idempotent_per_payload() {
    let rt = frontend_runtime();
    let named = |payload: &str| {
        let mut req = invoke("double", InvocationType::Event, payload);
        req.durable_execution_name = Some("order-1".into());
        req
    };
    let first = rt.invoke(named("1")).await.unwrap();
    let again = rt.invoke(named("1")).await.unwrap();
    assert_eq!(first.durable_execution_arn, again.durable_execution_arn);
    assert!(
        first
            .durable_execution_arn
            .unwrap()
            .contains("/durable-execution/order-1/")
    );
    let err = rt.invoke(named("2")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::DurableExecutionAlreadyStarted);
    assert_eq!(err.code.http_status(), 409);
    rt.shutdown().await;
}

#[tokio::test]
async fn unknown_functions_and_handler_invokes_are_refused() {
    let rt = frontend_runtime();
    let err = rt
        .invoke(invoke("nope", InvocationType::RequestResponse, "{}"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ResourceNotFound);
    assert_eq!(
        err.message,
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    );
    let mut req = invoke("double", InvocationType::RequestResponse, "{}");
    req.handler_invoke = true;
    let err = rt.invoke(req).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    assert!(
        err.message.contains("X-Dex-Handler-Invoke"),
        "{}",
        err.message
    );
    let err = rt
        .invoke(invoke("double", InvocationType::Event, "not json"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    rt.shutdown().await;
}

#[tokio::test]
async fn plain_functions_are_called_directly() {
    let rt = frontend_runtime();
    let out = rt
        .invoke(invoke("triple", InvocationType::RequestResponse, "5"))
        .await
        .unwrap();
    assert_eq!((out.status_code, out.payload.as_slice()), (200, &b"15"[..]));
    assert_eq!(out.durable_execution_arn, None);
    let out = rt
        .invoke(invoke("triple", InvocationType::RequestResponse, "\"x\""))
        .await
        .unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(&out.payload).unwrap();
    assert_eq!(body["errorType"], "TypeError");
    let out = rt
        .invoke(invoke("triple", InvocationType::DryRun, "5"))
        .await
        .unwrap();
    assert_eq!(out.status_code, 204);
    let out = rt
        .invoke(invoke("double", InvocationType::DryRun, "5"))
        .await
        .unwrap();
    assert_eq!(out.status_code, 204);
    let listed = rt.list_all(Default::default()).await.unwrap();
    assert!(
        listed.durable_executions.is_empty(),
        "DryRun starts nothing"
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn the_emulator_start_route_and_list_all() {
    let rt = frontend_runtime();
    let started = rt
        .start(StartDurableExecutionRequest {
            account_id: "123456789012".into(),
            function_name: "double".into(),
            function_qualifier: "$LATEST".into(),
            execution_name: "from-runner".into(),
            execution_timeout_seconds: 60,
            execution_retention_period_days: 7,
            invocation_id: None,
            input: Some("50".into()),
            tenant_id: None,
            trace_fields: None,
            lambda_endpoint: None,
        })
        .await
        .unwrap();
    let done = rt
        .wait_for_end(&started.execution_arn, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("100"));
    assert_eq!(done.durable_execution_name, "from-runner");
    let listed = rt.list_all(Default::default()).await.unwrap();
    assert_eq!(listed.durable_executions.len(), 1);
    assert_eq!(
        listed.durable_executions[0].durable_execution_arn,
        started.execution_arn
    );
    rt.shutdown().await;
}
