//! The processes of an interop stack (`cargo lambda watch`, `dex-local-runner`,
//! `durable-fsm serve`), each owned by a [`Proc`] that stops it when dropped, also when the
//! test panics; output goes to a log file whose tail is printed when a test fails.

use super::http::Http;
use super::tools::{Tools, cargo_feature_args};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a stopped process may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a server may take to accept connections.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// The first invocation of a watched function, which may compile the example.
const FIRST_INVOCATION_TIMEOUT: Duration = Duration::from_secs(900);

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with its stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Proc {
        let file = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = file.try_clone().expect("clone the log file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    /// Starts `cmd`, returns it and the first line it prints on stdout (the rest of stdout
    /// and all of stderr go to `log`). Panics if no line comes within `timeout`.
    pub fn spawn_reading_first_line(
        name: &str,
        mut cmd: Command,
        log: &Path,
        timeout: Duration,
    ) -> (Proc, String) {
        let file = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let mut out = file.try_clone().expect("clone the log file handle");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = out.write_all(first.as_bytes());
            let _ = tx.send(first);
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            let _ = out.write_all(&rest);
        });
        let proc = Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        };
        match rx.recv_timeout(timeout) {
            Ok(line) if !line.is_empty() => (proc, line),
            _ => panic!(
                "{name} printed no first line within {timeout:?}\n{}",
                proc.log_tail(40)
            ),
        }
    }

    /// Panics with the log tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status})\n{}", self.name, self.log_tail(60));
        }
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log, headed by the process name.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!(
            "--- {} (last {lines} lines of {})\n{tail}",
            self.name,
            self.log.display()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SIGTERM first: cargo lambda stops the function process it started (which runs in a
        // process group of its own) only on a graceful shutdown.
        let termed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if termed {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes of one test; prints their log tails if the test panics.
#[derive(Default)]
pub struct Procs(pub Vec<Proc>);

impl Procs {
    /// Keeps `proc` until the end of the test; returns its index.
    pub fn add(&mut self, proc: Proc) -> usize {
        self.0.push(proc);
        self.0.len() - 1
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for proc in &self.0 {
                eprintln!("{}", proc.log_tail(40));
            }
        }
        // Functions first, so no invocation is left talking to a stopped service.
        while let Some(proc) = self.0.pop() {
            drop(proc);
        }
    }
}

/// `<target>/tmp/interop-logs/<test>-<name>.log`.
pub fn log_path(test: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-logs");
    std::fs::create_dir_all(&dir).expect("create the interop log directory");
    dir.join(format!("{test}-{name}.log"))
}

/// Dummy AWS configuration for a process that talks to a local endpoint: nothing from the
/// developer's own profile or credentials leaks in, and nothing asks instance metadata.
fn local_aws_env(cmd: &mut Command, region: &str) {
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "dummy")
        .env("AWS_SECRET_ACCESS_KEY", "dummy")
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// `PATH` with this build's cargo first, so `cargo lambda` builds with the same toolchain.
fn path_with_cargo(tools: &Tools) -> (String, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = Path::new(&cargo).parent() {
        dirs.push(dir.to_path_buf());
    }
    dirs.push(tools.bin.clone());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let joined = std::env::join_paths(dirs).expect("join PATH");
    (cargo, joined.to_string_lossy().into_owned())
}

/// Removes what cargo sets for the test process itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
/// `OUT_DIR`, …) from a nested cargo's environment. Build scripts watch some of them (ring's
/// reruns when `CARGO_MANIFEST_DIR` changes), so a nested build that inherited them would
/// rebuild half the dependency tree, and the next plain `cargo test` would rebuild it back.
/// Cargo's own configuration (`CARGO_HOME`, `CARGO_TARGET_DIR`, `CARGO_INCREMENTAL`, …) is
/// kept, so the nested build matches the outer one.
fn without_test_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_tests = key == "OUT_DIR"
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_tests {
            cmd.env_remove(key);
        }
    }
}

/// `cargo lambda watch` on 127.0.0.1:`port` serving the interop example as workflow
/// `workflow`, its durable API client pointed at `durable_api` (signing in `region`).
pub fn start_watch(
    tools: &Tools,
    test: &str,
    workflow: &str,
    port: u16,
    durable_api: &str,
    region: &str,
) -> Proc {
    let mut cmd = Command::new(tools.cargo_lambda());
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .args(["--example", "interop"])
        .args(cargo_feature_args())
        .arg("--env-var")
        .arg(format!("INTEROP_WORKFLOW={workflow}"))
        .arg("--env-var")
        .arg(format!("AWS_ENDPOINT_URL_LAMBDA={durable_api}"));
    local_aws_env(&mut cmd, region);
    without_test_env(&mut cmd);
    let (cargo, path) = path_with_cargo(tools);
    cmd.env("CARGO", cargo)
        .env("PATH", path)
        .env("CARGO_TERM_COLOR", "never")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    Proc::spawn(
        &format!("cargo lambda watch ({workflow})"),
        cmd,
        &log_path(test, &format!("watch-{workflow}")),
    )
}

/// AWS's emulator on 127.0.0.1:`port`, invoking functions at `lambda_endpoint`, with its
/// skip-time clock so sleeps and retry delays take no real time.
pub fn start_dex_local_runner(tools: &Tools, test: &str, port: u16, lambda_endpoint: &str) -> Proc {
    let mut cmd = Command::new(tools.dex_local_runner());
    cmd.args(["start-server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--lambda-endpoint", lambda_endpoint, "--skip-time"]);
    // boto3 signs the Invokes it sends the function, so it needs some credentials.
    local_aws_env(&mut cmd, "us-west-2");
    for var in [
        "AWS_DEX_HOST",
        "AWS_DEX_PORT",
        "AWS_DEX_LAMBDA_ENDPOINT",
        "AWS_DEX_STORE_TYPE",
        "AWS_DEX_LOCAL_RUNNER_REGION",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("PYTHONUNBUFFERED", "1");
    Proc::spawn("dex-local-runner", cmd, &log_path(test, "dex-local-runner"))
}

/// `durable-fsm serve --addr 127.0.0.1:0 --memory --lambda-endpoint …`; returns it and the
/// URL it printed on its first line.
pub fn start_serve(test: &str, name: &str, lambda_endpoint: &str) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_durable-fsm"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--memory",
        "--lambda-endpoint",
    ])
    .arg(lambda_endpoint)
    .env("RUST_LOG", "info")
    .env("NO_COLOR", "1");
    let (proc, first) = Proc::spawn_reading_first_line(
        &format!("durable-fsm serve ({name})"),
        cmd,
        &log_path(test, &format!("serve-{name}")),
        Duration::from_secs(30),
    );
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in serve's first line {first:?}"))
        .to_string();
    (proc, url)
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_listening(proc: &mut Proc, port: u16) {
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        proc.assert_running();
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr} after {LISTEN_TIMEOUT:?}\n{}",
            proc.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The function served by `cargo lambda watch` on `url` (as `_`, its default function).
pub fn invoke_url(watch_url: &str) -> String {
    format!("{watch_url}/2015-03-31/functions/_/invocations")
}

/// Waits for a watched function to answer: POSTs an event that is not a durable invocation
/// and expects the `FAILED` envelope. The first such invocation starts the function (and
/// compiles the example if `cargo test` has not).
pub async fn wait_function_ready(http: &Http, watch_url: &str) -> Value {
    let reply = http
        .post_json(&invoke_url(watch_url), "{}", FIRST_INVOCATION_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("the function at {watch_url} did not answer: {e}"));
    assert_eq!(reply.status, 200, "warm-up invocation: {reply:?}");
    reply.json()
}
