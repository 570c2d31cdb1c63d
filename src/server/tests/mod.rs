//! Router tests: a recording [`Frontend`] with canned answers, driven with `oneshot`.

mod errors;
mod routes;
mod samples;
mod serve;

use super::*;
use crate::model::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// A call the fake received, with its parsed arguments.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Call {
    Checkpoint(CheckpointDurableExecutionRequest),
    GetState(GetDurableExecutionStateRequest),
    GetExecution(String, bool),
    GetHistory(GetDurableExecutionHistoryRequest),
    ListByFunction(ListDurableExecutionsByFunctionRequest),
    CallbackSuccess(String, Vec<u8>),
    CallbackFailure(String, ErrorObject),
    CallbackHeartbeat(String),
    Stop(String, Option<ErrorObject>),
    Invoke(InvokeRequest),
    Start(StartDurableExecutionRequest),
    ListAll(ListDurableExecutionsByFunctionRequest),
}

/// Records every call; answers with canned values, or with `fail` when set.
#[derive(Clone, Default)]
pub(super) struct Fake {
    calls: Arc<Mutex<Vec<Call>>>,
    fail: Arc<Mutex<Option<ApiError>>>,
    invoke_response: Arc<Mutex<InvokeResponse>>,
}

pub(super) const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/\
    durable-execution/order-42/7c1e5a7e-3f0a-4b51-9d1e-0c4f2e9d8a11";
pub(super) const ARN_ENCODED: &str = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3A\
    orders%3A%24LATEST%2Fdurable-execution%2Forder-42%2F7c1e5a7e-3f0a-4b51-9d1e-0c4f2e9d8a11";
pub(super) const T0: Timestamp = Timestamp::from_micros(1_732_700_000_101_000);

impl Fake {
    pub(super) fn new() -> Self {
        let fake = Fake::default();
        fake.set_invoke_response(InvokeResponse {
            status_code: 200,
            payload: br#"{"ok":true}"#.to_vec(),
            ..Default::default()
        });
        fake
    }

    /// A fake whose every call fails with `error`.
    pub(super) fn failing(error: ApiError) -> Self {
        let fake = Fake::new();
        *fake.fail.lock().unwrap() = Some(error);
        fake
    }

    pub(super) fn set_invoke_response(&self, response: InvokeResponse) {
        *self.invoke_response.lock().unwrap() = response;
    }

    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The only call received.
    pub(super) fn only_call(&self) -> Call {
        let calls = self.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        calls[0].clone()
    }

    fn answer<T: Send>(
        &self,
        call: Call,
        ok: T,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + use<T> {
        self.calls.lock().unwrap().push(call);
        let result = match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(ok),
        };
        async move { result }
    }

    pub(super) fn app(&self) -> axum::Router {
        router(self.clone(), ServerConfig::default())
    }
}

pub(super) fn operation() -> Operation {
    let mut op = Operation::new(
        "step-1",
        OperationType::Step,
        OperationStatus::Succeeded,
        T0,
    );
    op.name = Some("charge".into());
    op
}

