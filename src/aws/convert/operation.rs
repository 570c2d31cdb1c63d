//! Operation, OperationUpdate, their details and options, and ErrorObject.

use super::{
    ConversionError, build_err, from_date_time, num, opt, opt_num, opt_time, to_date_time,
};
use crate::model as m;
use aws_sdk_lambda::types as s;

impl From<m::ErrorObject> for s::ErrorObject {
    fn from(e: m::ErrorObject) -> Self {
        s::ErrorObject::builder()
            .set_error_message(e.error_message)
            .set_error_type(e.error_type)
            .set_error_data(e.error_data)
            .set_stack_trace(e.stack_trace)
            .build()
    }
}

impl From<s::ErrorObject> for m::ErrorObject {
    fn from(e: s::ErrorObject) -> Self {
        m::ErrorObject {
            error_message: e.error_message,
            error_type: e.error_type,
            error_data: e.error_data,
            stack_trace: e.stack_trace,
        }
    }
}

impl From<m::ExecutionDetails> for s::ExecutionDetails {
    fn from(d: m::ExecutionDetails) -> Self {
        s::ExecutionDetails::builder()
            .set_input_payload(d.input_payload)
            .build()
    }
}

impl From<s::ExecutionDetails> for m::ExecutionDetails {
    fn from(d: s::ExecutionDetails) -> Self {
        m::ExecutionDetails {
            input_payload: d.input_payload,
        }
    }
}

impl From<m::ContextDetails> for s::ContextDetails {
    fn from(d: m::ContextDetails) -> Self {
        s::ContextDetails::builder()
            .set_replay_children(d.replay_children)
            .set_result(d.result)
            .set_error(d.error.map(Into::into))
            .build()
    }
}

impl From<s::ContextDetails> for m::ContextDetails {
    fn from(d: s::ContextDetails) -> Self {
        m::ContextDetails {
            replay_children: d.replay_children,
            result: d.result,
            error: d.error.map(Into::into),
        }
    }
}

impl TryFrom<m::StepDetails> for s::StepDetails {
    type Error = ConversionError;
    fn try_from(d: m::StepDetails) -> Result<Self, ConversionError> {
        Ok(s::StepDetails::builder()
            .attempt(num("StepDetails.Attempt", d.attempt.unwrap_or(0))?)
            .set_next_attempt_timestamp(d.next_attempt_timestamp.map(to_date_time))
            .set_result(d.result)
            .set_error(d.error.map(Into::into))
            .build())
    }
}

impl TryFrom<s::StepDetails> for m::StepDetails {
    type Error = ConversionError;
    fn try_from(d: s::StepDetails) -> Result<Self, ConversionError> {
        Ok(m::StepDetails {
            attempt: Some(num("StepDetails.Attempt", d.attempt)?),
            next_attempt_timestamp: opt_time(
                "StepDetails.NextAttemptTimestamp",
                d.next_attempt_timestamp,
            )?,
            result: d.result,
            error: d.error.map(Into::into),
        })
    }
}

impl From<m::WaitDetails> for s::WaitDetails {
    fn from(d: m::WaitDetails) -> Self {
        s::WaitDetails::builder()
            .set_scheduled_end_timestamp(d.scheduled_end_timestamp.map(to_date_time))
            .build()
    }
}

impl TryFrom<s::WaitDetails> for m::WaitDetails {
    type Error = ConversionError;
    fn try_from(d: s::WaitDetails) -> Result<Self, ConversionError> {
        Ok(m::WaitDetails {
            scheduled_end_timestamp: opt_time(
                "WaitDetails.ScheduledEndTimestamp",
                d.scheduled_end_timestamp,
            )?,
        })
    }
}

impl From<m::CallbackDetails> for s::CallbackDetails {
    fn from(d: m::CallbackDetails) -> Self {
        s::CallbackDetails::builder()
            .set_callback_id(d.callback_id)
            .set_result(d.result)
            .set_error(d.error.map(Into::into))
            .build()
    }
}

