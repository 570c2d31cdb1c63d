//! Text renderings for the terminal: execution lists and details, sized to a width.
//!
//! The renderings are plain text; the `paint_*` functions colour them afterwards when the
//! [`Output`] allows it, so a pipe or a file gets the same text without escape codes.

use super::color::Output;
use crate::display::cut;
use crate::display::style::{self, Color};
use crate::model::{Execution, GetDurableExecutionResponse, Timestamp};
use std::fmt::Write as _;

/// The width used when `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 120;
/// Narrower than this and the tables stop being readable; they are cut at this width instead.
const MIN_WIDTH: usize = 40;

/// The output width: `COLUMNS` when it is a number, else [`DEFAULT_WIDTH`].
pub fn terminal_width() -> usize {
    width_from(std::env::var("COLUMNS").ok().as_deref())
}

/// The width for a `COLUMNS` value.
pub fn width_from(columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .map_or(DEFAULT_WIDTH, |c| c.max(MIN_WIDTH))
}

/// An instant to the second, UTC: `2026-11-27T10:42:15Z`.
pub fn short_time(t: Timestamp) -> String {
    let full = t.to_rfc3339();
    match full.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => full,
    }
}

/// The function name in a function or execution ARN
/// (`arn:aws:lambda:r:a:function:NAME[:qualifier][/…]`); the input when it is not one.
pub fn function_name(arn: &str) -> &str {
    arn.split_once(":function:")
        .map(|(_, rest)| rest.split([':', '/']).next().unwrap_or(rest))
        .unwrap_or(arn)
}

/// Executions as a table: name, (function,) status, started, ended and the ARN, cut to `width`.
pub fn execution_table(executions: &[Execution], with_function: bool, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let col = |header: &str, values: &mut dyn Iterator<Item = usize>, max: usize| {
        values.max().unwrap_or(0).max(header.len()).min(max)
    };
    let w_name = col(
        "NAME",
        &mut executions
            .iter()
            .map(|e| e.durable_execution_name.chars().count()),
        36,
    );
    let w_fn = col(
        "FUNCTION",
        &mut executions
            .iter()
            .map(|e| function_name(&e.function_arn).chars().count()),
        24,
    );
    let w_status = col(
        "STATUS",
        &mut executions.iter().map(|e| e.status.as_str().len()),
        12,
    );
    let w_time = "2026-01-01T00:00:00Z".len();
    let mut out = String::new();
    let mut line = |name: &str, function: &str, status: &str, started: &str, ended: &str, arn| {
        let mut l = format!("{:<w_name$}  ", cut(name, w_name));
        if with_function {
            let _ = write!(l, "{:<w_fn$}  ", cut(function, w_fn));
        }
        let _ = write!(
            l,
            "{status:<w_status$}  {started:<w_time$}  {ended:<w_time$}  "
        );
        let room = width.saturating_sub(l.chars().count());
        l.push_str(&cut(arn, room.max(1)));
        out.push_str(cut(&l, width).trim_end());
        out.push('\n');
    };
    line("NAME", "FUNCTION", "STATUS", "STARTED", "ENDED", "ARN");
    for e in executions {
        line(
            &e.durable_execution_name,
            function_name(&e.function_arn),
            e.status.as_str(),
            &short_time(e.start_timestamp),
            &e.end_timestamp.map_or_else(|| "-".to_string(), short_time),
            &e.durable_execution_arn,
        );
    }
    out
}

/// One execution as `key  value` lines, each cut to `width`.
pub fn execution_details(e: &GetDurableExecutionResponse, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let mut rows: Vec<(&str, String)> = vec![
        ("name", e.durable_execution_name.clone()),
        ("status", e.status.as_str().to_string()),
        ("arn", e.durable_execution_arn.clone()),
        ("function", e.function_arn.clone()),
        ("started", e.start_timestamp.to_rfc3339()),
    ];
    if let Some(end) = e.end_timestamp {
        let took = crate::display::format_offset(end.since(e.start_timestamp));
        rows.push((
            "ended",
            format!("{} ({})", end.to_rfc3339(), took.trim_start_matches('+')),
        ));
    }
    if let Some(timeout) = e.expected_execution_timeout_timestamp {
        rows.push(("times out", timeout.to_rfc3339()));
    }
    if let Some(input) = &e.input_payload {
        rows.push(("input", input.clone()));
    }
    if let Some(result) = &e.result {
        rows.push(("result", result.clone()));
    }
    if let Some(error) = &e.error {
        rows.push(("error", error.to_string()));
        if let Some(data) = &error.error_data {
            rows.push(("error data", data.clone()));
        }
    }
    // Fixed, so the values line up the same way whichever rows an execution has.
    let w_key = "error data".len();
    let mut out = String::new();
    for (key, value) in rows {
        // Payloads may span lines; a table row may not.
        let value = value.replace(['\n', '\r'], " ");
        let line = format!("{key:<w_key$}  {value}");
        out.push_str(cut(&line, width).trim_end());
        out.push('\n');
    }
    out
}

/// The label of the status row of [`execution_details`], padded as it renders.
const STATUS_ROW: &str = "status      ";

/// Colours an [`execution_table`]: the header bold, each status in its colour.
pub fn paint_executions(table: &str, output: Output) -> String {
    if !output.color {
        return table.to_string();
    }
    style::paint_column(table, "STATUS", style::status_word_color)
}

/// Colours a [`history_table`](crate::display::history_table): the header bold, each event
/// type in its colour.
pub fn paint_history(table: &str, output: Output) -> String {
    if !output.color {
        return table.to_string();
    }
    style::paint_column(table, "event", style::event_word_color)
}

