//! Continue-as-new: a transition that ends its execution and starts a fresh execution of the
//! same function and version from a given state, exactly once.
//!
//! In order:
//!
//! 1. the transition's STEP succeeds with a marker payload, `{"$continue": {…}}`, naming the
//!    successor: its execution name, generation, first state and exact input;
//! 2. the successor is started ([`DurableApi::start_execution`](crate::DurableApi::start_execution)),
//!    which is idempotent by name and input;
//! 3. the execution succeeds with a [`ContinuedAsNew`] result naming the successor's ARN.
//!
//! An invocation whose newest transition is a marker redoes 2 and 3, so a crash anywhere
//! after 1 starts the same successor, never a second one; a crash before 1 runs the
//! transition again. The successor's name is derived from the lineage: the first execution's
//! name is the base and generation 1, the successor of generation `n` is `<base>-g<n+1>`
//! (shortened with a hash of the base to stay within AWS's 64 characters). The successor's
//! input carries the base, its generation, the ARN it came from and its first state:
//! `{"$continue": {"base": …, "generation": …, "from": …, "state": …}}`.

use super::epoch::EPOCH_SUBTYPE;
use super::session::{Session, TokenState};
use super::{InvocationError, TRANSITION_SUBTYPE, api_failure};
use crate::api::{ApiError, ExecutionArn, StartExecutionRequest};
use crate::machine::evolve::{decode_stored, variant_of};
use crate::machine::ids::hash_id;
use crate::machine::{CtxBackend, Transition};
use crate::model::*;
use serde::{Deserialize, Serialize};

/// The key of a marker payload and of a successor's input.
pub(crate) const CONTINUE_KEY: &str = "$continue";
/// Longest execution name AWS accepts.
const MAX_NAME: usize = 64;
/// `ErrorType` of a continue-as-new that cannot name its successor.
pub const CONTINUE_AS_NEW_ERROR: &str = "ContinueAsNewError";

/// The result of an execution that continued as new: the successor it started.
///
/// The result JSON is `{"ContinuedAsNew": {"DurableExecutionArn": …, "DurableExecutionName":
/// …, "Generation": …}}`; follow a chain of executions with [`ContinuedAsNew::from_result`].
///
/// ```
/// use durable_fsm::executor::ContinuedAsNew;
///
/// let result = r#"{"ContinuedAsNew":{"DurableExecutionArn":"arn:…/durable-execution/sub-1-g2/x","DurableExecutionName":"sub-1-g2","Generation":2}}"#;
/// let next = ContinuedAsNew::from_result(result).unwrap();
/// assert_eq!((next.durable_execution_name.as_str(), next.generation), ("sub-1-g2", 2));
/// assert_eq!(ContinuedAsNew::from_result(r#"{"paid":true}"#), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ContinuedAsNew {
    /// The successor's ARN.
    pub durable_execution_arn: String,
    /// The successor's name.
    pub durable_execution_name: String,
    /// The successor's generation: 2 for the first successor, then 3, ….
    pub generation: u64,
}

#[derive(Serialize, Deserialize)]
struct ResultJson {
    #[serde(rename = "ContinuedAsNew")]
    continued: ContinuedAsNew,
}

impl ContinuedAsNew {
    /// The successor named by an execution's result, or `None` when the execution did not
    /// continue as new.
    pub fn from_result(result: &str) -> Option<Self> {
        if !result.trim_start().starts_with("{\"ContinuedAsNew\"") {
            return None;
        }
        serde_json::from_str::<ResultJson>(result)
            .ok()
            .map(|r| r.continued)
    }

