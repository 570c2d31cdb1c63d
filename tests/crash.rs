//! Crash tests on a seeded schedule: a process embedding the local service on SQLite and
//! running the workflows (in-process invoker, a callback sender, the timer driver) is killed
//! with SIGKILL at named crash points (`durable_fsm::failpoint`): before and after the
//! executor's checkpoint calls, before a store transaction commits, after a call has
//! committed but before its answer is returned, while a callback is delivered, while a timer
//! fires, after an invocation returned but before its end is recorded. Each kill is followed
//! by a restart on the same database.
//!
//! After the last restart every execution must end with the result of an uninterrupted run,
//! with every transition recorded once (its STEP started once and succeeded once), the timer
//! and the callback completed once, and side effects repeated only for transitions a kill cut
//! short.
//!
//! A second test kills `durable-fsm serve` itself (the service in its own process, the
//! workflows in a function host over aws-sdk-lambda) at the service's crash points.
//!
//! `DURABLE_FSM_CRASH_SEED` fixes the schedules (the tests print the seed they used);
//! `DURABLE_FSM_CRASH_POINTS` sets how many kill points are tried in the embedded process (40
//! by default), `DURABLE_FSM_CRASH_SERVE_POINTS` how many of `durable-fsm serve` (6).
#![cfg(all(unix, feature = "local", feature = "failpoints"))]

use durable_fsm::api::ErrorCode;
use durable_fsm::executor::TRANSITION_SUBTYPE;
use durable_fsm::failpoint;
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome};
use durable_fsm::model::*;
use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
use durable_fsm::service::{
    EngineConfig, ListExecutions, LocalService, StartExecution, SystemClock,
};
use durable_fsm::{Ctx, DurableApi, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Transitions of one execution's counting loop.
const STEPS: u64 = 12;
/// Executions that run at once in each process.
const EXECUTIONS: u64 = 3;
/// The durable sleep in the middle of each execution.
const TIMER: Duration = Duration::from_millis(150);
/// Kill points tried by default.
const DEFAULT_POINTS: u64 = 40;
/// Kills at most per fresh database before the last restart.
const KILLS_PER_TRIAL: u32 = 2;
/// The longest one child process may run.
const CHILD_BOUND: Duration = Duration::from_secs(60);

/// SIGKILL's number on every Unix.
const SIGKILL: i32 = 9;
const DB_ENV: &str = "DFSM_CRASH_DB";
const SEED_ENV: &str = "DURABLE_FSM_CRASH_SEED";
const POINTS_ENV: &str = "DURABLE_FSM_CRASH_POINTS";

// ---- the workflow -------------------------------------------------------------------------

/// Where an execution writes its side effects.
#[derive(Clone, Serialize, Deserialize)]
struct Job {
    idx: u64,
    journal: PathBuf,
    callbacks: PathBuf,
}

/// Adds 1..=STEPS, one number per transition (each appends `idx number` to the journal: the
/// side effect whose repetitions are counted). After a third it sleeps durably; after two
/// thirds it opens a callback (reporting its id in the callbacks file) and adds the number
/// the callback brings.
#[derive(Serialize, Deserialize)]
enum Tally {
    Add {
        job: Job,
        i: u64,
        sum: u64,
    },
    Waiting {
        job: Job,
        i: u64,
        sum: u64,
        callback: Callback,
    },
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}

/// What the callback of execution `idx` brings.
fn callback_value(idx: u64) -> u64 {
    1000 * (idx + 1) + 7
}

/// The result of execution `idx`, computed.
fn expected_result(idx: u64) -> u64 {
    STEPS * (STEPS + 1) / 2 + callback_value(idx)
}

impl Transition for Tally {
    type Input = Job;
    type Output = u64;

    fn start(job: Job) -> Self {
        Tally::Add { job, i: 1, sum: 0 }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Tally::Add { job, i, sum } => {
                append(&job.journal, &format!("{} {i}", job.idx))?;
                tokio::time::sleep(Duration::from_millis(2)).await;
                let sum = sum + i;
                Ok(if i == STEPS {
                    Next::done(sum)
                } else if i == STEPS / 3 {
                    Next::sleep(TIMER, Tally::Add { job, i: i + 1, sum })
                } else if i == 2 * STEPS / 3 {
                    let callback = ctx
                        .callback("approve", CallbackConfig::timeout(Duration::from_secs(600)))
                        .await?;
                    append(&job.callbacks, &format!("{} {}", job.idx, callback.id()))?;
                    Next::to(Tally::Waiting {
                        job,
                        i: i + 1,
                        sum,
                        callback,
                    })
                } else {
                    Next::to(Tally::Add { job, i: i + 1, sum })
                })
            }
            Tally::Waiting {
                job,
                i,
                sum,
                callback,
            } => match ctx.callback_outcome(&callback)? {
                CallbackOutcome::Succeeded(body) => {
                    let value: u64 = body.trim().parse().map_err(|e| {
                        TransitionError::new(format!("callback body {body:?}: {e}"))
                    })?;
                    Ok(Next::to(Tally::Add {
                        job,
                        i,
                        sum: sum + value,
                    }))
                }
                CallbackOutcome::Failed(e) | CallbackOutcome::TimedOut(e) => Ok(Next::fail(e)),
            },
        }
    }
}

