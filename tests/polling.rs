//! The polling example (examples/polling/) on the test runner: polling until the job is done
//! with a capped exponential backoff, a failed job, the overall deadline; `explore` over its
//! declared graph; and the Mermaid picture the book shows.

#[path = "../examples/polling/batch.rs"]
mod batch;
#[path = "../examples/polling/workflow.rs"]
mod workflow;

use batch::{Simulated, batch};
use durable_fsm::Transition;
use durable_fsm::display::graph::mermaid;
use durable_fsm::display::trace::Trace;
use durable_fsm::model::{Event, EventType, ExecutionStatus, OperationType, Timestamp};
use durable_fsm::testing::{Samples, TestOutcome, TestRunner, explore};
use std::time::Duration;
use workflow::{BatchJob, JobReport, JobRequest, PollPolicy, Submitted};

fn request(name: &str, simulated: Simulated, polling: PollPolicy) -> JobRequest {
    JobRequest {
        name: name.into(),
        simulated,
        polling,
    }
}

fn policy(first: u64, max: u64, deadline: u64) -> PollPolicy {
    PollPolicy {
        first_delay_secs: first,
        max_delay_secs: max,
        deadline_secs: deadline,
    }
}

async fn run(request: &JobRequest) -> TestOutcome {
    TestRunner::<BatchJob>::new().run(request).await.unwrap()
}

/// The edges the execution took, in the order first taken, with counts above one.
fn path(events: &[Event]) -> Vec<String> {
    let trace = Trace::from_events(events);
    let edges = trace.edges.iter();
    edges
        .map(|c| match c.count {
            1 => c.edge.to_string(),
            n => format!("{} ×{n}", c.edge),
        })
        .collect()
}

/// The transitions' STEP operations: the state that ran and how many attempts it took.
fn steps(out: &TestOutcome) -> Vec<(String, u32)> {
    let transitions = out.operations.iter().filter(|op| {
        op.op_type == OperationType::Step && op.sub_type.as_deref() == Some("Transition")
    });
    transitions
        .map(|op| {
            let attempts = op.step_details.as_ref().and_then(|d| d.attempt);
            (op.name.clone().unwrap_or_default(), attempts.unwrap_or(0))
        })
        .collect()
}

/// Seconds between the status checks (the starts of the `Waiting` transition).
fn delays(out: &TestOutcome) -> Vec<u64> {
    let checks: Vec<Timestamp> = out
        .events_of(EventType::StepStarted)
        .filter(|e| e.name.as_deref() == Some("Waiting"))
        .map(|e| e.event_timestamp)
        .collect();
    let pairs = checks.windows(2);
    pairs.map(|w| w[1].since(w[0]).as_secs()).collect()
}

