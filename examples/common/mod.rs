//! What the examples' `main`s share: the embedded local durable service on a SQLite file, the
//! runtime that invokes the registered workflows, waiting for an execution, and printing its
//! history. Each example includes it with `#[path = "../common/mod.rs"] mod common;`.

use durable_fsm::display::history_table;
use durable_fsm::model::GetDurableExecutionResponse;
use durable_fsm::service::runtime::{Invokers, Registry, Runtime, RuntimeHandle};
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, Started, SystemClock};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The error type of the examples' `main`.
pub type Error = Box<dyn std::error::Error>;

/// How the example treats executions from an earlier run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    /// Keep them: an interrupted run continues where it stopped.
    #[allow(dead_code)] // each example uses one of the two
    Keep,
    /// Start from an empty database (the example's simulated systems live in its memory).
    Fresh,
}

/// The local durable service of one example, with its runtime running.
pub struct Local {
    /// The service: start executions, send callbacks, read histories through it.
    pub service: LocalService,
    runtime: RuntimeHandle,
}

impl Local {
    /// Opens the database of example `name` (the first command-line argument, else
    /// `target/durable-fsm-{name}.db`; for a fresh start, the default file is removed, a
    /// named one must not exist), registers the workflows `register` adds and starts
    /// the runtime that invokes them and fires their timers.
    pub fn open(
        name: &str,
        database: Database,
        register: impl FnOnce(&mut Registry),
    ) -> Result<Local, Error> {
        let (db, given) = database_path(name);
        println!("durable-fsm {name} example, database {}", db.display());
        if database == Database::Fresh {
            if given && db.exists() {
                return Err(format!(
                    "the {name} example starts from an empty database, and {} exists: \
                     remove it or name a new file",
                    db.display()
                )
                .into());
            }
            remove_database(&db)?;
        }
        let service = LocalService::open(&db, EngineConfig::default())?;
        let mut registry = Registry::new();
        register(&mut registry);
        let runtime = Runtime::start(
            service.clone(),
            Invokers::new(registry),
            Arc::new(SystemClock),
        );
        Ok(Local { service, runtime })
    }

    /// Starts an execution of `function` named `name` with `input`; starting is idempotent
    /// by name and input, so a second run finds the same execution (`created` is false).
    pub fn start(
        &self,
        function: &str,
        name: &str,
        input: &impl Serialize,
    ) -> Result<Started, Error> {
        let start = StartExecution::new(function, serde_json::to_string(input)?).named(name);
        Ok(self.service.with_engine(|e| e.start_execution(start))??)
    }

    /// Waits (up to `timeout`) for the execution to end and returns it with its result.
    pub async fn wait(
        &self,
        arn: &str,
        timeout: Duration,
    ) -> Result<GetDurableExecutionResponse, Error> {
        Ok(self.runtime.wait_for_end(arn, timeout).await?)
    }

    /// Prints the execution's history as a table.
    pub fn print_history(&self, arn: &str) -> Result<(), Error> {
        let events = self.service.lock()?.events(arn)?;
        println!("\nhistory of {arn}:\n{}", history_table(&events, 140));
        Ok(())
    }

    /// Stops the runtime, letting invocations in flight finish.
    pub async fn shutdown(self) {
        self.runtime.shutdown().await;
    }
}

/// Prints how the execution ended: its result as a `T`, or its error.
pub fn print_end<T: DeserializeOwned + Serialize>(
    end: &GetDurableExecutionResponse,
) -> Result<(), Error> {
    match (&end.result, &end.error) {
        (Some(result), _) => {
            let result: T = serde_json::from_str(result)?;
            let pretty = serde_json::to_string_pretty(&result)?;
            println!("\nresult ({}): {pretty}", end.status);
        }
        (None, Some(error)) => println!("\nerror ({}): {error}", end.status),
        (None, None) => println!("\n{} without a result", end.status),
    }
    Ok(())
}

/// The first command-line argument (and true), else `target/durable-fsm-{name}.db`.
fn database_path(name: &str) -> (PathBuf, bool) {
    if let Some(path) = std::env::args().nth(1) {
        return (PathBuf::from(path), true);
    }
    let target = PathBuf::from("target");
    let dir = if target.is_dir() {
        target
    } else {
        std::env::temp_dir()
    };
    (dir.join(format!("durable-fsm-{name}.db")), false)
}

/// Removes the SQLite file and its write-ahead log, if they exist.
fn remove_database(db: &Path) -> Result<(), Error> {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!("cannot remove {}: {e}", Path::new(&path).display()).into());
            }
        }
    }
    Ok(())
}
