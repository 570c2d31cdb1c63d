//! Operation (state element) and OperationUpdate (checkpoint request element).

use super::{ErrorObject, OperationAction, OperationStatus, OperationType, Timestamp};
use serde::{Deserialize, Serialize};

/// One durable operation as the service records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Operation {
    /// Operation id.
    pub id: String,
    /// Id of the enclosing CONTEXT, absent at top level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Name given at START.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Operation type.
    #[serde(rename = "Type")]
    pub op_type: OperationType,
    /// SDK-chosen sub type (`Step`, `Wait`, `Transition`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// When the operation started.
    pub start_timestamp: Timestamp,
    /// When it reached a terminal status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<Timestamp>,
    /// Current status.
    pub status: OperationStatus,
    /// EXECUTION details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_details: Option<ExecutionDetails>,
    /// CONTEXT details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_details: Option<ContextDetails>,
    /// STEP details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_details: Option<StepDetails>,
    /// WAIT details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_details: Option<WaitDetails>,
    /// CALLBACK details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_details: Option<CallbackDetails>,
    /// CHAINED_INVOKE details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_details: Option<ChainedInvokeDetails>,
}

impl Operation {
    /// A new operation with no details.
    pub fn new(
        id: impl Into<String>,
        op_type: OperationType,
        status: OperationStatus,
        start: Timestamp,
    ) -> Self {
        Operation {
            id: id.into(),
            parent_id: None,
            name: None,
            op_type,
            sub_type: None,
            start_timestamp: start,
            end_timestamp: None,
            status,
            execution_details: None,
            context_details: None,
            step_details: None,
            wait_details: None,
            callback_details: None,
            chained_invoke_details: None,
        }
    }
}

/// EXECUTION operation details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecutionDetails {
    /// The execution input JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_payload: Option<String>,
}

/// CONTEXT operation details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextDetails {
    /// Whether the children must be replayed to rebuild the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_children: Option<bool>,
    /// Success result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// STEP operation details.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepDetails {
    /// Attempts already ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// When the next attempt may start (while PENDING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_timestamp: Option<Timestamp>,
    /// Success result, or the polling state of a RETRY without error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Failure, or the error of the last failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// WAIT operation details.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitDetails {
    /// When the timer fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_end_timestamp: Option<Timestamp>,
}

/// CALLBACK operation details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackDetails {
    /// The id external systems use to complete the callback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_id: Option<String>,
    /// Success body, as UTF-8 text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Failure or timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// CHAINED_INVOKE operation details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainedInvokeDetails {
    /// The target's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The target's failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// One element of a CheckpointDurableExecution request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationUpdate {
    /// Operation id.
    pub id: String,
    /// Id of the enclosing CONTEXT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Operation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Operation type.
    #[serde(rename = "Type")]
    pub op_type: OperationType,
    /// Sub type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// What to do.
    pub action: OperationAction,
    /// Success value, polling state, or chained-invoke input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Error for FAIL, RETRY after a failure, or WAIT CANCEL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
    /// CONTEXT SUCCEED options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_options: Option<ContextOptions>,
    /// STEP RETRY options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_options: Option<StepOptions>,
    /// WAIT START options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_options: Option<WaitOptions>,
    /// CALLBACK START options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_options: Option<CallbackOptions>,
    /// CHAINED_INVOKE START options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_options: Option<ChainedInvokeOptions>,
}

impl OperationUpdate {
    /// An update with only the required members set.
    pub fn new(id: impl Into<String>, op_type: OperationType, action: OperationAction) -> Self {
        OperationUpdate {
            id: id.into(),
            parent_id: None,
            name: None,
            op_type,
            sub_type: None,
            action,
            payload: None,
            error: None,
            context_options: None,
            step_options: None,
            wait_options: None,
            callback_options: None,
            chained_invoke_options: None,
        }
    }
}

/// Options of a CONTEXT SUCCEED.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextOptions {
    /// The result is a summary; replay the children to rebuild it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_children: Option<bool>,
}

/// Options of a STEP RETRY.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepOptions {
    /// Seconds until the next attempt (1 to 31 622 400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_delay_seconds: Option<i64>,
}

/// Options of a WAIT START.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitOptions {
    /// Timer length in seconds (1 to 31 622 400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<i64>,
}

/// Options of a CALLBACK START.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallbackOptions {
    /// Seconds until the callback times out; 0 or absent means never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Seconds without a heartbeat before it times out; 0 or absent means never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_seconds: Option<i64>,
}

/// Options of a CHAINED_INVOKE START.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChainedInvokeOptions {
    /// Target function: name, `name:qualifier`, partial or full ARN.
    pub function_name: String,
    /// Tenant id for the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// X-Ray trace header for the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_amzn_trace_id: Option<String>,
}
