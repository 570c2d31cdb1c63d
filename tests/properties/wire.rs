//! `serialize → parse → equal` for every wire type of `durable_fsm::model`.

use crate::config;
use crate::wire_gen::*;
use durable_fsm::model::invocation::InvocationInput;
use durable_fsm::model::*;
use proptest::collection::vec;
use proptest::option::of as opt;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

// ---- helpers ------------------------------------------------------------------------------

/// Parses the JSON text of `value` back and requires the same value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(
    value: &T,
) -> Result<Value, TestCaseError> {
    let text = serde_json::to_string(value).expect("every model value serializes");
    let back: T = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("does not parse back ({e}): {text}")))?;
    prop_assert_eq!(&back, value, "JSON: {}", text);
    Ok(serde_json::from_str(&text).expect("JSON text"))
}

/// The top-level members of a JSON object whose names end in `Details`.
pub fn details_members(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| {
            o.keys()
                .filter(|k| k.ends_with("Details"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The details member an operation of this type carries.
pub fn operation_details_member(t: OperationType) -> &'static str {
    match t {
        OperationType::Execution => "ExecutionDetails",
        OperationType::Context => "ContextDetails",
        OperationType::Step => "StepDetails",
        OperationType::Wait => "WaitDetails",
        OperationType::Callback => "CallbackDetails",
        OperationType::ChainedInvoke => "ChainedInvokeDetails",
    }
}

// ---- properties ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn timestamps_keep_microseconds(t in micros()) {
        let v = round_trip(&t)?;
        prop_assert!(v.is_number(), "a timestamp is a JSON number: {}", v);
    }

    #[test]
    fn error_objects_round_trip(e in error_object()) {
        round_trip(&e)?;
    }

    #[test]
    fn operations_round_trip(op in operation(micros())) {
        let v = round_trip(&op)?;
        let members = details_members(&v);
        prop_assert!(
            members.is_empty() || members == [operation_details_member(op.op_type)],
            "{} carries {:?}", op.op_type, members
        );
    }

    #[test]
    fn operation_updates_round_trip(u in operation_update()) {
        round_trip(&u)?;
    }

    #[test]
    fn events_round_trip(ev in event()) {
        let v = round_trip(&ev)?;
        let expected = format!("{}Details", ev.event_type);
        prop_assert_eq!(details_members(&v), vec![expected]);
    }

    #[test]
    fn checkpoint_bodies_round_trip(
        token in text(),
        updates in opt(vec(operation_update(), 0..4)),
        client_token in opt(text()),
        response_token in opt(text()),
        state in updated_state(),
    ) {
        // The ARN travels in the path, so the body reads back without it.
        round_trip(&CheckpointDurableExecutionRequest {
            durable_execution_arn: String::new(),
            checkpoint_token: token,
            updates,
            client_token,
        })?;
        round_trip(&state)?;
        round_trip(&CheckpointDurableExecutionResponse {
            checkpoint_token: response_token,
            new_execution_state: state,
        })?;
    }

    #[test]
    fn read_responses_round_trip(
        operations in vec(operation(micros()), 0..4),
        events in vec(event(), 0..4),
        executions in vec(execution(), 0..3),
        markers in (opt(text()), opt(text()), opt(text())),
        execution in get_execution_response(),
    ) {
        round_trip(&GetDurableExecutionStateResponse { operations, next_marker: markers.0 })?;
        round_trip(&GetDurableExecutionHistoryResponse { events, next_marker: markers.1 })?;
        round_trip(&ListDurableExecutionsByFunctionResponse {
            durable_executions: executions,
            next_marker: markers.2,
        })?;
        round_trip(&execution)?;
    }

    #[test]
    fn other_bodies_round_trip(
        stop in micros(),
        error in (opt(text()), opt(text()), opt(text()), opt(text())),
        start in start_request(),
        arn in text(),
    ) {
        round_trip(&StopDurableExecutionResponse { stop_timestamp: stop })?;
        round_trip(&AwsErrorBody {
            error_kind: error.0,
            type_name: error.1,
            message: error.2,
            message_upper: error.3,
        })?;
        round_trip(&start)?;
        round_trip(&StartDurableExecutionResponse { execution_arn: arn })?;
    }

    #[test]
    fn invocation_inputs_round_trip(input in invocation_input()) {
        let v = serde_json::to_value(&input).unwrap();
        for op in v.pointer("/InitialExecutionState/Operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            prop_assert!(op["StartTimestamp"].is_i64(), "milliseconds as integers: {}", op);
        }
        let back = InvocationInput::from_value(v.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}: {v}")))?;
        prop_assert_eq!(back, input);
    }

    #[test]
    fn invocation_events_read_rfc3339_like_milliseconds(input in invocation_input()) {
        // The same event with every operation time written as an RFC 3339 string, the form
        // the TypeScript SDK expects, reads back to the same operations.
        let mut v = serde_json::to_value(&input).unwrap();
        let ops = v.pointer_mut("/InitialExecutionState/Operations").and_then(Value::as_array_mut);
        for op in ops.into_iter().flatten() {
            for path in [
                "/StartTimestamp",
                "/EndTimestamp",
                "/StepDetails/NextAttemptTimestamp",
                "/WaitDetails/ScheduledEndTimestamp",
            ] {
                if let Some(slot) = op.pointer_mut(path) {
                    let ms = slot.as_i64().expect("milliseconds");
                    *slot = Value::from(Timestamp::from_millis(ms).to_rfc3339());
                }
            }
        }
        let back = InvocationInput::from_value(v.clone())
            .map_err(|e| TestCaseError::fail(format!("{e}: {v}")))?;
        prop_assert_eq!(back, input);
    }

    #[test]
    fn invocation_outputs_round_trip(out in invocation_output()) {
        round_trip(&out)?;
    }
}
