//! AWS's durable-execution conformance requirements (PyPI package
//! `aws-durable-execution-conformance-tests`, pinned), run against this project's own
//! handlers on the in-process runner (virtual time) and on the local durable service (real
//! time), and validated with the same matching rules as AWS's validator.
//!
//! The package is downloaded once into `target/conformance/` with `python3 -m pip`. Every
//! requirement gets a report line; the run closes with `conformance: N passed, M failed`
//! (the model count: history compared after removing the executor's Transition checkpoint
//! steps and renumbering EventIds). The test fails when a requirement recorded as passing in
//! `tests/conformance/expected.json` fails; `CONFORMANCE_RECORD=1` rewrites that file.

mod conformance {
    pub mod fetch;
    pub mod handlers;
    pub mod logs;
    pub mod matcher;
    pub mod report;
    pub mod runners;
    pub mod spec;
}

use conformance::handlers::{self, Case};
use conformance::matcher::Context;
use conformance::report::{self, Line, Status};
use conformance::runners::{self, Verdict};
use conformance::spec::{self, Requirement};
use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
use durable_fsm::service::{EngineConfig, LocalService, SystemClock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest the service runs may take together.
const SERVICE_DEADLINE: Duration = Duration::from_secs(150);

fn function_name(id: &str) -> String {
    format!("conformance-{id}")
}

fn seed(i: usize) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos.wrapping_add(i as u64 * 0x9E37_79B9)
}

#[test]
fn conformance() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

/// Keeps the panics of handlers that play a process crash out of the output.
fn quiet_crashes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if message != Some(handlers::CRASH) {
            default(info);
        }
    }));
}

async fn run() {
    quiet_crashes();
    conformance::logs::install();
    let dir = conformance::fetch::requirements_dir()
        .unwrap_or_else(|e| panic!("cannot get the conformance requirements: {e}"));
    let requirements = spec::load_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        requirements.len(),
        155,
        "the pinned package holds 155 requirements"
    );

    let cases: HashMap<String, Box<dyn Case>> = requirements
        .iter()
        .filter(|r| handlers::not_applicable(&r.id).is_none())
        .filter_map(|r| handlers::case(&r.id).map(|c| (r.id.clone(), c)))
        .collect();

    // The service runs every handler at once, in real time.
    let mut registry = Registry::new();
    handlers::register_targets(&mut registry);
    for (id, case) in &cases {
        case.register(&mut registry, &function_name(id));
    }
    let service = LocalService::in_memory(EngineConfig::default(), Arc::new(SystemClock));
    let handle = Runtime::start(service, Invokers::new(registry), Arc::new(SystemClock));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, req) in requirements.iter().enumerate() {
        if !cases.contains_key(&req.id) || handlers::virtual_only(&req.id).is_some() {
            continue;
        }
        let (req, handle) = (req.clone(), handle.clone());
        let base = Context::with_variables(&req.variables, seed(i));
        tasks.spawn(async move {
            let verdict = runners::run_service(&req, &handle, &function_name(&req.id), &base).await;
            (req.id.clone(), verdict)
        });
    }

    // Meanwhile the in-process runner, one requirement after another, on virtual time.
    let mut virtual_verdicts: HashMap<String, Verdict> = HashMap::new();
    for (i, req) in requirements.iter().enumerate() {
        if handlers::service_only(&req.id).is_some() {
            continue;
        }
        if let Some(case) = cases.get(&req.id) {
            let base = Context::with_variables(&req.variables, seed(i + 1000));
            virtual_verdicts.insert(
                req.id.clone(),
                runners::run_virtual(req, case.as_ref(), &base).await,
            );
        }
    }

    let mut service_verdicts: HashMap<String, Verdict> = HashMap::new();
    let deadline = tokio::time::Instant::now() + SERVICE_DEADLINE;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {
        match joined {
            Ok((id, verdict)) => {
                service_verdicts.insert(id, verdict);
            }
            Err(e) => panic!("a service run panicked: {e}"),
        }
    }
    tasks.abort_all();
    handle.shutdown_with_grace(Duration::from_secs(2)).await;

    let lines: Vec<Line> = requirements
        .iter()
        .map(|req| line(req, &virtual_verdicts, &service_verdicts))
        .collect();
    print_report(&lines);

    let expected_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/expected.json");
    if std::env::var_os("CONFORMANCE_RECORD").is_some() {
        report::write_expected(&expected_path, &lines).unwrap_or_else(|e| panic!("{e}"));
        report::emit(&format!("recorded {}\n", expected_path.display()));
    }
    let expected = report::read_expected(&expected_path).unwrap_or_else(|e| panic!("{e}"));
    let (regressions, improvements) = report::compare(&expected, &lines);
    if !improvements.is_empty() {
        report::emit(&format!(
            "hint: {} more pass than recorded ({}); record them with CONFORMANCE_RECORD=1\n",
            improvements.len(),
            improvements.join(", ")
        ));
    }
    let counts = report::counts(&lines);
    let total = counts.get("total").copied().unwrap_or_default();
    report::emit(&format!(
        "conformance: {} passed, {} failed\n",
        total[0], total[1]
    ));
    assert!(
        regressions.is_empty(),
        "requirements recorded as passing fail now:\n{}",
        regressions.join("\n")
    );
}

