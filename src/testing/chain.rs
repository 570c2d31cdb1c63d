//! Chains of executions under the test runner: an execution that continues as new, and the
//! executions it hands over to.

use super::{Fault, TestError, TestOutcome, TestRunner};
use crate::executor::ContinuedAsNew;
use crate::machine::Transition;
use crate::model::ExecutionStatus;

impl TestOutcome {
    /// The successor this execution started, when it ended by continuing as new.
    pub fn continued_as(&self) -> Option<ContinuedAsNew> {
        match (&self.status, &self.result) {
            (ExecutionStatus::Succeeded, Some(result)) => ContinuedAsNew::from_result(result),
            _ => None,
        }
    }
}

impl<W: Transition> TestRunner<W> {
    /// Injects `fault` into the `n`th `start_execution` call (1-based) of each execution's
    /// run: the start of a continue-as-new successor.
    pub fn fail_start(mut self, n: u64, fault: Fault) -> Self {
        self.start_faults.push((n, fault));
        self
    }

    /// Starts an execution with `input` and drives it, then each execution it continues as
    /// new into, until one ends otherwise; returns every outcome in order. Gives up after
    /// `max_executions`.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Countdown(u32);
    /// # impl Transition for Countdown { type Input = u32; type Output = String;
    /// #   fn start(n: u32) -> Self { Countdown(n) }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       Ok(match self.0 { 0 => Next::done("liftoff".into()), n => Next::continue_as_new(Countdown(n - 1)) }) } }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use durable_fsm::testing::TestRunner;
    /// let chain = TestRunner::<Countdown>::new().named("launch").run_chain(2u32, 10).await.unwrap();
    /// assert_eq!(chain.len(), 3);
    /// assert_eq!(chain[0].continued_as().unwrap().durable_execution_name, "launch-g2");
    /// assert_eq!(chain[2].output::<String>().unwrap(), "liftoff");
    /// # });
    /// ```
    pub async fn run_chain(
        &self,
        input: impl serde::Serialize,
        max_executions: usize,
    ) -> Result<Vec<TestOutcome>, TestError> {
        let first = self.run(input).await?;
        self.follow(first, max_executions).await
    }

    /// Drives the executions `first` continued as new into (see [`Self::run_chain`]); the
    /// outcomes start with `first`.
    pub async fn follow(
        &self,
        first: TestOutcome,
        max_executions: usize,
    ) -> Result<Vec<TestOutcome>, TestError> {
        let mut chain = vec![first];
        while let Some(next) = chain.last().and_then(TestOutcome::continued_as) {
            if chain.len() >= max_executions {
                return Err(TestError::TooManyExecutions(max_executions));
            }
            chain.push(self.drive(&next.durable_execution_arn).await?);
        }
        Ok(chain)
    }
}
