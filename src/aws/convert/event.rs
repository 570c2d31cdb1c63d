//! History events and their details members.

use super::{ConversionError, build_err, from_date_time, num, opt, opt_num, to_date_time};
use crate::model as m;
use aws_sdk_lambda::types as s;

impl From<m::EventPayload> for s::EventInput {
    fn from(p: m::EventPayload) -> Self {
        s::EventInput::builder()
            .set_payload(p.payload)
            .set_truncated(p.truncated)
            .build()
    }
}

impl From<s::EventInput> for m::EventPayload {
    fn from(p: s::EventInput) -> Self {
        m::EventPayload {
            payload: p.payload,
            truncated: p.truncated,
        }
    }
}

impl From<m::EventPayload> for s::EventResult {
    fn from(p: m::EventPayload) -> Self {
        s::EventResult::builder()
            .set_payload(p.payload)
            .set_truncated(p.truncated)
            .build()
    }
}

impl From<s::EventResult> for m::EventPayload {
    fn from(p: s::EventResult) -> Self {
        m::EventPayload {
            payload: p.payload,
            truncated: p.truncated,
        }
    }
}

impl From<m::EventError> for s::EventError {
    fn from(e: m::EventError) -> Self {
        s::EventError::builder()
            .set_payload(e.payload.map(Into::into))
            .set_truncated(e.truncated)
            .build()
    }
}

impl From<s::EventError> for m::EventError {
    fn from(e: s::EventError) -> Self {
        m::EventError {
            payload: e.payload.map(Into::into),
            truncated: e.truncated,
        }
    }
}

impl TryFrom<m::RetryDetails> for s::RetryDetails {
    type Error = ConversionError;
    fn try_from(r: m::RetryDetails) -> Result<Self, ConversionError> {
        Ok(s::RetryDetails::builder()
            .current_attempt(num(
                "RetryDetails.CurrentAttempt",
                r.current_attempt.unwrap_or(0),
            )?)
            .set_next_attempt_delay_seconds(opt_num(
                "RetryDetails.NextAttemptDelaySeconds",
                r.next_attempt_delay_seconds,
            )?)
            .build())
    }
}

impl TryFrom<s::RetryDetails> for m::RetryDetails {
    type Error = ConversionError;
    fn try_from(r: s::RetryDetails) -> Result<Self, ConversionError> {
        Ok(m::RetryDetails {
            current_attempt: Some(num("RetryDetails.CurrentAttempt", r.current_attempt)?),
            next_attempt_delay_seconds: r.next_attempt_delay_seconds.map(i64::from),
        })
    }
}

/// The SDK fills a required structure that a response lacks with an empty one; reading it back
/// as absent makes a body read the same through the SDK as through the model.
fn present<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|v| *v != T::default())
}

fn payload<S: Into<m::EventPayload>>(p: Option<S>) -> Option<m::EventPayload> {
    present(p.map(Into::into))
}

fn error(e: Option<s::EventError>) -> Option<m::EventError> {
    present(e.map(Into::into))
}

/// `RetryDetails` as the SDK fabricates it when a response lacks it: attempts count from 1.
fn retry_details(r: Option<s::RetryDetails>) -> Result<Option<m::RetryDetails>, ConversionError> {
    Ok(opt::<_, m::RetryDetails>(r)?.filter(|r| {
        *r != m::RetryDetails {
            current_attempt: Some(0),
            next_attempt_delay_seconds: None,
        }
    }))
}

/// Details members with a single `Result` (an event payload).
macro_rules! result_details {
    ($model:ident: $($sdk:ident),+) => {$(
        impl From<m::$model> for s::$sdk {
            fn from(d: m::$model) -> Self {
                s::$sdk::builder().set_result(d.result.map(Into::into)).build()
            }
        }
        impl From<s::$sdk> for m::$model {
            fn from(d: s::$sdk) -> Self {
                m::$model { result: payload(d.result) }
            }
        }
    )+};
}

/// Details members with a single `Error` (an event error).
macro_rules! error_details {
    ($model:ident: $($sdk:ident),+) => {$(
        impl From<m::$model> for s::$sdk {
            fn from(d: m::$model) -> Self {
                s::$sdk::builder().set_error(d.error.map(Into::into)).build()
            }
        }
        impl From<s::$sdk> for m::$model {
            fn from(d: s::$sdk) -> Self {
                m::$model { error: error(d.error) }
            }
        }
    )+};
}

