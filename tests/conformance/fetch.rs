//! Fetching the pinned conformance package from PyPI into `target/conformance/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned package.
pub const PACKAGE: &str = "aws-durable-execution-conformance-tests";
/// Its pinned version.
pub const VERSION: &str = "1.0.0";
const WHEEL: &str = "aws_durable_execution_conformance_tests-1.0.0-py3-none-any.whl";
const REQUIREMENTS: &str = "aws_durable_execution_conformance_tests/test_requirements";

/// Returns the `test_requirements` directory, downloading and unpacking the wheel first when
/// it is not there yet.
pub fn requirements_dir() -> Result<PathBuf, String> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    let unpacked = base.join("unpacked");
    let dir = unpacked.join(REQUIREMENTS);
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    let wheel = base.join(WHEEL);
    if !wheel.is_file() {
        download(&base)?;
    }
    if !wheel.is_file() {
        return Err(format!(
            "pip reported success but {} is missing",
            wheel.display()
        ));
    }
    unzip(&wheel, &unpacked)?;
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "the wheel {} has no {REQUIREMENTS} directory",
            wheel.display()
        ))
    }
}

fn download(dest: &Path) -> Result<(), String> {
    let spec = format!("{PACKAGE}=={VERSION}");
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--python-version",
            "3.14",
            "--disable-pip-version-check",
            "-q",
        ])
        .arg(&spec)
        .arg("-d")
        .arg(dest)
        .output()
        .map_err(|e| {
            format!("cannot run `python3 -m pip` to download {spec} (is Python 3 installed?): {e}")
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named pip") {
        return Err(format!(
            "pip is not available (`python3 -m pip` says: {}); install it (e.g. apt-get install python3-pip) to download {spec}",
            stderr.trim()
        ));
    }
    Err(format!(
        "`python3 -m pip download {spec}` failed ({}): {}",
        output.status,
        stderr.trim()
    ))
}

/// Unpacks the wheel (a zip) with Python's zipfile module.
fn unzip(wheel: &Path, dest: &Path) -> Result<(), String> {
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let output = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(wheel)
        .arg(&partial)
        .output()
        .map_err(|e| format!("cannot run python3 to unpack {}: {e}", wheel.display()))?;
    if !output.status.success() {
        return Err(format!(
            "unpacking {} failed: {}",
            wheel.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // Rename into place so an interrupted unpack is never taken for a complete one.
    std::fs::rename(&partial, dest).map_err(|e| {
        format!(
            "cannot move the unpacked wheel into {}: {e}",
            dest.display()
        )
    })
}
