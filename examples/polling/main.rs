//! `cargo run --example polling`: submit a job to a batch system and poll its status with a
//! capped exponential backoff and an overall deadline, run durably on the embedded local
//! service (SQLite). Two jobs run side by side: one finishes at the fourth status check (about
//! seven seconds), the other never does and fails at its ten-second deadline. The simulated
//! batch system lives in this process's memory, so each run starts from an empty database.

mod batch;
#[path = "../common/mod.rs"]
mod common;
mod workflow;

use batch::Simulated;
use common::{Database, Local};
use std::time::Duration;
use workflow::{BatchJob, JobReport, JobRequest, PollPolicy};

const FUNCTION: &str = "batch-job";

/// Short delays so the example ends in seconds: 1 s, 2 s, 4 s, 4 s, …
fn polling(deadline_secs: u64) -> PollPolicy {
    PollPolicy {
        first_delay_secs: 1,
        max_delay_secs: 4,
        deadline_secs,
    }
}

#[tokio::main]
async fn main() -> Result<(), common::Error> {
    let local = Local::open("polling", Database::Fresh, |registry| {
        registry.register::<BatchJob>(FUNCTION);
    })?;
    let jobs = [
        JobRequest {
            name: "nightly-report".into(),
            simulated: Simulated::Succeeds { after_checks: 4 },
            polling: polling(60),
        },
        JobRequest {
            name: "stuck-export".into(),
            simulated: Simulated::Hangs,
            polling: polling(10),
        },
    ];
    let mut arns = Vec::new();
    for job in &jobs {
        println!(
            "submitting {} (deadline {} s)",
            job.name, job.polling.deadline_secs
        );
        arns.push(local.start(FUNCTION, &job.name, job)?.arn);
    }
    for (job, arn) in jobs.iter().zip(&arns) {
        let end = local.wait(arn, Duration::from_secs(60)).await?;
        println!("\n=== job {}", job.name);
        common::print_end::<JobReport>(&end)?;
        local.print_history(arn)?;
    }
    local.shutdown().await;
    Ok(())
}
