//! The executor: runs one invocation of a workflow against a [`DurableApi`].
//!
//! It loads the execution's operations, finds the newest checkpointed state, and runs
//! transitions from there, checkpointing each as one STEP operation (SubType `Transition`,
//! Name = the state that ran, Payload = the next state). Nothing before the newest state runs
//! again.

mod check;
mod child;
mod continuation;
mod epoch;
mod resume;
mod session;

pub use check::{INVALID_GRAPH, UNDECLARED_TRANSITION};
pub use continuation::{CONTINUE_AS_NEW_ERROR, ContinuedAsNew, continued_state, successor_name};
pub use session::{MAX_BYTES_PER_CALL, MAX_UPDATES_PER_CALL};

use crate::api::{ApiError, DurableApi};
use crate::machine::codec::Codec;
use crate::machine::ids::{hash_id, step_id};
use crate::machine::ops::StepSemantics;
use crate::machine::retry::{RetryDecision, seeded_from};
use crate::machine::{
    Ctx, CtxBackend, ErrorClass, Next, StepInterrupted, Transition, TransitionError, whole_seconds,
};
use crate::model::*;
pub use child::RESULT_PART_SUBTYPE;
pub(crate) use child::{ChildEnd, ChildOutput, context_result, drive_child, succeed_context};
pub(crate) use epoch::Placement;
pub use epoch::{EPOCH_SIZE, EPOCH_SUBTYPE};
pub(crate) use resume::ResumePoint;
use resume::{Resume, execution_input};
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
    let mut session = Session::new(
        api,
        input.durable_execution_arn,
        input.checkpoint_token,
        options.clone(),
        now,
    );
    let initial = input.initial_execution_state.unwrap_or_default();
    session.merge(initial.operations);
    if let Err(e) = session.page_from(initial.next_marker).await {
        return api_failure(e).map(|o| (o, InvocationStats::default()));
    }
    let operations_loaded = session.in_order().count();
    let output = run_top::<W>(&mut session).await;
    let stats = InvocationStats {
        transitions_run: session.transitions_run,
        checkpoint_calls: session.checkpoint_calls,
        operations_loaded,
    };
    output.map(|o| (o, stats))
}

/// Runs the top-level machine of an invocation and turns its end into the invocation output.
async fn run_top<W: Transition>(
    session: &mut Session<'_>,
) -> Result<InvocationOutput, InvocationError> {
    if let Some(marker) = continuation::continued(session) {
        return continuation::finish(session, marker).await;
    }
    let point = {
        let carried = continuation::Carried::default();
        let b: &dyn CtxBackend = &*session;
        let (resume, placement) = epoch::find_top::<W>(b, EPOCH_SIZE, || {
            continuation::first_state::<W>(session, &carried, execution_input::<W>)
        })?;
        match carried.check(Ok(resume))? {
            Resume::Finished(Ok(output)) => return Ok(InvocationOutput::succeeded(output)),
            Resume::Finished(Err(error)) => return Ok(InvocationOutput::failed(error)),
            Resume::Pending => return Ok(InvocationOutput::pending()),
            Resume::At(point) => (point, placement),
        }
    };
    let (point, placement) = point;
    let now = session.now;
    match drive::<W>(session, placement, point, true).await? {
        DriveEnd::Pending => Ok(InvocationOutput::pending()),
        DriveEnd::Api(e) => api_failure(e),
        DriveEnd::Done {
            output,
            mut updates,
        } => {
            let result = serde_json::to_string(&output).map_err(|e| {
                InvocationError::Invalid(format!("cannot serialize the execution output: {e}"))
            })?;
            let large = result.len() > MAX_STATE_BYTES;
            if let Some(step) = updates.last_mut() {
                step.payload = Some(if large {
                    format!("{{\"{DONE_KEY}\":null}}")
                } else {
                    format!("{{\"{DONE_KEY}\":{result}}}")
                });
            }
            if large {
                // The output travels in an EXECUTION update, which completes the execution
                // atomically with this transition.
                let mut e = OperationUpdate::new(
                    format!("execution-result-{}", now.as_millis()),
                    OperationType::Execution,
                    OperationAction::Succeed,
                );
                e.payload = Some(result);
                updates.push(e);
                if let Err(e) = session.checkpoint(updates).await {
                    return api_failure(e);
                }
                return Ok(InvocationOutput::succeeded(""));
            }
            if let Err(e) = session.checkpoint(updates).await {
                return api_failure(e);
            }
            if session.token_state == TokenState::Revoked {
                return Ok(InvocationOutput::pending());
            }
            Ok(InvocationOutput::succeeded(result))
        }
        DriveEnd::ContinueAsNew { state, updates } => {
            continuation::continue_as_new(session, updates, state).await
        }
        DriveEnd::Failed { error, updates } => {
            if let Err(e) = session.checkpoint(updates).await {
                return api_failure(e);
            }
            if session.token_state == TokenState::Revoked {
                return Ok(InvocationOutput::pending());
            }
            Ok(InvocationOutput::failed(error))
        }
    }
}

