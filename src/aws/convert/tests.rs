//! Model → SDK → model round trips over every captured wire body, and the edge cases.

use super::*;
use crate::aws::tests::samples::{exchanges, same};
use crate::model as m;
use aws_sdk_lambda::operation as op;
use aws_sdk_lambda::types as s;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

/// Parses `body` with the model, converts it to `S` and back, and checks nothing changed.
fn round_trip<M, S>(what: &str, body: &Value)
where
    M: DeserializeOwned + Serialize + PartialEq + Debug + Clone + TryFrom<S>,
    S: TryFrom<M>,
    <S as TryFrom<M>>::Error: Debug,
    <M as TryFrom<S>>::Error: Debug,
{
    let model: M =
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{what}: {e}\n{body}"));
    let sdk = S::try_from(model.clone()).unwrap_or_else(|e| panic!("{what}: to SDK: {e:?}"));
    let back = M::try_from(sdk).unwrap_or_else(|e| panic!("{what}: from SDK: {e:?}"));
    assert_eq!(back, model, "{what}");
    let json = serde_json::to_value(&back).unwrap();
    assert!(
        same(&json, body),
        "{what}: JSON differs\n in: {body}\nout: {json}"
    );
}

#[test]
fn every_captured_body_survives_the_sdk_types() {
    let mut checked = 0usize;
    for (name, ex) in exchanges() {
        let operation = ex["operation"].as_str().unwrap_or_default();
        let ok = (200..300).contains(&ex["response"]["status"].as_u64().unwrap_or(0));
        let req = &ex["request"]["body_json"];
        let resp = &ex["response"]["body_json"];
        match operation {
            "CheckpointDurableExecution" => {
                for (i, u) in req["Updates"].as_array().into_iter().flatten().enumerate() {
                    round_trip::<m::OperationUpdate, s::OperationUpdate>(
                        &format!("{name} update {i}"),
                        u,
                    );
                    checked += 1;
                }
                if ok {
                    round_trip::<
                        m::CheckpointDurableExecutionResponse,
                        op::checkpoint_durable_execution::CheckpointDurableExecutionOutput,
                    >(&name, resp);
                    checked += 1;
                }
            }
            "GetDurableExecutionState" if ok => {
                round_trip::<
                    m::GetDurableExecutionStateResponse,
                    op::get_durable_execution_state::GetDurableExecutionStateOutput,
                >(&name, resp);
                checked += 1;
            }
            "GetDurableExecution" if ok => {
                round_trip::<
                    m::GetDurableExecutionResponse,
                    op::get_durable_execution::GetDurableExecutionOutput,
                >(&name, resp);
                checked += 1;
            }
            "GetDurableExecutionHistory" if ok => {
                round_trip::<
                    m::GetDurableExecutionHistoryResponse,
                    op::get_durable_execution_history::GetDurableExecutionHistoryOutput,
                >(&name, resp);
                for (i, e) in resp["Events"].as_array().into_iter().flatten().enumerate() {
                    round_trip::<m::Event, s::Event>(&format!("{name} event {i}"), e);
                }
                checked += 1;
            }
            "ListDurableExecutionsByFunction" if ok => {
                round_trip::<
                    m::ListDurableExecutionsByFunctionResponse,
                    op::list_durable_executions_by_function::ListDurableExecutionsByFunctionOutput,
                >(&name, resp);
                checked += 1;
            }
            "StopDurableExecution" => {
                round_trip::<m::ErrorObject, s::ErrorObject>(&format!("{name} request"), req);
                if ok {
                    round_trip::<
                        m::StopDurableExecutionResponse,
                        op::stop_durable_execution::StopDurableExecutionOutput,
                    >(&name, resp);
                }
                checked += 1;
            }
            "SendDurableExecutionCallbackFailure" => {
                round_trip::<m::ErrorObject, s::ErrorObject>(&format!("{name} request"), req);
                checked += 1;
            }
            "Invoke" if ex["hop"] == "dex->lambda" && req.get("DurableExecutionArn").is_some() => {
                // The invocation event's operations carry milliseconds: compare models only.
                let input: m::InvocationInput = serde_json::from_value(req.clone()).unwrap();
                for o in input.initial_execution_state.unwrap_or_default().operations {
                    let sdk = s::Operation::try_from(o.clone()).unwrap();
                    assert_eq!(m::Operation::try_from(sdk).unwrap(), o, "{name}");
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        checked > 150,
        "only {checked} bodies checked: are the wire samples there?"
    );
}

#[test]
fn timestamps_keep_microseconds() {
    for micros in [
        0i64,
        1,
        -1,
        999_999,
        1_795_776_136_008_434,
        -86_400_000_001,
        i64::MAX / 1000,
    ] {
        let t = m::Timestamp::from_micros(micros);
        assert_eq!(from_date_time("t", to_date_time(t)).unwrap(), t, "{micros}");
    }
    // The SDK parses epoch seconds through f64; rounding recovers the written microseconds.
    for text in [
        "1795776136.008434",
        "1795776141.810326",
        "1732700000.1",
        "1795776146.419718",
    ] {
        let secs: f64 = text.parse().unwrap();
        let ours: m::Timestamp = serde_json::from_str(text).unwrap();
        assert_eq!(
            from_date_time("t", DateTime::from_secs_f64(secs)).unwrap(),
            ours,
            "{text}"
        );
    }
    assert!(from_date_time("t", DateTime::from_secs(i64::MAX / 10)).is_err());
}

#[test]
fn newer_enum_values_pass_through_the_sdk() {
    let sdk = s::ExecutionStatus::from(m::ExecutionStatus::Paused);
    assert!(
        !s::ExecutionStatus::values().contains(&sdk.as_str()),
        "unknown to the SDK"
    );
    assert_eq!(
        m::ExecutionStatus::try_from(sdk).unwrap(),
        m::ExecutionStatus::Paused
    );

    let mut paused = m::Event::new(m::EventType::ExecutionPaused, 7, m::Timestamp::from_secs(5));
    paused.execution_paused_details = Some(m::ExecutionPausedDetails::default());
    let back = m::Event::try_from(s::Event::try_from(paused).unwrap()).unwrap();
    assert_eq!(back.event_type, m::EventType::ExecutionPaused);
    assert_eq!(
        back.execution_paused_details, None,
        "the SDK has no member for it"
    );
}

#[test]
fn unknown_values_and_missing_members_are_errors() {
    let op = s::Operation::builder()
        .id("x")
        .r#type(s::OperationType::from("TELEPORT"))
        .status(s::OperationStatus::Started)
        .start_timestamp(DateTime::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(
        m::Operation::try_from(op).unwrap_err(),
        ConversionError::UnknownValue {
            field: "OperationType",
            value: "TELEPORT".into()
        }
    );
    let untyped = s::Event::builder().event_id(1).build();
    assert_eq!(
        m::Event::try_from(untyped).unwrap_err(),
        ConversionError::Missing {
            field: "Event.EventType"
        }
    );
    let negative = s::Event::builder()
        .event_type(s::EventType::StepStarted)
        .event_id(-1)
        .build();
    assert!(matches!(
        m::Event::try_from(negative),
        Err(ConversionError::OutOfRange { .. })
    ));
}

#[test]
fn values_the_sdk_cannot_hold_are_errors() {
    let mut wait = m::OperationUpdate::new("w", m::OperationType::Wait, m::OperationAction::Start);
    wait.wait_options = Some(m::WaitOptions {
        wait_seconds: Some(i64::from(i32::MAX) + 1),
    });
    assert!(matches!(
        s::OperationUpdate::try_from(wait),
        Err(ConversionError::OutOfRange {
            field: "WaitOptions.WaitSeconds",
            ..
        })
    ));
}

#[test]
fn sdk_required_members_come_back_as_defaults() {
    let mut update =
        m::OperationUpdate::new("c", m::OperationType::Callback, m::OperationAction::Start);
    update.callback_options = Some(m::CallbackOptions::default());
    let back = m::OperationUpdate::try_from(s::OperationUpdate::try_from(update).unwrap()).unwrap();
    assert_eq!(
        back.callback_options,
        Some(m::CallbackOptions {
            timeout_seconds: Some(0),
            heartbeat_timeout_seconds: Some(0)
        })
    );
}