    /// The execution result that names this successor.
    pub fn to_result(&self) -> String {
        let json = ResultJson {
            continued: self.clone(),
        };
        // Strings and an integer only: serializing cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// What a continue-as-new transition checkpoints: enough to start the successor again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Marker {
    /// The successor's execution name.
    name: String,
    /// The successor's generation.
    generation: u64,
    /// The name of the successor's first state.
    state: String,
    /// The successor's input, exactly as it is started with.
    input: String,
}

#[derive(Serialize, Deserialize)]
struct MarkerJson {
    #[serde(rename = "$continue")]
    marker: Marker,
}

/// The marker in a transition payload, if it is one.
pub(crate) fn marker(payload: &str) -> Option<Marker> {
    if !payload.starts_with("{\"$continue\"") {
        return None;
    }
    serde_json::from_str::<MarkerJson>(payload)
        .ok()
        .map(|m| m.marker)
}

/// The name of the state a transition payload continues in as new, when it is a
/// continue-as-new marker (for traces).
pub fn continued_state(payload: &str) -> Option<String> {
    marker(payload).map(|m| m.state)
}

/// A successor's input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    base: String,
    generation: u64,
    #[serde(default)]
    from: String,
    state: serde_json::Value,
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The execution's raw input payload.
fn raw_input<'s>(session: &'s Session<'_>) -> Option<&'s str> {
    let arn = session.arn();
    let exec_id = arn.rsplit('/').next().unwrap_or(arn);
    session
        .get(exec_id)
        .filter(|op| op.op_type == OperationType::Execution)
        .and_then(|op| op.execution_details.as_ref())
        .and_then(|d| d.input_payload.as_deref())
}

/// The continue-as-new envelope of the execution input: `None` when the input is not one,
/// an error (failing the execution) when it is one but malformed.
fn envelope(session: &Session<'_>) -> Option<Result<Envelope, ErrorObject>> {
    let raw = raw_input(session)?.trim_start();
    if !raw.starts_with("{\"$continue\"") {
        return None;
    }
    let mut value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw).ok()?;
    if value.len() != 1 {
        return None;
    }
    let inner = value.remove(CONTINUE_KEY)?;
    Some(
        serde_json::from_value::<Envelope>(inner)
            .map_err(|e| e.to_string())
            .and_then(|env| {
                if !is_simple_name(&env.base) {
                    Err(format!(
                        "base {:?} is not 1-64 characters of [a-zA-Z0-9_-]",
                        env.base.chars().take(80).collect::<String>()
                    ))
                } else if env.generation < 2 {
                    Err(format!("generation {} is below 2", env.generation))
                } else {
                    Ok(env)
                }
            })
            .map_err(|why| {
                ErrorObject::new(
                    "InvalidInput",
                    format!("the execution input is a malformed continue-as-new input: {why}"),
                )
            }),
    )
}

/// A carried-over state that did not decode, kept aside while the resume point is found:
/// it fails the invocation (retried until a version that reads it is deployed), not the
/// execution.
#[derive(Default)]
pub(super) struct Carried(std::cell::Cell<Option<InvocationError>>);

impl Carried {
    /// `found`, unless the carried state did not decode.
    pub(super) fn check<T>(&self, found: Result<T, InvocationError>) -> Result<T, InvocationError> {
        match self.0.take() {
            Some(e) => Err(e),
            None => found,
        }
    }
}

