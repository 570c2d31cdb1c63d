//! The `durable-fsm` binary end to end: `serve` as a child process on a loopback port and a
//! temporary SQLite file, driven by the client commands. A real execution runs in a tiny
//! function server hosted by this test (what `cargo lambda watch` is to
//! `durable-fsm serve --lambda-endpoint`), whose executor talks back to the server under test.
#![cfg(feature = "cli")]

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use durable_fsm::aws::AwsDurableApi;
use durable_fsm::machine::{Callback, CallbackConfig};
use durable_fsm::model::InvocationInput;
use durable_fsm::{Ctx, Next, Transition, TransitionError, executor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_durable-fsm");
/// The longest any single command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest a condition polled for may take.
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

// ---- the workflow the function server runs ------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Order {
    item: String,
}

/// Asks for approval through a callback and finishes with the answer.
#[derive(Serialize, Deserialize)]
enum Approval {
    Ask { item: String },
    Waiting { item: String, callback: Callback },
}

impl Transition for Approval {
    type Input = Order;
    type Output = Value;

    fn start(order: Order) -> Self {
        Approval::Ask { item: order.item }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Approval::Ask { item } => {
                let callback = ctx.callback("approval", CallbackConfig::default()).await?;
                Next::to(Approval::Waiting { item, callback })
            }
            Approval::Waiting { item, callback } => {
                let decision: Value = ctx.callback_outcome(&callback)?.json()?;
                Next::done(json!({ "item": item, "decision": decision }))
            }
        })
    }
}

/// The durable service's URL, known once it listens.
type DurableUrl = Arc<OnceLock<String>>;

async fn invoke(State(url): State<DurableUrl>, body: axum::body::Bytes) -> Response {
    let function_error = |message: String| {
        let body = json!({ "errorType": "TestFunctionError", "errorMessage": message });
        (
            StatusCode::OK,
            [("x-amz-function-error", "Unhandled")],
            body.to_string(),
        )
            .into_response()
    };
    let Some(url) = url.get() else {
        return function_error("the durable service URL is not known yet".into());
    };
    let input: InvocationInput = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(e) => return function_error(format!("not an invocation input: {e}")),
    };
    let api = AwsDurableApi::with_endpoint(url.clone(), "us-east-1");
    match executor::run::<Approval, _>(&api, input).await {
        Ok(output) => match serde_json::to_string(&output) {
            Ok(text) => (StatusCode::OK, text).into_response(),
            Err(e) => function_error(e.to_string()),
        },
        Err(e) => function_error(e.to_string()),
    }
}

/// Hosts the function on 127.0.0.1:0; returns its endpoint.
fn function_server(rt: &tokio::runtime::Runtime, url: DurableUrl) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(url);
    rt.spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

// ---- processes ----------------------------------------------------------------------------

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "durable-fsm-cli-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("DURABLE_FSM_ENDPOINT")
        .env_remove("NO_COLOR")
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The output of one finished command.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs a command to its end, killing it after [`COMMAND_TIMEOUT`].
fn run_cmd(mut cmd: Command) -> Run {
    let mut child = cmd.spawn().unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn cli(endpoint: &str, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--endpoint", endpoint]);
    run_cmd(command(&all))
}

/// `cli` that must succeed.
fn ok(endpoint: &str, args: &[&str]) -> String {
    let run = cli(endpoint, args);
    assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    run.stdout
}

/// `cli` with `--json` that must succeed.
fn ok_json(endpoint: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(endpoint, &all)).unwrap()
}