#[tokio::test]
async fn polls_with_a_doubling_delay_until_the_job_is_done() {
    let job = request(
        "report",
        Simulated::Succeeds { after_checks: 4 },
        policy(5, 300, 3600),
    );
    let out = run(&job).await;
    let report: JobReport = out.output().unwrap();
    assert_eq!(report.status_checks, 4);
    assert!(report.job_id.starts_with("job-"), "{report:?}");
    assert_eq!(
        report.output,
        format!("report: 1024 rows written to results/{}.csv", report.job_id)
    );
    assert_eq!(delays(&out), [5, 10, 20]);
    assert_eq!(
        path(&out.events),
        [
            "Submit → Waiting",
            "Waiting → Waiting (poll) ×3",
            "Waiting → FetchResult",
            "FetchResult → done"
        ]
    );
    // Every check of one wait is an attempt of one STEP operation.
    assert_eq!(
        steps(&out),
        [
            ("Submit".into(), 1),
            ("Waiting".into(), 4),
            ("FetchResult".into(), 1)
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (6, 6));
    assert!(out.elapsed >= Duration::from_secs(35), "{:?}", out.elapsed);
    assert!(out.elapsed < Duration::from_secs(36), "{:?}", out.elapsed);
}

#[tokio::test]
async fn the_delay_stops_growing_at_the_cap() {
    let job = request(
        "capped",
        Simulated::Succeeds { after_checks: 7 },
        policy(1, 4, 3600),
    );
    let out = run(&job).await;
    assert_eq!(out.output::<JobReport>().unwrap().status_checks, 7);
    assert_eq!(delays(&out), [1, 2, 4, 4, 4, 4]);
}

#[tokio::test]
async fn a_job_that_never_finishes_fails_at_the_deadline() {
    let job = request("stuck", Simulated::Hangs, policy(5, 20, 60));
    let out = run(&job).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.clone().unwrap();
    assert_eq!(error.error_type.as_deref(), Some("JobDeadlineExceeded"));
    let message = error.error_message.unwrap_or_default();
    assert!(message.starts_with("job job-"), "{message}");
    assert!(
        message.ends_with(
            " (stuck) is still RUNNING 60 s after it was submitted, after 6 status checks; \
             the deadline is 60 s"
        ),
        "{message}"
    );
    // 5, 10, 20, 20, then only the 5 s left: the last check falls on the deadline.
    assert_eq!(delays(&out), [5, 10, 20, 20, 5]);
    assert_eq!(
        path(&out.events),
        [
            "Submit → Waiting",
            "Waiting → Waiting (poll) ×5",
            "Waiting → fail"
        ]
    );
    assert_eq!(steps(&out), [("Submit".into(), 1), ("Waiting".into(), 6)]);
    assert_eq!((out.transitions_run, out.checkpoint_calls), (7, 7));
    assert!(out.elapsed >= Duration::from_secs(60), "{:?}", out.elapsed);
    assert!(out.elapsed < Duration::from_secs(61), "{:?}", out.elapsed);
}

#[tokio::test]
async fn a_failed_job_fails_the_execution() {
    let job = request(
        "oom",
        Simulated::Fails { after_checks: 2 },
        policy(5, 300, 3600),
    );
    let out = run(&job).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.clone().unwrap();
    assert_eq!(error.error_type.as_deref(), Some("JobFailed"));
    let message = error.error_message.unwrap_or_default();
    assert!(
        message.ends_with(" (oom) failed: exit code 137: out of memory (status check 2)"),
        "{message}"
    );
    assert_eq!(
        path(&out.events),
        [
            "Submit → Waiting",
            "Waiting → Waiting (poll)",
            "Waiting → fail"
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (3, 3));
}

#[test]
fn the_backoff_doubles_up_to_the_cap_and_never_overflows() {
    let p = policy(3, 20, 60);
    let secs: Vec<u64> = (1..=6).map(|n| p.delay_after(n).as_secs()).collect();
    assert_eq!(secs, [3, 6, 12, 20, 20, 20]);
    assert_eq!(p.delay_after(u32::MAX), Duration::from_secs(20));
    // A zero first delay is a second; a cap below it is the first delay.
    assert_eq!(policy(0, 0, 60).delay_after(1), Duration::from_secs(1));
    assert_eq!(policy(10, 2, 60).delay_after(3), Duration::from_secs(10));
    let unbounded = policy(u64::MAX / 2, u64::MAX, 60);
    assert_eq!(unbounded.delay_after(40), Duration::from_secs(u64::MAX));
}

#[test]
fn the_polling_policy_defaults_when_the_input_leaves_it_out() {
    let job: JobRequest =
        serde_json::from_str(r#"{"name":"n","simulated":{"succeeds":{"after_checks":1}}}"#)
            .unwrap();
    assert_eq!(job.polling, PollPolicy::default());
    assert_eq!(job.polling.delay_after(1), Duration::from_secs(5));
}

#[test]
fn explore_finds_every_declared_edge_and_nothing_else() {
    // explore runs transitions at the current time: a job submitted now is within its
    // one-hour deadline, one submitted in 1970 is past it.
    let submitted = |name: &str, simulated: Simulated, submitted_at: Timestamp| Submitted {
        id: batch().submit(&format!("setup/{name}"), name, simulated),
        name: name.into(),
        submitted_at,
        polling: policy(5, 300, 3600),
    };
    let (now, past) = (Timestamp::now(), Timestamp::from_secs(1));
    let done = submitted("x-done", Simulated::Succeeds { after_checks: 1 }, now);
    let samples = Samples::new([
        BatchJob::Submit(request("x-submit", Simulated::Hangs, PollPolicy::default())),
        BatchJob::Waiting {
            job: submitted("x-running", Simulated::Hangs, now),
            checks: 1,
        },
        BatchJob::Waiting {
            job: done.clone(),
            checks: 0,
        },
        BatchJob::Waiting {
            job: submitted("x-late", Simulated::Hangs, past),
            checks: 3,
        },
        BatchJob::Waiting {
            job: submitted("x-failed", Simulated::Fails { after_checks: 1 }, now),
            checks: 0,
        },
        BatchJob::FetchResult {
            job: done,
            checks: 1,
        },
        BatchJob::FetchResult {
            job: submitted("x-no-result", Simulated::Hangs, now),
            checks: 1,
        },
    ]);
    let report = explore(samples);
    assert!(report.is_ok(), "{report}");
    let observed: Vec<String> = report.observed.iter().map(ToString::to_string).collect();
    assert_eq!(
        observed,
        [
            "Submit → Waiting (sample 0)",
            "Waiting → Waiting (poll) (sample 1)",
            "Waiting → FetchResult (sample 2)",
            "Waiting → fail (sample 3)",
            "Waiting → fail (sample 4)",
            "FetchResult → done (sample 5)",
            "FetchResult → fail (sample 6)",
        ]
    );
}

/// The picture in book/src/examples.md: `cargo test --test polling -- --nocapture` prints it.
#[test]
fn the_declared_graph_as_mermaid() {
    let graph = BatchJob::graph().unwrap();
    let text = mermaid(&graph);
    println!("{text}");
    assert_eq!(
        text,
        "stateDiagram-v2
    [*] --> Submit
    Submit --> Waiting
    Waiting --> Waiting: poll
    Waiting --> FetchResult
    Waiting --> [*]: fail
    FetchResult --> [*]: done
    FetchResult --> [*]: fail
"
    );
    let book = include_str!("../book/src/examples.md");
    assert!(
        book.contains(&format!("```mermaid\n{text}```")),
        "book/src/examples.md does not show the current graph of the polling example"
    );
}
