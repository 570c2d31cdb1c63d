//! `handle` against an in-memory `DurableApi`: good events, bad events, API failures, spans.

use super::*;
use crate::api::{ApiError, ErrorCode};
use crate::model::*;
use crate::{Ctx, Next, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Mutex;

#[derive(Serialize, Deserialize)]
enum Greeting {
    Start { name: String },
    Greeted(String),
}

impl Transition for Greeting {
    type Input = String;
    type Output = String;
    fn start(name: String) -> Self {
        Greeting::Start { name }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Greeting::Start { name } => Next::to(Greeting::Greeted(format!("Hello, {name}!"))),
            Greeting::Greeted(text) => Next::done(text),
        })
    }
}

/// Answers checkpoints in memory: every update comes back as the operation it produces,
/// with a fresh token. `fail_with` makes every checkpoint fail instead.
#[derive(Default)]
struct MemoryApi {
    checkpoints: Mutex<Vec<CheckpointDurableExecutionRequest>>,
    fail_with: Option<ApiError>,
}

impl MemoryApi {
    fn calls(&self) -> usize {
        self.checkpoints
            .lock()
            .map(|c| c.len())
            .unwrap_or(usize::MAX)
    }
}

fn unsupported() -> ApiError {
    ApiError::new(
        ErrorCode::Other("Unsupported".into()),
        "not used by the executor",
    )
}

fn applied(u: &OperationUpdate) -> Operation {
    let status = match u.action {
        OperationAction::Start => OperationStatus::Started,
        OperationAction::Succeed => OperationStatus::Succeeded,
        OperationAction::Fail => OperationStatus::Failed,
        OperationAction::Retry => OperationStatus::Pending,
        OperationAction::Cancel => OperationStatus::Cancelled,
    };
    let mut op = Operation::new(
        u.id.clone(),
        u.op_type,
        status,
        Timestamp::from_secs(1_732_700_000),
    );
    op.name = u.name.clone();
    op.sub_type = u.sub_type.clone();
    op.parent_id = u.parent_id.clone();
    if u.op_type == OperationType::Step {
        op.step_details = Some(StepDetails {
            attempt: Some(u32::from(status != OperationStatus::Started)),
            result: u.payload.clone(),
            error: u.error.clone(),
            ..Default::default()
        });
    }
    op
}

impl DurableApi for MemoryApi {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        let mut calls = self.checkpoints.lock().map_err(|_| unsupported())?;
        calls.push(req.clone());
        let mut ops: Vec<Operation> = Vec::new();
        for u in req.updates.unwrap_or_default() {
            ops.retain(|o| o.id != u.id);
            ops.push(applied(&u));
        }
        Ok(CheckpointDurableExecutionResponse {
            checkpoint_token: Some(format!("token-{}", calls.len())),
            new_execution_state: CheckpointUpdatedExecutionState {
                operations: Some(ops),
                next_marker: None,
            },
        })
    }
    async fn get_state(
        &self,
        _: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        Err(unsupported())
    }
    async fn get_execution(
        &self,
        _: &str,
        _: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        Err(unsupported())
    }
    async fn get_history(
        &self,
        _: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        Err(unsupported())
    }
    async fn list_by_function(
        &self,
        _: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        Err(unsupported())
    }
    async fn send_callback_success(&self, _: &str, _: Vec<u8>) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn send_callback_failure(&self, _: &str, _: ErrorObject) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn send_callback_heartbeat(&self, _: &str) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn stop(
        &self,
        _: &str,
        _: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        Err(unsupported())
    }

    async fn start_execution(
        &self,
        _: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        Err(unsupported())
    }
}

const ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:greet:$LATEST/durable-execution/g-1/7c1e5a7e";

fn first_event() -> Value {
    json!({
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-0",
        "InitialExecutionState": {
            "Operations": [{
                "Id": "7c1e5a7e", "Type": "EXECUTION", "Name": "g-1", "Status": "STARTED",
                "StartTimestamp": 1732700000000u64,
                "ExecutionDetails": {"InputPayload": "\"world\""}
            }],
            "NextMarker": ""
        },
        "UpdatedOperationIds": []
    })
}

#[tokio::test]
async fn a_durable_event_runs_the_workflow_to_the_end() {
    let api = MemoryApi::default();
    let out = handle::<Greeting, _>(&api, first_event()).await.unwrap();
    assert_eq!(
        out,
        json!({"Status": "SUCCEEDED", "Result": "\"Hello, world!\""})
    );
    let calls = api.checkpoints.lock().unwrap();
    assert_eq!(calls.len(), 2, "one checkpoint per transition");
    assert_eq!(calls[0].checkpoint_token, "token-0");
    assert_eq!(calls[1].checkpoint_token, "token-1", "tokens are chained");
    assert!(calls.iter().all(|c| c.durable_execution_arn == ARN));
}

