//! The order saga example (examples/saga/) on the test runner: every path to its end, with
//! the compensations in reverse order and the effects on the simulated systems; `explore` over
//! its declared graph; and the Mermaid picture the book shows.

#[path = "../examples/saga/services.rs"]
mod services;
#[path = "../examples/saga/workflow.rs"]
mod workflow;

use durable_fsm::Transition;
use durable_fsm::display::graph::mermaid;
use durable_fsm::display::trace::Trace;
use durable_fsm::model::{Event, EventType, ExecutionStatus, OperationType};
use durable_fsm::testing::{Samples, TestOutcome, TestRunner, explore};
use services::{CARD_DECLINED, CARD_FLAKY, CARD_OK, IN_STOCK_SKU, SOLD_OUT_SKU, systems};
use std::time::Duration;
use workflow::{Confirmation, Failure, Order, OrderSaga};

const ADDRESS: &str = "1 Main St, Springfield";
const PO_BOX: &str = "PO Box 42, Springfield";

/// Each test uses its own order ids: the simulated systems are shared by the whole process.
fn order(id: &str, card: &str, address: &str) -> Order {
    Order {
        id: id.into(),
        sku: IN_STOCK_SKU.into(),
        quantity: 2,
        amount_cents: 79_800,
        card: card.into(),
        address: address.into(),
    }
}

async fn run(order: &Order) -> TestOutcome {
    TestRunner::<OrderSaga>::new().run(order).await.unwrap()
}

/// The edges the execution took, in the order first taken, with counts above one.
fn path(events: &[Event]) -> Vec<String> {
    let trace = Trace::from_events(events);
    let edges = trace.edges.iter();
    edges
        .map(|c| match c.count {
            1 => c.edge.to_string(),
            n => format!("{} ×{n}", c.edge),
        })
        .collect()
}

/// The transitions' STEP operations: the state that ran and how many attempts it took.
fn steps(out: &TestOutcome) -> Vec<(String, u32)> {
    let transitions = out.operations.iter().filter(|op| {
        op.op_type == OperationType::Step && op.sub_type.as_deref() == Some("Transition")
    });
    transitions
        .map(|op| {
            let attempts = op.step_details.as_ref().and_then(|d| d.attempt);
            (op.name.clone().unwrap_or_default(), attempts.unwrap_or(0))
        })
        .collect()
}

/// What the simulated systems did for the order: `reserved res-1`, …
fn effects(order_id: &str) -> Vec<String> {
    let journal = systems().journal(order_id).into_iter();
    journal.map(|e| format!("{} {}", e.action, e.id)).collect()
}

/// The actions alone, and the ids by action.
fn actions(order_id: &str) -> Vec<&'static str> {
    systems()
        .journal(order_id)
        .into_iter()
        .map(|e| e.action)
        .collect()
}

fn id_of(order_id: &str, action: &str) -> String {
    let journal = systems().journal(order_id).into_iter();
    let mut ids = journal.filter(|e| e.action == action).map(|e| e.id);
    let id = ids
        .next()
        .unwrap_or_else(|| panic!("no {action} for {order_id}"));
    assert_eq!(ids.next(), None, "{action} twice for {order_id}");
    id
}

