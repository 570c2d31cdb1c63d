//! The executor: runs one invocation of a workflow against a [`DurableApi`].
//!
//! It loads the execution's operations, finds the newest checkpointed state, and runs
//! transitions from there, checkpointing each as one STEP operation (SubType `Transition`,
//! Name = the state that ran, Payload = the next state). Nothing before the newest state runs
//! again.

mod check;
mod resume;
mod session;

pub use check::{INVALID_GRAPH, UNDECLARED_TRANSITION};
pub use session::{MAX_BYTES_PER_CALL, MAX_UPDATES_PER_CALL};

use crate::api::{ApiError, DurableApi};
use crate::machine::codec::Codec;
use crate::machine::ids::{hash_id, step_id};
use crate::machine::retry::{RetryDecision, seeded_from};
use crate::machine::{Ctx, ErrorClass, Next, Transition, whole_seconds};
use crate::model::*;
use resume::{Resume, find_resume_point};
use session::{Session, TokenState};
use tracing::Instrument;

/// SubType of the STEP operation that records a transition.
pub const TRANSITION_SUBTYPE: &str = "Transition";
/// Largest encoded state, in bytes, that a transition may checkpoint.
pub const MAX_STATE_BYTES: usize = 256 * 1024;
/// Largest result returned in the invocation output; larger ones are checkpointed
/// (AWS's Lambda response limit less the envelope).
pub const MAX_OUTPUT_BYTES: usize = 6 * 1024 * 1024 - 50;
/// The key that marks a STEP payload as the execution's final output.
pub(crate) const DONE_KEY: &str = "$done";

/// Options of one invocation.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The time `Ctx::now` reports; defaults to the wall clock at the start of the invocation.
    pub now: Option<Timestamp>,
    /// Stop after this many transitions in one invocation (the rest run in later ones).
    pub max_transitions: Option<u64>,
    /// A transition that takes an edge the workflow's [`Graph`](crate::machine::Graph) does not
    /// declare fails with a [`Terminal`](crate::machine::Terminal) `UndeclaredTransition`
    /// error. Off by default (production logs a warning instead, once per invocation); the
    /// test runner turns it on.
    pub strict_graph: bool,
}

/// What one invocation did, for tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvocationStats {
    /// Transitions whose code ran in this invocation.
    pub transitions_run: u64,
    /// CheckpointDurableExecution calls made.
    pub checkpoint_calls: u64,
    /// Operations loaded before the first transition ran.
    pub operations_loaded: usize,
}

/// An invocation that must be retried by the service (it is reported as a function error,
/// so the service invokes again), as opposed to an execution failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationError {
    /// A retryable durable API error (throttling, 5xx, stale token, network).
    #[error("durable API call failed: {0}")]
    Api(#[from] ApiError),
    /// A checkpointed state no longer deserializes into the workflow type (deploy a fix: the
    /// execution resumes once it does).
    #[error("{0}")]
    StateDecode(String),
    /// The invocation event is not usable.
    #[error("invalid durable invocation: {0}")]
    Invalid(String),
}

impl InvocationError {
    /// A stable code for logs and `ErrorType`.
    pub fn code(&self) -> &'static str {
        match self {
            InvocationError::Api(_) => "DurableApiError",
            InvocationError::StateDecode(_) => "StateDecodeError",
            InvocationError::Invalid(_) => "InvalidInvocation",
        }
    }

    /// As an [`ErrorObject`].
    pub fn to_error_object(&self) -> ErrorObject {
        ErrorObject::new(self.code(), self.to_string())
    }
}

/// Runs one invocation of workflow `W` with default options.
pub async fn run<W: Transition, A: DurableApi>(
    api: &A,
    input: InvocationInput,
) -> Result<InvocationOutput, InvocationError> {
    run_with::<W, A>(api, input, &RunOptions::default())
        .await
        .map(|(out, _)| out)
}

/// Runs one invocation of workflow `W`; also returns what it did.
pub async fn run_with<W: Transition, A: DurableApi>(
    api: &A,
    input: InvocationInput,
    options: &RunOptions,
) -> Result<(InvocationOutput, InvocationStats), InvocationError> {
    let span =
        tracing::info_span!("durable_invocation", execution_arn = %input.durable_execution_arn);
    run_inner::<W>(api, input, options).instrument(span).await
}