impl From<s::CallbackDetails> for m::CallbackDetails {
    fn from(d: s::CallbackDetails) -> Self {
        m::CallbackDetails {
            callback_id: d.callback_id,
            result: d.result,
            error: d.error.map(Into::into),
        }
    }
}

impl From<m::ChainedInvokeDetails> for s::ChainedInvokeDetails {
    fn from(d: m::ChainedInvokeDetails) -> Self {
        s::ChainedInvokeDetails::builder()
            .set_result(d.result)
            .set_error(d.error.map(Into::into))
            .build()
    }
}

impl From<s::ChainedInvokeDetails> for m::ChainedInvokeDetails {
    fn from(d: s::ChainedInvokeDetails) -> Self {
        m::ChainedInvokeDetails {
            result: d.result,
            error: d.error.map(Into::into),
        }
    }
}

impl TryFrom<m::Operation> for s::Operation {
    type Error = ConversionError;
    fn try_from(o: m::Operation) -> Result<Self, ConversionError> {
        s::Operation::builder()
            .id(o.id)
            .set_parent_id(o.parent_id)
            .set_name(o.name)
            .r#type(o.op_type.into())
            .set_sub_type(o.sub_type)
            .start_timestamp(to_date_time(o.start_timestamp))
            .set_end_timestamp(o.end_timestamp.map(to_date_time))
            .status(o.status.into())
            .set_execution_details(o.execution_details.map(Into::into))
            .set_context_details(o.context_details.map(Into::into))
            .set_step_details(opt(o.step_details)?)
            .set_wait_details(o.wait_details.map(Into::into))
            .set_callback_details(o.callback_details.map(Into::into))
            .set_chained_invoke_details(o.chained_invoke_details.map(Into::into))
            .build()
            .map_err(build_err("Operation"))
    }
}

impl TryFrom<s::Operation> for m::Operation {
    type Error = ConversionError;
    fn try_from(o: s::Operation) -> Result<Self, ConversionError> {
        Ok(m::Operation {
            id: o.id,
            parent_id: o.parent_id,
            name: o.name,
            op_type: o.r#type.try_into()?,
            sub_type: o.sub_type,
            start_timestamp: from_date_time("Operation.StartTimestamp", o.start_timestamp)?,
            end_timestamp: opt_time("Operation.EndTimestamp", o.end_timestamp)?,
            status: o.status.try_into()?,
            execution_details: o.execution_details.map(Into::into),
            context_details: o.context_details.map(Into::into),
            step_details: opt(o.step_details)?,
            wait_details: opt(o.wait_details)?,
            callback_details: o.callback_details.map(Into::into),
            chained_invoke_details: o.chained_invoke_details.map(Into::into),
        })
    }
}

impl From<m::ContextOptions> for s::ContextOptions {
    fn from(o: m::ContextOptions) -> Self {
        s::ContextOptions::builder()
            .set_replay_children(o.replay_children)
            .build()
    }
}

impl From<s::ContextOptions> for m::ContextOptions {
    fn from(o: s::ContextOptions) -> Self {
        m::ContextOptions {
            replay_children: o.replay_children,
        }
    }
}

impl TryFrom<m::StepOptions> for s::StepOptions {
    type Error = ConversionError;
    fn try_from(o: m::StepOptions) -> Result<Self, ConversionError> {
        Ok(s::StepOptions::builder()
            .set_next_attempt_delay_seconds(opt_num(
                "StepOptions.NextAttemptDelaySeconds",
                o.next_attempt_delay_seconds,
            )?)
            .build())
    }
}

impl From<s::StepOptions> for m::StepOptions {
    fn from(o: s::StepOptions) -> Self {
        m::StepOptions {
            next_attempt_delay_seconds: o.next_attempt_delay_seconds.map(i64::from),
        }
    }
}

