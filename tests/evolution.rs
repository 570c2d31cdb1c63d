//! State evolution: executions stored on SQLite by version 1 of a workflow enum, stopped
//! mid-way, then resumed and finished by version 2, which renamed a field (a migration),
//! added one (a serde default) and dropped a variant (a state it cannot migrate).

use durable_fsm::executor::{self, InvocationError};
use durable_fsm::machine::evolve::{MigrateError, StoredState};
use durable_fsm::model::*;
use durable_fsm::service::{
    Clock, Engine, EngineConfig, InvocationOutcome, LocalService, SqliteStore, StartExecution,
    VirtualClock,
};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// The execution input, the same in both versions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Bill {
    customer: String,
    dollars: f64,
    /// Where the invoice goes after its grace day: `due`, `overdue` or `disputed`.
    path: String,
}

/// The result, the same in both versions.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    customer: String,
    cents: u64,
    note: String,
}

/// Version 1, as it was deployed when the executions started.
mod v1 {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub enum Invoice {
        Issued(Bill),
        Due { customer: String, dollars: f64 },
        Overdue { customer: String, days: u32 },
        Disputed { customer: String, reason: String },
    }

    impl Transition for Invoice {
        type Input = Bill;
        type Output = Closed;
        fn start(bill: Bill) -> Self {
            Invoice::Issued(bill)
        }
        async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(match self {
                Invoice::Issued(bill) => {
                    let customer = bill.customer;
                    let next = match bill.path.as_str() {
                        "due" => Invoice::Due {
                            customer,
                            dollars: bill.dollars,
                        },
                        "overdue" => Invoice::Overdue { customer, days: 3 },
                        _ => Invoice::Disputed {
                            customer,
                            reason: "never ordered".into(),
                        },
                    };
                    Next::sleep(DAY, next)
                }
                // Version 1 never gets further in this test: version 2 is deployed during the
                // grace day.
                _ => Next::fail("version 1 is retired"),
            })
        }
    }
}

/// Version 2: amounts in cents (`Due` renamed its field), a reminder count on `Due` and
/// `Overdue` (a serde default), disputes no longer part of the workflow.
mod v2 {
    use super::*;

    /// Version 1's enum, kept to read its states.
    mod legacy {
        #[derive(serde::Deserialize)]
        pub enum Invoice {
            Issued(super::Bill),
            Due { customer: String, dollars: f64 },
            Overdue { customer: String, days: u32 },
            Disputed { customer: String, reason: String },
        }
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub enum Invoice {
        Issued(Bill),
        Due {
            customer: String,
            cents: u64,
            #[serde(default)]
            reminders: u32,
        },
        Overdue {
            customer: String,
            days: u32,
            #[serde(default)]
            reminders: u32,
        },
    }

    impl Transition for Invoice {
        type Input = Bill;
        type Output = Closed;
        fn start(bill: Bill) -> Self {
            Invoice::Issued(bill)
        }
        async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(match self {
                Invoice::Issued(bill) => Next::to(Invoice::Due {
                    customer: bill.customer,
                    cents: cents(bill.dollars),
                    reminders: 0,
                }),
                Invoice::Due {
                    customer,
                    cents,
                    reminders: 0,
                } => Next::to(Invoice::Due {
                    customer,
                    cents,
                    reminders: 1,
                }),
                Invoice::Due {
                    customer,
                    cents,
                    reminders,
                } => Next::done(Closed {
                    customer,
                    cents,
                    note: format!("paid after {reminders} reminder(s)"),
                }),
                Invoice::Overdue {
                    customer,
                    days,
                    reminders,
                } => Next::done(Closed {
                    customer,
                    cents: 0,
                    note: format!("written off after {days} days, {reminders} reminders"),
                }),
            })
        }

        fn migrate(stored: StoredState) -> Result<Self, MigrateError> {
            Ok(match stored.decode::<legacy::Invoice>()? {
                legacy::Invoice::Issued(bill) => Invoice::Issued(bill),
                legacy::Invoice::Due { customer, dollars } => Invoice::Due {
                    customer,
                    cents: cents(dollars),
                    reminders: 0,
                },
                legacy::Invoice::Overdue { customer, days } => Invoice::Overdue {
                    customer,
                    days,
                    reminders: 0,
                },
                legacy::Invoice::Disputed { customer, reason } => {
                    return Err(MigrateError::new(format!(
                        "disputes left the workflow in version 2: settle {customer}'s ({reason}) by hand and stop the execution"
                    )));
                }
            })
        }
    }

    fn cents(dollars: f64) -> u64 {
        (dollars * 100.0).round().max(0.0) as u64
    }
}

/// A SQLite database in a fresh directory, removed at the end.
struct Db(PathBuf);

