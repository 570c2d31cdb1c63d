//! `ctx.step`: a durable unit of work inside a transition, and wait-for-callback.

use super::{decode_json, failure_of, op_name};
use crate::machine::ctx::{CallbackConfig, Ctx, whole_seconds};
use crate::machine::error::{ErrorClass, StepError, TransitionError};
use crate::machine::ids::step_id;
use crate::machine::retry::{RetryDecision, RetryStrategy, seeded_from};
use crate::model::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

type SerFn<T> = dyn Fn(&T) -> Result<String, String> + Send + Sync;
type DeFn<T> = dyn Fn(&str) -> Result<T, String> + Send + Sync;

/// How an operation's value is written to and read from its checkpoint. Defaults to JSON.
///
/// ```
/// use durable_fsm::machine::ops::Serdes;
/// // Store a list of words as one comma-separated string.
/// let words: Serdes<Vec<String>> = Serdes::new(
///     |v: &Vec<String>| Ok(v.join(",")),
///     |s: &str| Ok(s.split(',').map(str::to_string).collect()),
/// );
/// ```
pub struct Serdes<T> {
    ser: Arc<SerFn<T>>,
    de: Arc<DeFn<T>>,
}

impl<T> Clone for Serdes<T> {
    fn clone(&self) -> Self {
        Serdes {
            ser: Arc::clone(&self.ser),
            de: Arc::clone(&self.de),
        }
    }
}

impl<T> fmt::Debug for Serdes<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Serdes")
    }
}

impl<T> Serdes<T> {
    /// A codec from two functions; their errors are recorded as `SerdesError`.
    pub fn new(
        ser: impl Fn(&T) -> Result<String, String> + Send + Sync + 'static,
        de: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Serdes {
            ser: Arc::new(ser),
            de: Arc::new(de),
        }
    }

    pub(crate) fn encode(&self, value: &T, what: &str) -> Result<String, ErrorObject> {
        (self.ser)(value)
            .map_err(|e| ErrorObject::new("SerdesError", format!("cannot serialize {what}: {e}")))
    }

    pub(crate) fn decode(&self, payload: Option<&str>, what: &str) -> Result<T, StepError> {
        (self.de)(payload.unwrap_or_default()).map_err(|e| {
            StepError::Failed(ErrorObject::new(
                "SerdesError",
                format!("the recorded value of {what} does not deserialize: {e}"),
            ))
        })
    }
}

impl<T: Serialize + DeserializeOwned> Serdes<T> {
    /// JSON (the default).
    pub fn json() -> Self {
        Serdes::new(
            |v: &T| serde_json::to_string(v).map_err(|e| e.to_string()),
            |s: &str| decode_json::<T>("a value", Some(s)).map_err(|e| e.to_string()),
        )
    }
}

/// Whether a step may run more than once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepSemantics {
    /// The step's start and result are checkpointed together after it ran (one checkpoint
    /// call shared with the transition's own); if the invocation ends before that, the step
    /// runs again. The default.
    #[default]
    AtLeastOnce,
    /// The step's start is checkpointed before it runs; a step found started without a
    /// result (the invocation ended while it ran) is not run again but fails with
    /// `StepInterrupted`, which its retry strategy may retry.
    AtMostOnce,
}

/// Options of [`Ctx::step_with`].
#[derive(Clone, Debug)]
pub struct StepConfig<T> {
    retry: Option<RetryStrategy>,
    semantics: StepSemantics,
    serdes: Option<Serdes<T>>,
    record_start: bool,
}

impl<T> Default for StepConfig<T> {
    fn default() -> Self {
        StepConfig {
            retry: None,
            semantics: StepSemantics::AtLeastOnce,
            serdes: None,
            record_start: false,
        }
    }
}

impl<T> StepConfig<T> {
    /// The default: AWS's default retry strategy, at-least-once, JSON.
    pub fn new() -> Self {
        Self::default()
    }

    /// Retry failed attempts with `strategy` (`RetryStrategy::none()` for a single attempt).
    pub fn retry(mut self, strategy: RetryStrategy) -> Self {
        self.retry = Some(strategy);
        self
    }

    /// Run the step at most once per attempt ([`StepSemantics::AtMostOnce`]).
    pub fn at_most_once(mut self) -> Self {
        self.semantics = StepSemantics::AtMostOnce;
        self
    }

    /// Write and read the step's result with `serdes` instead of JSON. The step then returns
    /// the value as read back through `serdes`, as every later run will see it.
    pub fn serdes(mut self, serdes: Serdes<T>) -> Self {
        self.serdes = Some(serdes);
        self
    }

