//! The renewal example (examples/renewal/workflow.rs): a subscription that continues as new.
//! `explore` over its declared graph; a run across executions whose state carries over; lost
//! answers and re-runs around the continue-as-new that start no second successor; and the
//! same over HTTP, through the server's Invoke route and aws-sdk-lambda.

#[path = "../examples/renewal/workflow.rs"]
mod workflow;

#[cfg(all(feature = "aws", feature = "server", feature = "lambda"))]
mod support;

use durable_fsm::Transition;
use durable_fsm::display::graph::mermaid;
use durable_fsm::display::trace::Trace;
use durable_fsm::executor::{self, ContinuedAsNew};
use durable_fsm::machine::{Edge, EdgeKind};
use durable_fsm::model::*;
use durable_fsm::service::{ListExecutions, LocalService};
use durable_fsm::testing::{Fault, Samples, TestOutcome, TestRunner, explore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use workflow::{Account, MONTH_SECS, Renewal, Subscription, Summary};

const PLAN: u64 = 500;

fn subscription(renewals_per_execution: u32, cancel_after: Option<u32>) -> Subscription {
    Subscription {
        customer: "c-7".into(),
        plan_cents: PLAN,
        month_secs: MONTH_SECS,
        renewals_per_execution,
        cancel_after_executions: cancel_after,
        declined_at_renewal: None,
    }
}

fn account(sub: Subscription, execution: u32, renewals_here: u32) -> Account {
    Account {
        subscription: sub,
        execution,
        renewals_here,
        renewals: u64::from(renewals_here),
        paid_cents: PLAN * u64::from(renewals_here),
        last_payment: None,
    }
}

/// Every execution the service knows, by name: how many have each name.
fn executions_by_name(service: &LocalService) -> BTreeMap<String, usize> {
    let list = service
        .lock()
        .unwrap()
        .list_executions(ListExecutions {
            max_items: Some(1000),
            ..Default::default()
        })
        .unwrap();
    let mut names = BTreeMap::new();
    for e in list.durable_executions {
        *names.entry(e.durable_execution_name).or_default() += 1;
    }
    names
}

/// The `$continue` part of an execution's input.
fn carried(service: &LocalService, arn: &str) -> Value {
    let exec = service.lock().unwrap().get_execution(arn, true).unwrap();
    let input: Value = serde_json::from_str(exec.input_payload.as_deref().unwrap()).unwrap();
    input["$continue"].clone()
}

fn successor(outcome: &TestOutcome) -> ContinuedAsNew {
    outcome
        .continued_as()
        .unwrap_or_else(|| panic!("{} did not continue as new: {:?}", outcome.arn, outcome))
}

#[test]
fn explore_takes_every_declared_edge_and_only_those() {
    let declined = Subscription {
        declined_at_renewal: Some(1),
        ..subscription(2, None)
    };
    let report = explore(Samples::new([
        Renewal::Charging(account(subscription(2, None), 1, 0)),
        Renewal::Charging(account(declined, 1, 0)),
        Renewal::Active(account(subscription(2, None), 1, 1)),
        Renewal::Active(account(subscription(2, None), 1, 2)),
        Renewal::Active(account(subscription(2, Some(1)), 1, 2)),
        Renewal::Cancelled {
            account: account(subscription(2, Some(1)), 1, 2),
            reason: "cancelled".into(),
        },
    ]));
    assert!(report.is_ok(), "{report}");
    assert!(
        report
            .observed
            .iter()
            .any(|o| o.edge == Edge::new("Active", EdgeKind::Continue, Some("Active")))
    );
}

#[test]
fn the_declared_graph_as_mermaid() {
    let text = mermaid(&Renewal::graph().unwrap());
    println!("{text}");
    assert_eq!(
        text,
        "stateDiagram-v2
    [*] --> Charging
    Charging --> Active
    Charging --> Cancelled
    Active --> Charging: sleep
    Active --> Active: continue
    Active --> Cancelled
    Cancelled --> [*]: done
"
    );
    for page in [
        include_str!("../book/src/continue-as-new.md"),
        include_str!("../book/src/graphs.md"),
    ] {
        if page.contains("Active --> Active: continue") {
            assert!(
                page.contains(&format!("```mermaid\n{text}```")),
                "the book does not show the current renewal graph"
            );
        }
    }
}

#[tokio::test]
async fn a_subscription_runs_across_executions_and_carries_its_state() {
    let runner = TestRunner::<Renewal>::new().named("sub-7");
    let chain = runner
        .run_chain(subscription(2, Some(3)), 10)
        .await
        .unwrap();
    assert_eq!(chain.len(), 3);

    // Each execution names its successor; the names follow the lineage.
    let (g2, g3) = (successor(&chain[0]), successor(&chain[1]));
    assert_eq!(
        (g2.durable_execution_name.as_str(), g2.generation),
        ("sub-7-g2", 2)
    );
    assert_eq!(
        (g3.durable_execution_name.as_str(), g3.generation),
        ("sub-7-g3", 3)
    );
    assert_eq!(chain[1].arn, g2.durable_execution_arn);
    assert_eq!(chain[2].arn, g3.durable_execution_arn);
    assert!(chain[2].continued_as().is_none());

    // Each successor exists exactly once.
    let names = executions_by_name(runner.service());
    assert_eq!(
        names,
        BTreeMap::from([
            ("sub-7".to_string(), 1),
            ("sub-7-g2".to_string(), 1),
            ("sub-7-g3".to_string(), 1)
        ])
    );

    // The account carries over: each successor starts where its predecessor stopped.
    for (arn, generation, renewals) in [
        (&g2.durable_execution_arn, 2, 2),
        (&g3.durable_execution_arn, 3, 4),
    ] {
        let c = carried(runner.service(), arn);
        assert_eq!(c["base"], "sub-7");
        assert_eq!(c["generation"], generation);
        let active = &c["state"]["Active"];
        assert_eq!(active["renewals"], renewals, "{c}");
        assert_eq!(active["renewals_here"], 0, "{c}");
        assert_eq!(active["execution"], generation, "{c}");
    }
    let summary: Summary = chain[2].output().unwrap();
    assert_eq!(
        summary,
        Summary {
            customer: "c-7".into(),
            renewals: 6,
            paid_cents: 6 * PLAN,
            executions: 3,
            reason: "cancelled by the customer after 3 executions".into(),
        }
    );

    // Every execution's history stays small, and the first one ended by continuing.
    for outcome in &chain {
        assert!(
            outcome.operations.len() <= 10,
            "{}",
            outcome.history_table()
        );
    }
    let first = Trace::from_events(&chain[0].events);
    assert_eq!(
        first.count(&Edge::new("Active", EdgeKind::Continue, Some("Active"))),
        1
    );
    assert_eq!(first.status, ExecutionStatus::Succeeded);
    // A month between renewals, on virtual time: five sleeps over the three executions.
    let slept: Duration = chain.iter().map(|o| o.elapsed).sum();
    assert!(slept >= Duration::from_secs(5 * MONTH_SECS), "{slept:?}");
}

/// Runs a two-execution chain with `runner` and checks that it ended like an undisturbed
/// one: one successor, every renewal charged once in the state.
async fn assert_one_successor(runner: &TestRunner<Renewal>, what: &str) -> Vec<TestOutcome> {
    let chain = runner
        .run_chain(subscription(1, Some(2)), 10)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(chain.len(), 2, "{what}");
    assert_eq!(
        executions_by_name(runner.service()),
        BTreeMap::from([("sub-8".to_string(), 1), ("sub-8-g2".to_string(), 1)]),
        "{what}"
    );
    let summary: Summary = chain[1].output().unwrap();
    assert_eq!(
        (summary.renewals, summary.paid_cents),
        (2, 2 * PLAN),
        "{what}"
    );
    chain
}

#[tokio::test]
async fn lost_answers_around_the_continue_as_new_start_no_second_successor() {
    // The first execution's checkpoints: 1 = Charging → Active, 2 = the continue-as-new
    // marker.
    let cases = [
        // The marker is stored but its answer is lost: the next invocation starts the
        // successor named in it.
        (
            Some(Fault::LoseResponse),
            None,
            "marker stored, answer lost",
        ),
        // The marker is not stored: the transition runs again.
        (Some(Fault::FailBefore), None, "marker not stored"),
        // The successor starts but the answer is lost: starting it again finds it.
        (
            None,
            Some(Fault::LoseResponse),
            "successor started, answer lost",
        ),
        // Starting fails: the next invocation starts it.
        (None, Some(Fault::FailBefore), "start failed"),
    ];
    for (checkpoint, start, what) in cases {
        let mut runner = TestRunner::<Renewal>::new().named("sub-8");
        if let Some(fault) = checkpoint {
            runner = runner.fail_checkpoint(2, fault);
        }
        if let Some(fault) = start {
            runner = runner.fail_start(1, fault);
        }
        let chain = assert_one_successor(&runner, what).await;
        assert!(
            chain[0].invocations >= 2,
            "{what}: the fault cost no invocation: {}",
            chain[0].history_table()
        );
    }
}

#[tokio::test]
async fn rerunning_the_continue_as_new_invocation_starts_no_second_successor() {
    let runner = TestRunner::<Renewal>::new().named("sub-8");
    let chain = assert_one_successor(&runner, "undisturbed").await;
    let first = &chain[0];
    let marker = first
        .operations
        .iter()
        .rev()
        .find(|op| op.sub_type.as_deref() == Some(executor::TRANSITION_SUBTYPE));
    let payload = marker
        .and_then(|op| op.step_details.as_ref())
        .and_then(|d| d.result.as_deref())
        .unwrap();
    assert_eq!(
        executor::continued_state(payload).as_deref(),
        Some("Active")
    );

    // The first execution's last invocation again, as after a crash before the service
    // heard its end: every operation, the marker last.
    for _ in 0..2 {
        let event = InvocationInput {
            durable_execution_arn: first.arn.clone(),
            checkpoint_token: "unused".into(),
            initial_execution_state: Some(InitialExecutionState {
                operations: first.operations.clone(),
                next_marker: None,
            }),
            updated_operation_ids: None,
        };
        let out = executor::run::<Renewal, _>(runner.service(), event)
            .await
            .unwrap();
        assert_eq!(out.status, InvocationStatus::Succeeded);
        assert_eq!(out.result, first.result);
    }
    assert_eq!(
        executions_by_name(runner.service()),
        BTreeMap::from([("sub-8".to_string(), 1), ("sub-8-g2".to_string(), 1)])
    );
}

#[tokio::test]
async fn a_declined_card_ends_the_subscription_in_its_execution() {
    let sub = Subscription {
        declined_at_renewal: Some(2),
        ..subscription(3, None)
    };
    let chain = TestRunner::<Renewal>::new()
        .run_chain(sub, 10)
        .await
        .unwrap();
    assert_eq!(chain.len(), 1);
    let summary: Summary = chain[0].output().unwrap();
    assert_eq!(
        (summary.renewals, summary.reason.as_str()),
        (1, "card declined at renewal 2")
    );
}

#[tokio::test]
async fn a_chain_that_never_ends_is_cut_off() {
    let err = TestRunner::<Renewal>::new()
        .run_chain(subscription(1, None), 4)
        .await
        .unwrap_err();
    assert!(
        matches!(err, durable_fsm::testing::TestError::TooManyExecutions(4)),
        "{err}"
    );
}

/// Over HTTP: the function runs the executor over aws-sdk-lambda against the local server,
/// and continue-as-new starts each successor with an `Event` Invoke through the server's
/// Invoke route.
#[cfg(all(feature = "aws", feature = "server", feature = "lambda"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_each_successor_is_started_through_invoke() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType;
    use support::{Functions, Stack};

    let stack = Stack::start(Functions::new().workflow::<Renewal>("renewal")).await;
    let sub = Subscription {
        month_secs: 1,
        ..subscription(1, Some(3))
    };
    let out = stack
        .client()
        .invoke()
        .function_name("renewal")
        .qualifier("$LATEST")
        .invocation_type(InvocationType::Event)
        .durable_execution_name("sub-http")
        .payload(Blob::new(serde_json::to_vec(&sub).unwrap()))
        .send()
        .await
        .unwrap();
    let mut arn = out.durable_execution_arn().unwrap().to_string();
    let mut names = vec!["sub-http".to_string()];
    let summary = loop {
        let end = stack
            .runtime()
            .wait_for_end(&arn, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(end.status, ExecutionStatus::Succeeded, "{end:?}");
        let result = end.result.unwrap_or_default();
        match ContinuedAsNew::from_result(&result) {
            Some(next) => {
                names.push(next.durable_execution_name);
                arn = next.durable_execution_arn;
            }
            None => break serde_json::from_str::<Summary>(&result).unwrap(),
        }
        assert!(names.len() <= 3, "{names:?}");
    };
    assert_eq!(names, ["sub-http", "sub-http-g2", "sub-http-g3"]);
    assert_eq!((summary.renewals, summary.executions), (3, 3));
    assert_eq!(
        executions_by_name(stack.runtime().service()).len(),
        3,
        "one execution per generation"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn an_execution_long_enough_for_epochs_continues_once() {
    // Ten renewals are twenty transitions: past the first epoch, so the continue-as-new
    // marker is recorded inside one. The lost start answer makes the next invocation find it
    // there.
    const { assert!(2 * 10 > executor::EPOCH_SIZE) };
    let runner = TestRunner::<Renewal>::new()
        .named("sub-9")
        .fail_start(1, Fault::LoseResponse);
    let chain = runner
        .run_chain(subscription(10, Some(2)), 10)
        .await
        .unwrap();
    assert_eq!(chain.len(), 2);
    assert!(chain[0].invocations >= 2, "{}", chain[0].history_table());
    assert!(
        chain[0]
            .operations
            .iter()
            .any(|op| op.sub_type.as_deref() == Some(executor::EPOCH_SUBTYPE)),
        "no epoch: {}",
        chain[0].history_table()
    );
    assert_eq!(
        executions_by_name(runner.service()),
        BTreeMap::from([("sub-9".to_string(), 1), ("sub-9-g2".to_string(), 1)])
    );
    let summary: Summary = chain[1].output().unwrap();
    assert_eq!((summary.renewals, summary.paid_cents), (20, 20 * PLAN));
}
