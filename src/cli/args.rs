//! The command line: clap definitions of every command and its options.

use super::color::ColorMode;
use crate::model::ExecutionStatus;
use clap::{Args, ColorChoice, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Where client commands go unless told otherwise: `durable-fsm serve`'s default address.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:5000";
/// `serve`'s default listening address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";
/// `serve`'s default database file.
pub const DEFAULT_DB: &str = "./durable-fsm.db";

const AFTER_HELP: &str = "\
Examples:
  durable-fsm serve --lambda-endpoint http://127.0.0.1:9000   # with `cargo lambda watch`
  durable-fsm start orders --input '{\"orderId\":42}'
  durable-fsm list orders --status RUNNING
  durable-fsm history <ARN>
  durable-fsm graph <ARN> --format dot | dot -Tsvg > path.svg
  durable-fsm callback succeed <CALLBACK_ID> '{\"approved\":true}'
  durable-fsm get <ARN> --watch                                # follow it until it ends
  durable-fsm get <ARN> --aws                                  # against AWS itself
  durable-fsm completions bash > ~/.local/share/bash-completion/completions/durable-fsm

Client commands talk to http://127.0.0.1:5000 unless --endpoint, DURABLE_FSM_ENDPOINT or --aws
says otherwise. Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=info) to see more. Colours
appear on a terminal only, never with NO_COLOR set; --color always|never decides instead.";

/// `durable-fsm`: run the local durable service, or operate durable executions on it or on AWS.
#[derive(Debug, Parser)]
#[command(
    name = "durable-fsm",
    version,
    about = "Run AWS Lambda durable functions locally, and operate durable executions",
    long_about = "Run AWS Lambda durable functions locally, and operate durable executions.\n\n\
        `durable-fsm serve` is a local service speaking the Lambda durable execution API \
        (AWS CLI, boto3 and the AWS SDKs work against it); the other commands start, inspect, \
        call back and stop durable executions on that service or, with --aws, on AWS.",
    after_help = AFTER_HELP,
    color = ColorChoice::Never,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// When to colour the output
    ///
    /// auto: on a terminal, unless NO_COLOR is set (to anything but "")
    /// or TERM is dumb.
    #[arg(
        verbatim_doc_comment,
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorMode::Auto
    )]
    pub color: ColorMode,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local durable service (the Lambda durable execution API, kept in SQLite)
    Serve(ServeArgs),
    /// Start a durable execution (a Lambda Invoke of a durable function) and print its ARN
    Start(StartArgs),
    /// Show one durable execution: status, times, input, result or error
    Get(GetArgs),
    /// Show the history of a durable execution, one event per line
    History(HistoryArgs),
    /// Draw the path a durable execution took (Mermaid or Graphviz DOT), with counts
    Graph(super::graph::GraphArgs),
    /// List durable executions, newest first
    List(ListArgs),
    /// Complete a callback (succeed or fail) or send its heartbeat
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Callback(CallbackCommand),
    /// Stop a running durable execution
    Stop(StopArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish)
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_HELP: &str = "\
Examples:
  durable-fsm completions bash > ~/.local/share/bash-completion/completions/durable-fsm
  durable-fsm completions zsh > ~/.zfunc/_durable-fsm      # with fpath+=(~/.zfunc)
  durable-fsm completions fish > ~/.config/fish/completions/durable-fsm.fish
  durable-fsm completions powershell >> $PROFILE
  durable-fsm completions elvish >> ~/.config/elvish/rc.elv";

