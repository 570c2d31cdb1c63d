//! Response bodies of the nine calls, and the structures only they carry.

use super::{
    ConversionError, build_err, from_date_time, list, opt, opt_num, opt_time, to_date_time,
};
use crate::model as m;
use aws_sdk_lambda::operation::{
    checkpoint_durable_execution::CheckpointDurableExecutionOutput,
    get_durable_execution::GetDurableExecutionOutput,
    get_durable_execution_history::GetDurableExecutionHistoryOutput,
    get_durable_execution_state::GetDurableExecutionStateOutput,
    list_durable_executions_by_function::ListDurableExecutionsByFunctionOutput,
    stop_durable_execution::StopDurableExecutionOutput,
};
use aws_sdk_lambda::types as s;

impl TryFrom<m::CheckpointUpdatedExecutionState> for s::CheckpointUpdatedExecutionState {
    type Error = ConversionError;
    fn try_from(st: m::CheckpointUpdatedExecutionState) -> Result<Self, ConversionError> {
        Ok(s::CheckpointUpdatedExecutionState::builder()
            .set_operations(st.operations.map(list).transpose()?)
            .set_next_marker(st.next_marker)
            .build())
    }
}

impl TryFrom<s::CheckpointUpdatedExecutionState> for m::CheckpointUpdatedExecutionState {
    type Error = ConversionError;
    fn try_from(st: s::CheckpointUpdatedExecutionState) -> Result<Self, ConversionError> {
        Ok(m::CheckpointUpdatedExecutionState {
            operations: st.operations.map(list).transpose()?,
            next_marker: st.next_marker,
        })
    }
}

impl TryFrom<m::CheckpointDurableExecutionResponse> for CheckpointDurableExecutionOutput {
    type Error = ConversionError;
    fn try_from(r: m::CheckpointDurableExecutionResponse) -> Result<Self, ConversionError> {
        Ok(CheckpointDurableExecutionOutput::builder()
            .set_checkpoint_token(r.checkpoint_token)
            .new_execution_state(r.new_execution_state.try_into()?)
            .build())
    }
}

impl TryFrom<CheckpointDurableExecutionOutput> for m::CheckpointDurableExecutionResponse {
    type Error = ConversionError;
    /// An absent `NewExecutionState` (required, so never sent absent by AWS) becomes empty.
    fn try_from(r: CheckpointDurableExecutionOutput) -> Result<Self, ConversionError> {
        Ok(m::CheckpointDurableExecutionResponse {
            checkpoint_token: r.checkpoint_token,
            new_execution_state: opt(r.new_execution_state)?.unwrap_or_default(),
        })
    }
}

impl TryFrom<m::GetDurableExecutionStateResponse> for GetDurableExecutionStateOutput {
    type Error = ConversionError;
    fn try_from(r: m::GetDurableExecutionStateResponse) -> Result<Self, ConversionError> {
        GetDurableExecutionStateOutput::builder()
            .set_operations(Some(list(r.operations)?))
            .set_next_marker(r.next_marker)
            .build()
            .map_err(build_err("GetDurableExecutionStateOutput"))
    }
}

impl TryFrom<GetDurableExecutionStateOutput> for m::GetDurableExecutionStateResponse {
    type Error = ConversionError;
    fn try_from(r: GetDurableExecutionStateOutput) -> Result<Self, ConversionError> {
        Ok(m::GetDurableExecutionStateResponse {
            operations: list(r.operations)?,
            next_marker: r.next_marker,
        })
    }
}

impl TryFrom<m::DurableConfig> for s::DurableConfig {
    type Error = ConversionError;
    fn try_from(c: m::DurableConfig) -> Result<Self, ConversionError> {
        Ok(s::DurableConfig::builder()
            .set_execution_timeout(opt_num(
                "DurableConfig.ExecutionTimeout",
                c.execution_timeout,
            )?)
            .set_retention_period_in_days(opt_num(
                "DurableConfig.RetentionPeriodInDays",
                c.retention_period_in_days,
            )?)
            .set_kms_key_arn(c.kms_key_arn)
            .build())
    }
}

impl From<s::DurableConfig> for m::DurableConfig {
    fn from(c: s::DurableConfig) -> Self {
        m::DurableConfig {
            execution_timeout: c.execution_timeout.map(i64::from),
            retention_period_in_days: c.retention_period_in_days.map(i64::from),
            kms_key_arn: c.kms_key_arn,
        }
    }
}

impl From<m::TraceHeader> for s::TraceHeader {
    fn from(t: m::TraceHeader) -> Self {
        s::TraceHeader::builder()
            .set_x_amzn_trace_id(t.x_amzn_trace_id)
            .build()
    }
}

impl From<s::TraceHeader> for m::TraceHeader {
    fn from(t: s::TraceHeader) -> Self {
        m::TraceHeader {
            x_amzn_trace_id: t.x_amzn_trace_id,
        }
    }
}

impl TryFrom<m::GetDurableExecutionResponse> for GetDurableExecutionOutput {
    type Error = ConversionError;
    /// `PauseDetails` and `ExpectedExecutionTimeoutTimestamp` are dropped: aws-sdk-lambda 1.156
    /// has no members for them.
    fn try_from(r: m::GetDurableExecutionResponse) -> Result<Self, ConversionError> {
        GetDurableExecutionOutput::builder()
            .durable_execution_arn(r.durable_execution_arn)
            .durable_execution_name(r.durable_execution_name)
            .function_arn(r.function_arn)
            .set_input_payload(r.input_payload)
            .set_result(r.result)
            .set_error(r.error.map(Into::into))
            .start_timestamp(to_date_time(r.start_timestamp))
            .status(r.status.into())
            .set_end_timestamp(r.end_timestamp.map(to_date_time))
            .set_version(r.version)
            .set_trace_header(r.trace_header.map(Into::into))
            .set_execution_data_included(r.execution_data_included)
            .set_durable_config(opt(r.durable_config)?)
            .build()
            .map_err(build_err("GetDurableExecutionOutput"))
    }
}

