//! `ctx.wait_for_condition`: poll a check inside a transition until a strategy says stop.

use super::step::Serdes;
use super::{failure_of, op_name};
use crate::machine::ctx::{Ctx, whole_seconds};
use crate::machine::error::{ErrorClass, StepError, TransitionError};
use crate::model::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What a [`WaitStrategy`] decides after a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitDecision {
    /// Check again after this delay (whole seconds, at least one).
    Continue(Duration),
    /// The condition is met: the operation succeeds with the latest state.
    Stop,
}

type Decide<S> = dyn Fn(&S, u32) -> WaitDecision + Send + Sync;

/// When [`Ctx::wait_for_condition`] checks again, and when it stops.
///
/// ```
/// use durable_fsm::machine::ops::{WaitDecision, WaitStrategy};
/// use std::time::Duration;
/// // Until the job reports "done": 2 s, 4 s, 8 s … at most 60 s apart, at most 20 checks.
/// let strategy = WaitStrategy::until(|status: &String| status == "done")
///     .backoff(Duration::from_secs(2), 2.0, Duration::from_secs(60))
///     .max_attempts(20);
/// assert_eq!(strategy.decide(&"running".to_string(), 1), Ok(WaitDecision::Continue(Duration::from_secs(2))));
/// assert_eq!(strategy.decide(&"done".to_string(), 1), Ok(WaitDecision::Stop));
/// ```
pub struct WaitStrategy<S> {
    done: Arc<dyn Fn(&S) -> bool + Send + Sync>,
    delay: Option<Arc<Decide<S>>>,
    initial: Duration,
    factor: f64,
    max_delay: Duration,
    max_attempts: Option<u32>,
}

impl<S> Clone for WaitStrategy<S> {
    fn clone(&self) -> Self {
        WaitStrategy {
            done: Arc::clone(&self.done),
            delay: self.delay.clone(),
            initial: self.initial,
            factor: self.factor,
            max_delay: self.max_delay,
            max_attempts: self.max_attempts,
        }
    }
}

impl<S> fmt::Debug for WaitStrategy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitStrategy")
            .field("initial", &self.initial)
            .field("factor", &self.factor)
            .field("max_delay", &self.max_delay)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl<S> WaitStrategy<S> {
    /// Stop once `done(state)` holds; until then check again every 5 s, doubling up to 300 s
    /// (AWS's default wait strategy), without an attempt limit.
    pub fn until(done: impl Fn(&S) -> bool + Send + Sync + 'static) -> Self {
        WaitStrategy {
            done: Arc::new(done),
            delay: None,
            initial: Duration::from_secs(5),
            factor: 2.0,
            max_delay: Duration::from_secs(300),
            max_attempts: None,
        }
    }

    /// A strategy that decides everything itself from the state and the attempt number.
    pub fn custom(decide: impl Fn(&S, u32) -> WaitDecision + Send + Sync + 'static) -> Self {
        WaitStrategy {
            delay: Some(Arc::new(decide)),
            ..WaitStrategy::until(|_| false)
        }
    }

    /// Check again after the same `delay` every time.
    pub fn every(self, delay: Duration) -> Self {
        self.backoff(delay, 1.0, delay)
    }

    /// Check again after `initial`, then `factor` times longer each time, at most `max`.
    pub fn backoff(mut self, initial: Duration, factor: f64, max: Duration) -> Self {
        self.initial = initial;
        self.factor = factor;
        self.max_delay = max;
        self
    }

    /// Fail with `WaitForConditionMaxAttemptsExceeded` once `n` checks did not meet the
    /// condition.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    /// The decision after check number `attempt` (1-based) produced `state`; an error when
    /// the attempts are used up.
    pub fn decide(&self, state: &S, attempt: u32) -> Result<WaitDecision, ErrorObject> {
        let decision = match &self.delay {
            Some(decide) => decide(state, attempt),
            None if (self.done)(state) => WaitDecision::Stop,
            None => {
                let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let secs = (self.initial.as_secs_f64() * self.factor.powi(exp))
                    .min(self.max_delay.as_secs_f64())
                    .max(1.0);
                WaitDecision::Continue(Duration::from_secs_f64(secs.ceil()))
            }
        };
        match (decision, self.max_attempts) {
            (WaitDecision::Continue(_), Some(max)) if attempt >= max => Err(ErrorObject::new(
                "WaitForConditionMaxAttemptsExceeded",
                format!("the condition was not met after {attempt} checks"),
            )),
            (decision, _) => Ok(decision),
        }
    }
}

