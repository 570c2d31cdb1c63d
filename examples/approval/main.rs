//! `cargo run --example approval`: an expense approval workflow, run durably.

mod workflow;

use durable_fsm::testing::{CallbackReply, TestRunner};
use std::time::Duration;
use workflow::{Approval, Expense, Receipt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let expense = Expense {
        id: "exp-1042".into(),
        employee: "sam".into(),
        amount_cents: 42_000,
        description: "conference ticket".into(),
    };
    println!(
        "submitting {} ({} cents) for approval",
        expense.id, expense.amount_cents
    );
    // The manager answers two hours later (virtual time: the runner skips timers).
    let manager = CallbackReply::succeed(r#"{"approved":true,"by":"alice"}"#)
        .after(Duration::from_secs(7200));
    let outcome = TestRunner::<Approval>::new()
        .named("exp-1042")
        .on_callback("manager-approval", manager)
        .run(&expense)
        .await?;
    let receipt: Receipt = outcome.output()?;
    println!("\nresult: {}", serde_json::to_string_pretty(&receipt)?);
    println!("\nhistory of {}:\n{}", outcome.arn, outcome.history_table());
    Ok(())
}