impl TryFrom<GetDurableExecutionOutput> for m::GetDurableExecutionResponse {
    type Error = ConversionError;
    fn try_from(r: GetDurableExecutionOutput) -> Result<Self, ConversionError> {
        Ok(m::GetDurableExecutionResponse {
            durable_execution_arn: r.durable_execution_arn,
            durable_execution_name: r.durable_execution_name,
            function_arn: r.function_arn,
            input_payload: r.input_payload,
            result: r.result,
            error: r.error.map(Into::into),
            start_timestamp: from_date_time(
                "GetDurableExecution.StartTimestamp",
                r.start_timestamp,
            )?,
            status: r.status.try_into()?,
            end_timestamp: opt_time("GetDurableExecution.EndTimestamp", r.end_timestamp)?,
            version: r.version,
            trace_header: r.trace_header.map(Into::into),
            execution_data_included: r.execution_data_included,
            durable_config: r.durable_config.map(Into::into),
            pause_details: None,
            expected_execution_timeout_timestamp: None,
        })
    }
}

impl TryFrom<m::GetDurableExecutionHistoryResponse> for GetDurableExecutionHistoryOutput {
    type Error = ConversionError;
    fn try_from(r: m::GetDurableExecutionHistoryResponse) -> Result<Self, ConversionError> {
        GetDurableExecutionHistoryOutput::builder()
            .set_events(Some(list(r.events)?))
            .set_next_marker(r.next_marker)
            .build()
            .map_err(build_err("GetDurableExecutionHistoryOutput"))
    }
}

impl TryFrom<GetDurableExecutionHistoryOutput> for m::GetDurableExecutionHistoryResponse {
    type Error = ConversionError;
    fn try_from(r: GetDurableExecutionHistoryOutput) -> Result<Self, ConversionError> {
        Ok(m::GetDurableExecutionHistoryResponse {
            events: list(r.events)?,
            next_marker: r.next_marker,
        })
    }
}

impl TryFrom<m::Execution> for s::Execution {
    type Error = ConversionError;
    fn try_from(e: m::Execution) -> Result<Self, ConversionError> {
        s::Execution::builder()
            .durable_execution_arn(e.durable_execution_arn)
            .durable_execution_name(e.durable_execution_name)
            .function_arn(e.function_arn)
            .status(e.status.into())
            .start_timestamp(to_date_time(e.start_timestamp))
            .set_end_timestamp(e.end_timestamp.map(to_date_time))
            .set_kms_key_arn(e.kms_key_arn)
            .build()
            .map_err(build_err("Execution"))
    }
}

impl TryFrom<s::Execution> for m::Execution {
    type Error = ConversionError;
    fn try_from(e: s::Execution) -> Result<Self, ConversionError> {
        Ok(m::Execution {
            durable_execution_arn: e.durable_execution_arn,
            durable_execution_name: e.durable_execution_name,
            function_arn: e.function_arn,
            status: e.status.try_into()?,
            start_timestamp: from_date_time("Execution.StartTimestamp", e.start_timestamp)?,
            end_timestamp: opt_time("Execution.EndTimestamp", e.end_timestamp)?,
            kms_key_arn: e.kms_key_arn,
        })
    }
}

impl TryFrom<m::ListDurableExecutionsByFunctionResponse> for ListDurableExecutionsByFunctionOutput {
    type Error = ConversionError;
    fn try_from(r: m::ListDurableExecutionsByFunctionResponse) -> Result<Self, ConversionError> {
        Ok(ListDurableExecutionsByFunctionOutput::builder()
            .set_durable_executions(Some(list(r.durable_executions)?))
            .set_next_marker(r.next_marker)
            .build())
    }
}

impl TryFrom<ListDurableExecutionsByFunctionOutput> for m::ListDurableExecutionsByFunctionResponse {
    type Error = ConversionError;
    fn try_from(r: ListDurableExecutionsByFunctionOutput) -> Result<Self, ConversionError> {
        Ok(m::ListDurableExecutionsByFunctionResponse {
            durable_executions: list(r.durable_executions.unwrap_or_default())?,
            next_marker: r.next_marker,
        })
    }
}

impl TryFrom<m::StopDurableExecutionResponse> for StopDurableExecutionOutput {
    type Error = ConversionError;
    fn try_from(r: m::StopDurableExecutionResponse) -> Result<Self, ConversionError> {
        StopDurableExecutionOutput::builder()
            .stop_timestamp(to_date_time(r.stop_timestamp))
            .build()
            .map_err(build_err("StopDurableExecutionOutput"))
    }
}

impl TryFrom<StopDurableExecutionOutput> for m::StopDurableExecutionResponse {
    type Error = ConversionError;
    fn try_from(r: StopDurableExecutionOutput) -> Result<Self, ConversionError> {
        Ok(m::StopDurableExecutionResponse {
            stop_timestamp: from_date_time("StopDurableExecution.StopTimestamp", r.stop_timestamp)?,
        })
    }
}
