//! `Ctx`: what a transition can ask of the durable service while it runs.

use super::error::{CtxError, Suspend};
use super::ids::step_id;
use crate::api::ApiError;
use crate::executor::RunOptions;
use crate::model::*;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future (the backend is object-safe so `Ctx` needs no type parameters).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether an invocation may still checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    /// Checkpoints may continue.
    Live,
    /// The batch completed the execution (EXECUTION update).
    Completed,
    /// The service revoked this invocation's right to checkpoint: return PENDING.
    Revoked,
}

/// What `Ctx` (and the machine driver, for child machines) needs from the executor.
pub(crate) trait CtxBackend: Send {
    fn execution_arn(&self) -> &str;
    fn operation(&self, id: &str) -> Option<&Operation>;
    /// The operations whose parent is `parent` (`None`: top level), in creation order.
    fn children(&self, parent: Option<&str>) -> Vec<&Operation>;
    /// Checkpoints `updates` (after the deferred ones); a revoked token is an error.
    fn checkpoint(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), CtxError>>;
    /// Queues updates for the next checkpoint call.
    fn defer(&mut self, updates: Vec<OperationUpdate>);
    /// Whether updates are queued.
    fn has_deferred(&self) -> bool;
    /// Checkpoints `updates` (after the deferred ones); the caller checks the token state.
    fn send(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), ApiError>>;
    fn token_state(&self) -> TokenState;
    fn run_options(&self) -> &RunOptions;
    fn now(&self) -> Timestamp;
    fn count_transition(&mut self);
}

/// The handle a transition uses to create durable operations and read their outcomes.
///
/// Operations created through `Ctx` get ids derived from the transition's own id and their
/// order within the transition, so a transition that runs again finds the operations it
/// created the first time instead of creating new ones.
pub struct Ctx<'a> {
    pub(crate) backend: &'a mut (dyn CtxBackend + 'a),
    transition_id: &'a str,
    /// The CONTEXT the running machine lives in (`None`: the top-level workflow).
    pub(crate) parent: Option<&'a str>,
    counter: u64,
    attempt: u32,
    now: Timestamp,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        backend: &'a mut (dyn CtxBackend + 'a),
        transition_id: &'a str,
        parent: Option<&'a str>,
        attempt: u32,
        now: Timestamp,
    ) -> Self {
        Ctx {
            backend,
            transition_id,
            parent,
            counter: 0,
            attempt,
            now,
        }
    }

    /// The attempt number of this transition: 1 the first time, +1 after each retry or poll.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Send { Email }
    /// # impl Transition for Send { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Send::Email }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     if ctx.attempt() > 3 {
    ///         return Ok(Next::fail("the mail server kept refusing"));
    ///     }
    ///     Ok(Next::done(format!("sent on attempt {}", ctx.attempt())))
    /// }
    /// # }
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The durable execution's ARN.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Send { Email }
    /// # impl Transition for Send { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Send::Email }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     Ok(Next::done(format!("sent by {}", ctx.execution_arn())))
    /// }
    /// # }
    /// ```
    pub fn execution_arn(&self) -> &str {
        self.backend.execution_arn()
    }

    /// The id of this transition's STEP operation: stable across re-runs of the same
    /// transition, so it makes a good idempotency key for side effects.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Send { Email }
    /// # impl Transition for Send { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Send::Email }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let idempotency_key = ctx.operation_id().to_string();
    ///     // mailer.send(&to, &body, &idempotency_key).await?;
    ///     Ok(Next::done(idempotency_key))
    /// }
    /// # }
    /// ```
    pub fn operation_id(&self) -> &str {
        self.transition_id
    }

    /// The time the invocation started (virtual time under the test runner).
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Send { Email }
    /// # impl Transition for Send { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Send::Email }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     Ok(Next::done(format!("sent at {}", ctx.now().to_rfc3339())))
    /// }
    /// # }
    /// ```
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The recorded operation `id`, if it exists with type `op_type` (an operation of another
    /// type under the same id is not this call's).
    pub(crate) fn recorded(&self, id: &str, op_type: OperationType) -> Option<&Operation> {
        self.backend
            .operation(id)
            .filter(|op| op.op_type == op_type)
    }

    pub(crate) fn next_op_id(&mut self) -> String {
        self.counter += 1;
        step_id(Some(self.transition_id), self.counter)
    }

    /// Creates a callback: the service mints a callback id that an external system completes
    /// with SendDurableExecutionCallbackSuccess / Failure. Store the returned [`Callback`] in
    /// the next state and await it there with [`Ctx::callback_outcome`].
    ///
    /// ```no_run
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::{Callback, CallbackConfig}};
    /// # use std::time::Duration;
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// enum Approval { Ask, Wait(Callback) }
    /// # impl Transition for Approval { type Input = (); type Output = bool;
    /// #   fn start(_: ()) -> Self { Approval::Ask }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     match self {
    ///         Approval::Ask => {
    ///             let cb = ctx.callback("approve", CallbackConfig::timeout(Duration::from_secs(86_400))).await?;
    ///             // send cb.id() to the approver here
    ///             Ok(Next::to(Approval::Wait(cb)))
    ///         }
    ///         Approval::Wait(cb) => Ok(Next::done(ctx.callback_outcome(&cb)?.is_success())),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn callback(
        &mut self,
        name: &str,
        config: CallbackConfig,
    ) -> Result<Callback, CtxError> {
        let id = self.next_op_id();
        if self.recorded(&id, OperationType::Callback).is_none() {
            let mut update =
                OperationUpdate::new(&id, OperationType::Callback, OperationAction::Start);
            update.name = (!name.is_empty()).then(|| name.to_string());
            update.parent_id = self.parent.map(str::to_string);
            update.sub_type = Some("Callback".into());
            update.callback_options = Some(CallbackOptions {
                timeout_seconds: config.timeout.map(whole_seconds),
                heartbeat_timeout_seconds: config.heartbeat_timeout.map(whole_seconds),
            });
            self.backend.checkpoint(vec![update]).await?;
        }
        let callback_id = self
            .backend
            .operation(&id)
            .and_then(|op| op.callback_details.as_ref())
            .and_then(|d| d.callback_id.clone())
            .ok_or_else(|| {
                CtxError(crate::api::ApiError::new(
                    crate::api::ErrorCode::Service,
                    format!("the service returned no CallbackId for callback operation {id}"),
                ))
            })?;
        Ok(Callback {
            operation_id: id,
            callback_id,
        })
    }

    /// The outcome of a callback, or [`Suspend`] while it is still open: propagate that with
    /// `?` and this state runs again when the callback completes.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::{Callback, CallbackConfig, CallbackOutcome}};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Approval { Ask, Wait(Callback) }
    /// # impl Transition for Approval { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Approval::Ask }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let cb = match self {
    ///         Approval::Ask => {
    ///             let cb = ctx.callback("approve", CallbackConfig::default()).await?;
    ///             return Ok(Next::to(Approval::Wait(cb)));
    ///         }
    ///         Approval::Wait(cb) => cb,
    ///     };
    ///     Ok(match ctx.callback_outcome(&cb)? {
    ///         CallbackOutcome::Succeeded(body) => Next::done(body),
    ///         CallbackOutcome::Failed(e) => Next::fail(e),
    ///         CallbackOutcome::TimedOut(_) => Next::done("nobody answered".into()),
    ///     })
    /// }
    /// # }
    /// ```
    pub fn callback_outcome(&self, callback: &Callback) -> Result<CallbackOutcome, Suspend> {
        let Some(op) = self.recorded(&callback.operation_id, OperationType::Callback) else {
            return Err(Suspend);
        };
        let details = op.callback_details.clone().unwrap_or_default();
        let error = || details.error.clone().unwrap_or_default();
        match op.status {
            OperationStatus::Succeeded => Ok(CallbackOutcome::Succeeded(
                details.result.clone().unwrap_or_default(),
            )),
            OperationStatus::Failed => Ok(CallbackOutcome::Failed(error())),
            OperationStatus::TimedOut => Ok(CallbackOutcome::TimedOut(error())),
            OperationStatus::Cancelled | OperationStatus::Stopped => {
                Ok(CallbackOutcome::Failed(error()))
            }
            OperationStatus::Started | OperationStatus::Pending | OperationStatus::Ready => {
                Err(Suspend)
            }
        }
    }
}

