//! An expense approval: small expenses are approved by policy, larger ones wait (up to three
//! days) for a manager's decision sent as a callback, approved ones are paid in the nightly
//! payout batch.

use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome, Graph};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Expenses below this amount need no manager.
pub const AUTO_APPROVE_CENTS: u64 = 10_000;
/// How long a manager has to decide.
pub const DECISION_TIMEOUT: Duration = Duration::from_secs(3 * 24 * 3600);
/// Payouts run in a nightly batch, six hours after approval by default.
pub const PAYOUT_DELAY_SECS: u64 = 6 * 3600;

fn default_payout_delay() -> u64 {
    PAYOUT_DELAY_SECS
}

/// The execution input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expense {
    pub id: String,
    pub employee: String,
    pub amount_cents: u64,
    pub description: String,
    /// Seconds from approval to the payout batch.
    #[serde(default = "default_payout_delay")]
    pub payout_delay_secs: u64,
}

/// The body a manager sends to the callback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub by: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// The execution result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub expense_id: String,
    pub status: String,
    pub decided_by: String,
    pub paid_cents: u64,
    pub payment_id: Option<String>,
    pub note: Option<String>,
}

/// The workflow: each variant is a state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Approval {
    Submitted(Expense),
    AwaitingManager {
        expense: Expense,
        callback: Callback,
    },
    Approved {
        expense: Expense,
        by: String,
    },
    Payout {
        expense: Expense,
        by: String,
    },
    Rejected {
        expense: Expense,
        by: String,
        reason: String,
    },
}

impl Transition for Approval {
    type Input = Expense;
    type Output = Receipt;

    fn start(expense: Expense) -> Self {
        Approval::Submitted(expense)
    }

    /// Every transition below, declared: the test runner fails a transition that is not in
    /// it, and `durable_fsm::testing::explore` checks it against this code.
    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Submitted")
                .edge("Submitted", "Approved")
                .edge("Submitted", "AwaitingManager")
                .edge("AwaitingManager", "Approved")
                .edge("AwaitingManager", "Rejected")
                // A decision body that is not a `Decision` is an error, retried.
                .retry("AwaitingManager")
                .sleep("Approved", "Payout")
                .done("Payout")
                .done("Rejected"),
        )
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Approval::Submitted(expense) if expense.amount_cents < AUTO_APPROVE_CENTS => {
                Next::to(Approval::Approved {
                    expense,
                    by: "policy".into(),
                })
            }
            Approval::Submitted(expense) => {
                let callback = ctx
                    .callback(
                        "manager-approval",
                        CallbackConfig::timeout(DECISION_TIMEOUT),
                    )
                    .await?;
                notify_manager(&expense, callback.id());
                Next::to(Approval::AwaitingManager { expense, callback })
            }
            Approval::AwaitingManager { expense, callback } => {
                match ctx.callback_outcome(&callback)? {
                    CallbackOutcome::Succeeded(body) => {
                        let decision: Decision = serde_json::from_str(&body)?;
                        if decision.approved {
                            Next::to(Approval::Approved {
                                expense,
                                by: decision.by,
                            })
                        } else {
                            let reason = decision.note.unwrap_or_else(|| "rejected".into());
                            Next::to(Approval::Rejected {
                                expense,
                                by: decision.by,
                                reason,
                            })
                        }
                    }
                    CallbackOutcome::TimedOut(_) => Next::to(Approval::Rejected {
                        expense,
                        by: "nobody".into(),
                        reason: "no decision within three days".into(),
                    }),
                    CallbackOutcome::Failed(e) => Next::to(Approval::Rejected {
                        expense,
                        by: "approval system".into(),
                        reason: e.to_string(),
                    }),
                }
            }
            Approval::Approved { expense, by } => {
                let delay = Duration::from_secs(expense.payout_delay_secs);
                Next::sleep(delay, Approval::Payout { expense, by })
            }
            Approval::Payout { expense, by } => {
                // The transition's operation id is stable across re-runs: an idempotency key
                // for the payment provider.
                let payment_id = format!("pay-{}", &ctx.operation_id()[..16]);
                Next::done(Receipt {
                    expense_id: expense.id,
                    status: "paid".into(),
                    decided_by: by,
                    paid_cents: expense.amount_cents,
                    payment_id: Some(payment_id),
                    note: None,
                })
            }
            Approval::Rejected {
                expense,
                by,
                reason,
            } => Next::done(Receipt {
                expense_id: expense.id,
                status: "rejected".into(),
                decided_by: by,
                paid_cents: 0,
                payment_id: None,
                note: Some(reason),
            }),
        })
    }
}

fn notify_manager(expense: &Expense, callback_id: &str) {
    tracing::info!(expense = %expense.id, callback_id, "asked the manager for a decision");
}
