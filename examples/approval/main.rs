//! `cargo run --example approval`: an expense approval workflow, run durably on the embedded
//! local service (SQLite). Interrupt it (Ctrl-C) at any point and run it again: the execution
//! continues where it stopped.

mod workflow;

use durable_fsm::display::history_table;
use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workflow::{Approval, Expense, Receipt};

const FUNCTION: &str = "expense-approval";

fn database_path() -> PathBuf {
    if let Some(path) = std::env::args().nth(1) {
        return PathBuf::from(path);
    }
    let target = PathBuf::from("target");
    let dir = if target.is_dir() {
        target
    } else {
        std::env::temp_dir()
    };
    dir.join("durable-fsm-approval.db")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = database_path();
    println!("durable-fsm approval example, database {}", db.display());
    let service = LocalService::open(&db, EngineConfig::default())?;
    let mut registry = Registry::new();
    registry.register::<Approval>(FUNCTION);
    let runtime = Runtime::start(
        service.clone(),
        Invokers::new(registry),
        Arc::new(SystemClock),
    );

    let expense = Expense {
        id: "exp-1042".into(),
        employee: "sam".into(),
        amount_cents: 42_000,
        description: "conference ticket".into(),
        payout_delay_secs: 5,
    };
    // Starting is idempotent by name and input: a second run finds the same execution.
    let start = StartExecution::new(FUNCTION, serde_json::to_string(&expense)?).named("exp-1042");
    let started = service.with_engine(|e| e.start_execution(start))??;
    if started.created {
        println!(
            "submitted {} ({} cents) for approval",
            expense.id, expense.amount_cents
        );
    } else {
        println!(
            "found execution {} from an earlier run: continuing it",
            started.arn
        );
    }
    println!("(interrupt with Ctrl-C at any time and run again: it resumes)\n");

    // The manager: an external system that answers the callback, as a person would through
    // `durable-fsm callback succeed` or SendDurableExecutionCallbackSuccess.
    let manager = {
        let service = service.clone();
        let arn = started.arn.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let open = service.lock().and_then(|e| e.open_callbacks(&arn));
                let Ok(open) = open else { return };
                if let Some((_, id)) = open
                    .into_iter()
                    .find(|(name, _)| name == "manager-approval")
                {
                    println!("manager: reviewing expense (callback {}…)", &id[..12]);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let body = br#"{"approved":true,"by":"alice"}"#.to_vec();
                    let _ = service.with_engine(|e| e.send_callback_success(&id, &body));
                    println!(
                        "manager: approved; the payout runs in {} s",
                        expense.payout_delay_secs
                    );
                    return;
                }
            }
        })
    };

    let end = runtime
        .wait_for_end(&started.arn, Duration::from_secs(120))
        .await?;
    manager.abort();
    let receipt: Receipt = serde_json::from_str(end.result.as_deref().unwrap_or("null"))?;
    println!(
        "\nresult ({}): {}",
        end.status,
        serde_json::to_string_pretty(&receipt)?
    );
    let events = service.lock()?.events(&started.arn)?;
    println!(
        "\nhistory of {}:\n{}",
        started.arn,
        history_table(&events, 140)
    );
    runtime.shutdown().await;
    Ok(())
}
