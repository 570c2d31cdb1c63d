//! The handler invocation envelope: the event the service passes to the function and the
//! output the function returns (spec/invocation.md §2 and §4).
//!
//! Operation timestamps inside the event are not epoch seconds: the service side of this crate
//! writes integer epoch milliseconds (the form every official SDK reads) and the handler side
//! accepts milliseconds as numbers and RFC 3339 strings.

use super::{ErrorObject, Operation, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

super::wire_enum! {
    /// What a handler invocation reports.
    InvocationStatus {
        /// The execution succeeded with `Result`.
        Succeeded = "SUCCEEDED",
        /// The execution failed with `Error`.
        Failed = "FAILED",
        /// The execution is suspended until something pending completes.
        Pending = "PENDING",
    }
}

/// The event a durable function is invoked with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationInput {
    /// The execution ARN.
    pub durable_execution_arn: String,
    /// Token for the first checkpoint and state read of this invocation.
    pub checkpoint_token: String,
    /// The first page of operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_execution_state: Option<InitialExecutionState>,
    /// Operations changed while the function was suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_operation_ids: Option<Vec<String>>,
}

/// A malformed invocation event.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid durable invocation event: {0} (is the function configured as a durable function?)"
)]
pub struct InvocationEventError(String);

impl InvocationInput {
    /// Parses an invocation event, naming what is wrong when it is not one.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvocationEventError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| InvocationEventError(format!("not JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Parses an invocation event already decoded as JSON.
    pub fn from_value(value: Value) -> Result<Self, InvocationEventError> {
        let Value::Object(obj) = &value else {
            return Err(InvocationEventError("not a JSON object".into()));
        };
        for required in ["DurableExecutionArn", "CheckpointToken"] {
            match obj.get(required) {
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(Value::String(_)) => {
                    return Err(InvocationEventError(format!("{required} is empty")));
                }
                Some(_) => return Err(InvocationEventError(format!("{required} is not a string"))),
                None => return Err(InvocationEventError(format!("missing {required}"))),
            }
        }
        if let Some(state) = obj.get("InitialExecutionState") {
            match state.get("Operations") {
                None | Some(Value::Array(_)) | Some(Value::Null) => {}
                Some(_) => {
                    return Err(InvocationEventError(
                        "InitialExecutionState.Operations is not a list".into(),
                    ));
                }
            }
        }
        serde_json::from_value(value).map_err(|e| InvocationEventError(e.to_string()))
    }
}

/// The first page of an execution's operations, as carried in the invocation event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InitialExecutionState {
    /// Operations in creation order.
    pub operations: Vec<Operation>,
    /// Where GetDurableExecutionState continues; `None` or empty when complete.
    pub next_marker: Option<String>,
}

const EVENT_TIME_FIELDS: [(&str, &str); 4] = [
    ("", "StartTimestamp"),
    ("", "EndTimestamp"),
    ("StepDetails", "NextAttemptTimestamp"),
    ("WaitDetails", "ScheduledEndTimestamp"),
];

fn map_time_fields(
    op: &mut Map<String, Value>,
    f: &mut dyn FnMut(&Value) -> Result<Value, String>,
) -> Result<(), String> {
    for (parent, field) in EVENT_TIME_FIELDS {
        let holder = if parent.is_empty() {
            Some(&mut *op)
        } else {
            op.get_mut(parent).and_then(Value::as_object_mut)
        };
        if let Some(slot) = holder.and_then(|h| h.get_mut(field)) {
            *slot = f(slot).map_err(|e| {
                format!(
                    "{parent}{}{field}: {e}",
                    if parent.is_empty() { "" } else { "." }
                )
            })?;
        }
    }
    Ok(())
}

/// Largest epoch-millisecond timestamp (about the year 2255) whose microseconds survive the
/// API's fractional-seconds form exactly; later ones are refused rather than altered.
const MAX_EVENT_MILLIS: i64 = (1 << 53) / 1000;

fn event_time_to_seconds(v: &Value) -> Result<Value, String> {
    let in_range = |ms: f64| ms.abs() <= MAX_EVENT_MILLIS as f64;
    let ts = match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|ms| ms.unsigned_abs() <= MAX_EVENT_MILLIS.unsigned_abs())
            .map(Timestamp::from_millis)
            .or_else(|| {
                n.as_f64()
                    .filter(|ms| in_range(*ms))
                    .and_then(|ms| Timestamp::from_secs_f64(ms / 1000.0))
            })
            .ok_or_else(|| format!("timestamp out of range: {n}"))?,
        Value::String(s) => {
            let ts = Timestamp::parse_rfc3339(s).map_err(|e| e.to_string())?;
            if ts.as_millis().unsigned_abs() > MAX_EVENT_MILLIS.unsigned_abs() {
                return Err(format!("timestamp out of range: {s}"));
            }
            ts
        }
        other => {
            return Err(format!(
                "expected epoch milliseconds or an RFC 3339 string, got {other}"
            ));
        }
    };
    serde_json::to_value(ts).map_err(|e| e.to_string())
}

