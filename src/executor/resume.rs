//! Finding where an invocation starts: the newest checkpointed state, without running
//! anything before it.

use super::session::Session;
use super::{DONE_KEY, InvocationError, TRANSITION_SUBTYPE};
use crate::machine::codec::Codec;
use crate::machine::ids::step_id;
use crate::machine::{CtxBackend, Transition};
use crate::model::*;

pub(crate) struct ResumePoint<W> {
    /// The state whose transition runs next.
    pub state: W,
    /// 1-based index of that transition (its STEP id is `step_id(None, index)`).
    pub index: u64,
    /// The transition's STEP operation when it already exists (a retry, a poll, a re-run).
    pub in_flight: Option<Box<Operation>>,
}

pub(crate) enum Resume<W> {
    /// Run from here.
    At(ResumePoint<W>),
    /// The machine already ended: its output (JSON text) or its error.
    Finished(Result<String, ErrorObject>),
    /// Something the next transition depends on has not completed.
    Pending,
}

fn is_transition(op: &Operation) -> bool {
    op.op_type == OperationType::Step && op.sub_type.as_deref() == Some(TRANSITION_SUBTYPE)
}

/// Where machine `W`, living in the CONTEXT `parent` (`None`: top level), continues. `start`
/// builds its first state when it has not run yet.
pub(crate) fn find_resume_point<W: Transition>(
    session: &dyn CtxBackend,
    parent: Option<&str>,
    start: impl FnOnce() -> Result<W, ErrorObject>,
) -> Result<Resume<W>, InvocationError> {
    // Operations arrive in creation order and transitions run one after another, so the last
    // two transition STEPs are all that matter: one pass, no hashing, no decoding of history.
    let mut count = 0u64;
    let mut last: Option<&Operation> = None;
    let mut before_last: Option<&Operation> = None;
    for op in session
        .children(parent)
        .into_iter()
        .filter(|op| is_transition(op))
    {
        count += 1;
        before_last = last;
        last = Some(op);
    }
    let codec = W::codec();
    let Some(last) = last else {
        return Ok(match start() {
            Ok(state) => Resume::At(ResumePoint {
                state,
                index: 1,
                in_flight: None,
            }),
            Err(bad_input) => Resume::Finished(Err(bad_input)),
        });
    };
    if last.id != step_id(parent, count) {
        return Err(InvocationError::Invalid(format!(
            "transition operation {} is not the {count}th transition: the execution was not written by this workflow's executor",
            last.id
        )));
    }
    let details = last.step_details.clone().unwrap_or_default();
    match last.status {
        OperationStatus::Succeeded => {
            let payload = details.result.as_deref().unwrap_or("null");
            if let Some(output) = done_output(payload) {
                return Ok(Resume::Finished(Ok(output)));
            }
            if payload == super::child::PARTS_MARKER
                && let Some(scope) = parent
                && let Some(output) = super::child::parts_in(session, scope)
            {
                return Ok(Resume::Finished(Ok(output)));
            }
            let state = decode_state::<W>(&codec, payload, last, count)?;
            // A sleep after this transition must have fired first.
            if let Some(wait) = session.operation(&step_id(Some(&last.id), 0))
                && wait.status != OperationStatus::Succeeded
            {
                return Ok(Resume::Pending);
            }
            Ok(Resume::At(ResumePoint {
                state,
                index: count + 1,
                in_flight: None,
            }))
        }
        OperationStatus::Failed
        | OperationStatus::Cancelled
        | OperationStatus::TimedOut
        | OperationStatus::Stopped => Ok(Resume::Finished(Err(details.error.unwrap_or_default()))),
        OperationStatus::Pending => Ok(Resume::Pending),
        OperationStatus::Started | OperationStatus::Ready => {
            // The transition is in flight: retried, polled, or cut short. Its input is the
            // newest polled state, else the state the previous transition produced.
            let state = match (&details.result, details.error.is_none()) {
                (Some(polled), true) => decode_state::<W>(&codec, polled, last, count)?,
                _ => match before_last {
                    Some(prev) => {
                        let payload = prev
                            .step_details
                            .as_ref()
                            .and_then(|d| d.result.as_deref())
                            .unwrap_or("null");
                        decode_state::<W>(&codec, payload, prev, count - 1)?
                    }
                    None => match start() {
                        Ok(state) => state,
                        Err(bad_input) => return Ok(Resume::Finished(Err(bad_input))),
                    },
                },
            };
            Ok(Resume::At(ResumePoint {
                state,
                index: count,
                in_flight: Some(Box::new(last.clone())),
            }))
        }
    }
}

fn done_output(payload: &str) -> Option<String> {
    if !payload.starts_with("{\"$done\"") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    let obj = value.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get(DONE_KEY).map(|v| v.to_string())
}

pub(crate) fn decode_state<W: Transition>(
    codec: &impl Codec,
    payload: &str,
    op: &Operation,
    index: u64,
) -> Result<W, InvocationError> {
    crate::machine::evolve::decode_stored::<W>(codec, payload).map_err(|e| {
        // Only on failure: find the recorded variant to name it.
        let variant = match serde_json::from_str::<serde_json::Value>(payload) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(serde_json::Value::Object(m)) if m.len() == 1 => {
                m.keys().next().cloned().unwrap_or_default()
            }
            Ok(_) => "?".into(),
            Err(_) => "(not JSON)".into(),
        };
        InvocationError::StateDecode(format!(
            "state `{variant}` checkpointed by transition {index} (operation {}, from state `{}`) no longer deserializes into {}: {e}",
            op.id,
            op.name.as_deref().unwrap_or("?"),
            std::any::type_name::<W>()
        ))
    })
}

/// The execution input; a bad input fails the execution (it cannot get better by retrying).
pub(crate) fn execution_input<W: Transition>(
    session: &Session<'_>,
) -> Result<W::Input, ErrorObject> {
    let arn = session.arn();
    let exec_id = arn.rsplit('/').next().unwrap_or(arn);
    let payload = session
        .get(exec_id)
        .filter(|op| op.op_type == OperationType::Execution)
        .and_then(|op| op.execution_details.as_ref())
        .and_then(|d| d.input_payload.clone())
        .unwrap_or_default();
    let payload = if payload.trim().is_empty() {
        "null"
    } else {
        payload.as_str()
    };
    serde_json::from_str(payload)
        .or_else(|first| {
            if payload == "null" {
                serde_json::from_str("{}").map_err(|_| first)
            } else {
                Err(first)
            }
        })
        .map_err(|e| {
            ErrorObject::new(
                "InvalidInput",
                format!(
                    "the execution input does not deserialize into {}: {e}",
                    std::any::type_name::<W::Input>()
                ),
            )
        })
}
