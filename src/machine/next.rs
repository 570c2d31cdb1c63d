//! The commands a transition returns.

use super::Transition;
use crate::model::ErrorObject;
use std::time::Duration;

/// What happens after a transition: the next state, a durable sleep, a poll, or the end.
///
/// Every command is checkpointed as one STEP operation (SubType `Transition`, Name = the state
/// that ran) before anything else happens.
#[non_exhaustive]
pub enum Next<S: Transition> {
    /// Go to this state now.
    To(S),
    /// Start a durable timer, then go to this state when it fires.
    Sleep(Duration, S),
    /// Run the same transition again after the delay, from this (updated) state.
    Poll(Duration, S),
    /// The execution succeeded with this output.
    Done(S::Output),
    /// The execution failed with this error.
    Fail(ErrorObject),
}

impl<S: Transition> Next<S> {
    /// Go to `state` now.
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Order { Paid }
    /// # impl durable_fsm::Transition for Order { type Input = (); type Output = ();
    /// #   fn start(_: ()) -> Self { Order::Paid }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(())) } }
    /// let next: Next<Order> = Next::to(Order::Paid);
    /// ```
    pub fn to(state: S) -> Self {
        Next::To(state)
    }

    /// Sleep durably for `duration` (rounded up to whole seconds), then go to `state`.
    /// The function is not running while it sleeps.
    pub fn sleep(duration: Duration, state: S) -> Self {
        Next::Sleep(duration, state)
    }

    /// Run this state's transition again after `delay`, starting from `state`
    /// (wait-for-condition: one STEP operation records every poll).
    pub fn poll(delay: Duration, state: S) -> Self {
        Next::Poll(delay, state)
    }

    /// End the execution successfully with `output`.
    pub fn done(output: S::Output) -> Self {
        Next::Done(output)
    }

    /// End the execution with an error.
    pub fn fail(error: impl Into<ErrorObject>) -> Self {
        Next::Fail(error.into())
    }
}

impl From<&str> for ErrorObject {
    fn from(message: &str) -> Self {
        ErrorObject::message(message)
    }
}

impl From<String> for ErrorObject {
    fn from(message: String) -> Self {
        ErrorObject::message(message)
    }
}
