//! The approval example (examples/approval/workflow.rs) on the test runner: every path to its
//! result, each checked against the declared graph; `explore` over its declared graph; and the
//! Mermaid picture the book shows.

#[path = "../examples/approval/workflow.rs"]
mod workflow;

use durable_fsm::Transition;
use durable_fsm::display::graph::{GraphFormat, mermaid, render_events};
use durable_fsm::display::trace::Trace;
use durable_fsm::machine::{Edge, EdgeKind};
use durable_fsm::model::ExecutionStatus;
use durable_fsm::testing::{CallbackReply, Samples, TestRunner, explore, sample_callback};
use std::time::Duration;
use workflow::{AUTO_APPROVE_CENTS, Approval, DECISION_TIMEOUT, Expense, Receipt};

fn expense(amount_cents: u64) -> Expense {
    Expense {
        id: "exp-7".into(),
        employee: "sam".into(),
        amount_cents,
        description: "conference ticket".into(),
        payout_delay_secs: 3600,
    }
}

/// The states the execution went through, in order, from its history.
fn path(events: &[durable_fsm::model::Event]) -> Vec<String> {
    let trace = Trace::from_events(events);
    trace.edges.iter().map(|c| c.edge.to_string()).collect()
}

#[tokio::test]
async fn a_manager_approves_and_the_payout_follows_the_batch_delay() {
    let out = TestRunner::<Approval>::new()
        .on_callback(
            "manager-approval",
            CallbackReply::succeed(r#"{"approved":true,"by":"alice"}"#),
        )
        .run(expense(42_000))
        .await
        .unwrap();
    let receipt: Receipt = out.output().unwrap();
    assert_eq!(receipt.status, "paid");
    assert_eq!(receipt.decided_by, "alice");
    assert_eq!(receipt.paid_cents, 42_000);
    assert!(
        receipt
            .payment_id
            .as_deref()
            .is_some_and(|p| p.starts_with("pay-"))
    );
    assert!(out.elapsed >= Duration::from_secs(3600));
    assert_eq!(
        path(&out.events),
        [
            "Submitted → AwaitingManager",
            "AwaitingManager → Approved",
            "Approved → Payout (sleep)",
            "Payout → done"
        ]
    );
}

#[tokio::test]
async fn a_manager_rejects_with_a_note() {
    let out = TestRunner::<Approval>::new()
        .on_callback(
            "manager-approval",
            CallbackReply::succeed(r#"{"approved":false,"by":"bob","note":"over budget"}"#),
        )
        .run(expense(42_000))
        .await
        .unwrap();
    let receipt: Receipt = out.output().unwrap();
    assert_eq!(
        (receipt.status.as_str(), receipt.decided_by.as_str()),
        ("rejected", "bob")
    );
    assert_eq!(receipt.note.as_deref(), Some("over budget"));
    assert_eq!((receipt.paid_cents, receipt.payment_id), (0, None));
    assert_eq!(
        path(&out.events),
        [
            "Submitted → AwaitingManager",
            "AwaitingManager → Rejected",
            "Rejected → done"
        ]
    );
}

#[tokio::test]
async fn no_decision_in_three_days_rejects() {
    let out = TestRunner::<Approval>::new()
        .on_callback("manager-approval", CallbackReply::Ignore)
        .run(expense(42_000))
        .await
        .unwrap();
    let receipt: Receipt = out.output().unwrap();
    assert_eq!(
        (receipt.status.as_str(), receipt.decided_by.as_str()),
        ("rejected", "nobody")
    );
    assert_eq!(
        receipt.note.as_deref(),
        Some("no decision within three days")
    );
    assert!(out.elapsed >= DECISION_TIMEOUT);
    assert_eq!(path(&out.events)[1], "AwaitingManager → Rejected");
}

#[tokio::test]
async fn small_expenses_are_approved_by_policy() {
    let out = TestRunner::<Approval>::new()
        .run(expense(AUTO_APPROVE_CENTS - 1))
        .await
        .unwrap();
    let receipt: Receipt = out.output().unwrap();
    assert_eq!(
        (receipt.status.as_str(), receipt.decided_by.as_str()),
        ("paid", "policy")
    );
    assert_eq!(receipt.paid_cents, AUTO_APPROVE_CENTS - 1);
    let trace = Trace::from_events(&out.events);
    assert_eq!(trace.status, ExecutionStatus::Succeeded);
    assert_eq!(trace.current.as_deref(), Some("Payout"));
    assert_eq!(trace.visits("AwaitingManager"), 0);
    assert_eq!(
        trace.count(&Edge::new("Submitted", EdgeKind::To, Some("Approved"))),
        1
    );
    // The path drawn over the declared graph: the manager's branch is there, not taken.
    let drawn = render_events(
        Approval::graph().as_ref(),
        &out.events,
        GraphFormat::Mermaid,
    );
    assert!(
        drawn.contains("    Submitted --> Approved: ×1\n"),
        "{drawn}"
    );
    assert!(
        drawn.contains("    Submitted --> AwaitingManager\n"),
        "{drawn}"
    );
    assert!(drawn.contains("    class Payout succeeded\n"), "{drawn}");
}

#[test]
fn explore_finds_every_declared_edge_and_nothing_else() {
    let callback = sample_callback("manager-approval");
    let samples = Samples::new([
        Approval::Submitted(expense(5_000)),
        Approval::Submitted(expense(42_000)),
        Approval::AwaitingManager {
            expense: expense(42_000),
            callback,
        },
        Approval::Approved {
            expense: expense(42_000),
            by: "alice".into(),
        },
        Approval::Payout {
            expense: expense(42_000),
            by: "alice".into(),
        },
        Approval::Rejected {
            expense: expense(42_000),
            by: "bob".into(),
            reason: "over budget".into(),
        },
    ])
    .callback_success(r#"{"approved":true,"by":"alice"}"#)
    .callback_success(r#"{"approved":false,"by":"bob"}"#)
    .callback_success("not a decision")
    .callback_failure("ApprovalSystemDown", "the approval system is down")
    .callback_timeout();
    let report = explore(samples);
    assert!(report.is_ok(), "{report}");
    assert!(report.to_string().ends_with(": ok\n  every state is reachable from `Submitted` and can finish; every declared edge was taken, and only those\n"), "{report}");
    // The manager's state suspends while the callback is open, then takes an edge under
    // every outcome: approved, rejected (twice: a rejection and a failure; a timeout), and
    // a retry for a body that is not a decision.
    let from_manager: Vec<String> = report
        .observed
        .iter()
        .filter(|o| o.edge.from == "AwaitingManager")
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        from_manager,
        [
            r#"AwaitingManager → Approved (sample 2, callback succeeded {"approved":true,"by":"alice"})"#,
            r#"AwaitingManager → Rejected (sample 2, callback succeeded {"approved":false,"by":"bob"})"#,
            "AwaitingManager → retry (sample 2, callback succeeded not a decision)",
            "AwaitingManager → Rejected (sample 2, callback failed ApprovalSystemDown: the approval system is down)",
            "AwaitingManager → Rejected (sample 2, callback timed out)",
        ]
    );
}

/// The picture in book/src/graphs.md: `cargo test --test approval -- --nocapture` prints it.
#[test]
fn the_declared_graph_as_mermaid() {
    let graph = Approval::graph().unwrap();
    let text = mermaid(&graph);
    println!("{text}");
    assert_eq!(
        text,
        "stateDiagram-v2
    [*] --> Submitted
    Submitted --> Approved
    Submitted --> AwaitingManager
    AwaitingManager --> Approved
    AwaitingManager --> Rejected
    AwaitingManager --> AwaitingManager: retry
    Approved --> Payout: sleep
    Payout --> [*]: done
    Rejected --> [*]: done
"
    );
    let book = include_str!("../book/src/graphs.md");
    assert!(
        book.contains(&format!("```mermaid\n{text}```")),
        "book/src/graphs.md does not show the current graph"
    );
    let examples = include_str!("../book/src/examples.md");
    assert!(
        examples.contains(&format!("```mermaid\n{text}```")),
        "book/src/examples.md does not show the current graph"
    );
}