async fn run_inner<W: Transition>(
    api: &dyn session::ErasedApi,
    input: InvocationInput,
    options: &RunOptions,
) -> Result<(InvocationOutput, InvocationStats), InvocationError> {
    let now = options.now.unwrap_or_else(Timestamp::now);
    let mut session = Session::new(api, input.durable_execution_arn, input.checkpoint_token);
    let initial = input.initial_execution_state.unwrap_or_default();
    session.merge(initial.operations);
    if let Err(e) = session.page_from(initial.next_marker).await {
        return api_failure(e).map(|o| (o, InvocationStats::default()));
    }
    let mut stats = InvocationStats {
        operations_loaded: session.in_order().count(),
        ..Default::default()
    };

    let resume = match find_resume_point::<W>(&session)? {
        Resume::Finished(output) => return Ok((output, stats)),
        Resume::Pending => return Ok((InvocationOutput::pending(), stats)),
        Resume::At(point) => point,
    };
    let codec = W::codec();
    let mut state = resume.state;
    let mut index = resume.index;
    let mut in_flight = resume.in_flight;
    let mut graph = check::GraphCheck::new::<W>(options.strict_graph);

    loop {
        if options
            .max_transitions
            .is_some_and(|max| stats.transitions_run >= max.max(1))
        {
            // Yield with a one-second timer so the service invokes again. Its id is keyed to
            // the transition that runs next, apart from that transition's own sleep.
            let id = hash_id(&format!("{}-yield", step_id(None, index)));
            let mut wait = OperationUpdate::new(id, OperationType::Wait, OperationAction::Start);
            wait.sub_type = Some("Wait".into());
            wait.name = Some("yield".into());
            wait.wait_options = Some(WaitOptions {
                wait_seconds: Some(1),
            });
            return finish_pending(&mut session, vec![wait], &mut stats).await;
        }
        let id = step_id(None, index);
        let name = state.name();
        let strategy = state.retry_strategy();
        let (attempt, started) = match &in_flight {
            Some(op) => (
                op.step_details
                    .as_ref()
                    .and_then(|d| d.attempt)
                    .unwrap_or(0)
                    + 1,
                op.status == OperationStatus::Started,
            ),
            None => (1, false),
        };
        let span = tracing::info_span!("transition", state = name, index, attempt);
        let result = {
            let mut ctx = Ctx::new(&mut session, &id, attempt, now);
            state.next(&mut ctx).instrument(span).await
        };
        let result = graph.check(name, result);
        stats.transitions_run += 1;
        let mut updates = Vec::with_capacity(3);
        let step = |action| {
            let mut u = OperationUpdate::new(id.clone(), OperationType::Step, action);
            u.name = Some(name.to_string());
            u.sub_type = Some(TRANSITION_SUBTYPE.to_string());
            u
        };
        if !started {
            updates.push(step(OperationAction::Start));
        }
        let next = match result {
            Ok(next) => next,
            Err(e) => match e.classify() {
                ErrorClass::Suspend => {
                    return finish_pending(&mut session, vec![], &mut stats).await;
                }
                ErrorClass::Api(e) => return api_failure(e).map(|o| (o, stats)),
                ErrorClass::Terminal(err) => Next::Fail(err),
                ErrorClass::Retryable(err) => {
                    let (etype, emsg) = (
                        err.error_type.clone().unwrap_or_default(),
                        err.error_message.clone().unwrap_or_default(),
                    );
                    let mut rng = seeded_from(&format!("{id}/{attempt}"));
                    match strategy.decide(&etype, &emsg, attempt, &mut || rng.next_f64()) {
                        RetryDecision::Retry { delay } => {
                            tracing::warn!(state = name, attempt, error = %err, ?delay, "transition failed; retrying");
                            let mut u = step(OperationAction::Retry);
                            u.error = Some(err);
                            u.step_options = Some(StepOptions {
                                next_attempt_delay_seconds: Some(whole_seconds(delay).max(1)),
                            });
                            updates.push(u);
                            return finish_pending(&mut session, updates, &mut stats).await;
                        }
                        RetryDecision::GiveUp => Next::Fail(err),
                    }
                }
            },
        };
        let (next, mut payload) = match next {
            Next::To(ref s) | Next::Sleep(_, ref s) | Next::Poll(_, ref s) => {
                match encode_state(&codec, s) {
                    Ok(p) => (next, Some(p)),
                    Err(e) => (Next::Fail(e), None),
                }
            }
            other => (other, None),
        };
        match next {
            Next::To(next_state) => {
                let mut u = step(OperationAction::Succeed);
                u.payload = payload.take();
                updates.push(u);
                if let Err(e) = checkpoint(&mut session, updates, &mut stats).await {
                    return api_failure(e).map(|o| (o, stats));
                }
                if session.token_state != TokenState::Live {
                    return Ok((InvocationOutput::pending(), stats));
                }
                state = next_state;
            }
            Next::Sleep(duration, next_state) => {
                let mut u = step(OperationAction::Succeed);
                u.payload = payload.take();
                updates.push(u);
                let wait_id = step_id(Some(&id), 0);
                let mut w = OperationUpdate::new(
                    wait_id.clone(),
                    OperationType::Wait,
                    OperationAction::Start,
                );
                w.sub_type = Some("Wait".into());
                w.name = Some(next_state.name().to_string());
                w.wait_options = Some(WaitOptions {
                    wait_seconds: Some(whole_seconds(duration).max(1)),
                });
                updates.push(w);
                if let Err(e) = checkpoint(&mut session, updates, &mut stats).await {
                    return api_failure(e).map(|o| (o, stats));
                }
                let fired = session
                    .get(&wait_id)
                    .is_some_and(|op| op.status == OperationStatus::Succeeded);
                if !fired || session.token_state != TokenState::Live {
                    return Ok((InvocationOutput::pending(), stats));
                }
                state = next_state;
            }
            Next::Poll(delay, _) => {
                let mut u = step(OperationAction::Retry);
                u.payload = payload.take();
                u.step_options = Some(StepOptions {
                    next_attempt_delay_seconds: Some(whole_seconds(delay).max(1)),
                });
                updates.push(u);
                return finish_pending(&mut session, updates, &mut stats).await;
            }
            Next::Done(output) => {
                let result = serde_json::to_string(&output).map_err(|e| {
                    InvocationError::Invalid(format!(
                        "cannot serialize the output of `{name}`: {e}"
                    ))
                })?;
                let mut u = step(OperationAction::Succeed);
                let large = result.len() > MAX_STATE_BYTES;
                u.payload = Some(if large {
                    format!("{{\"{DONE_KEY}\":null}}")
                } else {
                    format!("{{\"{DONE_KEY}\":{result}}}")
                });
                updates.push(u);
                if large {
                    // The output travels in an EXECUTION update, which completes the
                    // execution atomically with this transition.
                    let mut e = OperationUpdate::new(
                        format!("execution-result-{}", now.as_millis()),
                        OperationType::Execution,
                        OperationAction::Succeed,
                    );
                    e.payload = Some(result);
                    updates.push(e);
                    if let Err(e) = checkpoint(&mut session, updates, &mut stats).await {
                        return api_failure(e).map(|o| (o, stats));
                    }
                    return Ok((InvocationOutput::succeeded(""), stats));
                }
                if let Err(e) = checkpoint(&mut session, updates, &mut stats).await {
                    return api_failure(e).map(|o| (o, stats));
                }
                if session.token_state == TokenState::Revoked {
                    return Ok((InvocationOutput::pending(), stats));
                }
                return Ok((InvocationOutput::succeeded(result), stats));
            }
            Next::Fail(error) => {
                let mut u = step(OperationAction::Fail);
                u.error = Some(error.clone());
                updates.push(u);
                if let Err(e) = checkpoint(&mut session, updates, &mut stats).await {
                    return api_failure(e).map(|o| (o, stats));
                }
                if session.token_state == TokenState::Revoked {
                    return Ok((InvocationOutput::pending(), stats));
                }
                return Ok((InvocationOutput::failed(error), stats));
            }
        }
        index += 1;
        in_flight = None;
    }
}

