//! The AWS wire types of the Lambda durable-execution API (2025-12-01) and of the handler
//! invocation, with JSON member names exactly as AWS spells them.
//!
//! Absent optional members are omitted on output; unknown members are ignored on input.
//! Timestamps in API bodies are epoch seconds ([`Timestamp`]); the invocation event's
//! operation timestamps are milliseconds or RFC 3339 strings ([`invocation`]).

mod api;
mod event;
pub mod invocation;
mod operation;
mod time;

pub use api::*;
pub use event::*;
pub use invocation::{InitialExecutionState, InvocationInput, InvocationOutput, InvocationStatus};
pub use operation::*;
pub use time::{Timestamp, TimestampError};

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in the order of the AWS model.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// Parses the wire spelling; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// The kind of a durable operation.
    OperationType {
        /// The durable execution itself.
        Execution = "EXECUTION",
        /// A grouping scope (child context, map, parallel).
        Context = "CONTEXT",
        /// A unit of user code with a recorded result.
        Step = "STEP",
        /// A durable timer.
        Wait = "WAIT",
        /// A wait for an external callback.
        Callback = "CALLBACK",
        /// An invocation of another function.
        ChainedInvoke = "CHAINED_INVOKE",
    }
}

wire_enum! {
    /// What a checkpoint update does to an operation.
    OperationAction {
        /// Create or (re)start.
        Start = "START",
        /// Complete successfully.
        Succeed = "SUCCEED",
        /// Complete with an error.
        Fail = "FAIL",
        /// Schedule another attempt of a STEP.
        Retry = "RETRY",
        /// Cancel a WAIT.
        Cancel = "CANCEL",
    }
}

wire_enum! {
    /// The status of an operation.
    OperationStatus {
        /// Running.
        Started = "STARTED",
        /// A STEP waiting for its next attempt time.
        Pending = "PENDING",
        /// A STEP whose next attempt time has come.
        Ready = "READY",
        /// Completed successfully.
        Succeeded = "SUCCEEDED",
        /// Completed with an error.
        Failed = "FAILED",
        /// Cancelled.
        Cancelled = "CANCELLED",
        /// Timed out.
        TimedOut = "TIMED_OUT",
        /// Stopped.
        Stopped = "STOPPED",
    }
}

impl OperationStatus {
    /// Whether no further action can change the operation.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::TimedOut | Self::Stopped
        )
    }
}

wire_enum! {
    /// The status of a durable execution.
    ExecutionStatus {
        /// Running.
        Running = "RUNNING",
        /// Succeeded.
        Succeeded = "SUCCEEDED",
        /// Failed.
        Failed = "FAILED",
        /// Timed out.
        TimedOut = "TIMED_OUT",
        /// Stopped by a StopDurableExecution call.
        Stopped = "STOPPED",
        /// Being deleted (newer model).
        Deleting = "DELETING",
        /// Pause requested (newer model).
        Pausing = "PAUSING",
        /// Paused (newer model).
        Paused = "PAUSED",
    }
}

#[allow(clippy::derivable_impls)] // the derive cannot reach through the wire_enum macro
impl Default for ExecutionStatus {
    fn default() -> Self {
        ExecutionStatus::Running
    }
}

impl ExecutionStatus {
    /// Whether the execution has ended.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::TimedOut | Self::Stopped
        )
    }
}

/// An error as recorded by the durable service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorObject {
    /// Human-readable message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Discriminator chosen by the SDK, e.g. `Callback.Timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Machine-readable data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_data: Option<String>,
    /// Stack trace lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<Vec<String>>,
}

impl ErrorObject {
    /// An error with a type and a message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorObject {
            error_type: Some(error_type.into()),
            error_message: Some(message.into()),
            ..Default::default()
        }
    }

    /// An error with a message only.
    pub fn message(message: impl Into<String>) -> Self {
        ErrorObject {
            error_message: Some(message.into()),
            ..Default::default()
        }
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.error_type, &self.error_message) {
            (Some(t), Some(m)) => write!(f, "{t}: {m}"),
            (Some(t), None) => f.write_str(t),
            (None, Some(m)) => f.write_str(m),
            (None, None) => f.write_str("(no error details)"),
        }
    }
}