/// Details members without members.
macro_rules! empty_details {
    ($($sdk:ident),+) => {$(
        impl From<m::EmptyDetails> for s::$sdk {
            fn from(_: m::EmptyDetails) -> Self {
                s::$sdk::builder().build()
            }
        }
        impl From<s::$sdk> for m::EmptyDetails {
            fn from(_: s::$sdk) -> Self {
                m::EmptyDetails {}
            }
        }
    )+};
}

result_details!(ExecutionSucceededDetails: ExecutionSucceededDetails);
result_details!(ResultDetails: ContextSucceededDetails, ChainedInvokeSucceededDetails, CallbackSucceededDetails);
error_details!(ExecutionErrorDetails: ExecutionFailedDetails, ExecutionTimedOutDetails, ExecutionStoppedDetails);
error_details!(
    ErrorDetails: ContextFailedDetails,
    WaitCancelledDetails,
    ChainedInvokeFailedDetails,
    ChainedInvokeTimedOutDetails,
    ChainedInvokeStoppedDetails,
    CallbackFailedDetails,
    CallbackTimedOutDetails
);
empty_details!(ContextStartedDetails, StepStartedDetails);

impl TryFrom<m::ExecutionStartedDetails> for s::ExecutionStartedDetails {
    type Error = ConversionError;
    fn try_from(d: m::ExecutionStartedDetails) -> Result<Self, ConversionError> {
        s::ExecutionStartedDetails::builder()
            .set_input(d.input.map(Into::into))
            .execution_timeout(num(
                "ExecutionStartedDetails.ExecutionTimeout",
                d.execution_timeout.unwrap_or(0),
            )?)
            .build()
            .map_err(build_err("ExecutionStartedDetails"))
    }
}

impl From<s::ExecutionStartedDetails> for m::ExecutionStartedDetails {
    fn from(d: s::ExecutionStartedDetails) -> Self {
        m::ExecutionStartedDetails {
            input: payload(d.input),
            execution_timeout: Some(i64::from(d.execution_timeout)),
        }
    }
}

impl TryFrom<m::WaitStartedDetails> for s::WaitStartedDetails {
    type Error = ConversionError;
    fn try_from(d: m::WaitStartedDetails) -> Result<Self, ConversionError> {
        s::WaitStartedDetails::builder()
            .duration(num("WaitStartedDetails.Duration", d.duration.unwrap_or(0))?)
            .scheduled_end_timestamp(to_date_time(d.scheduled_end_timestamp.unwrap_or_default()))
            .build()
            .map_err(build_err("WaitStartedDetails"))
    }
}

impl TryFrom<s::WaitStartedDetails> for m::WaitStartedDetails {
    type Error = ConversionError;
    fn try_from(d: s::WaitStartedDetails) -> Result<Self, ConversionError> {
        Ok(m::WaitStartedDetails {
            duration: Some(i64::from(d.duration)),
            scheduled_end_timestamp: Some(from_date_time(
                "WaitStartedDetails.ScheduledEndTimestamp",
                d.scheduled_end_timestamp,
            )?),
        })
    }
}

impl TryFrom<m::WaitSucceededDetails> for s::WaitSucceededDetails {
    type Error = ConversionError;
    fn try_from(d: m::WaitSucceededDetails) -> Result<Self, ConversionError> {
        Ok(s::WaitSucceededDetails::builder()
            .set_duration(opt_num("WaitSucceededDetails.Duration", d.duration)?)
            .build())
    }
}

impl From<s::WaitSucceededDetails> for m::WaitSucceededDetails {
    fn from(d: s::WaitSucceededDetails) -> Self {
        m::WaitSucceededDetails {
            duration: d.duration.map(i64::from),
        }
    }
}

impl TryFrom<m::StepSucceededDetails> for s::StepSucceededDetails {
    type Error = ConversionError;
    fn try_from(d: m::StepSucceededDetails) -> Result<Self, ConversionError> {
        Ok(s::StepSucceededDetails::builder()
            .set_result(d.result.map(Into::into))
            .set_retry_details(opt(d.retry_details)?)
            .build())
    }
}

impl TryFrom<s::StepSucceededDetails> for m::StepSucceededDetails {
    type Error = ConversionError;
    fn try_from(d: s::StepSucceededDetails) -> Result<Self, ConversionError> {
        Ok(m::StepSucceededDetails {
            result: payload(d.result),
            retry_details: retry_details(d.retry_details)?,
        })
    }
}

