//! Peak resident memory from /proc (Linux).

/// A `Vm...` line of /proc/self/status, in KiB.
fn status_kib(key: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {key} line in /proc/self/status"))
}

/// VmHWM (peak resident set) of this process, in KiB.
pub fn peak_kib() -> Result<u64, String> {
    status_kib("VmHWM:")
}

/// The peak before a reset and the resident set at the reset, in KiB.
#[derive(Clone, Copy)]
pub struct AtReset {
    pub peak: u64,
    pub resident: u64,
}

/// Peaks of one measurement, in KiB.
pub struct Peaks {
    /// Over the whole process.
    pub process: u64,
    /// Since the reset at the start of the resume, and the resident set at that reset.
    pub resume: Option<(u64, u64)>,
}

unsafe extern "C" {
    /// glibc: returns free heap memory to the kernel.
    fn malloc_trim(pad: usize) -> i32;
}

/// Returns the allocator's free memory to the kernel, then resets VmHWM to the current RSS
/// (`echo 5 > /proc/self/clear_refs`), so that a later peak counts only memory allocated
/// after this point; None where the kernel does not allow it.
pub fn reset_peak() -> Option<AtReset> {
    let peak = peak_kib().ok()?;
    // SAFETY: malloc_trim takes no pointers and may be called at any time.
    unsafe {
        malloc_trim(0);
    }
    let resident = status_kib("VmRSS:").ok()?;
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    Some(AtReset { peak, resident })
}

/// The peaks of this process, given what a reset at the start of the resume saw.
pub fn peaks(at_reset: Option<AtReset>) -> Result<Peaks, String> {
    let now = peak_kib()?;
    Ok(match at_reset {
        Some(r) => Peaks {
            process: r.peak.max(now),
            resume: Some((now, r.resident)),
        },
        None => Peaks {
            process: now,
            resume: None,
        },
    })
}