/// Colours [`execution_details`]: the status in its colour, the keys dim.
pub fn paint_details(text: &str, output: Output) -> String {
    if !output.color {
        return text.to_string();
    }
    let w_key = STATUS_ROW.len();
    text.split_inclusive('\n')
        .map(|line| {
            let line = if line.starts_with(STATUS_ROW) {
                style::paint_word_at(line, w_key, style::status_word_color)
            } else {
                line.to_string()
            };
            match line.split_at_checked(w_key) {
                Some((key, value)) if !key.trim().is_empty() => {
                    format!("{}{value}", style::paint(key, Color::Dim))
                }
                _ => line,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorObject, ExecutionStatus};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/\
                       durable-execution/order-42/7c1e5a7e-3f0a-4b51-9d1e-0c4f2e9d8a11";

    fn execution(name: &str, status: ExecutionStatus, ended: bool) -> Execution {
        Execution {
            durable_execution_arn: ARN.into(),
            durable_execution_name: name.into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST".into(),
            status,
            start_timestamp: Timestamp::from_secs(1_732_700_000),
            end_timestamp: ended.then(|| Timestamp::from_millis(1_732_700_007_500)),
            kms_key_arn: None,
        }
    }

    #[test]
    fn width_comes_from_columns() {
        assert_eq!(width_from(None), 120);
        assert_eq!(width_from(Some("80")), 80);
        assert_eq!(width_from(Some(" 200 ")), 200);
        assert_eq!(width_from(Some("10")), MIN_WIDTH);
        assert_eq!(width_from(Some("0")), 120);
        assert_eq!(width_from(Some("wide")), 120);
    }

    #[test]
    fn times_and_function_names() {
        assert_eq!(
            short_time(Timestamp::from_millis(1_732_700_007_500)),
            "2024-11-27T09:33:27Z"
        );
        assert_eq!(function_name(ARN), "orders");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:billing"),
            "billing"
        );
        assert_eq!(function_name("plain"), "plain");
    }

    #[test]
    fn execution_table_fits_the_width_and_cuts_the_arn() {
        let list = [
            execution("order-42", ExecutionStatus::Running, false),
            execution("order-41", ExecutionStatus::Succeeded, true),
        ];
        for width in [60, 100, 120, 300] {
            let table = execution_table(&list, false, width);
            let lines: Vec<&str> = table.lines().collect();
            assert_eq!(lines.len(), 3);
            assert!(lines.iter().all(|l| l.chars().count() <= width), "{table}");
            assert!(lines[0].starts_with("NAME"));
            assert!(lines[1].starts_with("order-42"));
        }
        for width in [100, 120, 300] {
            let table = execution_table(&list, false, width);
            let lines: Vec<&str> = table.lines().collect();
            assert!(lines[0].contains("STATUS") && lines[0].contains("ARN"));
            assert!(lines[1].contains("RUNNING") && lines[1].contains("arn:aws:lambda"));
            assert!(lines[2].contains("2024-11-27T09:33:27Z"));
        }
        assert!(execution_table(&list, false, 300).contains(ARN));
        let table = execution_table(&list, false, 120);
        let on = Output {
            color: true,
            tty: false,
        };
        let painted = paint_executions(&table, on);
        assert_eq!(style::strip(&painted), table);
        assert!(painted.contains("\x1b[33mRUNNING\x1b[0m"), "{painted:?}");
        assert!(painted.contains("\x1b[32mSUCCEEDED\x1b[0m"), "{painted:?}");
        assert_eq!(paint_executions(&table, Output::default()), table);
        assert!(execution_table(&list, false, 100).contains('…'));
        let with_fn = execution_table(&list, true, 160);
        assert!(
            with_fn
                .lines()
                .next()
                .unwrap_or_default()
                .contains("FUNCTION")
        );
        assert!(
            with_fn
                .lines()
                .nth(1)
                .unwrap_or_default()
                .contains("orders")
        );
    }

    #[test]
    fn details_show_result_or_error() {
        let mut e = GetDurableExecutionResponse {
            durable_execution_arn: ARN.into(),
            durable_execution_name: "order-42".into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST".into(),
            input_payload: Some("{\"orderId\":42}".into()),
            result: Some("{\"charged\":true}".into()),
            start_timestamp: Timestamp::from_secs(1_732_700_000),
            end_timestamp: Some(Timestamp::from_millis(1_732_700_007_500)),
            status: ExecutionStatus::Succeeded,
            ..Default::default()
        };
        let text = execution_details(&e, 120);
        assert!(text.contains("\nstatus      SUCCEEDED\n"), "{text}");
        assert!(
            text.contains("\nresult      {\"charged\":true}\n"),
            "{text}"
        );
        assert!(
            text.contains("\nended       2024-11-27T09:33:27.500Z (7.500s)\n"),
            "{text}"
        );
        let on = Output {
            color: true,
            tty: true,
        };
        let painted = paint_details(&text, on);
        assert_eq!(style::strip(&painted), text);
        assert!(
            painted.contains("\x1b[2mstatus      \x1b[0m\x1b[32mSUCCEEDED\x1b[0m\n"),
            "{painted:?}"
        );
        assert_eq!(paint_details(&text, Output::default()), text);
        e.result = None;
        e.status = ExecutionStatus::Failed;
        e.error = Some(ErrorObject::new("Rejected", "no\nway"));
        let text = execution_details(&e, 50);
        assert!(text.contains("\nerror       Rejected: no way\n"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 50), "{text}");
    }
}
