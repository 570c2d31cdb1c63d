//! Engine-wide indexes over all executions, and the kinds of timers they arm.

use super::types::PendingInvoke;
use crate::model::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a timer does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TimerKind {
    /// The execution times out.
    ExecutionTimeout,
    /// A failed invocation is retried.
    InvocationRetry,
    /// A WAIT (by operation index) fires.
    WaitEnd(usize),
    /// A PENDING STEP becomes READY.
    StepRetry(usize),
    /// A CALLBACK times out.
    CallbackTimeout(usize),
    /// A CALLBACK times out without a heartbeat.
    CallbackHeartbeat(usize),
}

/// Engine-wide indexes over all executions.
#[derive(Default)]
pub(super) struct Indexes {
    /// (function, execution name) → ARN.
    pub by_name: HashMap<(String, String), String>,
    /// function → creation sequence numbers of its executions.
    pub by_function: HashMap<String, BTreeSet<u64>>,
    /// creation sequence number → ARN.
    pub order: BTreeMap<u64, String>,
    /// callback id → (ARN, operation index).
    pub callbacks: HashMap<String, (String, usize)>,
    /// Every armed timer.
    pub timers: BTreeSet<(Timestamp, String, TimerKind)>,
    /// Executions waiting for an invocation, by creation order.
    pub runnable: BTreeSet<(u64, String)>,
    /// Chained invokes of plain functions not yet taken by a driver.
    pub plain: Vec<PendingInvoke>,
    /// Next creation sequence number.
    pub next_created_seq: u64,
}
