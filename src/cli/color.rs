//! Whether the output is coloured, and whether it may be redrawn in place.
//!
//! `--color auto` (the default) colours only a terminal, and never when `NO_COLOR` is set to
//! anything but the empty string (<https://no-color.org>) or `TERM` is `dumb`;
//! `--color always` and `--color never` decide regardless. Redrawing in place (the progress
//! line of `get --watch`) needs standard output to be a terminal, whatever `--color` says.

use crate::display::style::{Color, paint};
use clap::ValueEnum;
use std::ffi::OsStr;
use std::io::IsTerminal as _;

/// The values of `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// Colour when standard output is a terminal and NO_COLOR is not set
    #[default]
    Auto,
    /// Always colour, even in a pipe or a file
    Always,
    /// Never colour
    Never,
}

/// What the output may do: colour, and redraw a line in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// Write ANSI colour codes.
    pub color: bool,
    /// Standard output is a terminal: a progress line may be redrawn in place.
    pub tty: bool,
}

impl Output {
    /// The output for `mode`, from the process's environment and standard output.
    pub fn detect(mode: ColorMode) -> Output {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR");
        let term = std::env::var_os("TERM");
        Output {
            color: color_enabled(mode, no_color.as_deref(), term.as_deref(), tty),
            tty,
        }
    }

    /// `text` in `color` when colouring, else as it is.
    pub fn paint(&self, text: &str, color: Option<Color>) -> String {
        match color {
            Some(color) if self.color => paint(text, color),
            _ => text.to_string(),
        }
    }
}

/// Whether to colour: `Always` and `Never` decide; `Auto` colours a terminal unless
/// `NO_COLOR` is set and not empty, or `TERM` is `dumb`.
pub fn color_enabled(
    mode: ColorMode,
    no_color: Option<&OsStr>,
    term: Option<&OsStr>,
    is_tty: bool,
) -> bool {
    match mode {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto => {
            let no_color = no_color.is_some_and(|v| !v.is_empty());
            let dumb = term.is_some_and(|t| t == "dumb");
            is_tty && !no_color && !dumb
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn auto_colours_a_terminal_without_no_color() {
        assert!(color_enabled(ColorMode::Auto, None, os("xterm"), true));
        assert!(!color_enabled(ColorMode::Auto, None, os("xterm"), false));
        assert!(!color_enabled(ColorMode::Auto, os("1"), os("xterm"), true));
        assert!(!color_enabled(ColorMode::Auto, os("0"), None, true));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(color_enabled(ColorMode::Auto, os(""), None, true));
        assert!(!color_enabled(ColorMode::Auto, None, os("dumb"), true));
    }

    #[test]
    fn always_and_never_decide_alone() {
        assert!(color_enabled(ColorMode::Always, os("1"), os("dumb"), false));
        assert!(!color_enabled(ColorMode::Never, None, os("xterm"), true));
    }

    #[test]
    fn paint_only_when_colouring() {
        let on = Output {
            color: true,
            tty: false,
        };
        assert_eq!(on.paint("ok", Some(Color::Green)), "\x1b[32mok\x1b[0m");
        assert_eq!(on.paint("ok", None), "ok");
        assert_eq!(Output::default().paint("ok", Some(Color::Green)), "ok");
    }
}