/// Options of `completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// The shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash
    Bash,
    /// Zsh
    Zsh,
    /// Fish
    Fish,
    /// PowerShell
    Powershell,
    /// Elvish
    Elvish,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default)
    ///
    /// The API has no authentication: keep it on a loopback address unless
    /// everyone who can reach the port may start, read and stop your executions.
    /// Port 0 picks a free port; the first line printed says which.
    #[arg(verbatim_doc_comment, long, value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    pub addr: String,
    /// SQLite database file holding the executions
    ///
    /// Created if missing (its directory must exist). Executions survive a
    /// restart of the service: running ones carry on where they were.
    #[arg(verbatim_doc_comment, long, value_name = "PATH", default_value = DEFAULT_DB)]
    pub db: PathBuf,
    /// Keep everything in memory instead (lost when the service stops)
    #[arg(long, conflicts_with = "db")]
    pub memory: bool,
    /// Lambda Invoke endpoint that runs your durable functions
    ///
    /// For example http://127.0.0.1:9000 for `cargo lambda watch`, or
    /// http://127.0.0.1:3001 for `sam local start-lambda`. Without it, starting an
    /// execution fails: the service has no function to invoke.
    #[arg(verbatim_doc_comment, long, value_name = "URL")]
    pub lambda_endpoint: Option<String>,
    /// Region in the ARNs the service creates
    #[arg(long, value_name = "R", default_value = "us-east-1")]
    pub region: String,
    /// Account id (12 digits) in the ARNs the service creates
    #[arg(long, value_name = "A", default_value = "123456789012")]
    pub account: String,
}

/// Where a client command sends its requests, and how it prints the answer.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// URL of the durable service
    ///
    /// `durable-fsm serve`, or any endpoint speaking the Lambda durable
    /// execution API.
    #[arg(
        verbatim_doc_comment,
        long,
        value_name = "URL",
        env = "DURABLE_FSM_ENDPOINT",
        default_value = DEFAULT_ENDPOINT
    )]
    pub endpoint: String,
    /// Talk to AWS instead of --endpoint
    ///
    /// Region, credentials and endpoint come from the usual AWS configuration:
    /// AWS_REGION, AWS_PROFILE, ~/.aws/config, AWS_ENDPOINT_URL_LAMBDA.
    /// --endpoint and DURABLE_FSM_ENDPOINT are ignored.
    #[arg(verbatim_doc_comment, long)]
    pub aws: bool,
    /// Print the response as JSON (its AWS shape) instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Options of `start`.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// The durable function: a name, `name:qualifier`, or a function ARN
    #[arg(value_name = "FUNCTION")]
    pub function: String,
    /// Name of the execution (default: one the service makes up)
    ///
    /// Starting the same name again with the same input returns the existing
    /// execution; with another input it fails.
    #[arg(verbatim_doc_comment, long, value_name = "N")]
    pub name: Option<String>,
    /// The execution input, as JSON text
    #[arg(long, value_name = "JSON", conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the execution input (JSON) from a file; `-` reads standard input
    #[arg(long, value_name = "F")]
    pub input_file: Option<PathBuf>,
    /// Version or alias to invoke
    ///
    /// On AWS, durable functions are invoked qualified: a version, an alias
    /// or '$LATEST'.
    #[arg(verbatim_doc_comment, long, value_name = "Q")]
    pub qualifier: Option<String>,
    /// Wait until the execution ends (a RequestResponse invoke) and print its result
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `get`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// The durable execution ARN
    #[arg(value_name = "ARN")]
    pub arn: String,
    /// Follow the execution until it ends; exit 0 only if it SUCCEEDED
    ///
    /// On a terminal one line is redrawn in place: status, current state,
    /// transitions so far, time since the start, open callbacks and timers.
    /// In a pipe or a file, one line per change. With --json, only the
    /// execution at its end.
    #[arg(verbatim_doc_comment, long)]
    pub watch: bool,
    /// Seconds between two looks at the execution (with --watch)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "1",
        requires = "watch",
        value_parser = parse_interval
    )]
    pub interval: Duration,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The durable execution ARN
    #[arg(value_name = "ARN")]
    pub arn: String,
    /// Newest events first
    #[arg(long)]
    pub reverse: bool,
    /// Page through every event (by default only the first page, up to 100 events)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only executions of this function (name, `name:qualifier` or ARN)
    ///
    /// Without it, the executions of every function are listed: only
    /// `durable-fsm serve` can do that; AWS lists per function.
    #[arg(verbatim_doc_comment, value_name = "FUNCTION")]
    pub function: Option<String>,
    /// Only executions with this status (repeat, or separate with commas)
    ///
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or STOPPED.
    #[arg(verbatim_doc_comment, long, value_name = "S", value_delimiter = ',', value_parser = parse_status)]
    pub status: Vec<ExecutionStatus>,
    /// Only executions with this name
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// Show at most this many executions
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub limit: u32,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The `callback` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CallbackCommand {
    /// Complete a callback successfully, with a result
    Succeed(CallbackSucceedArgs),
    /// Complete a callback with an error
    Fail(CallbackFailArgs),
    /// Keep a callback alive: reset its heartbeat timeout
    Heartbeat(CallbackHeartbeatArgs),
}

