//! Measures the same workloads on durable-fsm and on AWS's official Rust SDK
//! (aws-durable-execution-sdk 0.1.0, its in-process `LocalRunner`) in one run, and prints
//! the figures and their ratios.
//!
//! ```text
//! cargo run --release --manifest-path tools/compare/Cargo.toml [-- COMMAND] [--runs K]
//! ```
//!
//! Commands: `all` (the default), `throughput`, `resume`, `economy`, `memory`. `all` and
//! `resume` also write the resume plot (`--svg PATH`, default `book/src/img/resume.svg`).

mod aws;
mod fsm;
mod rss;
mod svg;

use std::time::Duration;

/// The expense of the approval workflow: large enough to need a manager.
pub const EXPENSE_CENTS: u64 = 250_000;
/// Why the car of the saga cannot be booked.
pub const CAR_UNAVAILABLE: &str = "no car available";

/// A call to an outside system, kept from being optimised away.
pub fn side_effect(what: &str) {
    std::hint::black_box(what);
}

/// Books something; the car always fails.
pub fn book(what: &str) -> Result<String, String> {
    side_effect(what);
    if what == "car" {
        Err(CAR_UNAVAILABLE.to_string())
    } else {
        Ok(format!("{what}-1"))
    }
}

/// Whether the polled job is ready at this check: the third.
pub fn job_ready(checks: u32) -> bool {
    checks >= 3
}

/// The work of one fan-out item.
pub async fn process(item: u64) -> u64 {
    std::hint::black_box(item * 2)
}

/// The fan-out workflow's input.
pub fn fan_out_items() -> Vec<u64> {
    vec![1, 2, 3, 4]
}

/// The JSON results of the four workflows on the official SDK; durable-fsm must return the
/// same.
pub struct Expected {
    pub approval: String,
    pub saga: String,
    pub polling: String,
    pub fan_out: String,
}

/// Checkpoint economy of one workflow on one SDK.
pub struct Economy {
    /// Operations recorded (the EXECUTION operation left out).
    pub operations: u64,
    /// CheckpointDurableExecution calls.
    pub checkpoint_calls: u64,
    /// Transitions run (durable-fsm only).
    pub transitions: u64,
    /// Handler invocations.
    pub invocations: u64,
}

/// One measurement of the last invocation.
pub struct Resume {
    pub time: Duration,
    /// Of which in the service's calls (checkpoints, state pages), where known.
    pub service_time: Option<Duration>,
    /// Operations the invocation was given (the EXECUTION operation included).
    pub visible_operations: u64,
}

const THROUGHPUT_NS: [u64; 3] = [100, 1_000, 10_000];
const RESUME_NS: [u64; 4] = [10, 100, 1_000, 10_000];
const MEMORY_NS: [u64; 2] = [10, 10_000];

struct Args {
    command: String,
    runs: usize,
    svg: std::path::PathBuf,
    rest: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        command: "all".into(),
        runs: 5,
        svg: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/img/resume.svg"),
        rest: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    let mut command = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                let v = it.next().ok_or("--runs needs a number")?;
                args.runs = v
                    .parse()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or_else(|| format!("--runs: {v:?} is not a positive number"))?;
            }
            "--svg" => args.svg = it.next().ok_or("--svg needs a path")?.into(),
            "-h" | "--help" => {
                println!("{}", USAGE);
                std::process::exit(0);
            }
            _ if command.is_none() => command = Some(a),
            _ => args.rest.push(a),
        }
    }
    if let Some(c) = command {
        args.command = c;
    }
    Ok(args)
}

const USAGE: &str = "\
usage: compare [COMMAND] [--runs K] [--svg PATH]

Measures durable-fsm and aws-durable-execution-sdk 0.1.0 (LocalRunner, single page) on the
same workloads and prints the figures and ratios (official SDK / durable-fsm).

commands:
  all         everything below (default)
  throughput  N sequential trivial transitions / steps, N = 100, 1,000, 10,000
  resume      the last invocation after N transitions and a timer, N = 10 .. 10,000;
              writes the log-log plot to --svg (default book/src/img/resume.svg)
  economy     operations and checkpoint calls of the approval, saga, polling and fan-out
              workflows
  memory      peak RSS when resuming after 10 and 10,000 transitions (a fresh process each)

