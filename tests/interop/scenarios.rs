//! What each interop workflow is given and must produce: its input, its result, and the
//! history AWS produces for it, with the deviations of AWS's emulator (dex-local-runner 1.4.0)
//! asserted as they are (spec/local-runner.md §8; the book's "Interop" chapter lists them).

use super::http::{event_label, summary};
use serde_json::{Value, json};

/// The callback result sent to `with-callback`.
pub const CALLBACK_BODY: &str = r#"{"approved":true,"by":"interop"}"#;
/// `paged-state`: transitions (enough for two levels of epochs), filler steps in the first
/// transition, and bytes of filler in each state and step. The steps stay visible: over 1000
/// operations (the first page of `durable-fsm serve`'s invocation input) and over 5 MiB of
/// payload (the emulator's first page), so the invocation after the sleep must page with
/// GetDurableExecutionState under both.
pub const PAGED_TRANSITIONS: usize = 300;
pub const PAGED_STEPS: usize = 1200;
pub const PAGED_STATE_BYTES: usize = 4600;
/// The emulator's bound on the payload of one page of operations.
const RUNNER_PAGE_BYTES: usize = 5 * 1024 * 1024;
/// The interop example's workflows.
pub const WORKFLOWS: [&str; 5] = [
    "three-steps",
    "with-sleep",
    "with-callback",
    "retries",
    "paged-state",
];

/// Who drives the executions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// AWS's emulator, dex-local-runner 1.4.0.
    DexLocalRunner,
    /// `durable-fsm serve`.
    Serve,
}

/// The execution input of a workflow.
pub fn input(workflow: &str) -> Value {
    match workflow {
        "three-steps" => json!(5),
        "with-sleep" => json!({ "seconds": 1 }),
        "paged-state" => json!({
            "transitions": PAGED_TRANSITIONS,
            "state_bytes": PAGED_STATE_BYTES,
            "steps": PAGED_STEPS,
        }),
        _ => json!({}),
    }
}

/// The result a workflow ends with.
fn expected_result(workflow: &str) -> Value {
    match workflow {
        "three-steps" => json!({ "value": 12, "steps": 3 }),
        "with-sleep" => json!({ "slept": 1 }),
        "with-callback" => json!({ "callback": { "approved": true, "by": "interop" } }),
        "retries" => json!({ "attempts": 3 }),
        "paged-state" => json!({
            "transitions": PAGED_TRANSITIONS,
            "state_bytes": PAGED_STATE_BYTES,
            "filler_intact": true,
        }),
        other => panic!("unknown workflow {other}"),
    }
}

/// One finished execution.
pub struct Finished {
    pub workflow: String,
    /// The durable execution name.
    pub name: String,
    pub arn: String,
    pub execution: Value,
    pub events: Vec<Value>,
}

/// The labels (`EventType(Name)`) of the history AWS produces for execution `name` of a
/// workflow, in order.
fn aws_labels(workflow: &str, name: &str) -> Vec<String> {
    let step = |name: &str| {
        vec![
            format!("StepStarted({name})"),
            format!("StepSucceeded({name})"),
        ]
    };
    let mut labels = vec![format!("ExecutionStarted({name})")];
    let invocation = "InvocationCompleted".to_string();
    match workflow {
        "three-steps" => {
            labels.extend(step("First"));
            labels.extend(step("Second"));
            labels.extend(step("Third"));
            labels.push(invocation);
        }
        "with-sleep" => {
            labels.extend(step("Start"));
            labels.push("WaitStarted(Woke)".into());
            labels.push(invocation.clone());
            labels.push("WaitSucceeded(Woke)".into());
            labels.extend(step("Woke"));
            labels.push(invocation);
        }
        "with-callback" => {
            // The callback is created inside `Ask`'s transition, before that transition's
            // STEP is checkpointed.
            labels.push("CallbackStarted(approval)".into());
            labels.extend(step("Ask"));
            labels.push(invocation.clone());
            labels.push("CallbackSucceeded(approval)".into());
            labels.extend(step("Waiting"));
            labels.push(invocation);
        }
        "retries" => {
            for _ in 0..2 {
                labels.push("StepStarted(Flaky)".into());
                labels.push("StepFailed(Flaky)".into());
                labels.push(invocation.clone());
            }
            labels.extend(step("Flaky"));
            labels.push(invocation);
        }
        "paged-state" => {
            // The executor groups the transitions into epochs (CONTEXTs): their starts come
            // before a transition's STEP, their ends after the STEP that fills them.
            let mut epochs = Epochs::default();
            for i in 0..PAGED_TRANSITIONS {
                labels.extend(epochs.open());
                if i == 0 {
                    for _ in 0..PAGED_STEPS {
                        labels.extend(step("filler"));
                    }
                }
                labels.extend(step("Fill"));
                labels.extend(epochs.close_full());
            }
            labels.push("WaitStarted(Check)".into());
            labels.push(invocation.clone());
            labels.push("WaitSucceeded(Check)".into());
            labels.extend(epochs.open());
            labels.extend(step("Check"));
            labels.push(invocation);
        }
        other => panic!("unknown workflow {other}"),
    }
    labels.push(format!("ExecutionSucceeded({name})"));
    labels
}