pub(super) fn execution() -> Execution {
    Execution {
        durable_execution_arn: ARN.into(),
        durable_execution_name: "order-42".into(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST".into(),
        status: ExecutionStatus::Running,
        start_timestamp: T0,
        ..Default::default()
    }
}

pub(super) fn list_response() -> ListDurableExecutionsByFunctionResponse {
    ListDurableExecutionsByFunctionResponse {
        durable_executions: vec![execution()],
        next_marker: Some("AAAB+/=".into()),
    }
}

impl DurableApi for Fake {
    fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> impl Future<Output = Result<CheckpointDurableExecutionResponse, ApiError>> + Send {
        let out = CheckpointDurableExecutionResponse {
            checkpoint_token: Some("next+token==".into()),
            new_execution_state: CheckpointUpdatedExecutionState {
                operations: Some(vec![operation()]),
                next_marker: None,
            },
        };
        self.answer(Call::Checkpoint(req), out)
    }

    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionStateResponse, ApiError>> + Send {
        let out = GetDurableExecutionStateResponse {
            operations: vec![operation()],
            next_marker: Some("1:101".into()),
        };
        self.answer(Call::GetState(req), out)
    }

    fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> impl Future<Output = Result<GetDurableExecutionResponse, ApiError>> + Send {
        let out = GetDurableExecutionResponse {
            durable_execution_arn: arn.into(),
            durable_execution_name: "order-42".into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST".into(),
            start_timestamp: T0,
            status: ExecutionStatus::Succeeded,
            result: Some("{\"charged\":true}".into()),
            ..Default::default()
        };
        self.answer(Call::GetExecution(arn.into(), include_execution_data), out)
    }

    fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionHistoryResponse, ApiError>> + Send {
        let mut event = Event::new(EventType::StepStarted, 2, T0);
        event.id = Some("step-1".into());
        event.step_started_details = Some(Default::default());
        let out = GetDurableExecutionHistoryResponse {
            events: vec![event],
            next_marker: None,
        };
        self.answer(Call::GetHistory(req), out)
    }

    fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send
    {
        self.answer(Call::ListByFunction(req), list_response())
    }

    fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.answer(Call::CallbackSuccess(callback_id.into(), result), ())
    }

    fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.answer(Call::CallbackFailure(callback_id.into(), error), ())
    }

    fn send_callback_heartbeat(
        &self,
        callback_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.answer(Call::CallbackHeartbeat(callback_id.into()), ())
    }

    fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> impl Future<Output = Result<StopDurableExecutionResponse, ApiError>> + Send {
        let out = StopDurableExecutionResponse {
            stop_timestamp: Timestamp::from_micros(1_795_776_144_856_124),
        };
        self.answer(Call::Stop(arn.into(), error), out)
    }

    fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> impl Future<Output = Result<crate::api::StartExecutionResponse, ApiError>> + Send {
        let call = Call::Start(StartDurableExecutionRequest {
            function_name: req.function_name,
            function_qualifier: req.qualifier.unwrap_or_default(),
            execution_name: req.execution_name,
            input: Some(req.input),
            ..Default::default()
        });
        let out = crate::api::StartExecutionResponse {
            durable_execution_arn: ARN.into(),
        };
        self.answer(call, out)
    }
}

impl Frontend for Fake {
    fn invoke(
        &self,
        req: InvokeRequest,
    ) -> impl Future<Output = Result<InvokeResponse, ApiError>> + Send {
        let out = self.invoke_response.lock().unwrap().clone();
        self.answer(Call::Invoke(req), out)
    }

    fn start(
        &self,
        req: StartDurableExecutionRequest,
    ) -> impl Future<Output = Result<StartDurableExecutionResponse, ApiError>> + Send {
        let out = StartDurableExecutionResponse {
            execution_arn: ARN.into(),
        };
        self.answer(Call::Start(req), out)
    }

    fn list_all(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send
    {
        self.answer(Call::ListAll(req), list_response())
    }
}

/// A response, fully read.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the success envelope: status, JSON content type, a UUID v4 request id.
    pub(super) fn assert_ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_request_id(&self.headers);
        self.json()
    }

    /// Asserts the AWS error shape (spec/api.md §1.1) and returns the body.
    pub(super) fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("x-amzn-errortype"), Some(code));
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_request_id(&self.headers);
        let body = self.json();
        assert_eq!(body["__type"], code);
        let kind = if status >= 500 { "Service" } else { "User" };
        assert_eq!(body["Type"], kind);
        assert!(
            body["message"].is_string() || body["Message"].is_string(),
            "{body}"
        );
        body
    }

    /// The error message, whichever member case carries it.
    pub(super) fn message(&self) -> String {
        let body = self.json();
        body["message"]
            .as_str()
            .or(body["Message"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

pub(super) fn assert_request_id(headers: &HeaderMap) {
    let id = headers
        .get("x-amzn-RequestId")
        .expect("x-amzn-RequestId on every response")
        .to_str()
        .unwrap();
    let uuid = uuid::Uuid::parse_str(id).expect("request id is a UUID");
    assert_eq!(uuid.get_version_num(), 4);
}

/// Sends one request through the router.
pub(super) async fn send(app: axum::Router, req: Request<Body>) -> Reply {
    let response = app.oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A request with a body and no headers.
pub(super) fn request(method: &str, uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap()
}

/// A request with `Content-Type: application/json`.
pub(super) fn json_request(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(super) fn exec_path(suffix: &str) -> String {
    format!("/2025-12-01/durable-executions/{ARN_ENCODED}{suffix}")
}
