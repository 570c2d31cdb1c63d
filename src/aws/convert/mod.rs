//! Conversions between the crate's wire model ([`crate::model`]) and the types of
//! `aws-sdk-lambda` 1.156, in both directions, as `From` / `TryFrom` impls.
//!
//! Everything the SDK can represent survives a round trip. Where the two models differ:
//!
//! * the SDK's deserializer fills a required structure that a response lacks with an empty one
//!   (`Result: {}`, `Error: {}`, `Input: {}`, `RetryDetails: {CurrentAttempt: 0}`); such empty
//!   structures come back as `None`, so a body reads the same through the SDK as through the
//!   model (an explicitly empty `{}` is therefore not preserved);
//! * members the SDK models as required but ours as optional (`StepDetails.Attempt`,
//!   `RetryDetails.CurrentAttempt`, `CallbackOptions.*`, `ExecutionStartedDetails.ExecutionTimeout`,
//!   `WaitStartedDetails.*`, `CallbackStartedDetails.CallbackId`, `InvocationCompletedDetails.*`,
//!   `ChainedInvokeStartedDetails.FunctionName`, `ChainedInvokeOptions.FunctionName`) are filled
//!   with the SDK's own default (0, `""`, the epoch) when ours is `None`, exactly as the SDK's
//!   deserializer does for a response that lacks them, and come back as `Some(default)`;
//! * the newer-model members aws-sdk-lambda 1.156 does not know (`ExecutionPausedDetails`,
//!   `ExecutionResumedDetails`, `GetDurableExecution.PauseDetails` and
//!   `ExpectedExecutionTimeoutTimestamp`) are dropped on the way to the SDK; newer enum values
//!   (`PAUSED`, `ExecutionPaused`, ...) survive as the SDK's `Unknown` variants;
//! * an SDK event without `EventType`, an enum value this crate does not know, a negative count
//!   or a number that does not fit the other side is a [`ConversionError`]; an event without
//!   `EventTimestamp` gets the epoch.
//!
//! Timestamps keep microseconds ([`Timestamp`]); the SDK's [`DateTime`] is rounded to the
//! nearest microsecond, which absorbs the float error of the SDK's epoch-seconds parser.

mod api;
mod event;
mod operation;

use crate::model::Timestamp;
use aws_sdk_lambda::primitives::DateTime;
use std::convert::Infallible;

/// A value that cannot be carried from one model to the other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionError {
    /// An enum value this crate's model does not know.
    #[error("{field}: unknown value {value:?}")]
    UnknownValue {
        /// The member, e.g. `Operation.Status`.
        field: &'static str,
        /// The value received.
        value: String,
    },
    /// A number that does not fit the other side's type.
    #[error("{field}: {value} is out of range")]
    OutOfRange {
        /// The member.
        field: &'static str,
        /// The value, as text.
        value: String,
    },
    /// A member the target requires is absent.
    #[error("{field}: missing")]
    Missing {
        /// The member.
        field: &'static str,
    },
    /// The SDK refused to build a value.
    #[error("cannot build {what}: {message}")]
    Build {
        /// The SDK type.
        what: &'static str,
        /// The SDK's message.
        message: String,
    },
}

impl From<Infallible> for ConversionError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// Wraps an SDK `BuildError`.
pub(crate) fn build_err(
    what: &'static str,
) -> impl FnOnce(aws_sdk_lambda::error::BuildError) -> ConversionError {
    move |e| ConversionError::Build {
        what,
        message: e.to_string(),
    }
}

/// Our timestamp as the SDK's.
pub fn to_date_time(t: Timestamp) -> DateTime {
    let micros = t.as_micros();
    // rem_euclid keeps the sub-second part in 0..1_000_000, so the cast cannot truncate.
    DateTime::from_secs_and_nanos(
        micros.div_euclid(1_000_000),
        (micros.rem_euclid(1_000_000) * 1000) as u32,
    )
}

/// The SDK's timestamp as ours, rounded to the nearest microsecond.
pub fn from_date_time(field: &'static str, t: DateTime) -> Result<Timestamp, ConversionError> {
    let micros = i128::from(t.secs()) * 1_000_000 + (i128::from(t.subsec_nanos()) + 500) / 1000;
    i64::try_from(micros)
        .map(Timestamp::from_micros)
        .map_err(|_| ConversionError::OutOfRange {
            field,
            value: format!("{}.{:09}", t.secs(), t.subsec_nanos()),
        })
}

pub(crate) fn opt_time(
    field: &'static str,
    t: Option<DateTime>,
) -> Result<Option<Timestamp>, ConversionError> {
    t.map(|t| from_date_time(field, t)).transpose()
}

/// A number converted to another integer type, or `OutOfRange`.
pub(crate) fn num<T, U>(field: &'static str, v: T) -> Result<U, ConversionError>
where
    T: Copy + std::fmt::Display,
    U: TryFrom<T>,
{
    U::try_from(v).map_err(|_| ConversionError::OutOfRange {
        field,
        value: v.to_string(),
    })
}

pub(crate) fn opt_num<T, U>(field: &'static str, v: Option<T>) -> Result<Option<U>, ConversionError>
where
    T: Copy + std::fmt::Display,
    U: TryFrom<T>,
{
    v.map(|v| num(field, v)).transpose()
}

/// Converts an optional value with `TryFrom`.
pub(crate) fn opt<T, U>(v: Option<T>) -> Result<Option<U>, ConversionError>
where
    U: TryFrom<T>,
    ConversionError: From<U::Error>,
{
    Ok(v.map(U::try_from).transpose()?)
}

/// Converts every element with `TryFrom`.
pub(crate) fn list<T, U>(v: Vec<T>) -> Result<Vec<U>, ConversionError>
where
    U: TryFrom<T>,
    ConversionError: From<U::Error>,
{
    v.into_iter()
        .map(|x| U::try_from(x).map_err(Into::into))
        .collect()
}

/// Maps a wire enum of one side to the other through its wire spelling.
macro_rules! enum_pair {
    ($model:ty, $sdk:ty, $field:literal) => {
        impl From<$model> for $sdk {
            fn from(v: $model) -> Self {
                <$sdk>::from(v.as_str())
            }
        }

        impl TryFrom<$sdk> for $model {
            type Error = $crate::aws::convert::ConversionError;
            fn try_from(v: $sdk) -> Result<Self, Self::Error> {
                <$model>::parse(v.as_str()).ok_or_else(|| match v.as_str() {
                    // What the SDK's deserializer puts in a required enum a response lacks.
                    "no value was set" => {
                        $crate::aws::convert::ConversionError::Missing { field: $field }
                    }
                    other => $crate::aws::convert::ConversionError::UnknownValue {
                        field: $field,
                        value: other.to_string(),
                    },
                })
            }
        }
    };
}

enum_pair!(
    crate::model::OperationType,
    aws_sdk_lambda::types::OperationType,
    "OperationType"
);
enum_pair!(
    crate::model::OperationAction,
    aws_sdk_lambda::types::OperationAction,
    "OperationAction"
);
enum_pair!(
    crate::model::OperationStatus,
    aws_sdk_lambda::types::OperationStatus,
    "OperationStatus"
);
enum_pair!(
    crate::model::ExecutionStatus,
    aws_sdk_lambda::types::ExecutionStatus,
    "ExecutionStatus"
);
enum_pair!(
    crate::model::EventType,
    aws_sdk_lambda::types::EventType,
    "EventType"
);

#[cfg(test)]
mod tests;