/// How a machine's run in this invocation ended.
pub(crate) enum DriveEnd<W: Transition> {
    /// The machine finished; `updates` (not sent yet) end with its last transition's
    /// SUCCEED, whose payload the caller sets.
    Done {
        output: W::Output,
        updates: Vec<OperationUpdate>,
    },
    /// The machine failed; `updates` (not sent yet) record the failure.
    Failed {
        error: ErrorObject,
        updates: Vec<OperationUpdate>,
    },
    /// The top-level machine continues as new in state `state`; `updates` (not sent yet) end
    /// with its last transition's SUCCEED, whose payload is the encoded state.
    ContinueAsNew {
        state: &'static str,
        updates: Vec<OperationUpdate>,
    },
    /// Waiting for something (a timer, a callback, a retry); everything is checkpointed.
    Pending,
    /// A durable API call failed.
    Api(ApiError),
}

/// Runs transitions of machine `W` living in the CONTEXT `parent` (`None`: the top-level
/// workflow) from `point` until it ends or waits. `top`: the invocation's own machine (it
/// may yield after the transition budget).
pub(crate) async fn drive<W: Transition>(
    b: &mut dyn CtxBackend,
    mut placement: Placement,
    point: ResumePoint<W>,
    top: bool,
) -> Result<DriveEnd<W>, InvocationError> {
    let codec = W::codec();
    let mut state = point.state;
    let mut in_flight = point.in_flight;
    let mut last_id: Option<String> = None;
    let mut graph = check::GraphCheck::new::<W>(b.run_options().strict_graph);
    let max_transitions = b.run_options().max_transitions;
    let now = b.now();
    let mut ran_here = 0u64;

    loop {
        if top && max_transitions.is_some_and(|max| ran_here >= max.max(1)) {
            // Yield with a one-second timer so the service invokes again. Its id is keyed to
            // the transition that runs next, apart from that transition's own sleep.
            let id = hash_id(&format!("{}-yield", last_id.as_deref().unwrap_or_default()));
            let mut wait = OperationUpdate::new(id, OperationType::Wait, OperationAction::Start);
            wait.parent_id = placement.open_scope();
            wait.sub_type = Some("Wait".into());
            wait.name = Some("yield".into());
            wait.wait_options = Some(WaitOptions {
                wait_seconds: Some(1),
            });
            return pending(b, vec![wait]).await;
        }
        let slot = placement.next();
        let (parent_id, index) = (slot.parent, slot.index);
        let parent = parent_id.as_deref();
        let id = step_id(parent, index);
        let name = state.name();
        let strategy = state.retry_strategy();
        let (attempt, mut started) = match &in_flight {
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
        let mut updates = slot.opens;
        let step = |action| {
            let mut u = OperationUpdate::new(id.clone(), OperationType::Step, action);
            u.parent_id = parent_id.clone();
            u.name = Some(name.to_string());
            u.sub_type = Some(TRANSITION_SUBTYPE.to_string());
            u
        };
        let at_most_once = state.semantics() == StepSemantics::AtMostOnce;
        let result = if at_most_once && started {
            // Started, never finished: an at-most-once transition is not run again.
            Err(TransitionError::from(StepInterrupted(name)))
        } else {
            if at_most_once {
                let mut first = std::mem::take(&mut updates);
                first.push(step(OperationAction::Start));
                if let Err(e) = b.send(first).await {
                    return Ok(DriveEnd::Api(e));
                }
                if b.token_state() != TokenState::Live {
                    return Ok(DriveEnd::Pending);
                }
                started = true;
            }
            let span = tracing::info_span!("transition", state = name, index, attempt);
            let mut ctx = Ctx::new(&mut *b, &id, parent, attempt, now);
            state.next(&mut ctx).instrument(span).await
        };
        let result = graph.check(name, result);
        b.count_transition();
        ran_here += 1;
        if !started {
            updates.push(step(OperationAction::Start));
        }
        let next = match result {
            Ok(next) => next,
            Err(e) => match e.classify() {
                ErrorClass::Suspend => return pending(b, vec![]).await,
                ErrorClass::Api(e) => return Ok(DriveEnd::Api(e)),
                ErrorClass::Invocation(message) => {
                    return Err(InvocationError::StateDecode(message));
                }
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
                            return pending(b, updates).await;
                        }
                        RetryDecision::GiveUp => Next::Fail(err),
                    }
                }
            },
        };
        let next = match next {
            Next::ContinueAsNew(_) if !top => Next::Fail(continuation::in_child::<W>()),
            other => other,
        };
        let (next, mut payload) = match next {
            Next::To(ref s)
            | Next::Sleep(_, ref s)
            | Next::Poll(_, ref s)
            | Next::ContinueAsNew(ref s) => match encode_state(&codec, s) {
                Ok(p) => (next, Some(p)),
                Err(e) => (Next::Fail(e), None),
            },
            other => (other, None),
        };
        match next {
            Next::To(next_state) => {
                let mut u = step(OperationAction::Succeed);
                u.payload = payload.take();
                let closes = placement.after(&*b, &id, u.payload.as_deref().unwrap_or("null"));
                updates.push(u);
                updates.extend(closes);
                if let Err(e) = b.send(updates).await {
                    return Ok(DriveEnd::Api(e));
                }
                if b.token_state() != TokenState::Live {
                    return Ok(DriveEnd::Pending);
                }
                state = next_state;
            }
            Next::Sleep(duration, next_state) => {
                let mut u = step(OperationAction::Succeed);
                u.payload = payload.take();
                let closes = placement.after(&*b, &id, u.payload.as_deref().unwrap_or("null"));
                updates.push(u);
                updates.extend(closes);
                let wait_id = step_id(Some(&id), 0);
                let mut w = OperationUpdate::new(
                    wait_id.clone(),
                    OperationType::Wait,
                    OperationAction::Start,
                );
                w.parent_id = placement.open_scope();
                w.sub_type = Some("Wait".into());
                w.name = Some(next_state.name().to_string());
                w.wait_options = Some(WaitOptions {
                    wait_seconds: Some(whole_seconds(duration).max(1)),
                });
                updates.push(w);
                if let Err(e) = b.send(updates).await {
                    return Ok(DriveEnd::Api(e));
                }
                let fired = b
                    .operation(&wait_id)
                    .is_some_and(|op| op.status == OperationStatus::Succeeded);
                if !fired || b.token_state() != TokenState::Live {
                    return Ok(DriveEnd::Pending);
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
                return pending(b, updates).await;
            }
            Next::Done(output) => {
                updates.push(step(OperationAction::Succeed));
                return Ok(DriveEnd::Done { output, updates });
            }
            Next::ContinueAsNew(next_state) => {
                let mut u = step(OperationAction::Succeed);
                u.payload = payload.take();
                updates.push(u);
                let state = next_state.name();
                return Ok(DriveEnd::ContinueAsNew { state, updates });
            }
            Next::Fail(error) => {
                let mut u = step(OperationAction::Fail);
                u.error = Some(error.clone());
                updates.push(u);
                return Ok(DriveEnd::Failed { error, updates });
            }
        }
        last_id = Some(id);
        in_flight = None;
    }
}

/// Sends what is left to send and reports the machine as waiting.
async fn pending<W: Transition>(
    b: &mut dyn CtxBackend,
    updates: Vec<OperationUpdate>,
) -> Result<DriveEnd<W>, InvocationError> {
    if (!updates.is_empty() || b.has_deferred())
        && let Err(e) = b.send(updates).await
    {
        return Ok(DriveEnd::Api(e));
    }
    Ok(DriveEnd::Pending)
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

/// Retryable API errors fail the invocation; the others fail the execution (spec §8.4).
fn api_failure(e: ApiError) -> Result<InvocationOutput, InvocationError> {
    if e.is_retryable() {
        Err(InvocationError::Api(e))
    } else {
        Ok(InvocationOutput::failed(e.to_error_object()))
    }
}
