//! A process running a workflow on the local service is killed (SIGKILL) several times in
//! the middle of a long execution; each restart on the same database continues it, and it
//! ends with the right result, no transition lost and none recorded twice.
#![cfg(all(unix, feature = "local"))]

use durable_fsm::executor::TRANSITION_SUBTYPE;
use durable_fsm::model::*;
use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STEPS: u64 = 300;
const DB_ENV: &str = "DFSM_CRASH_DB";

/// Adds 1..=to, one number per transition, writing each number to a journal file (the side
/// effect whose repetitions we count).
#[derive(Serialize, Deserialize)]
enum Ledger {
    Add {
        next: u64,
        to: u64,
        sum: u64,
        journal: PathBuf,
    },
}

impl Transition for Ledger {
    type Input = (u64, PathBuf);
    type Output = u64;
    fn start((to, journal): (u64, PathBuf)) -> Self {
        Ledger::Add {
            next: 1,
            to,
            sum: 0,
            journal,
        }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Ledger::Add {
            next,
            to,
            sum,
            journal,
        } = self;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)?;
        writeln!(f, "{next}")?;
        tokio::time::sleep(Duration::from_millis(3)).await;
        let sum = sum + next;
        Ok(if next == to {
            Next::done(sum)
        } else {
            Next::to(Ledger::Add {
                next: next + 1,
                to,
                sum,
                journal,
            })
        })
    }
}

/// The child process: opens the service on the database, runs the execution until it ends.
#[test]
fn child_process() {
    let Ok(db) = std::env::var(DB_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = PathBuf::from(db);
        let journal = db.with_extension("journal");
        let service = LocalService::open(
            &db,
            EngineConfig {
                invocation_retry_delay: Duration::from_millis(50),
                ..EngineConfig::default()
            },
        )
        .unwrap();
        let mut registry = Registry::new();
        registry.register::<Ledger>("ledger");
        let runtime = Runtime::start(
            service.clone(),
            Invokers::new(registry),
            Arc::new(SystemClock),
        );
        let input = serde_json::to_string(&(STEPS, journal)).unwrap();
        let started = service
            .with_engine(|e| e.start_execution(StartExecution::new("ledger", input).named("crash")))
            .unwrap()
            .unwrap();
        let end = runtime
            .wait_for_end(&started.arn, Duration::from_secs(60))
            .await
            .unwrap();
        println!("CHILD-DONE {}", end.status);
    });
}

fn spawn_child(db: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn journal_lines(journal: &Path) -> Vec<u64> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn sigkill_mid_execution_and_restart_loses_nothing_and_doubles_nothing() {
    let dir = std::env::temp_dir().join(format!("dfsm-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("crash.db");
    let journal = db.with_extension("journal");
    let _ = std::fs::remove_file(&journal);

    // Kill the process at three points of the run.
    let mut kills = 0;
    for kill_after in [40usize, 120, 210] {
        let mut child = spawn_child(&db);
        let deadline = Instant::now() + Duration::from_secs(30);
        while journal_lines(&journal).len() < kill_after {
            assert!(Instant::now() < deadline, "the child made no progress");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the child ended early: {status}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 3);

    // A last run finishes the execution.
    let child = spawn_child(&db);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CHILD-DONE SUCCEEDED"), "{stdout}");

    // The result and the record, read from the database.
    let service = LocalService::open(&db, EngineConfig::default()).unwrap();
    let engine = service.lock().unwrap();
    let list = engine
        .list_executions(durable_fsm::service::ListExecutions::default())
        .unwrap();
    assert_eq!(
        list.durable_executions.len(),
        1,
        "restarts found the same execution"
    );
    let arn = &list.durable_executions[0].durable_execution_arn;
    let exec = engine.get_execution(arn, true).unwrap();
    assert_eq!(exec.status, ExecutionStatus::Succeeded);
    assert_eq!(
        exec.result.as_deref(),
        Some((STEPS * (STEPS + 1) / 2).to_string().as_str())
    );

    // Exactly one recorded transition per number, in order: none lost, none twice.
    let ops = engine.operations(arn).unwrap();
    let steps: Vec<_> = ops
        .iter()
        .filter(|o| o.sub_type.as_deref() == Some(TRANSITION_SUBTYPE))
        .collect();
    assert_eq!(steps.len() as u64, STEPS);
    assert!(steps.iter().all(|o| o.status == OperationStatus::Succeeded));
    let succeeded = engine
        .events(arn)
        .unwrap()
        .iter()
        .filter(|e| e.event_type == EventType::StepSucceeded)
        .count();
    assert_eq!(
        succeeded as u64, STEPS,
        "no transition's checkpoint applied twice"
    );

    // The side effect ran for every number; only a transition cut short by a kill ran twice.
    let lines = journal_lines(&journal);
    let mut counts = std::collections::BTreeMap::new();
    for n in &lines {
        *counts.entry(*n).or_insert(0u32) += 1;
    }
    assert_eq!(counts.len() as u64, STEPS, "every transition ran");
    let repeated: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        repeated.len() <= kills,
        "only in-flight transitions re-ran: {repeated:?}"
    );
    let failed_invocations = engine
        .events(arn)
        .unwrap()
        .iter()
        .filter(|e| {
            e.invocation_completed_details
                .as_ref()
                .is_some_and(|d| d.error.is_some())
        })
        .count();
    assert_eq!(
        failed_invocations, kills,
        "each kill is an InvocationCompleted with an error"
    );
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}
