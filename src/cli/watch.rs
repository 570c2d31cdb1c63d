//! `get --watch`: follows a durable execution until it ends.
//!
//! Every `--interval` it reads the execution (GetDurableExecution) and its whole history, and
//! shows one progress line: the status, the current state (the newest transition's, as
//! [`Trace`] reads it), how many transitions ran, the open callbacks and timers, and the time
//! since the execution started. On a terminal the line is redrawn in place; in a pipe or a
//! file a line is written only when something but the time changed. The command exits 0 when
//! the execution SUCCEEDED and 1 when it ended otherwise.

use super::args::GetArgs;
use super::client::{Client, one_line};
use super::color::Output;
use super::format::terminal_width;
use super::{CliError, emit};
use crate::api::DurableApi;
use crate::display::cut;
use crate::display::style::status_color;
use crate::display::trace::Trace;
use crate::model::{
    Event, EventType, ExecutionStatus, GetDurableExecutionResponse, RetryDetails, Timestamp,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Erases the terminal line and returns to its start, for a redraw in place.
const REDRAW: &str = "\r\x1b[2K";
/// The longest state name shown; longer ones are cut.
const MAX_STATE: usize = 40;

/// Where an execution is, as the progress line shows it (the time aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The execution's status.
    pub status: ExecutionStatus,
    /// The current state: the newest transition's, `None` before the first one.
    pub state: Option<String>,
    /// Transitions that ran to an outcome (retries and polls included).
    pub transitions: u64,
    /// Callbacks started and not yet completed, failed or timed out.
    pub callbacks: usize,
    /// Timers running: durable sleeps (WAIT) and retry or poll delays of steps.
    pub timers: usize,
}

impl Progress {
    /// Reads the progress from the execution and its history (oldest first, every page).
    pub fn read(exec: &GetDurableExecutionResponse, events: &[Event]) -> Progress {
        let trace = Trace::from_events(events);
        // The newest event of each operation says whether it is still open.
        let mut newest: BTreeMap<&str, &Event> = BTreeMap::new();
        for e in events {
            if let Some(id) = e.id.as_deref() {
                newest.insert(id, e);
            }
        }
        let delayed =
            |r: Option<&RetryDetails>| r.is_some_and(|r| r.next_attempt_delay_seconds.is_some());
        let mut callbacks = 0;
        let mut timers = 0;
        for e in newest.values() {
            match e.event_type {
                EventType::CallbackStarted => callbacks += 1,
                EventType::WaitStarted => timers += 1,
                EventType::StepFailed
                    if delayed(
                        e.step_failed_details
                            .as_ref()
                            .and_then(|d| d.retry_details.as_ref()),
                    ) =>
                {
                    timers += 1
                }
                EventType::StepSucceeded
                    if delayed(
                        e.step_succeeded_details
                            .as_ref()
                            .and_then(|d| d.retry_details.as_ref()),
                    ) =>
                {
                    timers += 1
                }
                _ => {}
            }
        }
        Progress {
            status: exec.status,
            state: trace.current,
            transitions: trace.edges.iter().map(|c| c.count).sum(),
            callbacks,
            timers,
        }
    }

    /// The progress line (no newline): status, state, counts and `elapsed`, coloured per
    /// `output`.
    pub fn line(&self, elapsed: Duration, output: Output) -> String {
        let status = self.status.as_str();
        let padded = format!("{status:<9}");
        let painted = output.paint(status, status_color(&self.status));
        let state = self
            .state
            .as_deref()
            .map_or_else(|| "-".to_string(), |s| cut(s, MAX_STATE));
        format!(
            "{}  state {state}  transitions {}  callbacks {}  timers {}  elapsed {}",
            padded.replacen(status, &painted, 1),
            self.transitions,
            self.callbacks,
            self.timers,
            short_duration(elapsed)
        )
    }
}

/// `4.2s`, `3m05s`, `2h03m`, `1d02h`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{:02}h", s / 86_400, (s / 3600) % 24),
    }
}

/// The time the execution has run: to its end, or to now while it runs.
fn elapsed(exec: &GetDurableExecutionResponse) -> Duration {
    exec.end_timestamp
        .unwrap_or_else(Timestamp::now)
        .since(exec.start_timestamp)
}

