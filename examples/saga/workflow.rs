//! An order saga: reserve the goods, charge the card, book the delivery. When a step is
//! refused, the steps already done are undone in reverse order, each compensation a state of
//! its own (refund the charge, then release the reservation), and the execution ends FAILED
//! with the refusal that stopped it and the list of what was undone. A payment gateway that
//! times out is retried by the state's retry strategy, with the same idempotency key.

use crate::services::{PaymentError, Refusal, systems};
use durable_fsm::machine::{Graph, RetryStrategy, Terminal};
use durable_fsm::model::ErrorObject;
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The execution input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub sku: String,
    pub quantity: u32,
    pub amount_cents: u64,
    /// The payment method's token.
    pub card: String,
    pub address: String,
}

/// The execution result of an order that went through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    pub order_id: String,
    pub reservation: String,
    pub charge: String,
    pub tracking: String,
}

/// The refusal that stopped an order, and the compensations that ran since.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The refusal's kind: the failed execution's `ErrorType`.
    pub error_type: String,
    pub message: String,
    /// What was undone so far, in order.
    pub undone: Vec<String>,
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure {
            error_type: r.kind.into(),
            message: r.message,
            undone: Vec::new(),
        }
    }
}

/// The workflow: each variant is a state; the last two are the compensations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderSaga {
    ReserveInventory(Order),
    ChargePayment {
        order: Order,
        reservation: String,
    },
    BookShipping {
        order: Order,
        reservation: String,
        charge: String,
    },
    RefundPayment {
        order: Order,
        reservation: String,
        charge: String,
        failure: Failure,
    },
    ReleaseInventory {
        order: Order,
        reservation: String,
        failure: Failure,
    },
}

impl OrderSaga {
    fn order(&self) -> &Order {
        match self {
            OrderSaga::ReserveInventory(order)
            | OrderSaga::ChargePayment { order, .. }
            | OrderSaga::BookShipping { order, .. }
            | OrderSaga::RefundPayment { order, .. }
            | OrderSaga::ReleaseInventory { order, .. } => order,
        }
    }
}

impl Transition for OrderSaga {
    type Input = Order;
    type Output = Confirmation;

    fn start(order: Order) -> Self {
        OrderSaga::ReserveInventory(order)
    }

    fn graph() -> Option<Graph> {
        Some(
            Graph::new("ReserveInventory")
                .edge("ReserveInventory", "ChargePayment")
                // Out of stock: nothing was done, nothing to undo.
                .fail("ReserveInventory")
                .edge("ChargePayment", "BookShipping")
                // Declined: undo the reservation.
                .edge("ChargePayment", "ReleaseInventory")
                // The gateway timed out.
                .retry("ChargePayment")
                .done("BookShipping")
                // Undeliverable: undo the charge, then the reservation.
                .edge("BookShipping", "RefundPayment")
                .edge("RefundPayment", "ReleaseInventory")
                .retry("RefundPayment")
                // A refund the gateway refuses needs a person.
                .fail("RefundPayment")
                // Every compensated order ends here.
                .fail("ReleaseInventory"),
        )
    }

    /// Gateway timeouts are retried, compensations more persistently than forward steps;
    /// any other error is a bug that retrying would not fix.
    fn retry_strategy(&self) -> RetryStrategy {
        let attempts = match self {
            OrderSaga::RefundPayment { .. } | OrderSaga::ReleaseInventory { .. } => 10,
            _ => 4,
        };
        RetryStrategy::new(attempts)
            .initial_delay(Duration::from_secs(1))
            .max_delay(Duration::from_secs(30))
            .retry_if_type("GatewayTimeout")
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        // The operation id is stable across re-runs of this transition (but the same in every
        // execution: it is derived from the transition's index), so with the order id it is
        // an idempotency key: a re-run cannot reserve, charge or refund twice.
        let key = format!("{}/{}", self.order().id, &ctx.operation_id()[..16]);
        let s = systems();
        Ok(match self {
            OrderSaga::ReserveInventory(order) if order.quantity == 0 => Next::fail(
                ErrorObject::new("InvalidOrder", format!("order {} has no items", order.id)),
            ),
            OrderSaga::ReserveInventory(order) => {
                match s.reserve(&key, &order.id, &order.sku, order.quantity) {
                    Ok(reservation) => Next::to(OrderSaga::ChargePayment { order, reservation }),
                    Err(refused) => Next::fail(ErrorObject::new(refused.kind, refused.message)),
                }
            }
            OrderSaga::ChargePayment { order, reservation } => {
                match s.charge(&key, &order.id, &order.card, order.amount_cents) {
                    Ok(charge) => Next::to(OrderSaga::BookShipping {
                        order,
                        reservation,
                        charge,
                    }),
                    Err(PaymentError::Refused(refused)) => Next::to(OrderSaga::ReleaseInventory {
                        order,
                        reservation,
                        failure: refused.into(),
                    }),
                    Err(PaymentError::Timeout(timeout)) => return Err(timeout.into()),
                }
            }
            OrderSaga::BookShipping {
                order,
                reservation,
                charge,
            } => match s.book(&key, &order.id, &order.address) {
                Ok(tracking) => Next::done(Confirmation {
                    order_id: order.id,
                    reservation,
                    charge,
                    tracking,
                }),
                Err(refused) => Next::to(OrderSaga::RefundPayment {
                    order,
                    reservation,
                    charge,
                    failure: refused.into(),
                }),
            },
            OrderSaga::RefundPayment {
                order,
                reservation,
                charge,
                mut failure,
            } => match s.refund(&key, &charge) {
                Ok(refunded) => {
                    failure.undone.push(format!("refunded {refunded}"));
                    Next::to(OrderSaga::ReleaseInventory {
                        order,
                        reservation,
                        failure,
                    })
                }
                Err(PaymentError::Timeout(timeout)) => return Err(timeout.into()),
                Err(PaymentError::Refused(refused)) => {
                    return Err(compensation_failed(&order, &failure, &refused).into());
                }
            },
            OrderSaga::ReleaseInventory {
                order,
                reservation,
                mut failure,
            } => match s.release(&key, &reservation) {
                Ok(released) => {
                    failure.undone.push(format!("released {released}"));
                    Next::fail(ErrorObject::new(
                        failure.error_type,
                        format!(
                            "{}; compensated: {}",
                            failure.message,
                            failure.undone.join(", ")
                        ),
                    ))
                }
                Err(refused) => return Err(compensation_failed(&order, &failure, &refused).into()),
            },
        })
    }
}

/// A compensation the other system refuses: the execution fails for a person to sort out.
fn compensation_failed(order: &Order, failure: &Failure, refused: &Refusal) -> Terminal {
    Terminal::new(
        "CompensationFailed",
        format!(
            "order {} stopped ({}: {}), then undoing it was refused ({}: {}); undone so far: [{}]",
            order.id,
            failure.error_type,
            failure.message,
            refused.kind,
            refused.message,
            failure.undone.join(", ")
        ),
    )
}
