//! Terminal colours: ANSI SGR codes for statuses and event types, painted onto the plain
//! renderings of this module after they are laid out, so widths and cuts stay those of the
//! plain text.
//!
//! Whether to colour at all (a terminal, `NO_COLOR`, `--color`) is the caller's decision; the
//! functions here colour unconditionally.

use crate::model::{EventType, ExecutionStatus};

/// A colour or emphasis, as one ANSI SGR code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Color {
    /// Bold (headers).
    Bold,
    /// Dim (secondary text).
    Dim,
    /// Red: failed, timed out.
    Red,
    /// Green: succeeded.
    Green,
    /// Yellow: running.
    Yellow,
    /// Magenta: stopped, cancelled.
    Magenta,
    /// Cyan: started.
    Cyan,
}

/// Ends every painted span: back to the terminal's default rendition.
pub const RESET: &str = "\x1b[0m";

impl Color {
    /// The SGR escape sequence that starts this colour.
    pub fn code(self) -> &'static str {
        match self {
            Color::Bold => "\x1b[1m",
            Color::Dim => "\x1b[2m",
            Color::Red => "\x1b[31m",
            Color::Green => "\x1b[32m",
            Color::Yellow => "\x1b[33m",
            Color::Magenta => "\x1b[35m",
            Color::Cyan => "\x1b[36m",
        }
    }
}

/// `text` in `color`, reset after it.
pub fn paint(text: &str, color: Color) -> String {
    format!("{}{text}{RESET}", color.code())
}

/// The colour of an execution status: SUCCEEDED green, FAILED and TIMED_OUT red, RUNNING
/// yellow, STOPPED magenta.
pub fn status_color(status: &ExecutionStatus) -> Option<Color> {
    status_word_color(status.as_str())
}

/// The colour of a status as printed (`SUCCEEDED`, `RUNNING`, …); `None` for other words.
pub fn status_word_color(word: &str) -> Option<Color> {
    match word {
        "SUCCEEDED" => Some(Color::Green),
        "FAILED" | "TIMED_OUT" => Some(Color::Red),
        "RUNNING" => Some(Color::Yellow),
        "STOPPED" => Some(Color::Magenta),
        _ => None,
    }
}

/// The colour of a history event type: successes green, failures and timeouts red, stops and
/// cancellations magenta, starts cyan.
pub fn event_color(event_type: &EventType) -> Option<Color> {
    event_word_color(event_type.as_str())
}

/// The colour of an event type as printed (`StepSucceeded`, …); `None` for other words.
pub fn event_word_color(word: &str) -> Option<Color> {
    if word.ends_with("Succeeded") {
        Some(Color::Green)
    } else if word.ends_with("Failed") || word.ends_with("TimedOut") {
        Some(Color::Red)
    } else if word.ends_with("Stopped") || word.ends_with("Cancelled") {
        Some(Color::Magenta)
    } else if word.ends_with("Started") {
        Some(Color::Cyan)
    } else {
        None
    }
}

/// Paints a table laid out by this module: its first line (the header) bold, and in every
/// other line the word that starts in the column headed `header`, coloured by `pick`.
///
/// Columns are found by where `header` starts in the first line, counted in characters, as
/// the tables pad them; a row too short to reach the column is left as it is.
pub fn paint_column(table: &str, header: &str, pick: impl Fn(&str) -> Option<Color>) -> String {
    let mut lines = table.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return String::new();
    };
    let column = first.find(header).map(|byte| first[..byte].chars().count());
    let mut out = String::with_capacity(table.len() + 64);
    let (head, newline) = split_newline(first);
    out.push_str(&paint(head, Color::Bold));
    out.push_str(newline);
    for line in lines {
        match column {
            Some(column) => out.push_str(&paint_word_at(line, column, &pick)),
            None => out.push_str(line),
        }
    }
    out
}

/// `line` with the word starting at character `column` painted by `pick`.
pub fn paint_word_at(line: &str, column: usize, pick: impl Fn(&str) -> Option<Color>) -> String {
    let Some((start, _)) = line.char_indices().nth(column) else {
        return line.to_string();
    };
    let rest = &line[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let word = &rest[..end];
    match pick(word) {
        Some(color) if !word.is_empty() => {
            format!("{}{}{}", &line[..start], paint(word, color), &rest[end..])
        }
        _ => line.to_string(),
    }
}

/// Removes ANSI escape sequences (CSI: `ESC [ … final byte`) from `text`.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn split_newline(line: &str) -> (&str, &str) {
    match line.strip_suffix('\n') {
        Some(head) => (head, "\n"),
        None => (line, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_events_have_their_colours() {
        assert_eq!(
            status_color(&ExecutionStatus::Succeeded),
            Some(Color::Green)
        );
        assert_eq!(status_color(&ExecutionStatus::Failed), Some(Color::Red));
        assert_eq!(status_color(&ExecutionStatus::TimedOut), Some(Color::Red));
        assert_eq!(status_color(&ExecutionStatus::Running), Some(Color::Yellow));
        assert_eq!(
            status_color(&ExecutionStatus::Stopped),
            Some(Color::Magenta)
        );
        assert_eq!(status_word_color("STATUS"), None);
        assert_eq!(event_color(&EventType::StepSucceeded), Some(Color::Green));
        assert_eq!(event_color(&EventType::CallbackTimedOut), Some(Color::Red));
        assert_eq!(event_color(&EventType::WaitCancelled), Some(Color::Magenta));
        assert_eq!(event_color(&EventType::ExecutionStarted), Some(Color::Cyan));
        assert_eq!(event_color(&EventType::InvocationCompleted), None);
    }

    #[test]
    fn painting_a_column_keeps_the_plain_text() {
        let table = "NAME      STATUS     ARN\n\
                     order-1   RUNNING    arn:1\n\
                     order-2   FAILED     arn:2\n\
                     order-3   ?          arn:3\n\
                     short\n";
        let painted = paint_column(table, "STATUS", status_word_color);
        assert_eq!(strip(&painted), table);
        let lines: Vec<&str> = painted.lines().collect();
        assert_eq!(lines[0], "\x1b[1mNAME      STATUS     ARN\x1b[0m");
        assert_eq!(lines[1], "order-1   \x1b[33mRUNNING\x1b[0m    arn:1");
        assert_eq!(lines[2], "order-2   \x1b[31mFAILED\x1b[0m     arn:2");
        assert_eq!(lines[3], "order-3   ?          arn:3");
        assert_eq!(lines[4], "short");
        // Multi-byte characters before the column count as one column each.
        let table = "NAME  STATUS\nné…   SUCCEEDED\n";
        let painted = paint_column(table, "STATUS", status_word_color);
        assert!(
            painted.contains("né…   \x1b[32mSUCCEEDED\x1b[0m"),
            "{painted:?}"
        );
        assert_eq!(paint_column("", "STATUS", status_word_color), "");
    }

    #[test]
    fn strip_removes_only_escape_sequences() {
        assert_eq!(strip(&paint("ok", Color::Green)), "ok");
        assert_eq!(strip("\x1b[2K\rline [1] x"), "\rline [1] x");
        assert_eq!(strip("plain"), "plain");
    }
}