/// `get --watch`.
pub async fn watch(args: GetArgs, output: Output) -> Result<(), CliError> {
    let client = Client::connect(&args.client).await?;
    let show = !args.client.json;
    let mut last: Option<Progress> = None;
    let exec = loop {
        // The execution first, then the history: the history is at least as new.
        let exec = client
            .api
            .get_execution(&args.arn, true)
            .await
            .map_err(|e| client.fail(e))?;
        let events = super::graph::history(&client, &args.arn).await?;
        let progress = Progress::read(&exec, &events);
        if show {
            let line = progress.line(elapsed(&exec), output);
            if output.tty {
                // One line, never wrapped: a wrapped line cannot be redrawn in place.
                let width = terminal_width().saturating_sub(1);
                let plain = crate::display::style::strip(&line);
                let line = if plain.chars().count() > width {
                    cut(&plain, width)
                } else {
                    line
                };
                emit(&format!("{REDRAW}{line}"))?;
            } else if last.as_ref() != Some(&progress) {
                emit(&format!("{line}\n"))?;
            }
        }
        if exec.status != ExecutionStatus::Running {
            break exec;
        }
        last = Some(progress);
        tokio::time::sleep(args.interval).await;
    };
    if args.client.json {
        let text = serde_json::to_string_pretty(&exec)
            .map_err(|e| CliError::Failed(format!("cannot encode the response as JSON: {e}")))?;
        emit(&format!("{text}\n"))?;
    } else if output.tty {
        emit("\n")?;
    }
    ended(&exec, show)
}

/// The end of a watch: the result of a SUCCEEDED execution (printed unless `quiet`), an error
/// naming the status and the error of any other.
fn ended(exec: &GetDurableExecutionResponse, show: bool) -> Result<(), CliError> {
    if exec.status == ExecutionStatus::Succeeded {
        if show {
            let result = exec.result.as_deref().map_or(String::new(), one_line);
            emit(&format!("result {result}\n"))?;
        }
        return Ok(());
    }
    let why = exec
        .error
        .as_ref()
        .map(|e| format!(": {}", one_line(&e.to_string())))
        .unwrap_or_default();
    Err(CliError::Failed(format!(
        "the execution ended {}{why}",
        exec.status.as_str()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::trace::tests::History;
    use crate::model::ErrorObject;

    fn exec(status: ExecutionStatus) -> GetDurableExecutionResponse {
        GetDurableExecutionResponse {
            status,
            start_timestamp: Timestamp::from_secs(1_700_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn progress_counts_transitions_callbacks_and_timers() {
        let events = History::new()
            .ok("Ask", r#"{"Waiting":{}}"#, None)
            .sleep("Waiting", r#"{"Charge":{}}"#)
            .events;
        let p = Progress::read(&exec(ExecutionStatus::Running), &events);
        assert_eq!(p.state.as_deref(), Some("Charge"));
        assert_eq!(p.transitions, 2);
        assert_eq!((p.callbacks, p.timers), (0, 1));
        let line = p.line(Duration::from_millis(4200), Output::default());
        assert_eq!(
            line,
            "RUNNING    state Charge  transitions 2  callbacks 0  timers 1  elapsed 4.2s"
        );
        let coloured = p.line(
            Duration::from_secs(65),
            Output {
                color: true,
                tty: true,
            },
        );
        assert!(
            coloured.starts_with("\x1b[33mRUNNING\x1b[0m    state Charge"),
            "{coloured:?}"
        );
        assert!(coloured.ends_with("elapsed 1m05s"), "{coloured:?}");
        let retried = History::new().err("Charge", Some(5)).events;
        let p = Progress::read(&exec(ExecutionStatus::Running), &retried);
        assert_eq!((p.state.as_deref(), p.timers), (Some("Charge"), 1));
        let empty = Progress::read(&exec(ExecutionStatus::Running), &[]);
        assert_eq!(
            empty.line(Duration::ZERO, Output::default()),
            "RUNNING    state -  transitions 0  callbacks 0  timers 0  elapsed 0.0s"
        );
    }

    #[test]
    fn open_callbacks_close_when_completed() {
        let mut started = Event::new(EventType::CallbackStarted, 1, Timestamp::EPOCH);
        started.id = Some("cb".into());
        let p = Progress::read(&exec(ExecutionStatus::Running), &[started.clone()]);
        assert_eq!(p.callbacks, 1);
        let mut done = Event::new(EventType::CallbackSucceeded, 2, Timestamp::EPOCH);
        done.id = Some("cb".into());
        let p = Progress::read(&exec(ExecutionStatus::Running), &[started, done]);
        assert_eq!(p.callbacks, 0);
    }

    #[test]
    fn only_success_ends_well() {
        let mut ok = exec(ExecutionStatus::Succeeded);
        ok.result = Some("{\"paid\":\ntrue}".into());
        assert!(ended(&ok, false).is_ok());
        let mut failed = exec(ExecutionStatus::Failed);
        failed.error = Some(ErrorObject::new("Rejected", "no"));
        let err = ended(&failed, false).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("the execution ended FAILED: Rejected: no")
        );
        let err = ended(&exec(ExecutionStatus::TimedOut), false).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("the execution ended TIMED_OUT")
        );
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_millis(4250)), "4.2s");
        assert_eq!(short_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(short_duration(Duration::from_secs(7380)), "2h03m");
        assert_eq!(short_duration(Duration::from_secs(93_600)), "1d02h");
    }
}
