//! `cargo run --example approval`: an expense approval workflow, run durably on the embedded
//! local service (SQLite). Interrupt it (Ctrl-C) at any point and run it again: the execution
//! continues where it stopped.

#[path = "../common/mod.rs"]
mod common;
mod workflow;

use common::{Database, Local};
use std::time::Duration;
use workflow::{Approval, Expense, Receipt};

const FUNCTION: &str = "expense-approval";

#[tokio::main]
async fn main() -> Result<(), common::Error> {
    let local = Local::open("approval", Database::Keep, |registry| {
        registry.register::<Approval>(FUNCTION);
    })?;
    let service = local.service.clone();

    let expense = Expense {
        id: "exp-1042".into(),
        employee: "sam".into(),
        amount_cents: 42_000,
        description: "conference ticket".into(),
        payout_delay_secs: 5,
    };
    // Starting is idempotent by name and input: a second run finds the same execution.
    let started = local.start(FUNCTION, "exp-1042", &expense)?;
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

    let end = local.wait(&started.arn, Duration::from_secs(120)).await?;
    manager.abort();
    common::print_end::<Receipt>(&end)?;
    local.print_history(&started.arn)?;
    local.shutdown().await;
    Ok(())
}
