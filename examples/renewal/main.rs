//! `cargo run --example renewal [-- EXECUTIONS [DATABASE]]`: a monthly subscription renewal
//! that runs forever, continuing as new every two renewals, on the embedded local service
//! (SQLite). A "month" is one second here, and the customer cancels after EXECUTIONS
//! executions (3 by default), so the run ends in seconds. Interrupt it (Ctrl-C) and run it
//! again: the chain of executions continues where it stopped.

mod workflow;

use durable_fsm::display::trace::Trace;
use durable_fsm::executor::ContinuedAsNew;
use durable_fsm::model::ExecutionStatus;
use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workflow::{Renewal, Subscription, Summary};

const FUNCTION: &str = "renewal";

fn database_path() -> PathBuf {
    if let Some(path) = std::env::args().nth(2) {
        return PathBuf::from(path);
    }
    let target = PathBuf::from("target");
    let dir = if target.is_dir() {
        target
    } else {
        std::env::temp_dir()
    };
    dir.join("durable-fsm-renewal.db")
}

fn executions() -> Result<u32, String> {
    match std::env::args().nth(1) {
        None => Ok(3),
        Some(arg) => match arg.parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(format!(
                "EXECUTIONS must be a number from 1 to 100, not {arg:?}"
            )),
        },
    }
}

/// The path one execution took, from its history: `Charging → Active ×2, …`.
fn path(service: &LocalService, arn: &str) -> Result<String, Box<dyn std::error::Error>> {
    let events = service.lock()?.events(arn)?;
    let trace = Trace::from_events(&events);
    Ok(trace
        .edges
        .iter()
        .map(|c| format!("{} ×{}", c.edge, c.count))
        .collect::<Vec<_>>()
        .join(", "))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let executions = executions()?;
    let db = database_path();
    println!("durable-fsm renewal example, database {}", db.display());
    let service = LocalService::open(&db, EngineConfig::default())?;
    let mut registry = Registry::new();
    registry.register::<Renewal>(FUNCTION);
    let runtime = Runtime::start(
        service.clone(),
        Invokers::new(registry),
        Arc::new(SystemClock),
    );

    let subscription = Subscription {
        customer: "c-42".into(),
        plan_cents: 999,
        month_secs: 1,
        renewals_per_execution: 2,
        cancel_after_executions: Some(executions),
        declined_at_renewal: None,
    };
    // Starting is idempotent by name and input: a second run finds the same execution.
    let name = format!("sub-c-42-{executions}x");
    let start = StartExecution::new(FUNCTION, serde_json::to_string(&subscription)?).named(&name);
    let started = service.with_engine(|e| e.start_execution(start))??;
    if started.created {
        println!(
            "subscribed {} at {} cents a month; the customer cancels after {executions} executions",
            subscription.customer, subscription.plan_cents
        );
    } else {
        println!("found the subscription from an earlier run: following it");
    }
    println!("(interrupt with Ctrl-C at any time and run again: it resumes)\n");

    // Follow the chain of executions: each one that continues as new names its successor.
    let mut arn = started.arn;
    let mut current = name;
    loop {
        let end = runtime.wait_for_end(&arn, Duration::from_secs(120)).await?;
        let result = end.result.as_deref().unwrap_or("null");
        println!("{current}: {}", path(&service, &arn)?);
        if end.status != ExecutionStatus::Succeeded {
            println!("{current} ended {}: {:?}", end.status, end.error);
            break;
        }
        if let Some(next) = ContinuedAsNew::from_result(result) {
            println!(
                "{current}: continued as new → {} (execution {})\n",
                next.durable_execution_name, next.generation
            );
            arn = next.durable_execution_arn;
            current = next.durable_execution_name;
            continue;
        }
        let summary: Summary = serde_json::from_str(result)?;
        println!(
            "\nsubscription ended ({}): {} renewals, {} cents over {} executions",
            summary.reason, summary.renewals, summary.paid_cents, summary.executions
        );
        break;
    }
    runtime.shutdown().await;
    Ok(())
}
