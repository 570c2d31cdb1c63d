//! The systems the order saga talks to, simulated in this process's memory: a warehouse, a
//! payment gateway and a carrier.
//!
//! Every call that changes something carries an idempotency key. A call repeated with a key
//! already seen changes nothing and returns the first call's answer, as payment APIs do: a
//! transition that runs again (after a crash, or a retry) cannot reserve, charge or refund
//! twice. Each system journals what it did per order, so tests can check the effects.
//!
//! Test inputs pick the behaviour, like a payment provider's test cards: the card
//! [`CARD_DECLINED`] is declined, [`CARD_FLAKY`] makes the gateway time out once per key
//! (after doing the work: the answer is lost, not the charge), the SKU [`SOLD_OUT_SKU`] is out
//! of stock, and the carrier does not deliver to post office boxes.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// A card that is charged.
pub const CARD_OK: &str = "tok_visa";
/// A card that is declined.
pub const CARD_DECLINED: &str = "tok_declined";
/// A card whose gateway calls time out once per idempotency key, after doing the work.
pub const CARD_FLAKY: &str = "tok_flaky";
/// A SKU the warehouse has plenty of.
pub const IN_STOCK_SKU: &str = "espresso-machine";
/// A SKU the warehouse has none of.
pub const SOLD_OUT_SKU: &str = "discontinued-kettle";

/// A refusal: the request was understood and will never succeed, so the saga must not retry
/// it. Idempotent like a success: the same key gets the same refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// `OutOfStock`, `PaymentDeclined`, `Undeliverable`, `UnknownReservation`, `UnknownCharge`.
    pub kind: &'static str,
    /// What happened, for people.
    pub message: String,
}

/// The payment gateway did not answer in time. The call may or may not have happened:
/// repeat it with the same idempotency key to find out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the payment gateway did not answer in time (idempotency key {key})")]
pub struct GatewayTimeout {
    /// The key of the call that timed out.
    pub key: String,
}

/// Why a payment call did not return an answer.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Never retry.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Retry with the same key.
    #[error(transparent)]
    Timeout(#[from] GatewayTimeout),
}

/// One thing a system did for an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effect {
    /// `reserved`, `released`, `charged`, `refunded`, `booked`.
    pub action: &'static str,
    /// The id of what it created or undid (`res-1`, `ch-3`, …).
    pub id: String,
}

/// The three simulated systems.
pub struct Systems {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    stock: HashMap<String, u32>,
    answers: HashMap<String, Result<String, Refusal>>,
    timed_out: HashSet<String>,
    reservations: HashMap<String, Reservation>,
    charges: HashMap<String, Charge>,
    journal: Vec<(String, Effect)>,
    next_id: u64,
}

struct Reservation {
    order_id: String,
    sku: String,
    quantity: u32,
    released: bool,
}

struct Charge {
    order_id: String,
    card: String,
    amount_cents: u64,
    refunded: bool,
}

/// The systems of this process.
pub fn systems() -> &'static Systems {
    static SYSTEMS: OnceLock<Systems> = OnceLock::new();
    SYSTEMS.get_or_init(|| {
        let mut inner = Inner::default();
        inner.stock.insert(IN_STOCK_SKU.into(), 1_000_000);
        inner.stock.insert(SOLD_OUT_SKU.into(), 0);
        Systems {
            inner: Mutex::new(inner),
        }
    })
}

impl Systems {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is a plain map updated in single statements: still usable after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Warehouse: sets `quantity` units of `sku` aside for an order; returns the reservation id.
    pub fn reserve(
        &self,
        key: &str,
        order_id: &str,
        sku: &str,
        quantity: u32,
    ) -> Result<String, Refusal> {
        let mut s = self.lock();
        s.once(key, |s| {
            let on_hand = s.stock.get(sku).copied().unwrap_or(0);
            if quantity > on_hand {
                return Err(refusal(
                    "OutOfStock",
                    format!("{quantity} × {sku} requested, {on_hand} in stock"),
                ));
            }
            s.stock.insert(sku.into(), on_hand - quantity);
            let id = s.new_id("res");
            let reservation = Reservation {
                order_id: order_id.into(),
                sku: sku.into(),
                quantity,
                released: false,
            };
            s.reservations.insert(id.clone(), reservation);
            s.record(order_id, "reserved", &id);
            Ok(id)
        })
    }