pub(crate) fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Timeouts of a callback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackConfig {
    /// Time out when not completed within this time.
    pub timeout: Option<Duration>,
    /// Time out when no heartbeat arrives within this time.
    pub heartbeat_timeout: Option<Duration>,
}

impl CallbackConfig {
    /// A callback that times out after `timeout`.
    pub fn timeout(timeout: Duration) -> Self {
        CallbackConfig {
            timeout: Some(timeout),
            heartbeat_timeout: None,
        }
    }

    /// Also time out when no heartbeat arrives within `heartbeat`.
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat_timeout = Some(heartbeat);
        self
    }
}

/// A created callback: keep it in a state and await it with [`Ctx::callback_outcome`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    operation_id: String,
    callback_id: String,
}

impl Callback {
    /// A callback value not created through [`Ctx::callback`], for sample states in tests.
    #[cfg(feature = "test-util")]
    pub(crate) fn sample(operation_id: String, callback_id: String) -> Self {
        Callback {
            operation_id,
            callback_id,
        }
    }

    /// The id to hand to the system that completes the callback.
    pub fn id(&self) -> &str {
        &self.callback_id
    }

    /// The CALLBACK operation's id.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }
}

/// How a callback ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// Completed with this body (UTF-8 text, typically JSON).
    Succeeded(String),
    /// Completed with a failure.
    Failed(ErrorObject),
    /// No answer (or no heartbeat) in time; `ErrorType` is `Callback.Timeout` or
    /// `Callback.Heartbeat`.
    TimedOut(ErrorObject),
}

impl CallbackOutcome {
    /// Whether the callback succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, CallbackOutcome::Succeeded(_))
    }

    /// The body on success, the error otherwise.
    pub fn into_result(self) -> Result<String, ErrorObject> {
        match self {
            CallbackOutcome::Succeeded(body) => Ok(body),
            CallbackOutcome::Failed(e) | CallbackOutcome::TimedOut(e) => Err(e),
        }
    }

    /// Parses a successful body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, crate::machine::Terminal> {
        let body = self.into_result().map_err(crate::machine::Terminal)?;
        serde_json::from_str(&body).map_err(|e| {
            crate::machine::Terminal::new(
                "CallbackPayloadError",
                format!("callback body is not the expected JSON: {e}"),
            )
        })
    }
}
