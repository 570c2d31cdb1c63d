//! The `durable-fsm` command-line tool: `serve` runs the local durable service; `start`, `get`,
//! `history`, `graph`, `list`, `callback` and `stop` operate durable executions on it or on AWS;
//! `completions` prints a shell completion script.
//!
//! A transport only: commands parse their arguments, call [`DurableApi`](crate::DurableApi)
//! (through [`AwsDurableApi`](crate::aws::AwsDurableApi), against `--endpoint` or AWS) or start
//! the service, and print. Output is text sized to `COLUMNS` (default 120), or the AWS
//! response shape as JSON with `--json`. Statuses and events are coloured on a terminal unless
//! `NO_COLOR` is set (`--color auto|always|never` decides otherwise); in a pipe or a file the
//! output has no escape codes. Every failure is one line on stderr,
//! `durable-fsm: error: <what>`, and exit status 1 (2 for bad usage or input).
//!
//! ```no_run
//! // src/bin/durable-fsm.rs
//! fn main() -> std::process::ExitCode {
//!     durable_fsm::cli::main()
//! }
//! ```

mod args;
mod client;
mod color;
mod commands;
mod completions;
mod format;
mod graph;
mod serve;
mod watch;

use crate::api::ApiError;
use args::{Cli, Command};
use clap::Parser;
use clap::error::ErrorKind;
use color::Output;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// Exit status of a failed command.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status of bad usage: unknown options, missing arguments, unreadable input.
pub const EXIT_USAGE: u8 = 2;

/// Runs the tool on the process's arguments.
pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Runs the tool on `args` (the first one is the program name) and returns the exit status.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let output = Output::detect(cli.color);
    if let Command::Completions(args) = &cli.command {
        return match completions::completions(args.shell) {
            Ok(()) => 0,
            Err(e) => {
                note(&format!("durable-fsm: error: {e}"));
                e.exit_code()
            }
        };
    }
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            note(&format!(
                "durable-fsm: error: cannot start the Tokio runtime: {e}"
            ));
            return EXIT_FAILURE;
        }
    };
    let result = runtime.block_on(execute(cli.command, output));
    // Idle HTTP connections and a blocked stdin read must not hold the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => 0,
        Err(e) => {
            note(&format!("durable-fsm: error: {e}"));
            e.exit_code()
        }
    }
}

async fn execute(command: Command, output: Output) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Start(args) => commands::start(args).await,
        Command::Get(args) if args.watch => watch::watch(args, output).await,
        Command::Get(args) => commands::get(args, output).await,
        Command::History(args) => commands::history(args, output).await,
        Command::Graph(args) => graph::graph(args).await,
        Command::List(args) => commands::list(args, output).await,
        Command::Callback(cmd) => commands::callback(cmd).await,
        Command::Stop(args) => commands::stop(args).await,
        Command::Completions(args) => completions::completions(args.shell),
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// Bad arguments or input: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The durable API answered with an error.
    #[error("{}", api_error_text(.0))]
    Api(ApiError),
    /// The endpoint could not be reached.
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// The endpoint URL, or AWS and its region.
        target: String,
        /// Connection refused, timed out, ...
        reason: String,
    },
    /// Anything else (files, the store, the server).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit status for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

/// `Code: message` on one line; just the code when there is no message.
fn api_error_text(e: &ApiError) -> String {
    let message = client::one_line(&e.message);
    if message.is_empty() {
        e.code.as_str().to_string()
    } else {
        format!("{}: {message}", e.code.as_str())
    }
}

/// Writes `text` to stdout. A closed pipe (`durable-fsm list | head -1`) is not an error.
pub(crate) fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Failed(format!("cannot write the output: {e}"))),
    }
}

/// Writes one line to stderr, ignoring failure (there is nowhere left to report it).
pub(crate) fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Prints a clap error and returns its exit status: help and version go to stdout with 0;
/// everything else is one `durable-fsm: error:` line on stderr with [`EXIT_USAGE`].
fn usage_error(e: &clap::Error) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = emit(&e.render().to_string());
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(std::io::stderr().lock(), "{}", e.render());
            EXIT_USAGE
        }
        _ => {
            note(&format!(
                "durable-fsm: error: {}",
                one_line_usage(&e.render().to_string())
            ));
            EXIT_USAGE
        }
    }
}

/// clap's multi-line error as one line: the message (tips included) and where to get help.
fn one_line_usage(rendered: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut command = None;
    for line in rendered.lines().map(str::trim) {
        if let Some(usage) = line.strip_prefix("Usage:") {
            let words: Vec<&str> = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            command = Some(words.join(" "));
        } else if !line.is_empty() && !line.starts_with("For more information") {
            parts.push(line.strip_prefix("error:").map_or(line, str::trim_start));
        }
    }
    let mut text = parts.join(" ");
    if let Some(command) = command.filter(|c| !c.is_empty()) {
        text.push_str(&format!(" (see '{command} --help')"));
    }
    text
}

/// Logs to stderr, plain, at `warn` unless `RUST_LOG` says otherwise.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    // aws_config warns about every credential and region source it tries (IMDS off an EC2
    // host, say); the error a command ends with says what matters.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,aws_config=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn render(args: &[&str]) -> String {
        let err = Cli::command()
            .try_get_matches_from(std::iter::once("durable-fsm").chain(args.iter().copied()))
            .err()
            .map(|e| e.render().to_string())
            .unwrap_or_default();
        one_line_usage(&err)
    }

    #[test]
    fn usage_errors_fit_on_one_line() {
        let text = render(&["get"]);
        assert_eq!(
            text,
            "the following required arguments were not provided: <ARN> \
             (see 'durable-fsm get --help')"
        );
        let text = render(&["callback", "succeed", "id", "--bogus"]);
        assert!(
            text.starts_with("unexpected argument '--bogus' found"),
            "{text}"
        );
        assert!(
            text.ends_with("(see 'durable-fsm callback succeed --help')"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let text = render(&["lsit"]);
        assert!(text.contains("unrecognized subcommand 'lsit'"), "{text}");
    }

    #[test]
    fn api_errors_read_as_code_and_message() {
        let e = CliError::Api(ApiError::not_found("Durable execution not found:\n arn"));
        assert_eq!(
            e.to_string(),
            "ResourceNotFoundException: Durable execution not found: arn"
        );
        let e = CliError::Api(ApiError::new(crate::api::ErrorCode::Service, ""));
        assert_eq!(e.to_string(), "ServiceException");
        assert_eq!(CliError::Usage("x".into()).exit_code(), EXIT_USAGE);
        assert_eq!(CliError::Failed("x".into()).exit_code(), EXIT_FAILURE);
    }
}
