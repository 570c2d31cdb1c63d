//! Polling a job's status: submit a job to a batch system, ask for its status with
//! `Next::poll` at delays that double up to a cap, give up at an overall deadline, then fetch
//! the result. Every status check of one wait is one STEP operation, retried at each poll:
//! a long wait does not grow the history by a state per check.

use crate::batch::{JobStatus, Simulated, batch};
use durable_fsm::machine::{Graph, Terminal};
use durable_fsm::model::{ErrorObject, Timestamp};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often to ask, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PollPolicy {
    /// The delay after the first status check, in seconds (at least one).
    pub first_delay_secs: u64,
    /// The delay doubles after each check, up to this.
    pub max_delay_secs: u64,
    /// Give up when the job has not finished this long after it was submitted.
    pub deadline_secs: u64,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first_delay_secs: 5,
            max_delay_secs: 300,
            deadline_secs: 24 * 3600,
        }
    }
}

impl PollPolicy {
    /// The delay after the `checks`th status check: first, ×2 per check, capped.
    pub fn delay_after(&self, checks: u32) -> Duration {
        let first = self.first_delay_secs.max(1);
        let doublings = checks.saturating_sub(1).min(63);
        let secs = first.saturating_mul(1 << doublings);
        Duration::from_secs(secs.min(self.max_delay_secs.max(first)))
    }
}

/// The execution input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    pub name: String,
    /// How the simulated batch system runs the job.
    pub simulated: Simulated,
    #[serde(default)]
    pub polling: PollPolicy,
}

/// A job the batch system accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub id: String,
    pub name: String,
    pub submitted_at: Timestamp,
    pub polling: PollPolicy,
}

impl Submitted {
    fn deadline(&self) -> Timestamp {
        self.submitted_at
            .add(Duration::from_secs(self.polling.deadline_secs))
    }
}

/// The execution result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    pub job_id: String,
    pub output: String,
    pub status_checks: u32,
}

/// The workflow: each variant is a state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BatchJob {
    Submit(JobRequest),
    /// Checks the status; polls itself until the job ends or the deadline passes.
    Waiting {
        job: Submitted,
        /// Status checks made so far.
        checks: u32,
    },
    FetchResult {
        job: Submitted,
        checks: u32,
    },
}

impl Transition for BatchJob {
    type Input = JobRequest;
    type Output = JobReport;

    fn start(request: JobRequest) -> Self {
        BatchJob::Submit(request)
    }

    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Submit")
                .edge("Submit", "Waiting")
                .poll("Waiting", "Waiting")
                .edge("Waiting", "FetchResult")
                // The job failed, or did not finish by the deadline.
                .fail("Waiting")
                .done("FetchResult")
                // The batch system has no result for a job it said succeeded.
                .fail("FetchResult"),
        )
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            BatchJob::Submit(request) => {
                // The operation id is stable across re-runs of this transition: submitting
                // again after a crash finds the job submitted the first time.
                let key = format!("{}/{}", ctx.execution_arn(), ctx.operation_id());
                let id = batch().submit(&key, &request.name, request.simulated);
                Next::to(BatchJob::Waiting {
                    job: Submitted {
                        id,
                        name: request.name,
                        submitted_at: ctx.now(),
                        polling: request.polling,
                    },
                    checks: 0,
                })
            }
            BatchJob::Waiting { job, checks } => {
                let status = batch()
                    .status(&job.id)
                    .map_err(|e| Terminal::new("JobLost", e.to_string()))?;
                let checks = checks.saturating_add(1);
                let now = ctx.now();
                match status {
                    JobStatus::Succeeded => Next::to(BatchJob::FetchResult { job, checks }),
                    JobStatus::Failed(reason) => Next::fail(ErrorObject::new(
                        "JobFailed",
                        format!(
                            "job {} ({}) failed: {reason} (status check {checks})",
                            job.id, job.name
                        ),
                    )),
                    JobStatus::Queued | JobStatus::Running if now >= job.deadline() => {
                        Next::fail(ErrorObject::new(
                            "JobDeadlineExceeded",
                            format!(
                                "job {} ({}) is still {status} {} s after it was submitted, \
                                 after {checks} status checks; the deadline is {} s",
                                job.id,
                                job.name,
                                now.since(job.submitted_at).as_secs(),
                                job.polling.deadline_secs
                            ),
                        ))
                    }
                    JobStatus::Queued | JobStatus::Running => {
                        // Never sleep past the deadline: the last check falls on it.
                        let delay = job
                            .polling
                            .delay_after(checks)
                            .min(job.deadline().since(now));
                        Next::poll(delay, BatchJob::Waiting { job, checks })
                    }
                }
            }
            BatchJob::FetchResult { job, checks } => {
                let output = batch()
                    .result(&job.id)
                    .map_err(|e| Terminal::new("ResultUnavailable", e.to_string()))?;
                Next::done(JobReport {
                    job_id: job.id,
                    output,
                    status_checks: checks,
                })
            }
        })
    }
}