impl Db {
    fn new(test: &str) -> Db {
        let dir = std::env::temp_dir().join(format!(
            "dfsm-evolution-{test}-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Db(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.join("durable.db")
    }

    /// The service over the database, as a process (re)started on `clock` sees it.
    fn open(&self, clock: &VirtualClock) -> LocalService {
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        let store = SqliteStore::open(&self.path()).unwrap();
        LocalService::new(Engine::open(EngineConfig::default(), clock, Box::new(store)).unwrap())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Runs invocations of `W` until the execution ends or waits for a timer; returns the error
/// of the first invocation that fails.
async fn invoke_until_idle<W: Transition>(
    service: &LocalService,
    clock: &VirtualClock,
    arn: &str,
) -> Result<(), InvocationError> {
    for n in 0..20 {
        let Some(input) = service
            .with_engine(|e| e.begin_invocation(arn))
            .unwrap()
            .unwrap()
        else {
            return Ok(());
        };
        let token = input.checkpoint_token.clone();
        let at = clock.now();
        let result = executor::run::<W, _>(service, input).await;
        let outcome = match &result {
            Ok(output) => InvocationOutcome::Output(output.clone()),
            Err(e) => InvocationOutcome::Error(e.to_error_object()),
        };
        service
            .with_engine(|e| e.complete_invocation(arn, &token, outcome, format!("req-{n}"), at))
            .unwrap()
            .unwrap();
        result?;
    }
    panic!("{arn} kept needing invocations");
}

fn start(service: &LocalService, path: &str) -> String {
    let bill = Bill {
        customer: format!("c-{path}"),
        dollars: 12.5,
        path: path.into(),
    };
    let start = StartExecution::new("invoice", serde_json::to_string(&bill).unwrap()).named(path);
    service
        .with_engine(|e| e.start_execution(start))
        .unwrap()
        .unwrap()
        .arn
}

/// The payload of the newest transition STEP.
fn newest_state(service: &LocalService, arn: &str) -> String {
    let ops = service.lock().unwrap().operations(arn).unwrap();
    ops.iter()
        .rev()
        .find(|op| op.sub_type.as_deref() == Some(executor::TRANSITION_SUBTYPE))
        .and_then(|op| op.step_details.as_ref()?.result.clone())
        .unwrap()
}

fn execution(service: &LocalService, arn: &str) -> GetDurableExecutionResponse {
    service.lock().unwrap().get_execution(arn, true).unwrap()
}

/// Version 1 starts three invoices and stops at their grace day; the process stops.
async fn stored_by_version_1(db: &Db, clock: &VirtualClock) -> [String; 3] {
    let service = db.open(clock);
    let arns = ["due", "overdue", "disputed"].map(|path| start(&service, path));
    for arn in &arns {
        invoke_until_idle::<v1::Invoice>(&service, clock, arn)
            .await
            .unwrap();
        assert_eq!(execution(&service, arn).status, ExecutionStatus::Running);
    }
    assert_eq!(
        newest_state(&service, &arns[0]),
        r#"{"Due":{"customer":"c-due","dollars":12.5}}"#
    );
    arns
}

/// Version 2 is deployed: a new process opens the same database after the grace day.
async fn resumed_by_version_2(db: &Db, clock: &VirtualClock, arn: &str) -> LocalService {
    clock.advance(DAY + Duration::from_secs(1));
    let service = db.open(clock);
    service.with_engine(|e| e.fire_due()).unwrap();
    let _ = invoke_until_idle::<v2::Invoice>(&service, clock, arn).await;
    service
}

#[tokio::test]
async fn a_state_stored_by_version_1_is_migrated_and_finished_by_version_2() {
    let db = Db::new("migrate");
    let clock = VirtualClock::new(Timestamp::now());
    let [due, overdue, _] = stored_by_version_1(&db, &clock).await;

    let service = resumed_by_version_2(&db, &clock, &due).await;
    let exec = execution(&service, &due);
    assert_eq!(exec.status, ExecutionStatus::Succeeded, "{exec:?}");
    let closed: Closed = serde_json::from_str(exec.result.as_deref().unwrap()).unwrap();
    assert_eq!(
        closed,
        Closed {
            customer: "c-due".into(),
            cents: 1250,
            note: "paid after 1 reminder(s)".into(),
        }
    );
    // What version 2 checkpointed is in its own shape.
    let ops = service.lock().unwrap().operations(&due).unwrap();
    assert!(
        ops.iter().any(
            |op| op.step_details.as_ref().and_then(|d| d.result.as_deref())
                == Some(r#"{"Due":{"customer":"c-due","cents":1250,"reminders":1}}"#)
        ),
        "{ops:#?}"
    );
    drop(service);

    // `Overdue` gained a field with a serde default: no migration needed.
    let service = db.open(&clock);
    invoke_until_idle::<v2::Invoice>(&service, &clock, &overdue)
        .await
        .unwrap();
    let exec = execution(&service, &overdue);
    let closed: Closed = serde_json::from_str(exec.result.as_deref().unwrap()).unwrap();
    assert_eq!(closed.note, "written off after 3 days, 0 reminders");
}

#[tokio::test]
async fn a_state_version_2_cannot_migrate_is_a_state_decode_error_naming_the_variant() {
    let db = Db::new("refuse");
    let clock = VirtualClock::new(Timestamp::now());
    let [_, _, disputed] = stored_by_version_1(&db, &clock).await;
    clock.advance(DAY + Duration::from_secs(1));
    let service = db.open(&clock);
    service.with_engine(|e| e.fire_due()).unwrap();

    let err = invoke_until_idle::<v2::Invoice>(&service, &clock, &disputed)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "StateDecodeError");
    let message = err.to_string();
    for part in [
        "state `Disputed`",
        "no longer deserializes into",
        "unknown variant `Disputed`",
        "Transition::migrate: disputes left the workflow in version 2",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
    // The invocation failed, not the execution: it resumes once a version that reads the
    // state is deployed.
    assert_eq!(
        execution(&service, &disputed).status,
        ExecutionStatus::Running
    );
}
