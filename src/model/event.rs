//! History events (GetDurableExecutionHistory).

use super::{ErrorObject, Timestamp};
use serde::{Deserialize, Serialize};

super::wire_enum! {
    /// The kind of a history event.
    EventType {
        /// The execution was created.
        ExecutionStarted = "ExecutionStarted",
        /// The execution succeeded.
        ExecutionSucceeded = "ExecutionSucceeded",
        /// The execution failed.
        ExecutionFailed = "ExecutionFailed",
        /// The execution timed out.
        ExecutionTimedOut = "ExecutionTimedOut",
        /// The execution was stopped.
        ExecutionStopped = "ExecutionStopped",
        /// A CONTEXT started.
        ContextStarted = "ContextStarted",
        /// A CONTEXT succeeded.
        ContextSucceeded = "ContextSucceeded",
        /// A CONTEXT failed.
        ContextFailed = "ContextFailed",
        /// A WAIT started.
        WaitStarted = "WaitStarted",
        /// A WAIT fired.
        WaitSucceeded = "WaitSucceeded",
        /// A WAIT was cancelled.
        WaitCancelled = "WaitCancelled",
        /// A STEP attempt started.
        StepStarted = "StepStarted",
        /// A STEP succeeded, or a polling attempt recorded a new state.
        StepSucceeded = "StepSucceeded",
        /// A STEP attempt failed.
        StepFailed = "StepFailed",
        /// A chained invoke started.
        ChainedInvokeStarted = "ChainedInvokeStarted",
        /// A chained invoke succeeded.
        ChainedInvokeSucceeded = "ChainedInvokeSucceeded",
        /// A chained invoke failed.
        ChainedInvokeFailed = "ChainedInvokeFailed",
        /// A chained invoke timed out.
        ChainedInvokeTimedOut = "ChainedInvokeTimedOut",
        /// A chained invoke's target was stopped.
        ChainedInvokeStopped = "ChainedInvokeStopped",
        /// A CALLBACK started.
        CallbackStarted = "CallbackStarted",
        /// A CALLBACK succeeded.
        CallbackSucceeded = "CallbackSucceeded",
        /// A CALLBACK failed.
        CallbackFailed = "CallbackFailed",
        /// A CALLBACK timed out.
        CallbackTimedOut = "CallbackTimedOut",
        /// A handler invocation ended.
        InvocationCompleted = "InvocationCompleted",
        /// The execution was paused (newer model).
        ExecutionPaused = "ExecutionPaused",
        /// The execution was resumed (newer model).
        ExecutionResumed = "ExecutionResumed",
    }
}

/// A payload in an event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventPayload {
    /// The payload text (omitted when execution data is not included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Whether the payload was cut or left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// An error in an event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventError {
    /// The error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<ErrorObject>,
    /// Whether the error was cut or left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// Retry bookkeeping of a STEP event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryDetails {
    /// The attempt that just ended (1 for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_attempt: Option<u32>,
    /// Seconds until the next attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_delay_seconds: Option<i64>,
}