/// Asserts a command failed with `code` and exactly one stderr line starting with `prefix`.
fn fails(run: &Run, code: i32, prefix: &str) {
    assert_eq!(run.code, Some(code), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(lines[0].starts_with(prefix), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

/// `durable-fsm serve` as a child process; killed on drop.
struct Server {
    child: Child,
    endpoint: String,
    banner: String,
}

impl Server {
    fn start(db: &Path, lambda_endpoint: Option<&str>) -> Self {
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--db"];
        let db = db.to_str().unwrap();
        args.push(db);
        if let Some(url) = lambda_endpoint {
            args.extend(["--lambda-endpoint", url]);
        }
        let mut child = command(&args).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match rx.recv_timeout(POLL_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("serve printed no line within {POLL_TIMEOUT:?}: {e}");
            }
        };
        let prefix = "durable-fsm: serving the Lambda durable execution API on ";
        let rest = first
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{first}"));
        let endpoint = rest.split_whitespace().next().unwrap().to_string();
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{first}");
        assert!(first.ends_with(&format!("(database {db})")), "{first}");
        let mut banner = first;
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            banner.push('\n');
            banner.push_str(&line);
        }
        Server {
            child,
            endpoint,
            banner,
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns stderr.
    #[cfg(unix)]
    fn terminate(mut self) -> String {
        let stderr = drain(self.child.stderr.take().unwrap());
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM failed");
        let deadline = Instant::now() + POLL_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "serve exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        stderr.join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it returns `Some`, for at most [`POLL_TIMEOUT`].
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + POLL_TIMEOUT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- tests --------------------------------------------------------------------------------

#[test]
fn help_version_and_usage_errors() {
    let run = run_cmd(command(&["--help"]));
    assert_eq!(run.code, Some(0));
    for cmd in [
        "serve",
        "start",
        "get",
        "history",
        "graph",
        "list",
        "callback",
        "stop",
        "completions",
    ] {
        assert!(run.stdout.contains(cmd), "{cmd} missing from --help");
    }
    let run = run_cmd(command(&["--version"]));
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.starts_with("durable-fsm "), "{run:?}");
    let run = run_cmd(command(&["callback", "fail", "--help"]));
    assert!(run.stdout.contains("--type <T>") && run.stdout.contains("--data <D>"));

    fails(
        &run_cmd(command(&["get"])),
        2,
        "durable-fsm: error: the following required arguments were not provided: <ARN>",
    );
    fails(
        &run_cmd(command(&["list", "--status", "DONE"])),
        2,
        "durable-fsm: error: invalid value 'DONE' for '--status <S>'",
    );
    fails(
        &run_cmd(command(&["start", "f", "--input", "{oops"])),
        2,
        "durable-fsm: error: --input is not valid JSON",
    );
    fails(
        &run_cmd(command(&["list", "--aws"])),
        2,
        "durable-fsm: error: AWS lists durable executions per function",
    );
    fails(
        &run_cmd(command(&["get", "arn", "--endpoint", "localhost:5000"])),
        2,
        "durable-fsm: error: invalid --endpoint \"localhost:5000\"",
    );
    fails(
        &run_cmd(command(&["serve", "--lambda-endpoint", "ftp://x"])),
        2,
        "durable-fsm: error: --lambda-endpoint: invalid Lambda endpoint",
    );
    let run = run_cmd(command(&[]));
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("Usage: durable-fsm [OPTIONS] <COMMAND>"),
        "{run:?}"
    );
}

#[test]
fn unreachable_endpoint_is_one_line() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    fails(
        &cli(&endpoint, &["get", "arn:aws:lambda:x"]),
        1,
        &format!("durable-fsm: error: cannot reach {endpoint}: connection refused"),
    );
    fails(
        &cli(&endpoint, &["list"]),
        1,
        &format!("durable-fsm: error: cannot reach {endpoint}: connection refused"),
    );
}

#[test]
fn errors_of_an_empty_service() {
    let dir = TempDir::new("empty");
    let server = Server::start(&dir.0.join("empty.db"), None);
    let e = server.endpoint.as_str();
    assert!(
        server
            .banner
            .contains(&format!("AWS_ENDPOINT_URL_LAMBDA={e}"))
    );
    assert!(server.banner.contains("loopback"));

    assert_eq!(ok(e, &["list"]), "no durable executions\n");
    assert_eq!(ok_json(e, &["list"]), json!({ "DurableExecutions": [] }));
    let mut from_env = command(&["list"]);
    from_env.env("DURABLE_FSM_ENDPOINT", e);
    assert_eq!(run_cmd(from_env).stdout, "no durable executions\n");

    let unknown = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/\
                   durable-execution/nope/00000000-0000-4000-8000-000000000000";
    let not_found = "durable-fsm: error: ResourceNotFoundException: ";
    // Like AWS, listing a function that does not exist is an error.
    fails(
        &cli(e, &["list", "orders", "--status", "RUNNING"]),
        1,
        not_found,
    );
    fails(&cli(e, &["get", unknown]), 1, not_found);
    fails(&cli(e, &["history", unknown]), 1, not_found);
    fails(&cli(e, &["stop", unknown]), 1, not_found);
    fails(
        &cli(e, &["callback", "succeed", "AAAA", "{}"]),
        1,
        not_found,
    );
    fails(
        &cli(e, &["callback", "fail", "AAAA", "--type", "No"]),
        1,
        not_found,
    );
    fails(&cli(e, &["callback", "heartbeat", "AAAA"]), 1, not_found);
    // No --lambda-endpoint: nothing can run the function.
    fails(&cli(e, &["start", "orders"]), 1, not_found);
    fails(
        &cli(e, &["start", "orders", "--input", "[1,"]),
        2,
        "durable-fsm: error: --input is not valid JSON: EOF while parsing",
    );
}

#[test]
fn an_execution_from_start_to_stop() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let durable_url: DurableUrl = Arc::default();
    let function = function_server(&rt, durable_url.clone());
    let dir = TempDir::new("run");
    let db = dir.0.join("durable.db");
    let server = Server::start(&db, Some(&function));
    durable_url.set(server.endpoint.clone()).unwrap();
    let e = server.endpoint.as_str();
    assert!(server.banner.contains(&function), "{}", server.banner);

    // start: an Event invoke, printing the ARN only.
    let arn = ok(
        e,
        &[
            "start",
            "approval",
            "--name",
            "order-1",
            "--input",
            r#"{"item":"laptop"}"#,
        ],
    )
    .trim()
    .to_string();
    assert!(
        arn.starts_with("arn:aws:lambda:us-east-1:123456789012:function:approval:")
            && arn.contains("/durable-execution/order-1/"),
        "{arn}"
    );

    // The function runs, creates its callback and suspends.
    let callback_id = eventually("CallbackStarted", || {
        let history = ok_json(e, &["history", &arn]);
        history["Events"].as_array()?.iter().find_map(|ev| {
            ev["CallbackStartedDetails"]["CallbackId"]
                .as_str()
                .map(str::to_string)
        })
    });
    let table = ok(e, &["history", &arn]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].contains("event") && lines[0].contains("detail"),
        "{table}"
    );
    assert!(
        lines[1].contains("ExecutionStarted") && lines[1].contains("laptop"),
        "{table}"
    );
    assert!(
        table.contains("CallbackStarted") && table.contains(&callback_id),
        "{table}"
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 200), "{table}");
    let reversed = ok(e, &["history", &arn, "--reverse", "--all"]);
    let newest = reversed.lines().nth(1).unwrap_or_default();
    assert_eq!(Some(newest), lines.last().copied(), "{reversed}");

    let listed = ok(e, &["list"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with("order-1"))
        .unwrap_or_default();
    assert!(
        row.contains("approval") && row.contains("RUNNING"),
        "{listed}"
    );
    let listed = ok(e, &["list", "approval", "--status", "running"]);
    assert!(
        listed.lines().nth(1).is_some_and(|l| l.contains("RUNNING")),
        "{listed}"
    );
    assert_eq!(
        ok(e, &["list", "approval", "--status", "SUCCEEDED"]),
        "no durable executions\n"
    );
    assert_eq!(
        ok(e, &["get", &arn]).lines().nth(1),
        Some("status      RUNNING")
    );

    // The same name and input again: the same execution.
    let again = ok(
        e,
        &[
            "start",
            "approval",
            "--name",
            "order-1",
            "--input",
            r#"{"item":"laptop"}"#,
        ],
    );
    assert_eq!(again.trim(), arn);

    ok(e, &["callback", "heartbeat", &callback_id]);
    let sent = ok(
        e,
        &["callback", "succeed", &callback_id, r#"{"approved":true}"#],
    );
    assert_eq!(sent, format!("callback {callback_id} succeeded\n"));

    let done = eventually("SUCCEEDED", || {
        let exec = ok_json(e, &["get", &arn]);
        (exec["Status"] == "SUCCEEDED").then_some(exec)
    });
    let result: Value = serde_json::from_str(done["Result"].as_str().unwrap_or_default()).unwrap();
    assert_eq!(
        result,
        json!({ "item": "laptop", "decision": { "approved": true } })
    );
    let details = ok(e, &["get", &arn]);
    assert!(details.contains("\nstatus      SUCCEEDED\n"), "{details}");
    assert!(
        details.contains("\nresult      {") && details.contains(r#""item":"laptop""#),
        "{details}"
    );
    let table = ok(e, &["history", &arn]);
    assert!(table.contains("CallbackSucceeded") && table.contains("ExecutionSucceeded"));

    // A second callback answer is refused; stopping a finished execution gives its end time.
    let late = cli(e, &["callback", "succeed", &callback_id, "{}"]);
    assert_eq!(late.code, Some(1), "{late:?}");
    assert_eq!(late.stderr.lines().count(), 1, "{late:?}");
    let stopped = ok_json(e, &["stop", &arn]);
    assert_eq!(stopped["StopTimestamp"], done["EndTimestamp"]);
    let stopped = ok(
        e,
        &["stop", &arn, "--type", "Cancelled", "--message", "too late"],
    );
    assert!(stopped.starts_with("stopped at 20"), "{stopped}");
    assert_eq!(ok_json(e, &["get", &arn])["Status"], "SUCCEEDED");

    // start --wait: a RequestResponse invoke that returns when the execution ends.
    let waiting = {
        let cmd = command(&[
            "start",
            "approval",
            "--name",
            "order-2",
            "--input",
            r#"{"item":"desk"}"#,
            "--wait",
            "--endpoint",
            e,
        ]);
        std::thread::spawn(move || run_cmd(cmd))
    };
    let arn2 = eventually("order-2", || {
        let list = ok_json(e, &["list", "approval", "--name", "order-2"]);
        list["DurableExecutions"][0]["DurableExecutionArn"]
            .as_str()
            .map(str::to_string)
    });
    let callback2 = eventually("the callback of order-2", || {
        let history = ok_json(e, &["history", &arn2]);
        history["Events"].as_array()?.iter().find_map(|ev| {
            ev["CallbackStartedDetails"]["CallbackId"]
                .as_str()
                .map(str::to_string)
        })
    });
    ok(e, &["callback", "succeed", &callback2, r#""yes""#]);
    let waited = waiting.join().unwrap();
    assert_eq!(waited.code, Some(0), "{waited:?}");
    assert_eq!(
        waited.stdout,
        format!("{arn2}\n{{\"decision\":\"yes\",\"item\":\"desk\"}}\n")
    );

    // SIGTERM stops the service cleanly; the execution is still in its database afterwards.
    #[cfg(unix)]
    {
        let stderr = server.terminate();
        assert!(
            stderr.contains("SIGTERM received, shutting down"),
            "{stderr}"
        );
        assert!(stderr.contains("durable-fsm: stopped"), "{stderr}");
        let server = Server::start(&db, None);
        let exec = ok_json(&server.endpoint, &["get", &arn]);
        assert_eq!(exec["Status"], "SUCCEEDED");
    }
    drop(rt);
}

// ---- colours, get --watch, completions ----------------------------------------------------

/// `durable-fsm serve` with the approval function behind it; dropped in field order.
struct Service {
    server: Server,
    _dir: TempDir,
    _rt: tokio::runtime::Runtime,
}

impl Service {
    fn start(tag: &str) -> Service {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let durable_url: DurableUrl = Arc::default();
        let function = function_server(&rt, durable_url.clone());
        let dir = TempDir::new(tag);
        let server = Server::start(&dir.0.join("durable.db"), Some(&function));
        durable_url.set(server.endpoint.clone()).unwrap();
        Service {
            server,
            _dir: dir,
            _rt: rt,
        }
    }

    fn endpoint(&self) -> &str {
        &self.server.endpoint
    }

    /// Starts an approval named `name`; returns its ARN and callback id once it waits.
    fn waiting(&self, name: &str) -> (String, String) {
        let e = self.endpoint();
        let input = r#"{"item":"lamp"}"#;
        let arn = ok(e, &["start", "approval", "--name", name, "--input", input])
            .trim()
            .to_string();
        let callback = eventually("CallbackStarted", || {
            let history = ok_json(e, &["history", &arn]);
            history["Events"].as_array()?.iter().find_map(|ev| {
                ev["CallbackStartedDetails"]["CallbackId"]
                    .as_str()
                    .map(str::to_string)
            })
        });
        (arn, callback)
    }
}

/// `text` without ANSI escape sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
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

/// Runs the binary with its standard output on a terminal: a pseudo-terminal from util-linux
/// `script`, whose own output (the terminal's, stdout and stderr together) is captured.
#[cfg(target_os = "linux")]
fn in_tty(args: &[&str], env: &[(&str, &str)]) -> Run {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line.join(" "), "/dev/null"])
        .env_remove("RUST_LOG")
        .env_remove("DURABLE_FSM_ENDPOINT")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(cmd)
}

#[test]
fn colours_only_on_a_terminal_without_no_color_or_when_asked() {
    let service = Service::start("colour");
    let e = service.endpoint();
    let (arn, _) = service.waiting("colour-1");
    let commands: [(&[&str], &str); 3] = [
        (&["list"], "\x1b[33mRUNNING\x1b[0m"),
        (&["get", &arn], "\x1b[33mRUNNING\x1b[0m"),
        (&["history", &arn], "\x1b[36mExecutionStarted\x1b[0m"),
    ];
    for (args, coloured) in commands {
        // Piped: plain text, whatever NO_COLOR says.
        let plain = ok(e, args);
        assert!(!plain.contains('\x1b'), "{args:?}: {plain:?}");
        let mut never = args.to_vec();
        never.extend(["--color", "never"]);
        assert_eq!(ok(e, &never), plain);
        // --color always: the same text, with colours, even in a pipe and under NO_COLOR.
        let mut always = args.to_vec();
        always.extend(["--color", "always"]);
        let painted = ok(e, &always);
        assert!(painted.contains(coloured), "{args:?}: {painted:?}");
        assert_eq!(strip_ansi(&painted), plain, "{args:?}");
        let mut cmd = command(&always);
        cmd.args(["--endpoint", e]).env("NO_COLOR", "1");
        assert!(run_cmd(cmd).stdout.contains(coloured), "{args:?}");
    }

    #[cfg(target_os = "linux")]
    {
        let list = ["list", "--endpoint", e];
        // A terminal: colours, unless NO_COLOR is set and not empty, TERM is dumb or
        // --color never.
        let tty = in_tty(&list, &[]);
        assert_eq!(tty.code, Some(0), "{tty:?}");
        assert!(tty.stdout.contains("\x1b[33mRUNNING\x1b[0m"), "{tty:?}");
        assert!(tty.stdout.contains("\x1b[1mNAME"), "{tty:?}");
        let tty = in_tty(&list, &[("NO_COLOR", "")]);
        assert!(tty.stdout.contains("\x1b[33mRUNNING"), "{tty:?}");
        for env in [
            [("NO_COLOR", "1")],
            [("NO_COLOR", "false")],
            [("TERM", "dumb")],
        ] {
            let tty = in_tty(&list, &env);
            assert_eq!(tty.code, Some(0), "{tty:?}");
            assert!(tty.stdout.contains("RUNNING"), "{env:?}: {tty:?}");
            assert!(!tty.stdout.contains('\x1b'), "{env:?}: {tty:?}");
        }
        let tty = in_tty(&["list", "--endpoint", e, "--color", "never"], &[]);
        assert!(
            tty.stdout.contains("RUNNING") && !tty.stdout.contains('\x1b'),
            "{tty:?}"
        );
    }
}

/// Reads a child's stdout line by line into a channel.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a child to exit, killing it after [`COMMAND_TIMEOUT`].
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the watch did not end within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn get_watch_follows_an_execution_to_its_end() {
    let service = Service::start("watch");
    let e = service.endpoint();
    let (arn, callback) = service.waiting("watched");

    // Piped: one line per change, no escape codes; exit 0 on SUCCEEDED.
    let mut child = command(&["get", &arn, "--watch", "--interval", "0.1", "--endpoint", e])
        .spawn()
        .unwrap();
    let stderr = drain(child.stderr.take().unwrap());
    let lines = lines_of(&mut child);
    let mut seen = Vec::new();
    let deadline = Instant::now() + POLL_TIMEOUT;
    while !seen.iter().any(|l: &String| l.contains("callbacks 1")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(err) => panic!("no line with an open callback ({err}): {seen:?}"),
        }
    }
    let waiting = seen.last().cloned().unwrap_or_default();
    assert!(
        waiting.starts_with("RUNNING    state Waiting  transitions 1  callbacks 1  timers 0"),
        "{seen:?}"
    );
    // Nothing changes while the callback is open: no new line however many looks it takes.
    std::thread::sleep(Duration::from_millis(500));
    assert!(lines.try_recv().is_err(), "a line without a change");
    ok(e, &["callback", "succeed", &callback, r#""yes""#]);
    seen.extend(lines.iter());
    assert_eq!(exit_code(&mut child), Some(0), "{seen:?}");
    assert_eq!(stderr.join().unwrap(), "");
    let text = seen.join("\n");
    assert!(!text.contains('\x1b'), "{text:?}");
    let n = seen.len();
    assert!(n >= 3, "{seen:?}");
    assert!(
        seen[n - 2].starts_with("SUCCEEDED  state Waiting  transitions 2  callbacks 0  timers 0"),
        "{seen:?}"
    );
    assert_eq!(seen[n - 1], r#"result {"decision":"yes","item":"lamp"}"#);
    // Each progress line differs from the one before in more than the time.
    let progress: Vec<&str> = seen[..n - 1]
        .iter()
        .map(|l| l.split("  elapsed ").next().unwrap_or_default())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] != w[1]), "{seen:?}");

    // An ended execution: the last line at once. --json: the execution as AWS shapes it.
    let again = ok(e, &["get", &arn, "--watch"]);
    assert!(again.starts_with("SUCCEEDED  state Waiting"), "{again}");
    let json: Value = serde_json::from_str(&ok(e, &["get", &arn, "--watch", "--json"])).unwrap();
    assert_eq!(json["Status"], "SUCCEEDED");

    // Stopped while watched: exit 1, the status and error named on stderr.
    let (stopped, _) = service.waiting("stopped");
    let watch = {
        let cmd = command(&[
            "get",
            &stopped,
            "--watch",
            "--interval",
            "0.1",
            "--endpoint",
            e,
        ]);
        std::thread::spawn(move || run_cmd(cmd))
    };
    std::thread::sleep(Duration::from_millis(300));
    ok(
        e,
        &[
            "stop",
            &stopped,
            "--type",
            "Cancelled",
            "--message",
            "by hand",
        ],
    );
    let run = watch.join().unwrap();
    fails(
        &run,
        1,
        "durable-fsm: error: the execution ended STOPPED: Cancelled: by hand",
    );
    assert!(
        run.stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("STOPPED  ")),
        "{run:?}"
    );

    // On a terminal: one line redrawn in place, coloured.
    #[cfg(target_os = "linux")]
    {
        let tty = in_tty(&["get", &stopped, "--watch", "--endpoint", e], &[]);
        assert_eq!(tty.code, Some(1), "{tty:?}");
        assert!(
            tty.stdout.starts_with("\r\x1b[2K\x1b[35mSTOPPED\x1b[0m  "),
            "{tty:?}"
        );
        assert!(
            tty.stdout
                .contains("durable-fsm: error: the execution ended STOPPED"),
            "{tty:?}"
        );
    }

    // Unknown executions and bad intervals are errors.
    fails(
        &cli(e, &["get", &format!("{arn}x"), "--watch"]),
        1,
        "durable-fsm: error: ResourceNotFoundException: ",
    );
    fails(
        &cli(e, &["get", &arn, "--watch", "--interval", "0"]),
        2,
        "durable-fsm: error: invalid value '0' for '--interval <SECONDS>'",
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = run_cmd(command(&["completions", shell]));
        assert_eq!(run.code, Some(0), "{shell}: {run:?}");
        for cmd in [
            "serve",
            "start",
            "get",
            "history",
            "graph",
            "list",
            "callback",
            "stop",
            "completions",
        ] {
            assert!(run.stdout.contains(cmd), "{shell}: {cmd} missing");
        }
    }
    fails(
        &run_cmd(command(&["completions", "tcsh"])),
        2,
        "durable-fsm: error: invalid value 'tcsh' for '<SHELL>'",
    );

    // The bash script completes commands, the options of subcommands and option values.
    let script = run_cmd(command(&["completions", "bash"])).stdout;
    let complete = |words: &[&str]| -> String {
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        let program = format!(
            "source /dev/stdin; COMP_WORDS=({}); COMP_CWORD={cword}; \
             _durable__fsm durable-fsm '{}' '{prev}'; echo \"${{COMPREPLY[*]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words[cword],
        );
        let mut bash = Command::new("bash")
            .args(["-c", &program])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        bash.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = bash.wait_with_output().unwrap();
        assert!(out.status.success(), "{words:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete(&["durable-fsm", "hi"]), "history");
    assert_eq!(complete(&["durable-fsm", "get", "arn", "--wa"]), "--watch");
    assert_eq!(
        complete(&["durable-fsm", "callback", "succeed", "id", "--fi"]),
        "--file"
    );
    assert_eq!(
        complete(&["durable-fsm", "list", "--color", "a"]),
        "auto always"
    );
}