fn error_of(out: &TestOutcome) -> (String, String) {
    assert_eq!(out.status, ExecutionStatus::Failed, "{:?}", out.result);
    let error = out.error.clone().unwrap();
    (
        error.error_type.unwrap_or_default(),
        error.error_message.unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_order_goes_through() {
    let order = order("t-ok", CARD_OK, ADDRESS);
    let out = run(&order).await;
    let confirmation: Confirmation = out.output().unwrap();
    assert_eq!(actions("t-ok"), ["reserved", "charged", "booked"]);
    assert_eq!(
        confirmation,
        Confirmation {
            order_id: "t-ok".into(),
            reservation: id_of("t-ok", "reserved"),
            charge: id_of("t-ok", "charged"),
            tracking: id_of("t-ok", "booked"),
        }
    );
    assert_eq!(
        path(&out.events),
        [
            "ReserveInventory → ChargePayment",
            "ChargePayment → BookShipping",
            "BookShipping → done"
        ]
    );
    // One STEP per transition, each done in one attempt and one checkpoint call.
    assert_eq!(
        steps(&out),
        [
            ("ReserveInventory".into(), 1),
            ("ChargePayment".into(), 1),
            ("BookShipping".into(), 1)
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (3, 3));
    assert_eq!(systems().balance_cents("t-ok"), order.amount_cents);
    assert_eq!(systems().reserved_units("t-ok"), order.quantity);
}

#[tokio::test]
async fn a_sold_out_item_fails_at_once_with_nothing_to_undo() {
    let mut order = order("t-sold-out", CARD_OK, ADDRESS);
    order.sku = SOLD_OUT_SKU.into();
    let out = run(&order).await;
    let (error_type, message) = error_of(&out);
    assert_eq!(error_type, "OutOfStock");
    assert_eq!(message, "2 × discontinued-kettle requested, 0 in stock");
    assert_eq!(path(&out.events), ["ReserveInventory → fail"]);
    assert_eq!(steps(&out), [("ReserveInventory".into(), 1)]);
    assert_eq!((out.transitions_run, out.checkpoint_calls), (1, 1));
    assert!(effects("t-sold-out").is_empty());
}

#[tokio::test]
async fn an_order_without_items_is_refused() {
    let mut order = order("t-empty", CARD_OK, ADDRESS);
    order.quantity = 0;
    let out = run(&order).await;
    assert_eq!(
        error_of(&out),
        ("InvalidOrder".into(), "order t-empty has no items".into())
    );
    assert!(effects("t-empty").is_empty());
}

#[tokio::test]
async fn a_declined_card_releases_the_reservation() {
    let out = run(&order("t-declined", CARD_DECLINED, ADDRESS)).await;
    let reservation = id_of("t-declined", "reserved");
    assert_eq!(
        effects("t-declined"),
        [
            format!("reserved {reservation}"),
            format!("released {reservation}")
        ]
    );
    let (error_type, message) = error_of(&out);
    assert_eq!(error_type, "PaymentDeclined");
    assert_eq!(
        message,
        format!(
            "card tok_declined was declined for 79800 cents; compensated: released {reservation}"
        )
    );
    assert_eq!(
        path(&out.events),
        [
            "ReserveInventory → ChargePayment",
            "ChargePayment → ReleaseInventory",
            "ReleaseInventory → fail"
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (3, 3));
    assert_eq!(systems().balance_cents("t-declined"), 0);
    assert_eq!(systems().reserved_units("t-declined"), 0);
}

#[tokio::test]
async fn an_undeliverable_order_is_refunded_then_released() {
    let out = run(&order("t-po-box", CARD_OK, PO_BOX)).await;
    let (reservation, charge) = (id_of("t-po-box", "reserved"), id_of("t-po-box", "charged"));
    // The compensations run in the reverse order of the steps they undo.
    assert_eq!(
        effects("t-po-box"),
        [
            format!("reserved {reservation}"),
            format!("charged {charge}"),
            format!("refunded {charge}"),
            format!("released {reservation}"),
        ]
    );
    let (error_type, message) = error_of(&out);
    assert_eq!(error_type, "Undeliverable");
    assert!(
        message.ends_with(&format!(
            "; compensated: refunded {charge}, released {reservation}"
        )),
        "{message}"
    );
    assert_eq!(
        path(&out.events),
        [
            "ReserveInventory → ChargePayment",
            "ChargePayment → BookShipping",
            "BookShipping → RefundPayment",
            "RefundPayment → ReleaseInventory",
            "ReleaseInventory → fail"
        ]
    );
    assert_eq!(
        steps(&out)
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        [
            "ReserveInventory",
            "ChargePayment",
            "BookShipping",
            "RefundPayment",
            "ReleaseInventory"
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (5, 5));
    assert_eq!(systems().balance_cents("t-po-box"), 0);
    assert_eq!(systems().reserved_units("t-po-box"), 0);
}

#[tokio::test]
async fn a_gateway_timeout_is_retried_with_the_same_key_and_charges_once() {
    let out = run(&order("t-flaky", CARD_FLAKY, ADDRESS)).await;
    let confirmation: Confirmation = out.output().unwrap();
    // The first call charged the card and lost the answer; the retry got the same charge.
    assert_eq!(actions("t-flaky"), ["reserved", "charged", "booked"]);
    assert_eq!(confirmation.charge, id_of("t-flaky", "charged"));
    assert_eq!(
        path(&out.events),
        [
            "ReserveInventory → ChargePayment",
            "ChargePayment → retry",
            "ChargePayment → BookShipping",
            "BookShipping → done"
        ]
    );
    // The retry is a second attempt of the same STEP, with its own checkpoint call.
    assert_eq!(
        steps(&out),
        [
            ("ReserveInventory".into(), 1),
            ("ChargePayment".into(), 2),
            ("BookShipping".into(), 1)
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (4, 4));
    let failed: Vec<_> = out.events_of(EventType::StepFailed).collect();
    assert_eq!(failed.len(), 1);
    let error = failed[0].step_failed_details.as_ref();
    let error = error.and_then(|d| d.error.as_ref()?.payload.as_ref());
    assert_eq!(
        error.and_then(|e| e.error_type.as_deref()),
        Some("GatewayTimeout"),
        "{error:?}"
    );
    // The retry strategy waits at least a second.
    assert!(out.elapsed >= Duration::from_secs(1), "{:?}", out.elapsed);
}

#[tokio::test]
async fn a_flaky_gateway_refunds_once_too() {
    let out = run(&order("t-flaky-po-box", CARD_FLAKY, PO_BOX)).await;
    assert_eq!(
        actions("t-flaky-po-box"),
        ["reserved", "charged", "refunded", "released"]
    );
    assert_eq!(error_of(&out).0, "Undeliverable");
    assert_eq!(
        path(&out.events),
        [
            "ReserveInventory → ChargePayment",
            "ChargePayment → retry",
            "ChargePayment → BookShipping",
            "BookShipping → RefundPayment",
            "RefundPayment → retry",
            "RefundPayment → ReleaseInventory",
            "ReleaseInventory → fail"
        ]
    );
    assert_eq!((out.transitions_run, out.checkpoint_calls), (7, 7));
    assert_eq!(systems().balance_cents("t-flaky-po-box"), 0);
}

/// Sets up what a sample state refers to in the simulated systems: a reservation, and a
/// charge on `card` when given.
fn prepared(id: &str, card: Option<&str>) -> (Order, String, String) {
    let order = order(id, card.unwrap_or(CARD_OK), ADDRESS);
    let s = systems();
    let key = |step: &str| format!("setup/{id}/{step}");
    let reservation = s.reserve(&key("reserve"), id, IN_STOCK_SKU, 1).unwrap();
    let charge = match card {
        // A flaky gateway loses the first answer: ask again under the same key.
        Some(card) => s
            .charge(&key("charge"), id, card, 100)
            .or_else(|_| s.charge(&key("charge"), id, card, 100))
            .unwrap(),
        None => "ch-none".into(),
    };
    (order, reservation, charge)
}

fn failure() -> Failure {
    Failure {
        error_type: "Undeliverable".into(),
        message: "no".into(),
        undone: Vec::new(),
    }
}

#[test]
fn explore_finds_every_declared_edge_and_nothing_else() {
    let charge_sample = |id: &str, card: &str| {
        let (mut order, reservation, _) = prepared(id, None);
        order.card = card.into();
        OrderSaga::ChargePayment { order, reservation }
    };
    let refund_sample = |id: &str, card: &str, known: bool| {
        let (order, reservation, charge) = prepared(id, Some(card));
        let charge = if known { charge } else { "ch-unknown".into() };
        OrderSaga::RefundPayment {
            order,
            reservation,
            charge,
            failure: failure(),
        }
    };
    let (shipped, reservation, charge) = prepared("x-book", Some(CARD_OK));
    // Its own order: under the same order id (and explore's single operation id) the
    // carrier would answer with the booking it made for the sample before.
    let (mut unshippable, po_box_reservation, po_box_charge) =
        prepared("x-book-po-box", Some(CARD_OK));
    unshippable.address = PO_BOX.into();
    let (released, released_reservation, _) = prepared("x-release", None);
    let mut sold_out = order("x-sold-out", CARD_OK, ADDRESS);
    sold_out.sku = SOLD_OUT_SKU.into();
    let samples = Samples::new([
        OrderSaga::ReserveInventory(order("x-reserve", CARD_OK, ADDRESS)),
        OrderSaga::ReserveInventory(sold_out),
        charge_sample("x-charge", CARD_OK),
        charge_sample("x-declined", CARD_DECLINED),
        charge_sample("x-flaky", CARD_FLAKY),
        OrderSaga::BookShipping {
            order: shipped,
            reservation,
            charge,
        },
        OrderSaga::BookShipping {
            order: unshippable,
            reservation: po_box_reservation,
            charge: po_box_charge,
        },
        refund_sample("x-refund", CARD_OK, true),
        refund_sample("x-refund-flaky", CARD_FLAKY, true),
        refund_sample("x-refund-unknown", CARD_OK, false),
        OrderSaga::ReleaseInventory {
            order: released,
            reservation: released_reservation,
            failure: failure(),
        },
    ]);
    let report = explore(samples);
    assert!(report.is_ok(), "{report}");
    let observed: Vec<String> = report.observed.iter().map(ToString::to_string).collect();
    assert_eq!(
        observed,
        [
            "ReserveInventory → ChargePayment (sample 0)",
            "ReserveInventory → fail (sample 1)",
            "ChargePayment → BookShipping (sample 2)",
            "ChargePayment → ReleaseInventory (sample 3)",
            "ChargePayment → retry (sample 4)",
            "BookShipping → done (sample 5)",
            "BookShipping → RefundPayment (sample 6)",
            "RefundPayment → ReleaseInventory (sample 7)",
            "RefundPayment → retry (sample 8)",
            "RefundPayment → fail (sample 9)",
            "ReleaseInventory → fail (sample 10)",
        ]
    );
    // The refund of an unknown charge fails the execution for a person to look at; the
    // released reservation is really back on the shelf.
    assert_eq!(actions("x-refund-unknown"), ["reserved", "charged"]);
    assert_eq!(systems().reserved_units("x-release"), 0);
}

/// The picture in book/src/examples.md: `cargo test --test saga -- --nocapture` prints it.
#[test]
fn the_declared_graph_as_mermaid() {
    let graph = OrderSaga::graph().unwrap();
    let text = mermaid(&graph);
    println!("{text}");
    assert_eq!(
        text,
        "stateDiagram-v2
    [*] --> ReserveInventory
    ReserveInventory --> ChargePayment
    ReserveInventory --> [*]: fail
    ChargePayment --> BookShipping
    ChargePayment --> ReleaseInventory
    ChargePayment --> ChargePayment: retry
    BookShipping --> [*]: done
    BookShipping --> RefundPayment
    RefundPayment --> ReleaseInventory
    RefundPayment --> RefundPayment: retry
    RefundPayment --> [*]: fail
    ReleaseInventory --> [*]: fail
"
    );
    let book = include_str!("../book/src/examples.md");
    assert!(
        book.contains(&format!("```mermaid\n{text}```")),
        "book/src/examples.md does not show the current graph of the saga"
    );
}