--runs K      runs per figure; figures are medians (default 5)";

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let args = parse_args()?;
    match args.command.as_str() {
        // Hidden: one memory measurement in this fresh process.
        "__memory" => {
            let [sdk, n] = &args.rest[..] else {
                return Err("__memory needs SDK and N".into());
            };
            let n: u64 = n.parse().map_err(|_| format!("bad N {n:?}"))?;
            let peaks = match sdk.as_str() {
                "fsm" => fsm::memory(n)?,
                "aws" => aws::memory(n)?,
                _ => return Err(format!("unknown SDK {sdk:?}")),
            };
            match peaks.resume {
                Some((peak, resident)) => println!("{} {peak} {resident}", peaks.process),
                None => println!("{}", peaks.process),
            }
            Ok(())
        }
        // Hidden: durable-fsm's throughput alone, for profiling.
        "__fsm-throughput" => {
            let n: u64 = args
                .rest
                .first()
                .and_then(|n| n.parse().ok())
                .ok_or("__fsm-throughput needs N")?;
            let took = repeat(args.runs, || fsm::throughput(n))?;
            println!("{}", fmt_time(took / n as u32));
            Ok(())
        }
        // Hidden: durable-fsm's resume alone, for profiling.
        "__fsm-resume" => {
            let n: u64 = args
                .rest
                .first()
                .and_then(|n| n.parse().ok())
                .ok_or("__fsm-resume needs N")?;
            let mut service = Vec::new();
            let took = repeat(args.runs, || {
                let r = fsm::resume(n)?;
                service.extend(r.service_time);
                Ok(r.time)
            })?;
            println!(
                "{} ({} in the service)",
                fmt_time(took),
                fmt_time(median(service))
            );
            Ok(())
        }
        "all" => {
            header(args.runs);
            throughput(args.runs)?;
            resume(args.runs, &args.svg)?;
            economy()?;
            memory()
        }
        "throughput" => {
            header(args.runs);
            throughput(args.runs)
        }
        "resume" => {
            header(args.runs);
            resume(args.runs, &args.svg)
        }
        "economy" => economy(),
        "memory" => memory(),
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
}

fn header(runs: usize) {
    println!(
        "durable-fsm (this tree) against aws-durable-execution-sdk 0.1.0 (LocalRunner, single \
         page); medians of {runs} runs; ratio = official SDK / durable-fsm\n"
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    }
}

fn repeat(
    runs: usize,
    mut f: impl FnMut() -> Result<Duration, String>,
) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(f()?);
    }
    Ok(median(times))
}

