//! A monthly subscription renewal that runs forever: charge, sleep a month, charge again.
//! Every few renewals it continues as new, so no execution's history grows without bound and
//! none comes near AWS's one-year execution limit; the subscription's state carries over
//! into each fresh execution.

use durable_fsm::machine::Graph;
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A calendar month, as far as billing is concerned.
pub const MONTH_SECS: u64 = 30 * 24 * 3600;
/// Renewals in one execution before it continues as new (a year of history each).
pub const RENEWALS_PER_EXECUTION: u32 = 12;

fn default_month() -> u64 {
    MONTH_SECS
}

fn default_renewals() -> u32 {
    RENEWALS_PER_EXECUTION
}

/// The execution input: a new subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub customer: String,
    pub plan_cents: u64,
    /// Seconds between renewals (a month by default; shorter in demos and tests).
    #[serde(default = "default_month")]
    pub month_secs: u64,
    /// Renewals per execution before it continues as new.
    #[serde(default = "default_renewals")]
    pub renewals_per_execution: u32,
    /// The customer cancels at the end of this execution (1 = the first); never when absent.
    #[serde(default)]
    pub cancel_after_executions: Option<u32>,
    /// The card is declined at this renewal (1 = the first charge); never when absent.
    #[serde(default)]
    pub declined_at_renewal: Option<u64>,
}

/// What carries over from one execution to the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub subscription: Subscription,
    /// Which execution of the subscription this is: 1, 2, …
    pub execution: u32,
    /// Renewals charged in this execution.
    pub renewals_here: u32,
    /// Renewals charged since the subscription started.
    pub renewals: u64,
    pub paid_cents: u64,
    pub last_payment: Option<String>,
}

/// The execution result, when the subscription ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub customer: String,
    pub renewals: u64,
    pub paid_cents: u64,
    pub executions: u32,
    pub reason: String,
}

/// The workflow: each variant is a state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Renewal {
    /// Charge this month's renewal.
    Charging(Account),
    /// Paid up: wait for the next month, or hand over to a fresh execution.
    Active(Account),
    /// The subscription ended.
    Cancelled { account: Account, reason: String },
}

impl Account {
    fn new(subscription: Subscription) -> Self {
        Account {
            subscription,
            execution: 1,
            renewals_here: 0,
            renewals: 0,
            paid_cents: 0,
            last_payment: None,
        }
    }

    /// The account as the next execution starts with it.
    fn next_execution(self) -> Self {
        Account {
            execution: self.execution + 1,
            renewals_here: 0,
            ..self
        }
    }
}

impl Transition for Renewal {
    type Input = Subscription;
    type Output = Summary;

    fn start(subscription: Subscription) -> Self {
        Renewal::Charging(Account::new(subscription))
    }

    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Charging")
                .edge("Charging", "Active")
                .edge("Charging", "Cancelled")
                .sleep("Active", "Charging")
                .continue_as_new("Active", "Active")
                .edge("Active", "Cancelled")
                .done("Cancelled"),
        )
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Renewal::Charging(mut account) => {
                let renewal = account.renewals + 1;
                let sub = &account.subscription;
                if sub.declined_at_renewal == Some(renewal) {
                    return Ok(Next::to(Renewal::Cancelled {
                        reason: format!("card declined at renewal {renewal}"),
                        account,
                    }));
                }
                // The renewal number carries over from execution to execution and is the same
                // when this transition re-runs: the payment provider's idempotency key, so a
                // re-run never charges twice. (An operation id would not do: ids restart in
                // every execution.)
                let key = format!("{}-renewal-{renewal}", sub.customer);
                let payment = charge(&sub.customer, sub.plan_cents, &key);
                account.renewals = renewal;
                account.renewals_here += 1;
                account.paid_cents += sub.plan_cents;
                account.last_payment = Some(payment);
                Next::to(Renewal::Active(account))
            }
            Renewal::Active(account) => {
                let sub = &account.subscription;
                if account.renewals_here < sub.renewals_per_execution.max(1) {
                    let month = Duration::from_secs(sub.month_secs);
                    return Ok(Next::sleep(month, Renewal::Charging(account)));
                }
                if sub
                    .cancel_after_executions
                    .is_some_and(|n| account.execution >= n)
                {
                    let reason = format!(
                        "cancelled by the customer after {} executions",
                        account.execution
                    );
                    return Ok(Next::to(Renewal::Cancelled { account, reason }));
                }
                // A year of renewals is history enough: carry on in a fresh execution.
                Next::continue_as_new(Renewal::Active(account.next_execution()))
            }
            Renewal::Cancelled { account, reason } => Next::done(Summary {
                customer: account.subscription.customer,
                renewals: account.renewals,
                paid_cents: account.paid_cents,
                executions: account.execution,
                reason,
            }),
        })
    }
}

/// The payment provider, simulated: a real one takes `idempotency_key` so a retried charge is
/// not charged twice.
fn charge(customer: &str, cents: u64, idempotency_key: &str) -> String {
    println!("  charged {customer} {cents} cents (idempotency key {idempotency_key})");
    format!("pay-{idempotency_key}")
}
