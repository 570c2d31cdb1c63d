//! Human-readable renderings of executions: the history as a table; workflow graphs and
//! execution paths as Mermaid and Graphviz DOT ([`graph`], [`trace`]); terminal colours
//! ([`style`]).

pub mod graph;
pub mod style;
pub mod trace;

use crate::model::*;

/// Renders history events as a fixed-width table, one line per event, no wider than `width`
/// columns (payloads are cut with `…`).
pub fn history_table(events: &[Event], width: usize) -> String {
    let start = events.first().map(|e| e.event_timestamp);
    let mut rows: Vec<[String; 4]> = Vec::with_capacity(events.len());
    for e in events {
        let offset = start
            .map(|s| format_offset(e.event_timestamp.since(s)))
            .unwrap_or_default();
        let name = match (&e.name, &e.sub_type) {
            (Some(n), Some(t)) => format!("{n} ({t})"),
            (Some(n), None) => n.clone(),
            (None, Some(t)) => format!("({t})"),
            (None, None) => String::new(),
        };
        rows.push([
            e.event_id.to_string(),
            offset,
            e.event_type.as_str().to_string(),
            name + "\u{0}" + &event_detail(e),
        ]);
    }
    let w_id = rows.iter().map(|r| r[0].len()).max().unwrap_or(1).max(1);
    let w_t = rows.iter().map(|r| r[1].len()).max().unwrap_or(4).max(4);
    let w_ev = rows.iter().map(|r| r[2].len()).max().unwrap_or(5).max(5);
    let w_name = rows
        .iter()
        .map(|r| r[3].split('\u{0}').next().map_or(0, |n| n.chars().count()))
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    let mut out = format!(
        "{:>w_id$}  {:>w_t$}  {:<w_ev$}  {:<w_name$}  {}\n",
        "#", "time", "event", "name", "detail"
    );
    for [id, t, ev, rest] in rows {
        let (name, detail) = rest.split_once('\u{0}').unwrap_or((&rest, ""));
        let name = cut(name, w_name);
        let line = format!("{id:>w_id$}  {t:>w_t$}  {ev:<w_ev$}  {name:<w_name$}  {detail}");
        out.push_str(cut(&line, width).trim_end());
        out.push('\n');
    }
    out
}

/// The most telling detail of an event: its result, error, timer or callback.
pub fn event_detail(e: &Event) -> String {
    let payload = |p: &Option<EventPayload>| {
        p.as_ref()
            .and_then(|p| p.payload.clone())
            .unwrap_or_default()
    };
    let error = |p: &Option<EventError>| {
        p.as_ref()
            .and_then(|p| p.payload.as_ref())
            .map(|e| format!("error {e}"))
            .unwrap_or_default()
    };
    let attempt = |r: &Option<RetryDetails>| match r {
        Some(RetryDetails {
            current_attempt: Some(a),
            next_attempt_delay_seconds: Some(d),
        }) => {
            format!(" [attempt {a}, retry in {d}s]")
        }
        Some(RetryDetails {
            current_attempt: Some(a),
            ..
        }) if *a > 1 => format!(" [attempt {a}]"),
        _ => String::new(),
    };
    if let Some(d) = &e.execution_started_details {
        return format!("input {}", payload(&d.input));
    }
    if let Some(d) = &e.execution_succeeded_details {
        return format!("result {}", payload(&d.result));
    }
    if let Some(d) = [
        &e.execution_failed_details,
        &e.execution_timed_out_details,
        &e.execution_stopped_details,
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return error(&d.error);
    }
    if let Some(d) = &e.step_succeeded_details {
        return format!("{}{}", payload(&d.result), attempt(&d.retry_details));
    }
    if let Some(d) = &e.step_failed_details {
        return format!("{}{}", error(&d.error), attempt(&d.retry_details));
    }
    if let Some(d) = &e.wait_started_details {
        return format!("{}s", d.duration.unwrap_or_default());
    }
    if let Some(d) = &e.callback_started_details {
        let mut s = format!("callback {}", d.callback_id.as_deref().unwrap_or_default());
        if let Some(t) = d.timeout.filter(|t| *t > 0) {
            s.push_str(&format!(", timeout {t}s"));
        }
        return s;
    }
    if let Some(d) = [
        &e.context_succeeded_details,
        &e.callback_succeeded_details,
        &e.chained_invoke_succeeded_details,
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return payload(&d.result);
    }
    if let Some(d) = [
        &e.context_failed_details,
        &e.callback_failed_details,
        &e.callback_timed_out_details,
        &e.chained_invoke_failed_details,
        &e.chained_invoke_timed_out_details,
        &e.chained_invoke_stopped_details,
        &e.wait_cancelled_details,
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return error(&d.error);
    }
    if let Some(d) = &e.chained_invoke_started_details {
        return format!("→ {}", d.function_name.as_deref().unwrap_or_default());
    }
    if let Some(d) = &e.invocation_completed_details {
        let took = match (d.start_timestamp, d.end_timestamp) {
            (Some(s), Some(t)) => format!("{:.1} ms", t.since(s).as_secs_f64() * 1000.0),
            _ => String::new(),
        };
        return match error(&d.error) {
            err if err.is_empty() => took,
            err => format!("{took} {err}"),
        };
    }
    String::new()
}

/// `+1.234s`, `+2m03s`, `+5h02m`, `+3d04h`.
pub fn format_offset(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("+{:.3}s", d.as_secs_f64()),
        60..3600 => format!("+{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("+{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("+{}d{:02}h", s / 86_400, (s / 3600) % 24),
    }
}

/// Cuts `s` to at most `width` characters, ending with `…` when cut.
pub fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn offsets_and_cuts() {
        assert_eq!(format_offset(Duration::from_millis(1234)), "+1.234s");
        assert_eq!(format_offset(Duration::from_secs(123)), "+2m03s");
        assert_eq!(format_offset(Duration::from_secs(5 * 3600 + 120)), "+5h02m");
        assert_eq!(
            format_offset(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "+3d04h"
        );
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }

    #[test]
    fn table_lists_every_event_within_the_width() {
        let t0 = Timestamp::from_secs(1_700_000_000);
        let mut started = Event::new(EventType::ExecutionStarted, 1, t0);
        started.execution_started_details = Some(ExecutionStartedDetails {
            input: Some(EventPayload::full("{\"amount\":120}")),
            execution_timeout: Some(60),
        });
        let mut step = Event::new(
            EventType::StepSucceeded,
            2,
            t0.add(Duration::from_millis(5)),
        );
        step.name = Some("Submitted".into());
        step.sub_type = Some("Transition".into());
        step.step_succeeded_details = Some(StepSucceededDetails {
            result: Some(EventPayload::full(
                "{\"AwaitingManager\":{\"very\":\"long\"}}".repeat(10),
            )),
            retry_details: Some(RetryDetails {
                current_attempt: Some(1),
                next_attempt_delay_seconds: None,
            }),
        });
        let table = history_table(&[started, step], 80);
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("ExecutionStarted") && lines[1].contains("{\"amount\":120}"));
        assert!(lines[2].contains("Submitted (Transition)") && lines[2].ends_with('…'));
        assert!(lines.iter().all(|l| l.chars().count() <= 80));
    }
}