/// Where the executor puts the top-level machine's transitions (src/executor/epoch.rs): the
/// first `EPOCH_SIZE` at the top, then up to `EPOCH_SIZE` epochs per level at the top, each
/// epoch of level 1 holding `EPOCH_SIZE` transitions and of level L `EPOCH_SIZE` epochs of
/// level L - 1. Yields the labels of the CONTEXT events.
#[derive(Default)]
struct Epochs {
    top_transitions: u64,
    top_closed: Vec<u64>,
    /// Open epochs, outermost first: (level, transitions or closed epochs in it).
    frames: Vec<(u32, u64)>,
}

impl Epochs {
    const SIZE: u64 = durable_fsm::executor::EPOCH_SIZE;

    /// The epochs opened for the next transition.
    fn open(&mut self) -> Vec<String> {
        let mut labels = Vec::new();
        loop {
            match self.frames.last_mut() {
                None if self.top_transitions < Self::SIZE => {
                    self.top_transitions += 1;
                    return labels;
                }
                None => {
                    let mut level = 1;
                    while self
                        .top_closed
                        .get(level - 1)
                        .is_some_and(|n| *n >= Self::SIZE)
                    {
                        level += 1;
                    }
                    self.top_closed.resize(self.top_closed.len().max(level), 0);
                    labels.push(format!("ContextStarted(epoch-L{level})"));
                    self.frames.push((level as u32, 0));
                }
                Some((1, n)) => {
                    *n += 1;
                    return labels;
                }
                Some((level, _)) => {
                    let level = *level - 1;
                    labels.push(format!("ContextStarted(epoch-L{level})"));
                    self.frames.push((level, 0));
                }
            }
        }
    }

    /// The epochs the last transition filled, closed.
    fn close_full(&mut self) -> Vec<String> {
        let mut labels = Vec::new();
        while let Some(&(level, n)) = self.frames.last() {
            if n < Self::SIZE {
                break;
            }
            labels.push(format!("ContextSucceeded(epoch-L{level})"));
            self.frames.pop();
            match self.frames.last_mut() {
                Some((_, closed)) => *closed += 1,
                None => self.top_closed[level as usize - 1] += 1,
            }
        }
        labels
    }
}

/// The histories a driver may produce for a workflow, the usual one first.
///
/// `durable-fsm serve` produces AWS's. The emulator's skip-time clock completes a timer as
/// soon as it is armed, and the emulator orders events by timestamp, so WaitSucceeded
/// normally lands before the InvocationCompleted of the invocation that started the wait
/// (spec/local-runner.md §8, "event order of fast completions"; AWS numbers it after,
/// history-and-conformance.md §1.3). Which comes first is a race between the emulator's timer
/// and the function's PENDING reply, so AWS's order is accepted from it too.
fn expected_histories(driver: Driver, workflow: &str, name: &str) -> Vec<Vec<String>> {
    let aws = aws_labels(workflow, name);
    match driver {
        Driver::Serve => vec![aws],
        Driver::DexLocalRunner => {
            let mut emulator = aws.clone();
            for i in 1..emulator.len() {
                if emulator[i].starts_with("WaitSucceeded")
                    && emulator[i - 1] == "InvocationCompleted"
                {
                    emulator.swap(i - 1, i);
                }
            }
            if emulator == aws {
                vec![aws]
            } else {
                vec![emulator, aws]
            }
        }
    }
}

/// `value[path…]`, or `Null`.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| &v[*key])
}

/// Checks one finished execution: status, result, event sequence and the members AWS
/// requires, with the emulator's deviations asserted as they are.
pub fn check(driver: Driver, run: &Finished) {
    let Finished {
        workflow,
        name,
        arn,
        execution,
        events,
    } = run;
    let context = || format!("{driver:?} {workflow} {arn}: {}", summary(events));
    assert_eq!(
        execution["Status"],
        "SUCCEEDED",
        "{}: {execution}",
        context()
    );
    let result: Value = serde_json::from_str(execution["Result"].as_str().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("{}: Result is not JSON: {e}", context()));
    assert_eq!(result, expected_result(workflow), "{}", context());

    let labels: Vec<String> = events.iter().map(event_label).collect();
    let expected = expected_histories(driver, workflow, name);
    match expected.iter().position(|e| *e == labels) {
        Some(0) => {}
        Some(_) => eprintln!(
            "interop: {driver:?} {workflow}: the emulator's timer lost the race this time: \
             WaitSucceeded after InvocationCompleted, as on AWS"
        ),
        None => {
            let usual = &expected[0];
            let first = labels
                .iter()
                .zip(usual)
                .position(|(a, b)| a != b)
                .unwrap_or(labels.len().min(usual.len()));
            panic!(
                "{}\nthe history differs from event {} on: got {:?}, expected {:?}",
                context(),
                first + 1,
                &labels[first..labels.len().min(first + 8)],
                &usual[first..usual.len().min(first + 8)],
            );
        }
    }
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event["EventId"],
            json!(i + 1),
            "{}: EventId of {event}",
            context()
        );
        let kind = event["EventType"].as_str().unwrap_or_default();
        if kind.starts_with("Step") {
            // Transitions, and the filler steps `paged-state` runs inside one.
            let sub_type = if event["Name"] == "filler" {
                "Step"
            } else {
                "Transition"
            };
            assert_eq!(event["SubType"], sub_type, "{}: {event}", context());
        }
        match (kind, driver) {
            ("InvocationCompleted", Driver::Serve) => {
                let details = &event["InvocationCompletedDetails"];
                for member in ["StartTimestamp", "EndTimestamp", "RequestId"] {
                    assert!(
                        !details[member].is_null(),
                        "{}: InvocationCompletedDetails.{member} missing in {event}",
                        context()
                    );
                }
                assert!(details["Error"].is_null(), "{}: {event}", context());
            }
            // Deviation: the emulator drops the details member when it renumbers events.
            ("InvocationCompleted", Driver::DexLocalRunner) => assert!(
                event.get("InvocationCompletedDetails").is_none(),
                "{}: the emulator now sends InvocationCompletedDetails: {event}",
                context()
            ),
            _ => {}
        }
    }
    check_details(driver, workflow, events, &context);
}

