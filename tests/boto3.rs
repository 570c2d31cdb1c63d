//! boto3, unmodified, against the local durable service over HTTP: `tests/python/boto3_smoke.py`
//! runs Invoke and every durable API call against a [`support::Stack`] and checks results and
//! error codes as botocore parses them.
//!
//! The pinned boto3 is installed once into a virtual environment under `target/py-venv` and
//! reused. Without `python3` the test is skipped, except in CI (`CI=true`), where it fails.
#![cfg(all(feature = "aws", feature = "server", feature = "lambda"))]

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::Stack;

/// The boto3 the smoke script is pinned to (spec/api.md was verified against botocore 1.44.8).
const BOTO3_VERSION: &str = "1.44.8";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/boto3_smoke.py");
/// Creating the virtual environment.
const VENV_TIMEOUT: Duration = Duration::from_secs(120);
/// Installing boto3 from PyPI.
const PIP_TIMEOUT: Duration = Duration::from_secs(300);
/// Running the smoke script.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// The script performs at least this many checks.
const MIN_CHECKS: u32 = 56;

/// What a bounded command did.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, killing it after `timeout`; panics if it cannot start or times out.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Ran {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not finish within {timeout:?}");
            }
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    Ran {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Whether `python` imports the pinned boto3.
fn has_pinned_boto3(python: &Path) -> bool {
    if !python.exists() {
        return false;
    }
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        "import boto3, sys; sys.stdout.write(boto3.__version__)",
    ]);
    let ran = run_bounded(cmd, VENV_TIMEOUT);
    ran.status.success() && ran.stdout == BOTO3_VERSION
}

fn pip_install(python: &Path) {
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
        &format!("boto3=={BOTO3_VERSION}"),
    ]);
    let ran = run_bounded(cmd, PIP_TIMEOUT);
    assert!(
        ran.status.success(),
        "installing boto3=={BOTO3_VERSION} failed (PyPI must be reachable): {ran}"
    );
}

/// The virtual environment's python with the pinned boto3, created or repaired as needed.
///
/// A new environment is built beside the final one and renamed into place, so a run that is
/// interrupted, or another run at the same time, never leaves a half-built one in use.
fn pinned_python(system_python: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    let venv = target.join("py-venv");
    let python = venv_python(&venv);
    if has_pinned_boto3(&python) {
        return python;
    }
    if python.exists() {
        pip_install(&python);
        assert!(
            has_pinned_boto3(&python),
            "{} still lacks boto3=={BOTO3_VERSION}",
            python.display()
        );
        return python;
    }
    let building = target.join(format!("py-venv.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let mut cmd = Command::new(system_python);
    cmd.args(["-m", "venv"]).arg(&building);
    let ran = run_bounded(cmd, VENV_TIMEOUT);
    assert!(
        ran.status.success(),
        "`{system_python} -m venv` failed: {ran}"
    );
    pip_install(&venv_python(&building));
    if std::fs::rename(&building, &venv).is_err() {
        // Another run finished first; use its environment.
        let _ = std::fs::remove_dir_all(&building);
    }
    assert!(
        has_pinned_boto3(&python),
        "{} lacks boto3=={BOTO3_VERSION}",
        python.display()
    );
    python
}

/// `python3`, if it runs.
fn system_python() -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    found.then_some("python3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_every_durable_api_call() {
    let Some(system_python) = system_python() else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "python3 is required in CI for the boto3 compatibility test, and it was not found"
        );
        eprintln!("SKIPPED boto3_drives_every_durable_api_call: python3 not found");
        return;
    };
    let python = tokio::task::spawn_blocking(move || pinned_python(system_python))
        .await
        .expect("setting up the virtual environment");

    let stack = Stack::start_default().await;
    let mut cmd = Command::new(&python);
    cmd.arg(SCRIPT)
        .arg(&stack.service_url)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    // Nothing from the developer's AWS setup may reach the client.
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_SESSION_TOKEN",
        "PYTHONOPTIMIZE",
    ] {
        cmd.env_remove(var);
    }
    let ran = tokio::task::spawn_blocking(move || run_bounded(cmd, SCRIPT_TIMEOUT))
        .await
        .expect("running the boto3 script");
    stack.shutdown().await;

    assert!(ran.status.success(), "boto3_smoke.py failed: {ran}");
    let last = ran.stdout.lines().last().unwrap_or_default();
    let checks: u32 = last
        .strip_prefix("boto3: ")
        .and_then(|rest| rest.strip_suffix(" checks passed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected last line {last:?}: {ran}"));
    assert!(checks >= MIN_CHECKS, "only {checks} checks ran: {ran}");
}