impl Ctx<'_> {
    /// Polls `check` until `strategy` says stop, and returns the last state: one STEP
    /// operation (SubType `WaitForCondition`) records every check, with the state between
    /// checks as its payload. Each invocation runs one check; between checks the execution
    /// waits durably. An error from `check` fails the operation ([`StepError::Failed`]).
    ///
    /// In a state machine the same loop is usually a state that returns
    /// [`Next::poll`](crate::Next::poll); this operation is for a poll in the middle of a
    /// transition's work.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::WaitStrategy;
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Await }
    /// # impl Transition for Job { type Input = (); type Output = u32;
    /// #   fn start(_: ()) -> Self { Job::Await }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let strategy = WaitStrategy::until(|n: &u32| *n >= 3).every(Duration::from_secs(2));
    ///     let n = ctx
    ///         .wait_for_condition("count", 0u32, |n, _attempt| async move { Ok::<_, std::io::Error>(n + 1) }, strategy)
    ///         .await?;
    ///     Ok(Next::done(n))
    /// }
    /// # }
    /// ```
    pub async fn wait_for_condition<S, E, F, Fut>(
        &mut self,
        name: &str,
        initial: S,
        check: F,
        strategy: WaitStrategy<S>,
    ) -> Result<S, StepError>
    where
        S: Serialize + DeserializeOwned + Send,
        F: FnOnce(S, u32) -> Fut + Send,
        Fut: Future<Output = Result<S, E>> + Send,
        E: Into<TransitionError>,
    {
        self.wait_for_condition_with(name, initial, check, strategy, Serdes::json())
            .await
    }

    /// [`Ctx::wait_for_condition`] with a custom codec for the state.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::{Serdes, WaitStrategy};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Await }
    /// # impl Transition for Job { type Input = (); type Output = u32;
    /// #   fn start(_: ()) -> Self { Job::Await }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     // The progress between checks stored as "42%".
    ///     let percent = Serdes::new(
    ///         |p: &u32| Ok(format!("{p}%")),
    ///         |s: &str| s.trim_end_matches('%').parse().map_err(|e| format!("{e}")),
    ///     );
    ///     let strategy = WaitStrategy::until(|p: &u32| *p >= 100).every(Duration::from_secs(10));
    ///     let done = ctx
    ///         .wait_for_condition_with("progress", 0u32, |p, _| async move { Ok::<_, std::io::Error>(p + 50) }, strategy, percent)
    ///         .await?;
    ///     Ok(Next::done(done))
    /// }
    /// # }
    /// ```
    pub async fn wait_for_condition_with<S, E, F, Fut>(
        &mut self,
        name: &str,
        initial: S,
        check: F,
        strategy: WaitStrategy<S>,
        serdes: Serdes<S>,
    ) -> Result<S, StepError>
    where
        S: Send,
        F: FnOnce(S, u32) -> Fut + Send,
        Fut: Future<Output = Result<S, E>> + Send,
        E: Into<TransitionError>,
    {
        let id = self.next_op_id();
        let what = format!("wait-for-condition `{name}`");
        let parent = self.parent.map(str::to_string);
        let update = |action| {
            let mut u = OperationUpdate::new(&id, OperationType::Step, action);
            u.parent_id = parent.clone();
            u.sub_type = Some("WaitForCondition".into());
            u.name = op_name(name);
            u
        };
        let (state, attempt, started) = match self.recorded(&id, OperationType::Step) {
            None => (initial, 1, false),
            Some(op) => match op.status {
                OperationStatus::Succeeded => {
                    let result = op.step_details.as_ref().and_then(|d| d.result.as_deref());
                    return serdes.decode(result, &what);
                }
                OperationStatus::Pending => return Err(StepError::Suspended),
                OperationStatus::Started | OperationStatus::Ready => {
                    let details = op.step_details.clone().unwrap_or_default();
                    let state = match details.result.as_deref() {
                        Some(payload) => serdes.decode(Some(payload), &what)?,
                        None => initial,
                    };
                    (
                        state,
                        details.attempt.unwrap_or(0) + 1,
                        op.status == OperationStatus::Started,
                    )
                }
                _ => return Err(StepError::Failed(failure_of(op).unwrap_or_default())),
            },
        };
        if !started {
            self.backend.defer(vec![update(OperationAction::Start)]);
        }
        let fail = |ctx: &mut Self, error: ErrorObject| {
            let mut u = update(OperationAction::Fail);
            u.error = Some(error.clone());
            ctx.backend.defer(vec![u]);
            Err(StepError::Failed(error))
        };
        let state = match check(state, attempt).await {
            Ok(state) => state,
            Err(e) => match e.into().classify() {
                ErrorClass::Suspend => return Err(StepError::Suspended),
                ErrorClass::Api(e) => return Err(StepError::Api(e)),
                ErrorClass::Invocation(m) => return Err(StepError::Invocation(m)),
                ErrorClass::Terminal(error) | ErrorClass::Retryable(error) => {
                    return fail(self, error);
                }
            },
        };
        let payload = match serdes.encode(&state, &what) {
            Ok(p) => p,
            Err(error) => return fail(self, error),
        };
        match strategy.decide(&state, attempt) {
            Ok(WaitDecision::Stop) => {
                let mut u = update(OperationAction::Succeed);
                u.payload = Some(payload);
                self.backend.defer(vec![u]);
                Ok(state)
            }
            Ok(WaitDecision::Continue(delay)) => {
                let mut u = update(OperationAction::Retry);
                u.payload = Some(payload);
                u.step_options = Some(StepOptions {
                    next_attempt_delay_seconds: Some(whole_seconds(delay).max(1)),
                });
                self.backend.defer(vec![u]);
                Err(StepError::Suspended)
            }
            Err(error) => fail(self, error),
        }
    }
}
