//! The external tools of the interop tests: `cargo lambda` and AWS's `dex-local-runner`, both
//! from PyPI at pinned versions, installed once into a virtual environment under the target
//! directory and reused while its pins match.
//!
//! Without Python (or when pip fails) the tests are skipped with a notice, except in CI
//! (`CI=true`), where that is a failure.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What is installed, one requirement a line (the file records it in the environment).
const PINS: [&str; 2] = [
    "cargo-lambda==1.9.2",
    "aws-durable-execution-sdk-python-testing==1.4.0",
];
/// The `cargo lambda` version the pins give.
pub const CARGO_LAMBDA_VERSION: &str = "1.9.2";
/// Written into the environment after a complete install.
const PIN_FILE: &str = "durable-fsm-interop-pins.txt";
/// Creating the virtual environment.
const VENV_TIMEOUT: Duration = Duration::from_secs(120);
/// Installing from PyPI (cargo-lambda's wheel carries a 30 MB binary and zig).
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
/// A version query.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// The installed tools.
#[derive(Debug)]
pub struct Tools {
    /// The environment's `bin` directory.
    pub bin: PathBuf,
}

impl Tools {
    /// The `cargo-lambda` executable (run as `cargo-lambda lambda …`).
    pub fn cargo_lambda(&self) -> PathBuf {
        self.bin.join("cargo-lambda")
    }

    /// AWS's emulator.
    pub fn dex_local_runner(&self) -> PathBuf {
        self.bin.join("dex-local-runner")
    }
}

/// Whether this is a CI run, where missing tools fail the tests instead of skipping them.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The tools, installing them on first use; `None` (after a notice) when they cannot be had
/// outside CI. Panics in CI.
pub fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    match TOOLS.get_or_init(install) {
        Ok(tools) => Some(tools),
        Err(e) if in_ci() => panic!("interop tools unavailable in CI: {e}"),
        Err(e) => {
            eprintln!(
                "NOTICE: skipping the interop test: {e}\n\
                 (it needs python3 ≥ 3.11 with venv and pip, and PyPI; in CI this is a failure)"
            );
            None
        }
    }
}

/// `<target>/interop-venv`: its own environment, apart from `target/py-venv` (boto3), so two
/// test binaries never install into one environment at once.
fn venv_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("interop-venv")
}

fn install() -> Result<Tools, String> {
    let dir = venv_dir();
    // Another test process may be installing into the same environment: take turns.
    let lock_path = dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    let bin = dir.join("bin");
    let tools = Tools { bin: bin.clone() };
    let pins = PINS.join("\n") + "\n";
    let complete = std::fs::read_to_string(dir.join(PIN_FILE)).is_ok_and(|p| p == pins)
        && tools.cargo_lambda().is_file()
        && tools.dex_local_runner().is_file();
    if !complete {
        let started = Instant::now();
        eprintln!("interop: installing {PINS:?} into {}", dir.display());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot remove the stale {}: {e}", dir.display()))?;
        }
        let mut venv = Command::new("python3");
        venv.arg("-m").arg("venv").arg(&dir);
        run_bounded(venv, VENV_TIMEOUT)
            .and_then(Ran::ok)
            .map_err(|e| {
                format!("python3 -m venv failed (is python3 with venv installed?): {e}")
            })?;
        let mut pip = Command::new(bin.join("python"));
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
            .args(PINS);
        run_bounded(pip, PIP_TIMEOUT)
            .and_then(Ran::ok)
            .map_err(|e| format!("pip install {PINS:?} failed: {e}"))?;
        std::fs::write(dir.join(PIN_FILE), &pins)
            .map_err(|e| format!("cannot write {PIN_FILE}: {e}"))?;
        eprintln!("interop: installed in {:.1?}", started.elapsed());
    }
    let mut version = Command::new(tools.cargo_lambda());
    version.args(["lambda", "--version"]);
    let ran = run_bounded(version, VERSION_TIMEOUT).and_then(Ran::ok)?;
    if !ran.stdout.contains(CARGO_LAMBDA_VERSION) {
        return Err(format!(
            "cargo-lambda reports {:?}, expected {CARGO_LAMBDA_VERSION}",
            ran.stdout.trim()
        ));
    }
    Ok(tools)
}

/// What a bounded command did.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// `Ok` when the command exited 0.
    fn ok(self) -> Result<Ran, String> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(format!(
                "{}\n--- stdout\n{}\n--- stderr\n{}",
                self.status, self.stdout, self.stderr
            ))
        }
    }
}

/// Runs `cmd` to completion, killing it after `timeout`.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Ran, String> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    Ok(Ran {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// `--no-default-features --features …` with exactly the features this test was built with,
/// so `cargo lambda watch` reuses the example that `cargo test` already compiled instead of
/// compiling the crate a second time with another feature set.
pub fn cargo_feature_args() -> Vec<String> {
    let features: Vec<&str> = [
        ("local", cfg!(feature = "local")),
        ("server", cfg!(feature = "server")),
        ("cli", cfg!(feature = "cli")),
        ("test-util", cfg!(feature = "test-util")),
        ("aws", cfg!(feature = "aws")),
        ("lambda", cfg!(feature = "lambda")),
        ("postcard", cfg!(feature = "postcard")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    vec![
        "--no-default-features".into(),
        "--features".into(),
        features.join(","),
    ]
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
