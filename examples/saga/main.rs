//! `cargo run --example saga`: an order saga with compensation, run durably on the embedded
//! local service (SQLite). Three orders run side by side: one goes through although the
//! payment gateway times out once (the charge is retried with the same idempotency key), one
//! is declined (the reservation is released), one cannot be delivered (the charge is refunded,
//! then the reservation released). The simulated warehouse, gateway and carrier live in this
//! process's memory, so each run starts from an empty database.

#[path = "../common/mod.rs"]
mod common;
mod services;
mod workflow;

use common::{Database, Local};
use services::{CARD_DECLINED, CARD_FLAKY, CARD_OK, IN_STOCK_SKU, systems};
use std::time::Duration;
use workflow::{Confirmation, Order, OrderSaga};

const FUNCTION: &str = "order-saga";

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

#[tokio::main]
async fn main() -> Result<(), common::Error> {
    let local = Local::open("saga", Database::Fresh, |registry| {
        registry.register::<OrderSaga>(FUNCTION);
    })?;
    let orders = [
        (
            "goes through; the gateway times out once",
            order("ord-1001", CARD_FLAKY, "1 Main St, Springfield"),
        ),
        (
            "the card is declined",
            order("ord-1002", CARD_DECLINED, "1 Main St, Springfield"),
        ),
        (
            "the carrier cannot deliver",
            order("ord-1003", CARD_OK, "PO Box 42, Springfield"),
        ),
    ];
    let mut arns = Vec::new();
    for (story, order) in &orders {
        println!("order {}: {story}", order.id);
        arns.push(local.start(FUNCTION, &order.id, order)?.arn);
    }
    for ((_, order), arn) in orders.iter().zip(&arns) {
        let end = local.wait(arn, Duration::from_secs(60)).await?;
        println!("\n=== order {}", order.id);
        common::print_end::<Confirmation>(&end)?;
        let effects: Vec<String> = systems()
            .journal(&order.id)
            .into_iter()
            .map(|e| format!("{} {}", e.action, e.id))
            .collect();
        println!(
            "done by the simulated systems: {}; still charged: {} cents, still reserved: {} units",
            effects.join(", "),
            systems().balance_cents(&order.id),
            systems().reserved_units(&order.id)
        );
        local.print_history(arn)?;
    }
    local.shutdown().await;
    Ok(())
}
