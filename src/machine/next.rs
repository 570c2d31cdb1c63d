//! The commands a transition returns.

use super::Transition;
use crate::model::ErrorObject;
use std::time::Duration;

/// What happens after a transition: the next state, a durable sleep, a poll, the end, or a
/// fresh execution.
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
    /// End this execution and start a fresh execution of the same function from this state
    /// (see [`Next::continue_as_new`]).
    ContinueAsNew(S),
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
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Submitted { id: String, polls: u32 }, Done }
    /// # impl durable_fsm::Transition for Job { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Job::Done }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(String::new())) } }
    /// // Check again tomorrow.
    /// let next: Next<Job> = Next::sleep(Duration::from_secs(86_400), Job::Done);
    /// ```
    pub fn sleep(duration: Duration, state: S) -> Self {
        Next::Sleep(duration, state)
    }

    /// Run this state's transition again after `delay`, starting from `state`
    /// (wait-for-condition: one STEP operation records every poll).
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Submitted { id: String, polls: u32 }, Done }
    /// # impl durable_fsm::Transition for Job { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Job::Done }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(String::new())) } }
    /// // Still running: look again in 30 s, counting the polls in the state.
    /// let next: Next<Job> = Next::poll(Duration::from_secs(30), Job::Submitted { id: "j-1".into(), polls: 2 });
    /// ```
    pub fn poll(delay: Duration, state: S) -> Self {
        Next::Poll(delay, state)
    }

    /// End the execution successfully with `output`.
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Submitted { id: String, polls: u32 }, Done }
    /// # impl durable_fsm::Transition for Job { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Job::Done }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(String::new())) } }
    /// let next: Next<Job> = Next::done("report.csv".to_string());
    /// ```
    pub fn done(output: S::Output) -> Self {
        Next::Done(output)
    }

    /// End the execution with an error (no retry: to retry, return `Err` from `next`).
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Job { Submitted { id: String, polls: u32 }, Done }
    /// # impl durable_fsm::Transition for Job { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Job::Done }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(String::new())) } }
    /// use durable_fsm::model::ErrorObject;
    /// let next: Next<Job> = Next::fail(ErrorObject::new("JobRejected", "the batch system refused job j-1"));
    /// let plain: Next<Job> = Next::fail("gave up after 20 polls");
    /// ```
    pub fn fail(error: impl Into<ErrorObject>) -> Self {
        Next::Fail(error.into())
    }

    /// Continue as new: end this execution and start a fresh execution of the same function
    /// and version, which starts in `state` with an empty history.
    ///
    /// For workflows that run forever or for very long (a subscription, a poller): an
    /// execution's history and its lifetime (at most 366 days on AWS) stay bounded. The
    /// successor's name is derived from this execution's (`<name>-g2`, `-g3`, …), and the
    /// transition is checkpointed, naming the successor, before it is started, so a crash
    /// and re-run start the same successor, never a second one. This execution then
    /// succeeds with a result that names the successor
    /// ([`ContinuedAsNew`](crate::executor::ContinuedAsNew)).
    ///
    /// ```
    /// # use durable_fsm::machine::Next;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Poller { Watching { seen: u64 } }
    /// # impl durable_fsm::Transition for Poller { type Input = (); type Output = ();
    /// #   fn start(_: ()) -> Self { Poller::Watching { seen: 0 } }
    /// #   async fn next(self, _: &mut durable_fsm::Ctx<'_>) -> Result<Next<Self>, durable_fsm::TransitionError> { Ok(Next::done(())) } }
    /// let next: Next<Poller> = Next::continue_as_new(Poller::Watching { seen: 1_000 });
    /// ```
    pub fn continue_as_new(state: S) -> Self {
        Next::ContinueAsNew(state)
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
