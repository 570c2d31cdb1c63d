//! A batch system, simulated in this process's memory: it accepts jobs, reports their status
//! and hands out their results.
//!
//! A job moves on one step each time its status is asked for: QUEUED on the first request,
//! RUNNING after, and SUCCEEDED or FAILED once asked `after_checks` times, as the job's
//! [`Simulated`] behaviour says; a hanging job stays RUNNING. A real job would carry its
//! definition instead.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// How the simulated batch system runs a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Simulated {
    /// Reports SUCCEEDED at the `after_checks`th status request.
    Succeeds { after_checks: u32 },
    /// Reports FAILED at the `after_checks`th status request.
    Fails { after_checks: u32 },
    /// Stays RUNNING.
    Hangs,
}

/// A job's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed(String),
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobStatus::Queued => f.write_str("QUEUED"),
            JobStatus::Running => f.write_str("RUNNING"),
            JobStatus::Succeeded => f.write_str("SUCCEEDED"),
            JobStatus::Failed(reason) => write!(f, "FAILED ({reason})"),
        }
    }
}

/// The batch system does not know the job, or it has no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BatchError(String);

/// The batch system of this process.
pub struct Batch {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Idempotency key of a submission → job id.
    submitted: HashMap<String, String>,
    jobs: HashMap<String, Job>,
    next_id: u64,
}

struct Job {
    name: String,
    simulated: Simulated,
    checks: u32,
}

/// The batch system of this process.
pub fn batch() -> &'static Batch {
    static BATCH: OnceLock<Batch> = OnceLock::new();
    BATCH.get_or_init(|| Batch {
        inner: Mutex::new(Inner::default()),
    })
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each call updates the maps in single statements: still usable after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job; the same idempotency key gets the same job id back.
    pub fn submit(&self, key: &str, name: &str, simulated: Simulated) -> String {
        let mut s = self.lock();
        if let Some(id) = s.submitted.get(key) {
            return id.clone();
        }
        s.next_id += 1;
        let id = format!("job-{}", s.next_id);
        let job = Job {
            name: name.into(),
            simulated,
            checks: 0,
        };
        s.jobs.insert(id.clone(), job);
        s.submitted.insert(key.into(), id.clone());
        id
    }

    /// The job's status; each request moves the simulated job on one step.
    pub fn status(&self, job_id: &str) -> Result<JobStatus, BatchError> {
        let mut s = self.lock();
        let job = s.jobs.get_mut(job_id).ok_or_else(|| unknown(job_id))?;
        job.checks = job.checks.saturating_add(1);
        Ok(job.status())
    }

    /// The output of a job that succeeded.
    pub fn result(&self, job_id: &str) -> Result<String, BatchError> {
        let s = self.lock();
        let job = s.jobs.get(job_id).ok_or_else(|| unknown(job_id))?;
        match job.status() {
            JobStatus::Succeeded => Ok(format!(
                "{}: 1024 rows written to results/{job_id}.csv",
                job.name
            )),
            other => Err(BatchError(format!(
                "job {job_id} has no result: it is {other}"
            ))),
        }
    }
}

impl Job {
    fn status(&self) -> JobStatus {
        let done = |after: u32| self.checks >= after.max(1);
        match self.simulated {
            Simulated::Succeeds { after_checks } if done(after_checks) => JobStatus::Succeeded,
            Simulated::Fails { after_checks } if done(after_checks) => {
                JobStatus::Failed("exit code 137: out of memory".into())
            }
            _ if self.checks <= 1 => JobStatus::Queued,
            _ => JobStatus::Running,
        }
    }
}

fn unknown(job_id: &str) -> BatchError {
    BatchError(format!("the batch system knows no job {job_id}"))
}