fn seconds_to_event_millis(v: &Value) -> Result<Value, String> {
    let ts: Timestamp = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    Ok(Value::from(ts.as_millis()))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawState {
    #[serde(default)]
    operations: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

impl Serialize for InitialExecutionState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut operations = Vec::with_capacity(self.operations.len());
        for op in &self.operations {
            let mut v = serde_json::to_value(op).map_err(serde::ser::Error::custom)?;
            if let Value::Object(map) = &mut v {
                map_time_fields(map, &mut seconds_to_event_millis)
                    .map_err(serde::ser::Error::custom)?;
            }
            operations.push(v);
        }
        RawState {
            operations,
            next_marker: self.next_marker.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for InitialExecutionState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawState::deserialize(d)?;
        let mut operations = Vec::with_capacity(raw.operations.len());
        for (i, mut v) in raw.operations.into_iter().enumerate() {
            let Value::Object(map) = &mut v else {
                return Err(serde::de::Error::custom(format!(
                    "InitialExecutionState.Operations[{i}] is not an object"
                )));
            };
            map_time_fields(map, &mut event_time_to_seconds).map_err(|e| {
                serde::de::Error::custom(format!("InitialExecutionState.Operations[{i}].{e}"))
            })?;
            let op: Operation = serde_json::from_value(v).map_err(|e| {
                serde::de::Error::custom(format!("InitialExecutionState.Operations[{i}]: {e}"))
            })?;
            operations.push(op);
        }
        Ok(InitialExecutionState {
            operations,
            next_marker: raw.next_marker,
        })
    }
}

/// What the handler returns to the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationOutput {
    /// Outcome.
    pub status: InvocationStatus,
    /// JSON text of the result, only with SUCCEEDED (`""` when checkpointed instead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Error, only with FAILED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

impl InvocationOutput {
    /// SUCCEEDED with a result.
    pub fn succeeded(result: impl Into<String>) -> Self {
        InvocationOutput {
            status: InvocationStatus::Succeeded,
            result: Some(result.into()),
            error: None,
        }
    }

    /// FAILED with an error.
    pub fn failed(error: ErrorObject) -> Self {
        InvocationOutput {
            status: InvocationStatus::Failed,
            result: None,
            error: Some(error),
        }
    }

    /// PENDING: suspended.
    pub fn pending() -> Self {
        InvocationOutput {
            status: InvocationStatus::Pending,
            result: None,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_timestamps_too_far_out_to_keep_exactly() {
        let event = |end: &str| {
            format!(
                r#"{{"DurableExecutionArn":"a/b","CheckpointToken":"t","InitialExecutionState":{{"Operations":[{{"Id":"s","Type":"STEP","Status":"SUCCEEDED","StartTimestamp":1795776142649,"EndTimestamp":{end}}}]}}}}"#
            )
        };
        let err = InvocationInput::from_slice(event("17959776142647").as_bytes()).unwrap_err();
        assert!(err.to_string().contains("timestamp out of range"), "{err}");
        let ok = InvocationInput::from_slice(event("9007199254740").as_bytes()).unwrap();
        let text = serde_json::to_vec(&ok).unwrap();
        let again = InvocationInput::from_slice(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            serde_json::to_value(&ok).unwrap()
        );
    }

    #[test]
    fn accepts_millis_and_iso_strings() {
        let ev = br#"{"DurableExecutionArn":"a/b","CheckpointToken":"t",
          "InitialExecutionState":{"Operations":[
            {"Id":"b","Type":"EXECUTION","Status":"STARTED","StartTimestamp":1732700000000},
            {"Id":"w","Type":"WAIT","Status":"STARTED","StartTimestamp":"2024-11-27T09:33:20.000Z",
             "WaitDetails":{"ScheduledEndTimestamp":"2024-11-27T09:33:25Z"}}]}}"#;
        let input = InvocationInput::from_slice(ev).unwrap();
        let ops = input.initial_execution_state.unwrap().operations;
        assert_eq!(ops[0].start_timestamp, Timestamp::from_secs(1_732_700_000));
        assert_eq!(ops[1].start_timestamp, Timestamp::from_secs(1_732_700_000));
        assert_eq!(
            ops[1]
                .wait_details
                .as_ref()
                .unwrap()
                .scheduled_end_timestamp,
            Some(Timestamp::from_secs(1_732_700_005))
        );
    }

    #[test]
    fn writes_millis() {
        let state = InitialExecutionState {
            operations: vec![Operation::new(
                "x",
                super::super::OperationType::Execution,
                super::super::OperationStatus::Started,
                Timestamp::from_millis(1_795_776_135_853),
            )],
            next_marker: Some(String::new()),
        };
        let v = serde_json::to_value(&state).unwrap();
        assert_eq!(
            v["Operations"][0]["StartTimestamp"],
            Value::from(1_795_776_135_853i64)
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (b"nope", "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"DurableExecutionArn":"a"}"#, "missing CheckpointToken"),
            (br#"{"DurableExecutionArn":"a","CheckpointToken":5}"#, "CheckpointToken is not a string"),
            (
                br#"{"DurableExecutionArn":"a","CheckpointToken":"t","InitialExecutionState":{"Operations":[{"Id":"x","Type":"TELEPORT","Status":"STARTED","StartTimestamp":1}]}}"#,
                "TELEPORT",
            ),
            (
                br#"{"DurableExecutionArn":"a","CheckpointToken":"t","InitialExecutionState":{"Operations":{}}}"#,
                "InitialExecutionState.Operations is not a list",
            ),
        ];
        for (bytes, needle) in cases {
            let err = InvocationInput::from_slice(bytes).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