// ---- the child process --------------------------------------------------------------------

fn side_files(db: &Path) -> (PathBuf, PathBuf) {
    (db.with_extension("journal"), db.with_extension("callbacks"))
}

/// Answers every callback listed in the callbacks file, again after each restart; an answer
/// the service already has is refused with CallbackTimeoutException, which counts as done.
async fn deliver_callbacks(service: LocalService, file: PathBuf) {
    let mut done = HashSet::new();
    loop {
        let listed = std::fs::read_to_string(&file).unwrap_or_default();
        for line in listed.lines() {
            let Some((idx, id)) = line.split_once(' ') else {
                continue;
            };
            let Ok(idx) = idx.parse::<u64>() else {
                continue;
            };
            if done.contains(id) {
                continue;
            }
            let body = callback_value(idx).to_string().into_bytes();
            match service.send_callback_success(id, body).await {
                Ok(()) => {
                    done.insert(id.to_string());
                }
                Err(e) if e.code == ErrorCode::CallbackTimeout => {
                    done.insert(id.to_string());
                }
                Err(e) => eprintln!("callback {id}: {e}; trying again"),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The child: opens the service on the database, starts (or finds) the executions, answers
/// callbacks and waits for every execution to end. Does nothing outside a crash test.
#[test]
fn crash_child() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let db = PathBuf::from(db);
    let (journal, callbacks) = side_files(&db);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async {
        let config = EngineConfig {
            invocation_retry_delay: Duration::from_millis(50),
            ..EngineConfig::default()
        };
        let service = LocalService::open(&db, config).expect("open the database");
        let mut registry = Registry::new();
        registry.register::<Tally>("tally");
        let runtime = Runtime::start(
            service.clone(),
            Invokers::new(registry),
            Arc::new(SystemClock),
        );
        let mut arns = Vec::new();
        for idx in 0..EXECUTIONS {
            let job = Job {
                idx,
                journal: journal.clone(),
                callbacks: callbacks.clone(),
            };
            let input = serde_json::to_string(&job).expect("a job is JSON");
            let started = service
                .with_engine(|e| {
                    e.start_execution(
                        StartExecution::new("tally", input).named(format!("run-{idx}")),
                    )
                })
                .and_then(|r| r)
                .expect("start (or find) the execution");
            arns.push(started.arn);
        }
        tokio::spawn(deliver_callbacks(service.clone(), callbacks.clone()));
        for arn in &arns {
            let end = runtime
                .wait_for_end(arn, CHILD_BOUND)
                .await
                .expect("the execution ends");
            println!(
                "CHILD-END {} {}",
                end.status,
                end.result.unwrap_or_default()
            );
        }
        println!("CHILD-DONE");
        for (name, n) in failpoint::counts() {
            println!("FAILPOINT {name} {n}");
        }
    });
}

// ---- the parent ---------------------------------------------------------------------------

/// SplitMix64: the seeded schedule.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// How a child ended.
enum Ended {
    /// Killed by SIGKILL at its crash point.
    Killed,
    /// Ran to the end; its standard output.
    Finished(String),
}

/// Runs a child on `db` with the crash point `point` (`None`: none, `Some("count")`: count).
fn run_child(db: &Path, point: Option<&str>) -> Ended {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(DB_ENV, db)
        .env_remove(failpoint::ENV)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(point) = point {
        cmd.env(failpoint::ENV, point);
    }
    let mut child: Child = cmd.spawn().expect("spawn the child");
    let deadline = Instant::now() + CHILD_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child with crash point {point:?} ran for over {CHILD_BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    if status.signal() == Some(SIGKILL) {
        return Ended::Killed;
    }
    assert!(
        status.success() && stdout.contains("CHILD-DONE"),
        "the child with crash point {point:?} failed ({status}):\n{stdout}\n{stderr}"
    );
    Ended::Finished(stdout)
}

/// What an execution looks like at its end.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: ExecutionStatus,
    result: Option<String>,
    /// Ids of the transition STEPs, in creation order.
    transitions: Vec<String>,
}

/// Reads every execution of the database, by name, checking the record of each: every
/// transition STEP started once and succeeded once, one timer, one callback, at most
/// `max_failed_invocations` invocations ended with an error. Returns the outcomes.
fn check_database(db: &Path, max_failed_invocations: usize) -> BTreeMap<String, Outcome> {
    let service = LocalService::open(db, EngineConfig::default()).expect("open the database");
    let engine = service.lock().expect("the engine");
    let list = engine
        .list_executions(ListExecutions::default())
        .expect("list the executions");
    let mut out = BTreeMap::new();
    for summary in list.durable_executions {
        let arn = summary.durable_execution_arn;
        let exec = engine.get_execution(&arn, true).expect("the execution");
        let ops = engine.operations(&arn).expect("its operations");
        let events = engine.events(&arn).expect("its history");
        let transitions: Vec<String> = ops
            .iter()
            .filter(|o| o.sub_type.as_deref() == Some(TRANSITION_SUBTYPE))
            .map(|o| {
                assert_eq!(o.status, OperationStatus::Succeeded, "{arn}: {o:?}");
                o.id.clone()
            })
            .collect();
        for id in &transitions {
            let count = |t: EventType| {
                events
                    .iter()
                    .filter(|e| e.event_type == t && e.id.as_deref() == Some(id.as_str()))
                    .count()
            };
            assert_eq!(count(EventType::StepStarted), 1, "{arn}: STEP {id} started");
            assert_eq!(
                count(EventType::StepSucceeded),
                1,
                "{arn}: STEP {id} succeeded"
            );
        }
        let count = |t: EventType| events.iter().filter(|e| e.event_type == t).count();
        assert_eq!(count(EventType::WaitSucceeded), 1, "{arn}: one timer");
        assert_eq!(
            count(EventType::CallbackSucceeded),
            1,
            "{arn}: one callback"
        );
        let failed_invocations = events
            .iter()
            .filter(|e| {
                e.invocation_completed_details
                    .as_ref()
                    .is_some_and(|d| d.error.is_some())
            })
            .count();
        assert!(
            failed_invocations <= max_failed_invocations,
            "{arn}: {failed_invocations} failed invocations for {max_failed_invocations} kills"
        );
        out.insert(
            exec.durable_execution_name.clone(),
            Outcome {
                status: exec.status,
                result: exec.result.clone(),
                transitions,
            },
        );
    }
    out
}

/// Journal entries `(execution, number)` and how often each was written.
fn journal_counts(db: &Path) -> BTreeMap<(u64, u64), u32> {
    let mut counts = BTreeMap::new();
    let text = std::fs::read_to_string(side_files(db).0).unwrap_or_default();
    for line in text.lines() {
        if let Some((a, b)) = line.split_once(' ')
            && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
        {
            *counts.entry((a, b)).or_insert(0) += 1;
        }
    }
    counts
}

fn fresh_db(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(format!("{name}.db"));
    for ext in ["db", "db-wal", "db-shm", "journal", "callbacks"] {
        let _ = std::fs::remove_file(db.with_extension(ext));
    }
    db
}

#[test]
fn seeded_sigkills_at_crash_points_lose_nothing_and_apply_nothing_twice() {
    let seed = env_number(SEED_ENV).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let points = env_number(POINTS_ENV).unwrap_or(DEFAULT_POINTS).max(1);
    println!("crash: seed {seed} ({SEED_ENV}={seed} {POINTS_ENV}={points} to repeat)");
    let mut rng = Rng(seed);
    let dir = std::env::temp_dir().join(format!("dfsm-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");

    // The uninterrupted run: the reference results, and how often each point is hit.
    let db = fresh_db(&dir, "reference");
    let Ended::Finished(stdout) = run_child(&db, Some("count")) else {
        panic!("the uninterrupted run was killed");
    };
    let reference = check_database(&db, 0);
    assert_eq!(reference.len() as u64, EXECUTIONS);
    for idx in 0..EXECUTIONS {
        let r = &reference[&format!("run-{idx}")];
        assert_eq!(r.status, ExecutionStatus::Succeeded);
        assert_eq!(r.result, Some(expected_result(idx).to_string()));
        // One transition per number, one for the callback's answer.
        assert_eq!(r.transitions.len() as u64, STEPS + 1);
    }
    let hits: BTreeMap<String, u64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FAILPOINT "))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(name, n)| Some((name.to_string(), n.parse().ok()?)))
        .collect();
    for point in failpoint::POINTS {
        assert!(
            hits.get(*point).is_some_and(|&n| n > 0),
            "the uninterrupted run never passed {point}: {hits:?}"
        );
    }
    println!("crash: hits in an uninterrupted run: {hits:?}");

    // Trials: a fresh database, up to KILLS_PER_TRIAL kills, a last run to the end.
    let names: Vec<&String> = hits.keys().collect();
    let (mut tried, mut killed, mut trials) = (0u64, 0u64, 0u64);
    let mut per_point: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    while tried < points {
        trials += 1;
        let db = fresh_db(&dir, &format!("trial-{trials}"));
        let mut kills = 0u32;
        let mut schedule = Vec::new();
        let mut finished = false;
        while kills < KILLS_PER_TRIAL && tried < points && !finished {
            let name = names[rng.below(names.len() as u64) as usize];
            // Later kills land in the shorter rest of the run.
            let range = hits[name] / (u64::from(kills) + 1);
            let n = 1 + rng.below(range);
            let point = format!("{name}:{n}");
            tried += 1;
            let slot = per_point.entry(name.clone()).or_default();
            slot.0 += 1;
            match run_child(&db, Some(&point)) {
                Ended::Killed => {
                    killed += 1;
                    kills += 1;
                    slot.1 += 1;
                    schedule.push(point);
                }
                Ended::Finished(_) => {
                    // The executions ended before the point was reached.
                    schedule.push(format!("{point} (not reached)"));
                    finished = true;
                }
            }
        }
        if !finished {
            let Ended::Finished(_) = run_child(&db, None) else {
                panic!("the last run was killed");
            };
        }
        let context = format!("seed {seed}, trial {trials}, schedule {schedule:?}");
        let outcome = check_database(&db, kills as usize);
        assert_eq!(
            outcome, reference,
            "{context}: the same results and transitions as the uninterrupted run"
        );
        // Every side effect happened; only transitions a kill cut short happened twice.
        let counts = journal_counts(&db);
        assert_eq!(
            counts.len() as u64,
            EXECUTIONS * STEPS,
            "{context}: {counts:?}"
        );
        let repeated = counts.values().filter(|&&c| c > 1).count() as u64;
        assert!(
            repeated <= u64::from(kills) * EXECUTIONS,
            "{context}: {repeated} side effects repeated after {kills} kills: {counts:?}"
        );
    }

    println!(
        "crash: seed {seed}: {tried} kill points tried in {trials} trials, {killed} killed the \
         process and were survived, {} were not reached before the executions ended",
        tried - killed
    );
    for (name, (t, k)) in &per_point {
        println!("crash:   {name}: {t} tried, {k} killed");
    }
    assert_eq!(tried, points, "every scheduled kill point was tried");
    // The first kill of a trial is drawn within an uninterrupted run's hits, so most kill.
    assert!(killed >= trials, "{killed} kills in {trials} trials");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same scenario with the service in its own process: `durable-fsm serve` on the SQLite
/// database is killed at the service's crash points and restarted on the same database and
/// port, while the workflows run in a function host inside this test over aws-sdk-lambda.
/// `DURABLE_FSM_CRASH_SERVE_POINTS` sets how many kill points are tried (6 by default: a
/// restart may wait out the service's 5 s invocation retry delay).
#[cfg(all(
    feature = "cli",
    feature = "aws",
    feature = "lambda",
    feature = "server"
))]
mod serve {
    use super::*;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType;
    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use durable_fsm::aws::AwsDurableApi;
    use durable_fsm::lambda;
    use serde_json::{Value, json};

    const SERVE_POINTS_ENV: &str = "DURABLE_FSM_CRASH_SERVE_POINTS";
    const DEFAULT_SERVE_POINTS: u64 = 6;
    /// Crash points of the service process, with the hits an uninterrupted run makes at least
    /// (the hit to kill at is drawn below it).
    const SERVICE_POINTS: [(&str, u64); 5] = [
        ("store.commit.before", 20),
        ("service.call.after", 8),
        ("callback.deliver.applied", 3),
        ("timer.fire", 3),
        ("runtime.invocation.end", 6),
    ];

    async fn invoke(State(api): State<AwsDurableApi>, body: Bytes) -> Response {
        let Ok(event) = serde_json::from_slice::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "not JSON").into_response();
        };
        match lambda::handle::<Tally, _>(&api, event).await {
            Ok(output) => (StatusCode::OK, output.to_string()).into_response(),
            Err(failure) => {
                let body =
                    json!({ "errorType": failure.code(), "errorMessage": failure.to_string() });
                (
                    StatusCode::OK,
                    [("x-amz-function-error", "Unhandled")],
                    body.to_string(),
                )
                    .into_response()
            }
        }
    }

    fn spawn_serve(db: &Path, port: u16, host: &str, point: Option<&str>) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_durable-fsm"));
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--db"])
            .arg(db)
            .args(["--lambda-endpoint", host])
            .env_remove(failpoint::ENV)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(point) = point {
            cmd.env(failpoint::ENV, point);
        }
        cmd.spawn().expect("spawn durable-fsm serve")
    }

    /// Starts the executions (again: the same name and input is the same execution),
    /// answers their callbacks and waits for their end, until they all ended or the service
    /// died. Returns whether it was killed.
    async fn drive(
        child: &mut Child,
        client: &aws_sdk_lambda::Client,
        api: &AwsDurableApi,
        db: &Path,
    ) -> bool {
        let (journal, callbacks) = side_files(db);
        let mut arns: BTreeMap<u64, String> = BTreeMap::new();
        let mut answered = HashSet::new();
        let deadline = Instant::now() + CHILD_BOUND;
        loop {
            if let Some(status) = child.try_wait().expect("wait for durable-fsm serve") {
                assert_eq!(status.signal(), Some(SIGKILL), "serve ended: {status}");
                return true;
            }
            assert!(Instant::now() < deadline, "the executions did not end");
            for idx in 0..EXECUTIONS {
                if arns.contains_key(&idx) {
                    continue;
                }
                let job = Job {
                    idx,
                    journal: journal.clone(),
                    callbacks: callbacks.clone(),
                };
                let payload = serde_json::to_string(&job).expect("a job is JSON");
                if let Ok(out) = client
                    .invoke()
                    .function_name("tally")
                    .invocation_type(InvocationType::Event)
                    .durable_execution_name(format!("run-{idx}"))
                    .payload(Blob::new(payload))
                    .send()
                    .await
                    && let Some(arn) = out.durable_execution_arn()
                {
                    arns.insert(idx, arn.to_string());
                }
            }
            let listed = std::fs::read_to_string(&callbacks).unwrap_or_default();
            for (idx, id) in listed.lines().filter_map(|l| l.split_once(' ')) {
                let Ok(idx) = idx.parse::<u64>() else {
                    continue;
                };
                if answered.contains(id) {
                    continue;
                }
                let body = callback_value(idx).to_string().into_bytes();
                match api.send_callback_success(id, body).await {
                    Ok(()) => {
                        answered.insert(id.to_string());
                    }
                    Err(e) if e.code == ErrorCode::CallbackTimeout => {
                        answered.insert(id.to_string());
                    }
                    Err(_) => {}
                }
            }
            let mut ended = 0;
            for arn in arns.values() {
                if let Ok(x) = api.get_execution(arn, false).await
                    && x.status.is_terminal()
                {
                    ended += 1;
                }
            }
            if ended == EXECUTIONS {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seeded_sigkills_of_durable_fsm_serve_lose_nothing_and_apply_nothing_twice() {
        let seed = env_number(SEED_ENV).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let points = env_number(SERVE_POINTS_ENV)
            .unwrap_or(DEFAULT_SERVE_POINTS)
            .max(1);
        println!("crash (serve): seed {seed} ({SEED_ENV}={seed} {SERVE_POINTS_ENV}={points})");
        let mut rng = Rng(seed ^ 0x5e57e);
        let dir = std::env::temp_dir().join(format!("dfsm-crash-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let service_url = format!("http://127.0.0.1:{port}");
        let api = AwsDurableApi::with_endpoint(service_url.clone(), "us-east-1");
        let host_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the function host");
        let host_url = format!(
            "http://{}",
            host_listener.local_addr().expect("host address")
        );
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(api.clone());
        let host = tokio::spawn(async move { axum::serve(host_listener, app).await });
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .endpoint_url(&service_url)
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "dummy", "dummy", None, None, "test",
            ))
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build();
        let client = aws_sdk_lambda::Client::from_conf(config);

        let (mut tried, mut killed, mut trials) = (0u64, 0u64, 0u64);
        while tried < points {
            trials += 1;
            let db = fresh_db(&dir, &format!("serve-{trials}"));
            let mut kills = 0u32;
            let mut schedule = Vec::new();
            let mut finished = false;
            while kills < KILLS_PER_TRIAL && tried < points && !finished {
                let (name, hits) = SERVICE_POINTS[rng.below(SERVICE_POINTS.len() as u64) as usize];
                let point = format!("{name}:{}", 1 + rng.below(hits / (u64::from(kills) + 1)));
                tried += 1;
                let mut child = spawn_serve(&db, port, &host_url, Some(&point));
                if drive(&mut child, &client, &api, &db).await {
                    killed += 1;
                    kills += 1;
                    schedule.push(point);
                } else {
                    schedule.push(format!("{point} (not reached)"));
                    finished = true;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            if !finished {
                let mut child = spawn_serve(&db, port, &host_url, None);
                let was_killed = drive(&mut child, &client, &api, &db).await;
                let _ = child.kill();
                let _ = child.wait();
                assert!(!was_killed, "the last run was killed");
            }
            let context = format!("seed {seed}, serve trial {trials}, schedule {schedule:?}");
            let outcome = check_database(&db, kills as usize);
            assert_eq!(outcome.len() as u64, EXECUTIONS, "{context}");
            for idx in 0..EXECUTIONS {
                let o = &outcome[&format!("run-{idx}")];
                assert_eq!(o.status, ExecutionStatus::Succeeded, "{context}");
                assert_eq!(
                    o.result,
                    Some(expected_result(idx).to_string()),
                    "{context}"
                );
                assert_eq!(o.transitions.len() as u64, STEPS + 1, "{context}");
            }
            let counts = journal_counts(&db);
            assert_eq!(
                counts.len() as u64,
                EXECUTIONS * STEPS,
                "{context}: {counts:?}"
            );
            println!("crash (serve): trial {trials}: {schedule:?}");
        }
        println!(
            "crash (serve): seed {seed}: {tried} kill points of `durable-fsm serve` tried in \
             {trials} trials, {killed} killed it and were survived, {} not reached",
            tried - killed
        );
        assert_eq!(tried, points);
        assert!(killed >= 1, "no kill point was reached");
        host.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