fn line(
    req: &Requirement,
    virtual_verdicts: &HashMap<String, Verdict>,
    service_verdicts: &HashMap<String, Verdict>,
) -> Line {
    let mk = |model, strict, reason: String| Line {
        id: req.id.clone(),
        suite: req.suite.clone(),
        model,
        strict,
        reason,
    };
    if let Some(why) = handlers::not_applicable(&req.id) {
        return mk(
            Status::NotApplicable,
            Status::NotApplicable,
            why.to_string(),
        );
    }
    let mut runs: Vec<(&str, Verdict)> = Vec::new();
    if let Some(v) = virtual_verdicts.get(&req.id) {
        runs.push(("in-process", v.clone()));
    }
    match service_verdicts.get(&req.id) {
        Some(v) => runs.push(("service", v.clone())),
        None if virtual_verdicts.contains_key(&req.id) => match handlers::virtual_only(&req.id) {
            Some(_) => {}
            None => runs.push((
                "service",
                Verdict {
                    strict: Err(format!(
                        "did not end within {} s",
                        SERVICE_DEADLINE.as_secs()
                    )),
                    model: Err(format!(
                        "did not end within {} s",
                        SERVICE_DEADLINE.as_secs()
                    )),
                },
            )),
        },
        None => {}
    }
    if runs.is_empty() {
        return mk(Status::Fail, Status::Fail, "handler not written".into());
    }
    let first_error = |pick: fn(&Verdict) -> &Result<(), String>| {
        let errors: Vec<String> = runs
            .iter()
            .filter_map(|(runner, v)| pick(v).as_ref().err().map(|e| format!("{runner}: {e}")))
            .collect();
        (!errors.is_empty()).then(|| errors.join(" | "))
    };
    let model_err = first_error(|v| &v.model);
    let strict_err = first_error(|v| &v.strict);
    let status = |e: &Option<String>| {
        if e.is_none() {
            Status::Pass
        } else {
            Status::Fail
        }
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(e) = &model_err {
        notes.push(e.clone());
    } else if let Some(e) = &strict_err {
        notes.push(format!("strict: {e}"));
    }
    if let Some(why) = handlers::virtual_only(&req.id) {
        notes.push(format!("service run skipped: {why}"));
    }
    if let Some(why) = handlers::service_only(&req.id) {
        notes.push(format!("in-process run skipped: {why}"));
    }
    if req.optional {
        notes.push("optional".into());
    }
    mk(status(&model_err), status(&strict_err), notes.join("; "))
}

/// The longest reason printed on a report line.
const REASON_WIDTH: usize = 400;

fn print_report(lines: &[Line]) {
    let mut out = format!("\n{:<6} {:<5} {:<6} reason\n", "id", "model", "strict");
    for l in lines {
        let mut reason = l.reason.clone();
        if let Some((cut, _)) = reason.char_indices().nth(REASON_WIDTH) {
            reason.truncate(cut);
            reason.push('…');
        }
        out.push_str(&format!(
            "{:<6} {:<5} {:<6} {reason}\n",
            l.id, l.model, l.strict
        ));
    }
    out.push_str(&format!(
        "\n{:<20} {:>6} {:>6} {:>7} {:>7} {:>5}\n",
        "suite (model/strict)", "pass", "fail", "pass", "fail", "n.a."
    ));
    let counts = report::counts(lines);
    let rows = counts
        .iter()
        .filter(|(suite, _)| suite.as_str() != "total")
        .chain(counts.iter().filter(|(suite, _)| suite.as_str() == "total"));
    for (suite, c) in rows {
        out.push_str(&format!(
            "{suite:<20} {:>6} {:>6} {:>7} {:>7} {:>5}\n",
            c[0], c[1], c[2], c[3], c[4]
        ));
    }
    report::emit(&out);
}