/// A duration in the unit that suits it.
fn fmt_time(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn ratio(a: f64, b: f64) -> String {
    let r = a / b;
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

fn throughput(runs: usize) -> Result<(), String> {
    // Warm up both.
    fsm::throughput(100)?;
    aws::throughput(100)?;
    println!("## Throughput: N sequential trivial transitions (one invocation)\n");
    println!("| N | durable-fsm total | per transition | official SDK total | per step | ratio |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for n in THROUGHPUT_NS {
        let ours = repeat(runs, || fsm::throughput(n))?;
        let theirs = repeat(runs, || aws::throughput(n))?;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            svg::thousands(n as f64),
            fmt_time(ours),
            fmt_time(ours / n as u32),
            fmt_time(theirs),
            fmt_time(theirs / n as u32),
            ratio(theirs.as_secs_f64(), ours.as_secs_f64()),
        );
    }
    println!();
    Ok(())
}

fn resume(runs: usize, svg_path: &std::path::Path) -> Result<(), String> {
    fsm::resume(10)?;
    aws::resume(10)?;
    println!("## Resume: the last invocation after N transitions and a timer\n");
    println!(
        "| N | durable-fsm | of which service calls | operations visible | official SDK | operations visible | ratio |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut points = Vec::new();
    for n in RESUME_NS {
        let mut ours_visible = 0;
        let mut theirs_visible = 0;
        let mut ours_service = Vec::new();
        let ours = repeat(runs, || {
            let r = fsm::resume(n)?;
            ours_visible = r.visible_operations;
            ours_service.extend(r.service_time);
            Ok(r.time)
        })?;
        let theirs = repeat(runs, || {
            let r = aws::resume(n)?;
            theirs_visible = r.visible_operations;
            Ok(r.time)
        })?;
        println!(
            "| {} | {} | {} | {ours_visible} | {} | {theirs_visible} | {} |",
            svg::thousands(n as f64),
            fmt_time(ours),
            fmt_time(median(ours_service)),
            fmt_time(theirs),
            ratio(theirs.as_secs_f64(), ours.as_secs_f64()),
        );
        points.push((n, ours, theirs));
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        println!(
            "\nGrowth from N = {} to N = {}: durable-fsm {}, official SDK {}.",
            svg::thousands(first.0 as f64),
            svg::thousands(last.0 as f64),
            ratio(last.1.as_secs_f64(), first.1.as_secs_f64()),
            ratio(last.2.as_secs_f64(), first.2.as_secs_f64()),
        );
    }
    if let Some(dir) = svg_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(svg_path, svg::resume_plot(&points))
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    let shown = svg_path
        .canonicalize()
        .unwrap_or_else(|_| svg_path.to_path_buf());
    println!("Plot written to {}.\n", shown.display());
    Ok(())
}

fn economy() -> Result<(), String> {
    let (theirs, expected) = aws::economy()?;
    let ours = fsm::economy(&expected)?;
    println!("## Checkpoint economy: operations and checkpoint calls per workflow\n");
    println!(
        "| workflow | durable-fsm transitions | operations | checkpoint calls | official SDK operations | checkpoint calls | ratio of operations | ratio of calls |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for ((name, o), t) in ["approval", "saga", "polling", "fan-out (4 items)"]
        .iter()
        .zip(&ours)
        .zip(&theirs)
    {
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            o.transitions,
            o.operations,
            o.checkpoint_calls,
            t.operations,
            t.checkpoint_calls,
            ratio(t.operations as f64, o.operations as f64),
            ratio(t.checkpoint_calls as f64, o.checkpoint_calls as f64),
        );
    }
    println!(
        "\nBoth versions of each workflow return the same result; invocations: durable-fsm {:?}, official SDK {:?}.\n",
        ours.iter().map(|e| e.invocations).collect::<Vec<_>>(),
        theirs.iter().map(|e| e.invocations).collect::<Vec<_>>(),
    );
    Ok(())
}

/// Runs the hidden `__memory` command in a fresh process.
fn child_memory(sdk: &str, n: u64) -> Result<rss::Peaks, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let out = std::process::Command::new(exe)
        .args(["__memory", sdk, &n.to_string()])
        .output()
        .map_err(|e| format!("cannot start the memory child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "memory child {sdk} {n} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let mut next = || words.next().and_then(|w| w.parse::<u64>().ok());
    let process = next().ok_or_else(|| format!("memory child printed {text:?}"))?;
    let resume = next().zip(next());
    Ok(rss::Peaks { process, resume })
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn memory() -> Result<(), String> {
    println!(
        "## Memory: peak RSS (VmHWM) of a fresh process that builds the history and resumes\n"
    );
    println!(
        "| N | durable-fsm peak | resident at resume | added by resume | official SDK peak | resident at resume | added by resume | ratio of peaks |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let show = |p: &rss::Peaks| match p.resume {
        Some((peak, resident)) => {
            format!("{} | {}", mib(resident), mib(peak.saturating_sub(resident)))
        }
        None => "n/a | n/a".to_string(),
    };
    for n in MEMORY_NS {
        let ours = child_memory("fsm", n)?;
        let theirs = child_memory("aws", n)?;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            svg::thousands(n as f64),
            mib(ours.process),
            show(&ours),
            mib(theirs.process),
            show(&theirs),
            ratio(theirs.process as f64, ours.process as f64),
        );
    }
    println!(
        "\nPeak: VmHWM over the child's life (building the history in the in-process service, \
         then the last invocation). Resident at resume: VmRSS as the last invocation begins, \
         after malloc_trim (the service's copy of the history and the invocation input \
         included); added by resume: how far VmHWM rose above it during the last invocation \
         (VmHWM reset with clear_refs 5).\n"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(
            median(vec![ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2_500)
        );
    }

    #[test]
    fn ratios_and_times_read_well() {
        assert_eq!(ratio(30.0, 2.0), "15×");
        assert_eq!(ratio(1.0, 4.0), "0.25×");
        assert_eq!(fmt_time(Duration::from_nanos(1_500)), "1.50 µs");
        assert_eq!(fmt_time(Duration::from_micros(250)), "250.0 µs");
        assert_eq!(fmt_time(Duration::from_micros(2_500)), "2.50 ms");
        assert_eq!(svg::thousands(10_000.0), "10,000");
        assert_eq!(svg::thousands(100.0), "100");
    }

    #[test]
    fn the_plot_has_both_series_and_every_point() {
        let us = Duration::from_micros;
        let points = [(10, us(20), us(50)), (10_000, us(30), us(150_000))];
        let svg = svg::resume_plot(&points);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("official SDK, N = 10,000: 150 ms"));
        assert!(svg.contains("durable-fsm, N = 10: 20 µs"));
    }

    #[test]
    fn both_versions_of_the_workflows_agree_and_fsm_checkpoints_once_per_transition() {
        let (theirs, expected) = aws::economy().expect("official SDK workflows");
        let ours = fsm::economy(&expected).expect("durable-fsm workflows return the same");
        assert_eq!(ours.len(), 4);
        for (o, t) in ours.iter().zip(&theirs) {
            assert!(o.checkpoint_calls <= o.transitions);
            assert!(o.checkpoint_calls < t.checkpoint_calls);
        }
    }

    #[test]
    fn resume_runs_one_transition_and_times_it() {
        let ours = fsm::resume(20).expect("durable-fsm resume");
        let theirs = aws::resume(20).expect("official SDK resume");
        assert!(ours.time > Duration::ZERO && theirs.time > Duration::ZERO);
        // The official SDK is given every recorded operation: 20 steps, the wait, EXECUTION.
        assert_eq!(theirs.visible_operations, 22);
    }
}