macro_rules! details {
    ($($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? })+) => {
        $(
            $(#[$meta])*
            #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
            #[serde(rename_all = "PascalCase")]
            pub struct $name {
                $($(#[$fmeta])* #[serde(skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>,)*
            }
        )+
    };
}

details! {
    /// Details of ExecutionStarted.
    ExecutionStartedDetails { /// Execution input.
        input: EventPayload, /// Execution timeout in seconds.
        execution_timeout: i64 }
    /// Details of ExecutionSucceeded.
    ExecutionSucceededDetails { /// Execution result.
        result: EventPayload }
    /// Details of ExecutionFailed, ExecutionTimedOut and ExecutionStopped.
    ExecutionErrorDetails { /// The error.
        error: EventError }
    /// Details with no members (ContextStarted, StepStarted).
    EmptyDetails {}
    /// Details of a success with a result (ContextSucceeded, CallbackSucceeded, ChainedInvokeSucceeded).
    ResultDetails { /// The result.
        result: EventPayload }
    /// Details of a failure (ContextFailed, CallbackFailed, CallbackTimedOut, ChainedInvoke{Failed,TimedOut,Stopped}, WaitCancelled).
    ErrorDetails { /// The error.
        error: EventError }
    /// Details of WaitStarted.
    WaitStartedDetails { /// Timer length in seconds.
        duration: i64, /// When the timer fires.
        scheduled_end_timestamp: Timestamp }
    /// Details of WaitSucceeded.
    WaitSucceededDetails { /// Timer length in seconds.
        duration: i64 }
    /// Details of StepSucceeded.
    StepSucceededDetails { /// The result or new polling state.
        result: EventPayload, /// Attempt bookkeeping.
        retry_details: RetryDetails }
    /// Details of StepFailed.
    StepFailedDetails { /// The attempt's error.
        error: EventError, /// Attempt bookkeeping.
        retry_details: RetryDetails }
    /// Details of ChainedInvokeStarted.
    ChainedInvokeStartedDetails { /// Target function.
        function_name: String, /// Tenant id.
        tenant_id: String, /// Target input.
        input: EventPayload, /// Executed version of the target.
        executed_version: String, /// The child durable execution, for a durable target.
        durable_execution_arn: String }
    /// Details of CallbackStarted.
    CallbackStartedDetails { /// Callback id.
        callback_id: String, /// Heartbeat timeout in seconds.
        heartbeat_timeout: i64, /// Timeout in seconds.
        timeout: i64 }
    /// Details of InvocationCompleted.
    InvocationCompletedDetails { /// When the invocation started.
        start_timestamp: Timestamp, /// When it ended.
        end_timestamp: Timestamp, /// Its request id.
        request_id: String, /// Why it failed, if it did.
        error: EventError }
    /// Details of ExecutionPaused (newer model).
    ExecutionPausedDetails { /// When the pause was requested.
        pause_request_timestamp: Timestamp, /// Reason.
        reason: EventPayload, /// Whether the execution timeout is paused too.
        execution_timeout_paused: bool }
    /// Details of ExecutionResumed (newer model).
    ExecutionResumedDetails { /// When the resume was requested.
        resume_request_timestamp: Timestamp, /// Reason.
        reason: EventPayload }
}

/// One history event. Exactly one `*_details` member is set, the one named after `event_type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Event {
    /// Event kind.
    pub event_type: EventType,
    /// Sub type of the operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// 1, 2, 3, ... over the whole execution.
    pub event_id: u64,
    /// Operation id (absent on InvocationCompleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Operation name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it happened.
    pub event_timestamp: Timestamp,
    /// Parent CONTEXT id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_started_details: Option<ExecutionStartedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_succeeded_details: Option<ExecutionSucceededDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_failed_details: Option<ExecutionErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_timed_out_details: Option<ExecutionErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_stopped_details: Option<ExecutionErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_started_details: Option<EmptyDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_succeeded_details: Option<ResultDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_failed_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_started_details: Option<WaitStartedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_succeeded_details: Option<WaitSucceededDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_cancelled_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_started_details: Option<EmptyDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_succeeded_details: Option<StepSucceededDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_failed_details: Option<StepFailedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_started_details: Option<ChainedInvokeStartedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_succeeded_details: Option<ResultDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_failed_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_timed_out_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chained_invoke_stopped_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_started_details: Option<CallbackStartedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_succeeded_details: Option<ResultDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_failed_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_timed_out_details: Option<ErrorDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_completed_details: Option<InvocationCompletedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_paused_details: Option<ExecutionPausedDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_resumed_details: Option<ExecutionResumedDetails>,
}

impl Event {
    /// An event with no details member set yet.
    pub fn new(event_type: EventType, event_id: u64, at: Timestamp) -> Self {
        Event {
            event_type,
            sub_type: None,
            event_id,
            id: None,
            name: None,
            event_timestamp: at,
            parent_id: None,
            execution_started_details: None,
            execution_succeeded_details: None,
            execution_failed_details: None,
            execution_timed_out_details: None,
            execution_stopped_details: None,
            context_started_details: None,
            context_succeeded_details: None,
            context_failed_details: None,
            wait_started_details: None,
            wait_succeeded_details: None,
            wait_cancelled_details: None,
            step_started_details: None,
            step_succeeded_details: None,
            step_failed_details: None,
            chained_invoke_started_details: None,
            chained_invoke_succeeded_details: None,
            chained_invoke_failed_details: None,
            chained_invoke_timed_out_details: None,
            chained_invoke_stopped_details: None,
            callback_started_details: None,
            callback_succeeded_details: None,
            callback_failed_details: None,
            callback_timed_out_details: None,
            invocation_completed_details: None,
            execution_paused_details: None,
            execution_resumed_details: None,
        }
    }
}

impl EventPayload {
    /// A payload that is present and not truncated.
    pub fn full(payload: impl Into<String>) -> Self {
        EventPayload {
            payload: Some(payload.into()),
            truncated: Some(false),
        }
    }
}

impl EventError {
    /// An error that is present and not truncated.
    pub fn full(error: ErrorObject) -> Self {
        EventError {
            payload: Some(error),
            truncated: Some(false),
        }
    }
}