/// The first state of an execution: the state a continue-as-new carried over, else
/// `W::start` of the input `from_input` reads. An error fails the execution (a bad input),
/// except a carried state that does not decode, which goes to `carried`.
pub(super) fn first_state<W: Transition>(
    session: &Session<'_>,
    carried: &Carried,
    from_input: impl FnOnce(&Session<'_>) -> Result<W::Input, ErrorObject>,
) -> Result<W, ErrorObject> {
    match envelope(session) {
        None => from_input(session).map(W::start),
        Some(Err(bad)) => Err(bad),
        Some(Ok(env)) => {
            let text = env.state.to_string();
            decode_stored::<W>(&W::codec(), &text).map_err(|e| {
                let message = format!(
                    "state `{}` carried over by continue-as-new (generation {}, from {}) no longer deserializes into {}: {e}",
                    variant_of(&env.state).unwrap_or("?"),
                    env.generation,
                    if env.from.is_empty() { "?" } else { &env.from },
                    std::any::type_name::<W>()
                );
                carried
                    .0
                    .set(Some(InvocationError::StateDecode(message.clone())));
                ErrorObject::new("StateDecodeError", message)
            })
        }
    }
}

/// The marker of the top-level machine's newest transition, when it is a continue-as-new
/// that succeeded: the execution only has to start its successor (again) and end. The newest
/// transition is the last one at the top level, or in the open epoch that comes last (a
/// continue-as-new never closes an epoch).
pub(super) fn continued(session: &Session<'_>) -> Option<Marker> {
    let mut scope: Option<String> = None;
    loop {
        let last = session
            .children(scope.as_deref())
            .into_iter()
            .rev()
            .find(|op| match op.op_type {
                OperationType::Step => op.sub_type.as_deref() == Some(TRANSITION_SUBTYPE),
                OperationType::Context => op.sub_type.as_deref() == Some(EPOCH_SUBTYPE),
                _ => false,
            })?;
        if last.op_type == OperationType::Context {
            if last.status == OperationStatus::Succeeded {
                return None;
            }
            scope = Some(last.id.clone());
            continue;
        }
        if last.status != OperationStatus::Succeeded {
            return None;
        }
        return marker(last.step_details.as_ref()?.result.as_deref()?);
    }
}

/// The error of a child machine that returned `Next::continue_as_new`.
pub(super) fn in_child<W>() -> ErrorObject {
    ErrorObject::new(
        CONTINUE_AS_NEW_ERROR,
        format!(
            "child machine {} returned Next::continue_as_new; only the top-level workflow can continue as new",
            std::any::type_name::<W>()
        ),
    )
}

/// The name of generation `generation` of the lineage whose first execution is `base`:
/// `<base>-g<generation>`, or, when that is longer than 64 characters, the base cut short
/// with a hash of the whole base: `<prefix>-<hash>-g<generation>`.
pub fn successor_name(base: &str, generation: u64) -> String {
    let suffix = format!("-g{generation}");
    if base.len() + suffix.len() <= MAX_NAME {
        return format!("{base}{suffix}");
    }
    let hash: String = hash_id(base)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(10)
        .collect();
    let keep = MAX_NAME.saturating_sub(suffix.len() + hash.len() + 1);
    // Execution names are ASCII: any byte index is a character boundary.
    let prefix: String = base.chars().take(keep).collect();
    format!("{prefix}-{hash}{suffix}")
}

/// The marker of a continue-as-new from this execution into `state`, and its payload.
fn prepare(
    session: &Session<'_>,
    state_name: &str,
    state_text: &str,
) -> Result<(Marker, String), ErrorObject> {
    let error = |m: String| ErrorObject::new(CONTINUE_AS_NEW_ERROR, m);
    let arn = ExecutionArn::parse(session.arn()).map_err(|e| error(e.message))?;
    let (base, generation) = match envelope(session) {
        Some(Ok(env)) => (env.base, env.generation),
        Some(Err(bad)) => return Err(bad),
        None => (arn.execution_name.clone(), 1),
    };
    let next = generation
        .checked_add(1)
        .ok_or_else(|| error("the generation counter is exhausted".into()))?;
    let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let input = format!(
        "{{\"{CONTINUE_KEY}\":{{\"base\":{},\"generation\":{next},\"from\":{},\"state\":{state_text}}}}}",
        quoted(&base),
        quoted(session.arn()),
    );
    let marker = Marker {
        name: successor_name(&base, next),
        generation: next,
        state: state_name.to_string(),
        input,
    };
    let payload = serde_json::to_string(&MarkerJson {
        marker: marker.clone(),
    })
    .map_err(|e| error(format!("cannot encode the continue-as-new marker: {e}")))?;
    Ok((marker, payload))
}

/// Runs steps 1–3 for a top-level transition that returned `Next::continue_as_new` into
/// state `state_name`: `updates` (not sent yet) end with the transition's SUCCEED, whose
/// payload is the encoded state; it becomes the marker.
pub(super) async fn continue_as_new(
    session: &mut Session<'_>,
    mut updates: Vec<OperationUpdate>,
    state_name: &str,
) -> Result<InvocationOutput, InvocationError> {
    let Some(step) = updates.last_mut() else {
        return Err(InvocationError::Invalid(
            "a continue-as-new transition produced no update".into(),
        ));
    };
    let state_text = step.payload.take().unwrap_or_default();
    let marker = match prepare(session, state_name, &state_text) {
        Ok((marker, payload)) => {
            step.payload = Some(payload);
            Ok(marker)
        }
        Err(error) => {
            step.action = OperationAction::Fail;
            step.error = Some(error.clone());
            Err(error)
        }
    };
    if let Err(e) = session.checkpoint(updates).await {
        return api_failure(e);
    }
    if session.token_state == TokenState::Revoked {
        return Ok(InvocationOutput::pending());
    }
    match marker {
        Ok(marker) => finish(session, marker).await,
        Err(error) => Ok(InvocationOutput::failed(error)),
    }
}

/// Steps 2 and 3: starts the successor (again) and reports this execution's result.
pub(super) async fn finish(
    session: &Session<'_>,
    marker: Marker,
) -> Result<InvocationOutput, InvocationError> {
    match start(session, marker).await {
        Ok(result) => Ok(InvocationOutput::succeeded(result.to_result())),
        Err(e) => api_failure(e),
    }
}

async fn start(session: &Session<'_>, marker: Marker) -> Result<ContinuedAsNew, ApiError> {
    let arn = ExecutionArn::parse(session.arn())?;
    let req = StartExecutionRequest::new(arn.function_arn(), marker.name.clone(), marker.input)
        .qualifier(arn.version);
    let started = session.start_execution(req).await?;
    tracing::info!(
        successor = %started.durable_execution_arn,
        generation = marker.generation,
        "continued as new"
    );
    Ok(ContinuedAsNew {
        durable_execution_arn: started.durable_execution_arn,
        durable_execution_name: marker.name,
        generation: marker.generation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_names_stay_within_aws_rules_and_apart() {
        assert_eq!(successor_name("sub-42", 2), "sub-42-g2");
        assert_eq!(successor_name("sub-42", 10), "sub-42-g10");
        let long_a = "a".repeat(64);
        let long_b = format!("{}b", "a".repeat(63));
        for base in [&long_a, &long_b] {
            for generation in [2, 99, u64::MAX] {
                let name = successor_name(base, generation);
                assert!(is_simple_name(&name), "{name}");
                assert!(name.ends_with(&format!("-g{generation}")), "{name}");
            }
        }
        // Two long bases that share their first characters still get different names.
        assert_ne!(successor_name(&long_a, 2), successor_name(&long_b, 2));
        // Deterministic: a re-run derives the same name.
        assert_eq!(successor_name(&long_a, 7), successor_name(&long_a, 7));
    }

    #[test]
    fn results_and_markers_round_trip() {
        let c = ContinuedAsNew {
            durable_execution_arn: "arn".into(),
            durable_execution_name: "n-g2".into(),
            generation: 2,
        };
        assert_eq!(ContinuedAsNew::from_result(&c.to_result()), Some(c));
        let m = Marker {
            name: "n-g2".into(),
            generation: 2,
            state: "Active".into(),
            input: r#"{"$continue":{}}"#.into(),
        };
        let payload = serde_json::to_string(&MarkerJson { marker: m.clone() }).unwrap();
        assert_eq!(marker(&payload), Some(m));
        assert_eq!(continued_state(&payload).as_deref(), Some("Active"));
        assert_eq!(marker(r#"{"Active":{}}"#), None);
    }
}