impl TryFrom<m::StepFailedDetails> for s::StepFailedDetails {
    type Error = ConversionError;
    fn try_from(d: m::StepFailedDetails) -> Result<Self, ConversionError> {
        Ok(s::StepFailedDetails::builder()
            .set_error(d.error.map(Into::into))
            .set_retry_details(opt(d.retry_details)?)
            .build())
    }
}

impl TryFrom<s::StepFailedDetails> for m::StepFailedDetails {
    type Error = ConversionError;
    fn try_from(d: s::StepFailedDetails) -> Result<Self, ConversionError> {
        Ok(m::StepFailedDetails {
            error: error(d.error),
            retry_details: retry_details(d.retry_details)?,
        })
    }
}

impl TryFrom<m::ChainedInvokeStartedDetails> for s::ChainedInvokeStartedDetails {
    type Error = ConversionError;
    fn try_from(d: m::ChainedInvokeStartedDetails) -> Result<Self, ConversionError> {
        s::ChainedInvokeStartedDetails::builder()
            .function_name(d.function_name.unwrap_or_default())
            .set_tenant_id(d.tenant_id)
            .set_input(d.input.map(Into::into))
            .set_executed_version(d.executed_version)
            .set_durable_execution_arn(d.durable_execution_arn)
            .build()
            .map_err(build_err("ChainedInvokeStartedDetails"))
    }
}

impl From<s::ChainedInvokeStartedDetails> for m::ChainedInvokeStartedDetails {
    fn from(d: s::ChainedInvokeStartedDetails) -> Self {
        m::ChainedInvokeStartedDetails {
            function_name: Some(d.function_name),
            tenant_id: d.tenant_id,
            input: d.input.map(Into::into),
            executed_version: d.executed_version,
            durable_execution_arn: d.durable_execution_arn,
        }
    }
}

impl TryFrom<m::CallbackStartedDetails> for s::CallbackStartedDetails {
    type Error = ConversionError;
    fn try_from(d: m::CallbackStartedDetails) -> Result<Self, ConversionError> {
        s::CallbackStartedDetails::builder()
            .callback_id(d.callback_id.unwrap_or_default())
            .set_heartbeat_timeout(opt_num(
                "CallbackStartedDetails.HeartbeatTimeout",
                d.heartbeat_timeout,
            )?)
            .set_timeout(opt_num("CallbackStartedDetails.Timeout", d.timeout)?)
            .build()
            .map_err(build_err("CallbackStartedDetails"))
    }
}

impl From<s::CallbackStartedDetails> for m::CallbackStartedDetails {
    fn from(d: s::CallbackStartedDetails) -> Self {
        m::CallbackStartedDetails {
            callback_id: Some(d.callback_id),
            heartbeat_timeout: d.heartbeat_timeout.map(i64::from),
            timeout: d.timeout.map(i64::from),
        }
    }
}

impl TryFrom<m::InvocationCompletedDetails> for s::InvocationCompletedDetails {
    type Error = ConversionError;
    fn try_from(d: m::InvocationCompletedDetails) -> Result<Self, ConversionError> {
        s::InvocationCompletedDetails::builder()
            .start_timestamp(to_date_time(d.start_timestamp.unwrap_or_default()))
            .end_timestamp(to_date_time(d.end_timestamp.unwrap_or_default()))
            .request_id(d.request_id.unwrap_or_default())
            .set_error(d.error.map(Into::into))
            .build()
            .map_err(build_err("InvocationCompletedDetails"))
    }
}

impl TryFrom<s::InvocationCompletedDetails> for m::InvocationCompletedDetails {
    type Error = ConversionError;
    fn try_from(d: s::InvocationCompletedDetails) -> Result<Self, ConversionError> {
        Ok(m::InvocationCompletedDetails {
            start_timestamp: Some(from_date_time(
                "InvocationCompletedDetails.StartTimestamp",
                d.start_timestamp,
            )?),
            end_timestamp: Some(from_date_time(
                "InvocationCompletedDetails.EndTimestamp",
                d.end_timestamp,
            )?),
            request_id: Some(d.request_id),
            error: error(d.error),
        })
    }
}