/// The workflow-specific members of the events.
fn check_details(driver: Driver, workflow: &str, events: &[Value], context: &dyn Fn() -> String) {
    let of =
        |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["EventType"] == kind).collect() };
    let succeeded = of("StepSucceeded");
    match driver {
        // AWS always sends RetryDetails with the attempt that succeeded.
        Driver::Serve => {
            let final_attempt = if workflow == "retries" { 3 } else { 1 };
            let last = succeeded.len() - 1;
            for (i, event) in succeeded.iter().enumerate() {
                let attempt = if i == last { final_attempt } else { 1 };
                assert_eq!(
                    at(
                        event,
                        &["StepSucceededDetails", "RetryDetails", "CurrentAttempt"]
                    ),
                    &json!(attempt),
                    "{}: {event}",
                    context()
                );
            }
        }
        // Deviation: the emulator sends no RetryDetails on a plain SUCCEED.
        Driver::DexLocalRunner => {
            for event in &succeeded {
                assert!(
                    at(event, &["StepSucceededDetails", "RetryDetails"]).is_null(),
                    "{}: the emulator now sends RetryDetails on StepSucceeded: {event}",
                    context()
                );
            }
        }
    }
    match workflow {
        "three-steps" => {
            let payload = at(succeeded[0], &["StepSucceededDetails", "Result", "Payload"]);
            assert_eq!(payload, r#"{"Second":6}"#, "{}", context());
        }
        "with-sleep" => {
            let started = of("WaitStarted");
            assert_eq!(
                at(started[0], &["WaitStartedDetails", "Duration"]),
                &json!(1),
                "{}: {}",
                context(),
                started[0]
            );
        }
        "with-callback" => {
            let started = of("CallbackStarted");
            let details = &started[0]["CallbackStartedDetails"];
            assert!(details["CallbackId"].is_string(), "{}", context());
            match driver {
                Driver::Serve => {
                    assert_eq!(details["Timeout"], json!(300), "{}: {details}", context());
                }
                // Deviation: the emulator builds CallbackStarted from the operation, without
                // the update's CallbackOptions, so Timeout/HeartbeatTimeout are missing.
                Driver::DexLocalRunner => assert!(
                    details.get("Timeout").is_none() && details.get("HeartbeatTimeout").is_none(),
                    "{}: the emulator now sends the callback timeouts: {details}",
                    context()
                ),
            }
            let done = of("CallbackSucceeded");
            assert_eq!(
                at(done[0], &["CallbackSucceededDetails", "Result", "Payload"]),
                CALLBACK_BODY,
                "{}: {}",
                context(),
                done[0]
            );
        }
        "retries" => {
            let failed = of("StepFailed");
            for (i, event) in failed.iter().enumerate() {
                let attempt = i + 1;
                let details = &event["StepFailedDetails"];
                assert_eq!(
                    details["RetryDetails"],
                    json!({ "CurrentAttempt": attempt, "NextAttemptDelaySeconds": 1 }),
                    "{}: {event}",
                    context()
                );
                assert_eq!(
                    details["Error"]["Payload"],
                    json!({
                        "ErrorType": "TransientFailure",
                        "ErrorMessage": format!("transient failure on attempt {attempt}"),
                    }),
                    "{}: {event}",
                    context()
                );
            }
        }
        "paged-state" => {
            let bytes: usize = succeeded
                .iter()
                .filter_map(|e| at(e, &["StepSucceededDetails", "Result", "Payload"]).as_str())
                .map(str::len)
                .sum();
            assert!(
                bytes > RUNNER_PAGE_BYTES,
                "{}: only {bytes} bytes of state: the invocation input could hold them all",
                context()
            );
        }
        _ => {}
    }
}