    /// Checkpoint the step's start before it runs (one more checkpoint call), so the history
    /// and monitoring show it running; it stays at-least-once: if the invocation ends before
    /// its result is recorded, it runs again without a second start.
    pub fn record_start(mut self) -> Self {
        self.record_start = true;
        self
    }
}

/// What a step's code learns about its run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInfo {
    attempt: u32,
    operation_id: String,
}

impl StepInfo {
    /// 1 on the first attempt, +1 after each retry.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The STEP operation's id: stable across attempts, a good idempotency key.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }
}

/// `"{name} {what}"`, or `what` alone for an unnamed operation (AWS's SDKs' names for the
/// operations inside wait-for-callback).
fn named(name: &str, what: &str) -> String {
    if name.is_empty() {
        what.to_string()
    } else {
        format!("{name} {what}")
    }
}

/// The parts of a step that do not depend on its closure.
pub(crate) struct StepSpec<'s, T> {
    pub id: String,
    pub parent: Option<String>,
    pub name: &'s str,
    pub sub_type: &'s str,
    pub config: StepConfig<T>,
}

impl Ctx<'_> {
    /// Runs `f` as a durable step (STEP operation, SubType `Step`) and returns its value.
    ///
    /// The value is checkpointed (with the transition's own checkpoint when nothing else
    /// needs one first), and a transition that runs again gets the recorded value without
    /// running `f`. Errors from `f` are retried with AWS's default strategy (6 attempts,
    /// backing off); a [`Terminal`](crate::machine::Terminal) error is not retried. While a
    /// retry is scheduled the step returns [`StepError::Suspended`]; after the last attempt,
    /// [`StepError::Failed`]. An empty `name` records no Name.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Greet { Start(String) }
    /// # impl Transition for Greet { type Input = String; type Output = String;
    /// #   fn start(name: String) -> Self { Greet::Start(name) }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Greet::Start(name) = self;
    ///     let greeting = ctx
    ///         .step("greet", |_| async move { Ok::<_, std::io::Error>(format!("Hello, {name}!")) })
    ///         .await?;
    ///     Ok(Next::done(greeting))
    /// }
    /// # }
    /// ```
    pub async fn step<T, E, F, Fut>(&mut self, name: &str, f: F) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnOnce(StepInfo) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        E: Into<TransitionError>,
    {
        self.step_with(name, StepConfig::new(), f).await
    }

    /// [`Ctx::step`] with options: a retry strategy, at-most-once semantics, a custom codec.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::{RetryStrategy, ops::StepConfig};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Pay { Charge }
    /// # impl Transition for Pay { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Pay::Charge }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let config = StepConfig::new().retry(RetryStrategy::none()).at_most_once();
    ///     let id = ctx
    ///         .step_with("charge", config, |step| async move {
    ///             // send the charge with step.operation_id() as idempotency key
    ///             Ok::<_, std::io::Error>(format!("charge-{}", step.attempt()))
    ///         })
    ///         .await?;
    ///     Ok(Next::done(id))
    /// }
    /// # }
    /// ```
    pub async fn step_with<T, E, F, Fut>(
        &mut self,
        name: &str,
        config: StepConfig<T>,
        f: F,
    ) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnOnce(StepInfo) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        E: Into<TransitionError>,
    {
        let spec = StepSpec {
            id: self.next_op_id(),
            parent: self.parent.map(str::to_string),
            name,
            sub_type: "Step",
            config,
        };
        self.run_step(spec, f).await
    }

    pub(crate) async fn run_step<T, E, F, Fut>(
        &mut self,
        spec: StepSpec<'_, T>,
        f: F,
    ) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned + Send,
        F: FnOnce(StepInfo) -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        E: Into<TransitionError>,
    {
        let StepSpec {
            id,
            parent,
            name,
            sub_type,
            config,
        } = spec;
        let serdes = config.serdes.clone().unwrap_or_else(Serdes::json);
        let what = format!("step `{name}`");
        let update = |action| {
            let mut u = OperationUpdate::new(&id, OperationType::Step, action);
            u.parent_id = parent.clone();
            u.sub_type = Some(sub_type.to_string());
            u.name = op_name(name);
            u
        };
        let strategy = config.retry.unwrap_or_default();
        let at_most_once = config.semantics == StepSemantics::AtMostOnce;
        let recorded = self.recorded(&id, OperationType::Step).map(|op| {
            let attempt = op.step_details.as_ref().and_then(|d| d.attempt);
            (op.status, attempt, op.clone())
        });
        let attempt = match recorded {
            None => 1,
            Some((OperationStatus::Succeeded, _, op)) => {
                let result = op.step_details.as_ref().and_then(|d| d.result.as_deref());
                return serdes.decode(result, &what);
            }
            Some((OperationStatus::Pending, _, _)) => return Err(StepError::Suspended),
            Some((OperationStatus::Started, attempt, _)) if at_most_once => {
                // Started, no result: the last attempt was cut short. Not run again.
                let attempt = attempt.unwrap_or(0) + 1;
                let error = ErrorObject::new(
                    "StepInterrupted",
                    format!(
                        "at-most-once {what} was interrupted before its result was recorded; it is not run again"
                    ),
                );
                return self.step_failed(update, &id, attempt, error, &strategy);
            }
            Some((OperationStatus::Started | OperationStatus::Ready, attempt, _)) => {
                attempt.unwrap_or(0) + 1
            }
            Some((_, _, op)) => {
                return Err(StepError::Failed(failure_of(&op).unwrap_or_default()));
            }
        };
        let already_started = recorded
            .as_ref()
            .is_some_and(|(status, _, _)| *status == OperationStatus::Started);
        if !already_started {
            let start = update(OperationAction::Start);
            if at_most_once || config.record_start {
                self.backend.checkpoint(vec![start]).await?;
            } else {
                self.backend.defer(vec![start]);
            }
        }
        let info = StepInfo {
            attempt,
            operation_id: id.clone(),
        };
        match f(info).await {
            Ok(value) => {
                let u = match serdes.encode(&value, &what) {
                    Ok(payload) => {
                        let mut u = update(OperationAction::Succeed);
                        u.payload = Some(payload);
                        u
                    }
                    Err(error) => {
                        let mut u = update(OperationAction::Fail);
                        u.error = Some(error.clone());
                        self.backend.defer(vec![u]);
                        return Err(StepError::Failed(error));
                    }
                };
                let custom = config.serdes.is_some();
                // With a custom codec the step returns what a later run would read back.
                let value = match (&u.payload, custom) {
                    (Some(payload), true) => serdes.decode(Some(payload), &what)?,
                    _ => value,
                };
                self.backend.defer(vec![u]);
                Ok(value)
            }
            Err(e) => match e.into().classify() {
                ErrorClass::Suspend => Err(StepError::Suspended),
                ErrorClass::Api(e) => Err(StepError::Api(e)),
                ErrorClass::Invocation(m) => Err(StepError::Invocation(m)),
                ErrorClass::Terminal(error) => {
                    let mut u = update(OperationAction::Fail);
                    u.error = Some(error.clone());
                    self.backend.defer(vec![u]);
                    Err(StepError::Failed(error))
                }
                ErrorClass::Retryable(error) => {
                    self.step_failed(update, &id, attempt, error, &strategy)
                }
            },
        }
    }

    /// Records a failed attempt: a RETRY when the strategy allows one (and suspends), a FAIL
    /// otherwise.
    fn step_failed<T>(
        &mut self,
        update: impl Fn(OperationAction) -> OperationUpdate,
        id: &str,
        attempt: u32,
        error: ErrorObject,
        strategy: &RetryStrategy,
    ) -> Result<T, StepError> {
        let (etype, emsg) = (
            error.error_type.clone().unwrap_or_default(),
            error.error_message.clone().unwrap_or_default(),
        );
        let mut rng = seeded_from(&format!("{id}/{attempt}"));
        match strategy.decide(&etype, &emsg, attempt, &mut || rng.next_f64()) {
            RetryDecision::Retry { delay } => {
                let mut u = update(OperationAction::Retry);
                u.error = Some(error);
                u.step_options = Some(StepOptions {
                    next_attempt_delay_seconds: Some(whole_seconds(delay).max(1)),
                });
                self.backend.defer(vec![u]);
                Err(StepError::Suspended)
            }
            RetryDecision::GiveUp => {
                let mut u = update(OperationAction::Fail);
                u.error = Some(error.clone());
                self.backend.defer(vec![u]);
                Err(StepError::Failed(error))
            }
        }
    }

    /// Creates a callback, hands its id to `submit` (run as a step, retried like one), and
    /// returns the callback's result once an external system has completed it: a CONTEXT
    /// operation (SubType `WaitForCallback`) holding the CALLBACK and the submitter's STEP.
    /// A failed or timed-out callback returns [`StepError::Failed`].
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::CallbackConfig};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Approval { Ask }
    /// # impl Transition for Approval { type Input = (); type Output = bool;
    /// #   fn start(_: ()) -> Self { Approval::Ask }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let approved: bool = ctx
    ///         .wait_for_callback("approval", CallbackConfig::timeout(Duration::from_secs(3600)), |id| async move {
    ///             println!("approve with callback id {id}");
    ///             Ok::<_, std::io::Error>(())
    ///         })
    ///         .await?;
    ///     Ok(Next::done(approved))
    /// }
    /// # }
    /// ```
    pub async fn wait_for_callback<T, E, F, Fut>(
        &mut self,
        name: &str,
        config: CallbackConfig,
        submit: F,
    ) -> Result<T, StepError>
    where
        T: DeserializeOwned,
        F: FnOnce(String) -> Fut + Send,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<TransitionError>,
    {
        self.wait_for_callback_with(name, config, StepConfig::new(), submit)
            .await
    }

    /// [`Ctx::wait_for_callback`] with options for the submitter's step (its retry strategy,
    /// at-most-once).
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::{CallbackConfig, RetryStrategy, ops::StepConfig};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Review { Ask }
    /// # impl Transition for Review { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Review::Ask }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let submitter = StepConfig::new().retry(RetryStrategy::none());
    ///     let verdict: String = ctx
    ///         .wait_for_callback_with("review", CallbackConfig::default(), submitter, |id| async move {
    ///             // ticketing.open(&id).await
    ///             Ok::<_, std::io::Error>(())
    ///         })
    ///         .await?;
    ///     Ok(Next::done(verdict))
    /// }
    /// # }
    /// ```
    pub async fn wait_for_callback_with<T, E, F, Fut>(
        &mut self,
        name: &str,
        config: CallbackConfig,
        submitter: StepConfig<()>,
        submit: F,
    ) -> Result<T, StepError>
    where
        T: DeserializeOwned,
        F: FnOnce(String) -> Fut + Send,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<TransitionError>,
    {
        let submitter_config = submitter;
        let id = self.next_op_id();
        let what = format!("wait-for-callback `{name}`");
        let parent = self.parent.map(str::to_string);
        let context = |action| {
            let mut u = OperationUpdate::new(&id, OperationType::Context, action);
            u.parent_id = parent.clone();
            u.sub_type = Some("WaitForCallback".into());
            u.name = op_name(name);
            u
        };
        match self.recorded(&id, OperationType::Context) {
            Some(op) if op.status == OperationStatus::Succeeded => {
                let result = op
                    .context_details
                    .as_ref()
                    .and_then(|d| d.result.as_deref());
                return decode_json(&what, result);
            }
            Some(op) => {
                if let Some(e) = failure_of(op) {
                    return Err(StepError::Failed(e));
                }
            }
            None => {
                let start = context(OperationAction::Start);
                self.backend.defer(vec![start]);
            }
        }
        let callback_op = step_id(Some(&id), 1);
        if self
            .recorded(&callback_op, OperationType::Callback)
            .is_none()
        {
            let mut u = OperationUpdate::new(
                &callback_op,
                OperationType::Callback,
                OperationAction::Start,
            );
            u.parent_id = Some(id.clone());
            u.sub_type = Some("Callback".into());
            u.name = Some(named(name, "create callback id"));
            u.callback_options = Some(CallbackOptions {
                timeout_seconds: config.timeout.map(whole_seconds),
                heartbeat_timeout_seconds: config.heartbeat_timeout.map(whole_seconds),
            });
            self.backend.checkpoint(vec![u]).await?;
        }
        let Some(callback) = self
            .recorded(&callback_op, OperationType::Callback)
            .cloned()
        else {
            return Err(StepError::Api(crate::api::ApiError::new(
                crate::api::ErrorCode::Service,
                format!("the service did not record callback operation {callback_op}"),
            )));
        };
        let callback_id = callback
            .callback_details
            .as_ref()
            .and_then(|d| d.callback_id.clone())
            .unwrap_or_default();
        let submitter_name = named(name, "submitter");
        let submitter = StepSpec {
            id: step_id(Some(&id), 2),
            parent: Some(id.clone()),
            name: &submitter_name,
            sub_type: "Step",
            config: submitter_config,
        };
        let submitted = self
            .run_step(submitter, move |_| async move {
                submit(callback_id).await.map_err(Into::into)
            })
            .await;
        if let Err(e) = submitted {
            if let StepError::Failed(error) = &e {
                let mut u = context(OperationAction::Fail);
                u.error = Some(error.clone());
                self.backend.defer(vec![u]);
            }
            return Err(e);
        }
        match callback.status {
            OperationStatus::Succeeded => {
                let body = callback
                    .callback_details
                    .as_ref()
                    .and_then(|d| d.result.clone())
                    .unwrap_or_default();
                let value = decode_json(&what, Some(&body))?;
                let mut u = context(OperationAction::Succeed);
                u.payload = Some(body);
                self.backend.defer(vec![u]);
                Ok(value)
            }
            _ => match failure_of(&callback) {
                Some(error) => {
                    let mut u = context(OperationAction::Fail);
                    u.error = Some(error.clone());
                    self.backend.defer(vec![u]);
                    Err(StepError::Failed(error))
                }
                None => Err(StepError::Suspended),
            },
        }
    }
}