impl TryFrom<m::WaitOptions> for s::WaitOptions {
    type Error = ConversionError;
    fn try_from(o: m::WaitOptions) -> Result<Self, ConversionError> {
        Ok(s::WaitOptions::builder()
            .set_wait_seconds(opt_num("WaitOptions.WaitSeconds", o.wait_seconds)?)
            .build())
    }
}

impl From<s::WaitOptions> for m::WaitOptions {
    fn from(o: s::WaitOptions) -> Self {
        m::WaitOptions {
            wait_seconds: o.wait_seconds.map(i64::from),
        }
    }
}

impl TryFrom<m::CallbackOptions> for s::CallbackOptions {
    type Error = ConversionError;
    fn try_from(o: m::CallbackOptions) -> Result<Self, ConversionError> {
        Ok(s::CallbackOptions::builder()
            .timeout_seconds(num(
                "CallbackOptions.TimeoutSeconds",
                o.timeout_seconds.unwrap_or(0),
            )?)
            .heartbeat_timeout_seconds(num(
                "CallbackOptions.HeartbeatTimeoutSeconds",
                o.heartbeat_timeout_seconds.unwrap_or(0),
            )?)
            .build())
    }
}

impl From<s::CallbackOptions> for m::CallbackOptions {
    fn from(o: s::CallbackOptions) -> Self {
        m::CallbackOptions {
            timeout_seconds: Some(i64::from(o.timeout_seconds)),
            heartbeat_timeout_seconds: Some(i64::from(o.heartbeat_timeout_seconds)),
        }
    }
}

impl TryFrom<m::ChainedInvokeOptions> for s::ChainedInvokeOptions {
    type Error = ConversionError;
    fn try_from(o: m::ChainedInvokeOptions) -> Result<Self, ConversionError> {
        s::ChainedInvokeOptions::builder()
            .function_name(o.function_name)
            .set_tenant_id(o.tenant_id)
            .set_x_amzn_trace_id(o.x_amzn_trace_id)
            .build()
            .map_err(build_err("ChainedInvokeOptions"))
    }
}

impl From<s::ChainedInvokeOptions> for m::ChainedInvokeOptions {
    fn from(o: s::ChainedInvokeOptions) -> Self {
        m::ChainedInvokeOptions {
            function_name: o.function_name,
            tenant_id: o.tenant_id,
            x_amzn_trace_id: o.x_amzn_trace_id,
        }
    }
}

impl TryFrom<m::OperationUpdate> for s::OperationUpdate {
    type Error = ConversionError;
    fn try_from(u: m::OperationUpdate) -> Result<Self, ConversionError> {
        s::OperationUpdate::builder()
            .id(u.id)
            .set_parent_id(u.parent_id)
            .set_name(u.name)
            .r#type(u.op_type.into())
            .set_sub_type(u.sub_type)
            .action(u.action.into())
            .set_payload(u.payload)
            .set_error(u.error.map(Into::into))
            .set_context_options(u.context_options.map(Into::into))
            .set_step_options(opt(u.step_options)?)
            .set_wait_options(opt(u.wait_options)?)
            .set_callback_options(opt(u.callback_options)?)
            .set_chained_invoke_options(opt(u.chained_invoke_options)?)
            .build()
            .map_err(build_err("OperationUpdate"))
    }
}

impl TryFrom<s::OperationUpdate> for m::OperationUpdate {
    type Error = ConversionError;
    fn try_from(u: s::OperationUpdate) -> Result<Self, ConversionError> {
        Ok(m::OperationUpdate {
            id: u.id,
            parent_id: u.parent_id,
            name: u.name,
            op_type: u.r#type.try_into()?,
            sub_type: u.sub_type,
            action: u.action.try_into()?,
            payload: u.payload,
            error: u.error.map(Into::into),
            context_options: u.context_options.map(Into::into),
            step_options: u.step_options.map(Into::into),
            wait_options: u.wait_options.map(Into::into),
            callback_options: u.callback_options.map(Into::into),
            chained_invoke_options: u.chained_invoke_options.map(Into::into),
        })
    }
}