    /// Warehouse: puts a reservation's units back on the shelf (once, however often asked).
    pub fn release(&self, key: &str, reservation_id: &str) -> Result<String, Refusal> {
        let mut s = self.lock();
        s.once(key, |s| {
            let r = s
                .reservations
                .get_mut(reservation_id)
                .ok_or_else(|| refusal("UnknownReservation", reservation_id.to_string()))?;
            if r.released {
                return Ok(reservation_id.to_string());
            }
            r.released = true;
            let (order_id, sku, quantity) = (r.order_id.clone(), r.sku.clone(), r.quantity);
            *s.stock.entry(sku).or_default() += quantity;
            s.record(&order_id, "released", reservation_id);
            Ok(reservation_id.to_string())
        })
    }

    /// Payment gateway: charges a card; returns the charge id.
    pub fn charge(
        &self,
        key: &str,
        order_id: &str,
        card: &str,
        amount_cents: u64,
    ) -> Result<String, PaymentError> {
        let mut s = self.lock();
        let answer = s.once(key, |s| {
            if card == CARD_DECLINED {
                return Err(refusal(
                    "PaymentDeclined",
                    format!("card {card} was declined for {amount_cents} cents"),
                ));
            }
            let id = s.new_id("ch");
            let charge = Charge {
                order_id: order_id.into(),
                card: card.into(),
                amount_cents,
                refunded: false,
            };
            s.charges.insert(id.clone(), charge);
            s.record(order_id, "charged", &id);
            Ok(id)
        });
        s.lose_first_answer(key, card == CARD_FLAKY)?;
        Ok(answer?)
    }

    /// Payment gateway: refunds a charge in full (once, however often asked); returns the
    /// charge id.
    pub fn refund(&self, key: &str, charge_id: &str) -> Result<String, PaymentError> {
        let mut s = self.lock();
        let card = s.charges.get(charge_id).map(|c| c.card.clone());
        let answer = s.once(key, |s| {
            let c = s
                .charges
                .get_mut(charge_id)
                .ok_or_else(|| refusal("UnknownCharge", charge_id.to_string()))?;
            if !c.refunded {
                c.refunded = true;
                let order_id = c.order_id.clone();
                s.record(&order_id, "refunded", charge_id);
            }
            Ok(charge_id.to_string())
        });
        s.lose_first_answer(key, card.as_deref() == Some(CARD_FLAKY))?;
        Ok(answer?)
    }

    /// Carrier: books the delivery of an order; returns the tracking number.
    pub fn book(&self, key: &str, order_id: &str, address: &str) -> Result<String, Refusal> {
        let mut s = self.lock();
        s.once(key, |s| {
            if address.to_ascii_lowercase().contains("po box") {
                return Err(refusal(
                    "Undeliverable",
                    format!("the carrier does not deliver to post office boxes ({address})"),
                ));
            }
            let id = s.new_id("trk");
            s.record(order_id, "booked", &id);
            Ok(id)
        })
    }

    /// What the systems did for an order, in order.
    pub fn journal(&self, order_id: &str) -> Vec<Effect> {
        let s = self.lock();
        let of_order = s.journal.iter().filter(|(o, _)| o == order_id);
        of_order.map(|(_, e)| e.clone()).collect()
    }

    /// The cents an order has been charged and not refunded.
    pub fn balance_cents(&self, order_id: &str) -> u64 {
        let s = self.lock();
        let open = s.charges.values().filter(|c| c.order_id == order_id);
        open.filter(|c| !c.refunded).map(|c| c.amount_cents).sum()
    }

    /// The units reserved for an order and not released.
    pub fn reserved_units(&self, order_id: &str) -> u32 {
        let s = self.lock();
        let open = s.reservations.values().filter(|r| r.order_id == order_id);
        open.filter(|r| !r.released).map(|r| r.quantity).sum()
    }
}

impl Inner {
    /// Runs `call` the first time `key` is seen; afterwards returns its answer.
    fn once(
        &mut self,
        key: &str,
        call: impl FnOnce(&mut Inner) -> Result<String, Refusal>,
    ) -> Result<String, Refusal> {
        if let Some(answer) = self.answers.get(key) {
            return answer.clone();
        }
        let answer = call(self);
        self.answers.insert(key.to_string(), answer.clone());
        answer
    }

    /// A flaky gateway loses the first answer under each key.
    fn lose_first_answer(&mut self, key: &str, flaky: bool) -> Result<(), GatewayTimeout> {
        if flaky && self.timed_out.insert(key.to_string()) {
            return Err(GatewayTimeout { key: key.into() });
        }
        Ok(())
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    fn record(&mut self, order_id: &str, action: &'static str, id: &str) {
        let effect = Effect {
            action,
            id: id.to_string(),
        };
        self.journal.push((order_id.to_string(), effect));
    }
}

fn refusal(kind: &'static str, message: String) -> Refusal {
    Refusal { kind, message }
}