#[tokio::test]
async fn bad_events_answer_a_failed_envelope_without_calling_the_service() {
    let mut unknown_status = first_event();
    unknown_status["InitialExecutionState"]["Operations"][0]["Status"] = json!("TELEPORTED");
    let mut ops_not_a_list = first_event();
    ops_not_a_list["InitialExecutionState"]["Operations"] = json!({"Id": "x"});
    let mut no_token = first_event();
    if let Some(obj) = no_token.as_object_mut() {
        obj.remove("CheckpointToken");
    }
    let cases = [
        (no_token, "CheckpointToken"),
        (unknown_status, "TELEPORTED"),
        (ops_not_a_list, "Operations"),
        (json!(["not", "an", "object"]), "not a JSON object"),
        (json!("hello"), "not a JSON object"),
        (json!({"key1": "value1"}), "DurableExecutionArn"),
    ];
    for (event, needle) in cases {
        let api = MemoryApi::default();
        let out = handle::<Greeting, _>(&api, event.clone()).await.unwrap();
        assert_eq!(out["Status"], "FAILED", "{event}");
        assert_eq!(
            out["Error"]["ErrorType"], INVALID_EVENT_ERROR_TYPE,
            "{event}"
        );
        let message = out["Error"]["ErrorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle}"
        );
        assert!(out.get("Result").is_none());
        assert_eq!(api.calls(), 0);
    }
}

#[tokio::test]
async fn retryable_api_errors_fail_the_invocation_for_a_retry() {
    let api = MemoryApi {
        fail_with: Some(ApiError::new(ErrorCode::TooManyRequests, "slow down")),
        ..Default::default()
    };
    let err = handle::<Greeting, _>(&api, first_event())
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvocationFailure::Invocation(InvocationError::Api(_))),
        "{err:?}"
    );
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "DurableApiError");
    assert!(
        diagnostic
            .error_message
            .contains("TooManyRequestsException")
    );
}

#[tokio::test]
async fn terminal_api_errors_fail_the_execution() {
    let api = MemoryApi {
        fail_with: Some(ApiError::new(
            ErrorCode::Kms("KMSDisabledException".into()),
            "key disabled",
        )),
        ..Default::default()
    };
    let out = handle::<Greeting, _>(&api, first_event()).await.unwrap();
    assert_eq!(out["Status"], "FAILED");
    assert_eq!(out["Error"]["ErrorType"], "KMSDisabledException");
}

/// Records each span's name and its parent's name.
mod spans {
    use std::sync::{Arc, Mutex};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// (span name, parent span name), in creation order; a span's id is its index + 1.
    pub type SpanLog = Arc<Mutex<Vec<(&'static str, Option<&'static str>)>>>;

    #[derive(Clone, Default)]
    pub struct Recorder {
        pub spans: SpanLog,
        stack: Arc<Mutex<Vec<u64>>>,
    }

    impl Recorder {
        fn name_of(&self, id: u64) -> Option<&'static str> {
            let spans = self.spans.lock().ok()?;
            spans.get(usize::try_from(id).ok()? - 1).map(|s| s.0)
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let parent = if attrs.is_contextual() {
                self.stack.lock().ok().and_then(|s| s.last().copied())
            } else {
                attrs.parent().map(Id::into_u64)
            };
            let parent_name = parent.and_then(|p| self.name_of(p));
            let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
            spans.push((attrs.metadata().name(), parent_name));
            Id::from_u64(spans.len() as u64)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, id: &Id) {
            if let Ok(mut s) = self.stack.lock() {
                s.push(id.into_u64());
            }
        }
        fn exit(&self, _: &Id) {
            if let Ok(mut s) = self.stack.lock() {
                s.pop();
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn spans_nest_under_the_runtime_request_span() {
    let recorder = spans::Recorder::default();
    let _guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(recorder.clone()));
    let mut context = lambda_runtime::Context::default();
    context.request_id = "req-1".into();
    let request_span = lambda_runtime::layers::trace::request_span(&context);
    let api = MemoryApi::default();
    handle_event::<Greeting, _>(&api, LambdaEvent::new(first_event(), context))
        .instrument(request_span)
        .await
        .unwrap();
    let spans = recorder.spans.lock().unwrap().clone();
    assert!(
        spans.contains(&("lambda_invocation", Some("Lambda runtime invoke"))),
        "{spans:?}"
    );
    assert!(
        spans.contains(&("durable_invocation", Some("lambda_invocation"))),
        "{spans:?}"
    );
    assert!(
        spans.contains(&("transition", Some("durable_invocation"))),
        "{spans:?}"
    );
}
