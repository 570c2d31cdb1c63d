//! Request and response bodies of the durable-execution API and the Lambda Invoke parts.
//!
//! Members that travel in the path or the query are `#[serde(skip)]`: the transports put them
//! where AWS does.

use super::{ErrorObject, Event, ExecutionStatus, Operation, OperationUpdate, Timestamp};
use serde::{Deserialize, Serialize};

/// CheckpointDurableExecution request (`POST /2025-12-01/durable-executions/{Arn}/checkpoint`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckpointDurableExecutionRequest {
    /// The execution (path label).
    #[serde(skip)]
    pub durable_execution_arn: String,
    /// The current token of the invocation.
    pub checkpoint_token: String,
    /// Updates, applied atomically and in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<OperationUpdate>>,
    /// Idempotency token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// Operations changed since the state the handler last saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckpointUpdatedExecutionState {
    /// Changed operations, in creation order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<Operation>>,
    /// Set when more remain; page them with GetDurableExecutionState.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// CheckpointDurableExecution response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckpointDurableExecutionResponse {
    /// The next token; absent when the execution completed or the invocation was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_token: Option<String>,
    /// Changed operations.
    pub new_execution_state: CheckpointUpdatedExecutionState,
}

/// GetDurableExecutionState request (`GET …/{Arn}/state`, all members in path and query).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetDurableExecutionStateRequest {
    /// The execution.
    pub durable_execution_arn: String,
    /// A valid token of the running invocation.
    pub checkpoint_token: String,
    /// Where to continue.
    pub marker: Option<String>,
    /// Page size, 0 to 1000 (0 = default 100).
    pub max_items: Option<u32>,
}

/// GetDurableExecutionState response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDurableExecutionStateResponse {
    /// Operations in creation order.
    pub operations: Vec<Operation>,
    /// Set when more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Function-level durable configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DurableConfig {
    /// Execution timeout in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<i64>,
    /// Retention in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_period_in_days: Option<i64>,
    /// KMS key.
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

/// An X-Ray trace header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TraceHeader {
    /// The header value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_amzn_trace_id: Option<String>,
}

/// Pause state (newer model).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PauseDetails {
    /// When the pause was requested.
    pub pause_request_timestamp: Timestamp,
    /// Reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the execution timeout is paused.
    pub execution_timeout_paused: bool,
}

/// GetDurableExecution response (`GET /2025-12-01/durable-executions/{Arn}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDurableExecutionResponse {
    /// The execution ARN.
    pub durable_execution_arn: String,
    /// The execution name.
    pub durable_execution_name: String,
    /// The function ARN, qualified with the executed version.
    pub function_arn: String,
    /// Execution input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_payload: Option<String>,
    /// Result, when SUCCEEDED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Error, when FAILED, TIMED_OUT or STOPPED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
    /// Start time.
    pub start_timestamp: Timestamp,
    /// Status.
    pub status: ExecutionStatus,
    /// End time, when terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<Timestamp>,
    /// Executed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Trace header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<TraceHeader>,
    /// False when asked without execution data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_data_included: Option<bool>,
    /// Durable configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_config: Option<DurableConfig>,
    /// Pause state (newer model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_details: Option<PauseDetails>,
    /// When the execution will time out (newer model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_execution_timeout_timestamp: Option<Timestamp>,
}

/// GetDurableExecutionHistory request (path and query).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetDurableExecutionHistoryRequest {
    /// The execution.
    pub durable_execution_arn: String,
    /// Include payloads (default true).
    pub include_execution_data: Option<bool>,
    /// Page size, 0 to 1000 (0 = default 100).
    pub max_items: Option<u32>,
    /// Where to continue.
    pub marker: Option<String>,
    /// Newest first.
    pub reverse_order: Option<bool>,
}

/// GetDurableExecutionHistory response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDurableExecutionHistoryResponse {
    /// Events.
    pub events: Vec<Event>,
    /// Set when more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// ListDurableExecutionsByFunction request (path and query).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListDurableExecutionsByFunctionRequest {
    /// Function name, partial or full ARN.
    pub function_name: String,
    /// Version filter.
    pub qualifier: Option<String>,
    /// Name filter.
    pub durable_execution_name: Option<String>,
    /// Status filter.
    pub statuses: Vec<ExecutionStatus>,
    /// Started after this instant.
    pub started_after: Option<Timestamp>,
    /// Started before this instant.
    pub started_before: Option<Timestamp>,
    /// Oldest first when true (default newest first).
    pub reverse_order: Option<bool>,
    /// Where to continue.
    pub marker: Option<String>,
    /// Page size (default 100, max 1000).
    pub max_items: Option<u32>,
}

/// One execution in a list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Execution {
    /// The execution ARN.
    pub durable_execution_arn: String,
    /// The execution name.
    pub durable_execution_name: String,
    /// The function ARN.
    pub function_arn: String,
    /// Status.
    pub status: ExecutionStatus,
    /// Start time.
    pub start_timestamp: Timestamp,
    /// End time, when terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<Timestamp>,
    /// KMS key.
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

/// ListDurableExecutionsByFunction response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDurableExecutionsByFunctionResponse {
    /// Executions.
    #[serde(default)]
    pub durable_executions: Vec<Execution>,
    /// Set when more remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// StopDurableExecution response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopDurableExecutionResponse {
    /// When the execution stopped.
    pub stop_timestamp: Timestamp,
}

/// The body of an AWS error response (the code travels in `X-Amzn-ErrorType`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsErrorBody {
    /// `User` or `Service`.
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    /// The exception name, for clients that read the body.
    #[serde(rename = "__type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Message (lower-case member, as most Lambda exceptions).
    #[serde(rename = "message", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Message (upper-case member, as some Lambda exceptions).
    #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
    pub message_upper: Option<String>,
}

/// Request of the emulator-only start route (`POST /start-durable-execution`), kept so tools
/// written for AWS's local emulator work against the local service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartDurableExecutionRequest {
    /// Account id for the ARNs.
    pub account_id: String,
    /// Bare function name.
    pub function_name: String,
    /// `$LATEST`, a version or an alias.
    pub function_qualifier: String,
    /// Execution name.
    pub execution_name: String,
    /// Execution timeout in seconds (0 = none).
    pub execution_timeout_seconds: i64,
    /// Retention in days.
    pub execution_retention_period_days: i64,
    /// Id of the EXECUTION operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// Execution input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Tenant id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Trace fields passed to chained children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_fields: Option<serde_json::Value>,
    /// Per-execution invoke endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_endpoint: Option<String>,
}

/// Response of the emulator-only start route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartDurableExecutionResponse {
    /// The new execution's ARN.
    pub execution_arn: String,
}