impl TryFrom<m::Event> for s::Event {
    type Error = ConversionError;
    /// `ExecutionPausedDetails` and `ExecutionResumedDetails` are dropped: aws-sdk-lambda 1.156
    /// has no members for them (the event type itself survives as `EventType::Unknown`).
    fn try_from(e: m::Event) -> Result<Self, ConversionError> {
        Ok(s::Event::builder()
            .event_type(e.event_type.into())
            .set_sub_type(e.sub_type)
            .event_id(num("Event.EventId", e.event_id)?)
            .set_id(e.id)
            .set_name(e.name)
            .event_timestamp(to_date_time(e.event_timestamp))
            .set_parent_id(e.parent_id)
            .set_execution_started_details(opt(e.execution_started_details)?)
            .set_execution_succeeded_details(opt(e.execution_succeeded_details)?)
            .set_execution_failed_details(opt(e.execution_failed_details)?)
            .set_execution_timed_out_details(opt(e.execution_timed_out_details)?)
            .set_execution_stopped_details(opt(e.execution_stopped_details)?)
            .set_context_started_details(opt(e.context_started_details)?)
            .set_context_succeeded_details(opt(e.context_succeeded_details)?)
            .set_context_failed_details(opt(e.context_failed_details)?)
            .set_wait_started_details(opt(e.wait_started_details)?)
            .set_wait_succeeded_details(opt(e.wait_succeeded_details)?)
            .set_wait_cancelled_details(opt(e.wait_cancelled_details)?)
            .set_step_started_details(opt(e.step_started_details)?)
            .set_step_succeeded_details(opt(e.step_succeeded_details)?)
            .set_step_failed_details(opt(e.step_failed_details)?)
            .set_chained_invoke_started_details(opt(e.chained_invoke_started_details)?)
            .set_chained_invoke_succeeded_details(opt(e.chained_invoke_succeeded_details)?)
            .set_chained_invoke_failed_details(opt(e.chained_invoke_failed_details)?)
            .set_chained_invoke_timed_out_details(opt(e.chained_invoke_timed_out_details)?)
            .set_chained_invoke_stopped_details(opt(e.chained_invoke_stopped_details)?)
            .set_callback_started_details(opt(e.callback_started_details)?)
            .set_callback_succeeded_details(opt(e.callback_succeeded_details)?)
            .set_callback_failed_details(opt(e.callback_failed_details)?)
            .set_callback_timed_out_details(opt(e.callback_timed_out_details)?)
            .set_invocation_completed_details(opt(e.invocation_completed_details)?)
            .build())
    }
}

impl TryFrom<s::Event> for m::Event {
    type Error = ConversionError;
    fn try_from(e: s::Event) -> Result<Self, ConversionError> {
        let event_type = e
            .event_type
            .ok_or(ConversionError::Missing {
                field: "Event.EventType",
            })?
            .try_into()?;
        let at = match e.event_timestamp {
            Some(t) => from_date_time("Event.EventTimestamp", t)?,
            None => m::Timestamp::EPOCH,
        };
        let mut out = m::Event::new(event_type, num("Event.EventId", e.event_id)?, at);
        out.sub_type = e.sub_type;
        out.id = e.id;
        out.name = e.name;
        out.parent_id = e.parent_id;
        out.execution_started_details = opt(e.execution_started_details)?;
        out.execution_succeeded_details = opt(e.execution_succeeded_details)?;
        out.execution_failed_details = opt(e.execution_failed_details)?;
        out.execution_timed_out_details = opt(e.execution_timed_out_details)?;
        out.execution_stopped_details = opt(e.execution_stopped_details)?;
        out.context_started_details = opt(e.context_started_details)?;
        out.context_succeeded_details = opt(e.context_succeeded_details)?;
        out.context_failed_details = opt(e.context_failed_details)?;
        out.wait_started_details = opt(e.wait_started_details)?;
        out.wait_succeeded_details = opt(e.wait_succeeded_details)?;
        out.wait_cancelled_details = opt(e.wait_cancelled_details)?;
        out.step_started_details = opt(e.step_started_details)?;
        out.step_succeeded_details = opt(e.step_succeeded_details)?;
        out.step_failed_details = opt(e.step_failed_details)?;
        out.chained_invoke_started_details = opt(e.chained_invoke_started_details)?;
        out.chained_invoke_succeeded_details = opt(e.chained_invoke_succeeded_details)?;
        out.chained_invoke_failed_details = opt(e.chained_invoke_failed_details)?;
        out.chained_invoke_timed_out_details = opt(e.chained_invoke_timed_out_details)?;
        out.chained_invoke_stopped_details = opt(e.chained_invoke_stopped_details)?;
        out.callback_started_details = opt(e.callback_started_details)?;
        out.callback_succeeded_details = opt(e.callback_succeeded_details)?;
        out.callback_failed_details = opt(e.callback_failed_details)?;
        out.callback_timed_out_details = opt(e.callback_timed_out_details)?;
        out.invocation_completed_details = opt(e.invocation_completed_details)?;
        Ok(out)
    }
}