/// Options of `callback succeed`.
#[derive(Debug, Clone, Args)]
pub struct CallbackSucceedArgs {
    /// The callback id (see the CallbackStarted event in `history`)
    #[arg(value_name = "ID")]
    pub id: String,
    /// The result, sent as is (usually JSON); none when left out
    #[arg(value_name = "PAYLOAD", conflicts_with = "file")]
    pub payload: Option<String>,
    /// Read the result from a file; `-` reads standard input
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `callback fail`.
#[derive(Debug, Clone, Args)]
pub struct CallbackFailArgs {
    /// The callback id
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub error: ErrorArgs,
    /// Machine-readable error data (ErrorData)
    #[arg(long, value_name = "D")]
    pub data: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `callback heartbeat`.
#[derive(Debug, Clone, Args)]
pub struct CallbackHeartbeatArgs {
    /// The callback id
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `stop`.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// The durable execution ARN
    #[arg(value_name = "ARN")]
    pub arn: String,
    #[command(flatten)]
    pub error: ErrorArgs,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// An error to record (`ErrorType`, `ErrorMessage`).
#[derive(Debug, Clone, Args)]
pub struct ErrorArgs {
    /// Error type (ErrorType), e.g. Rejected
    #[arg(long = "type", value_name = "T")]
    pub error_type: Option<String>,
    /// Error message (ErrorMessage)
    #[arg(long, value_name = "M")]
    pub message: Option<String>,
}

/// Parses `--interval`: seconds, from 0.1 to 3600, fractions allowed.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, e.g. 1 or 0.5".to_string())?;
    if !(0.1..=3600.0).contains(&secs) {
        return Err("expected between 0.1 and 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses an execution status, ignoring case and accepting `-` for `_`.
pub fn parse_status(s: &str) -> Result<ExecutionStatus, String> {
    let wire = s.trim().to_ascii_uppercase().replace('-', "_");
    ExecutionStatus::parse(&wire).ok_or_else(|| {
        let known: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("durable-fsm").chain(args.iter().copied()))
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_loopback_and_a_file() {
        let Command::Serve(s) = parse(&["serve"]).unwrap().command else {
            panic!("not serve")
        };
        assert_eq!(s.addr, "127.0.0.1:5000");
        assert_eq!(s.db, PathBuf::from("./durable-fsm.db"));
        assert!(!s.memory && s.lambda_endpoint.is_none());
        assert_eq!(
            (s.region.as_str(), s.account.as_str()),
            ("us-east-1", "123456789012")
        );
        let Command::Serve(s) = parse(&["serve", "--memory", "--addr", "0.0.0.0:0"])
            .unwrap()
            .command
        else {
            panic!("not serve")
        };
        assert!(s.memory);
        let err = parse(&["serve", "--memory", "--db", "x.db"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn start_takes_input_or_a_file_not_both() {
        let Command::Start(s) = parse(&["start", "orders", "--input", "{}", "--wait"])
            .unwrap()
            .command
        else {
            panic!("not start")
        };
        assert_eq!(
            (s.function.as_str(), s.input.as_deref()),
            ("orders", Some("{}"))
        );
        assert!(s.wait && !s.client.aws && !s.client.json);
        let err = parse(&["start", "f", "--input", "{}", "--input-file", "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let err = parse(&["start"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn list_statuses_repeat_or_split_on_commas() {
        let Command::List(l) = parse(&[
            "list",
            "orders",
            "--status",
            "running,failed",
            "--status",
            "timed-out",
            "--limit",
            "5",
        ])
        .unwrap()
        .command
        else {
            panic!("not list")
        };
        assert_eq!(l.function.as_deref(), Some("orders"));
        assert_eq!(
            l.status,
            [
                ExecutionStatus::Running,
                ExecutionStatus::Failed,
                ExecutionStatus::TimedOut
            ]
        );
        assert_eq!(l.limit, 5);
        let Command::List(l) = parse(&["list"]).unwrap().command else {
            panic!("not list")
        };
        assert!(l.function.is_none() && l.status.is_empty());
        assert_eq!(l.limit, 100);
        assert_eq!(
            parse(&["list", "--status", "DONE"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            parse(&["list", "--limit", "0"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn callbacks_have_three_subcommands() {
        let Command::Callback(CallbackCommand::Succeed(c)) =
            parse(&["callback", "succeed", "abc=", "{\"ok\":true}"])
                .unwrap()
                .command
        else {
            panic!("not callback succeed")
        };
        assert_eq!(
            (c.id.as_str(), c.payload.as_deref()),
            ("abc=", Some("{\"ok\":true}"))
        );
        let Command::Callback(CallbackCommand::Fail(c)) = parse(&[
            "callback",
            "fail",
            "abc=",
            "--type",
            "Rejected",
            "--message",
            "no",
            "--data",
            "7",
        ])
        .unwrap()
        .command
        else {
            panic!("not callback fail")
        };
        assert_eq!(c.error.error_type.as_deref(), Some("Rejected"));
        assert_eq!(c.error.message.as_deref(), Some("no"));
        assert_eq!(c.data.as_deref(), Some("7"));
        assert!(matches!(
            parse(&["callback", "heartbeat", "abc="]).unwrap().command,
            Command::Callback(CallbackCommand::Heartbeat(_))
        ));
        let err = parse(&["callback", "succeed", "id", "x", "--file", "f"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let err = parse(&["callback"]).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
    }

    #[test]
    fn client_options_on_every_client_command() {
        let Command::Stop(s) = parse(&[
            "stop",
            "arn:x",
            "--aws",
            "--json",
            "--type",
            "Cancelled",
            "--message",
            "by hand",
        ])
        .unwrap()
        .command
        else {
            panic!("not stop")
        };
        assert!(s.client.aws && s.client.json);
        assert_eq!(s.error.error_type.as_deref(), Some("Cancelled"));
        let Command::History(h) = parse(&[
            "history",
            "arn:x",
            "--endpoint",
            "http://h:1",
            "--reverse",
            "--all",
        ])
        .unwrap()
        .command
        else {
            panic!("not history")
        };
        assert_eq!(h.client.endpoint, "http://h:1");
        assert!(h.reverse && h.all);
        assert!(parse(&["serve", "--json"]).is_err());
    }

    #[test]
    fn get_watch_takes_an_interval() {
        let Command::Get(g) = parse(&["get", "arn:x"]).unwrap().command else {
            panic!("not get")
        };
        assert!(!g.watch);
        assert_eq!(g.interval, Duration::from_secs(1));
        let Command::Get(g) = parse(&["get", "arn:x", "--watch", "--interval", "0.25"])
            .unwrap()
            .command
        else {
            panic!("not get")
        };
        assert!(g.watch);
        assert_eq!(g.interval, Duration::from_millis(250));
        let err = parse(&["get", "arn:x", "--interval", "2"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        for bad in ["0", "-1", "soon", "4000", "NaN"] {
            let arg = format!("--interval={bad}");
            let err = parse(&["get", "a", "--watch", &arg]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}");
        }
    }

    #[test]
    fn color_is_global_and_defaults_to_auto() {
        assert_eq!(parse(&["list"]).unwrap().color, ColorMode::Auto);
        assert_eq!(
            parse(&["list", "--color", "never"]).unwrap().color,
            ColorMode::Never
        );
        assert_eq!(
            parse(&["--color", "always", "history", "a"]).unwrap().color,
            ColorMode::Always
        );
        assert_eq!(
            parse(&["list", "--color", "rainbow"]).unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        let Command::Completions(c) = parse(&["completions", "zsh"]).unwrap().command else {
            panic!("not completions")
        };
        assert_eq!(c.shell, Shell::Zsh);
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn statuses_parse_loosely() {
        assert_eq!(parse_status("Succeeded"), Ok(ExecutionStatus::Succeeded));
        assert_eq!(parse_status(" timed_out "), Ok(ExecutionStatus::TimedOut));
        let err = parse_status("ok").unwrap_err();
        assert!(err.contains("RUNNING") && err.contains("STOPPED"), "{err}");
    }
}