/// Encodes a state for a checkpoint. A state that cannot be stored fails the execution:
/// running the transition again would produce it again.
fn encode_state<W: Transition>(codec: &impl Codec, state: &W) -> Result<String, ErrorObject> {
    let name = state.name();
    let text = codec.encode_to_string(state).map_err(|e| {
        ErrorObject::new(
            "StateEncodeError",
            format!("cannot encode state `{name}`: {e}"),
        )
    })?;
    if text.len() > MAX_STATE_BYTES {
        return Err(ErrorObject::new(
            "StateTooLarge",
            format!(
                "state `{name}` is {} bytes encoded, over the {MAX_STATE_BYTES}-byte limit of a checkpointed state; keep large data outside the state (for example in S3) and store a reference",
                text.len()
            ),
        ));
    }
    Ok(text)
}

async fn checkpoint(
    session: &mut Session<'_>,
    updates: Vec<OperationUpdate>,
    stats: &mut InvocationStats,
) -> Result<(), ApiError> {
    let before = session.checkpoint_calls;
    let result = session.checkpoint(updates).await;
    stats.checkpoint_calls += session.checkpoint_calls - before;
    result
}

async fn finish_pending(
    session: &mut Session<'_>,
    updates: Vec<OperationUpdate>,
    stats: &mut InvocationStats,
) -> Result<(InvocationOutput, InvocationStats), InvocationError> {
    if !updates.is_empty()
        && let Err(e) = checkpoint(session, updates, stats).await
    {
        return api_failure(e).map(|o| (o, stats.clone()));
    }
    Ok((InvocationOutput::pending(), stats.clone()))
}

/// Retryable API errors fail the invocation; the others fail the execution (spec §8.4).
fn api_failure(e: ApiError) -> Result<InvocationOutput, InvocationError> {
    if e.is_retryable() {
        Err(InvocationError::Api(e))
    } else {
        Ok(InvocationOutput::failed(e.to_error_object()))
    }
}
