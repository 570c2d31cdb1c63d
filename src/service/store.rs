//! The persistence boundary of the engine: every mutating engine call hands the rows it
//! changed to a [`Store`] before it reports success, and [`Engine::open`] rebuilds the engine
//! from what the store loads.
//!
//! Rows are plain serde types so a store can keep them as JSON (the SQLite store) or not at
//! all ([`MemStore`]).
//!
//! [`Engine::open`]: super::Engine::open

use crate::model::{ErrorObject, Event, ExecutionStatus, Operation, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where the engine persists its state.
pub trait Store: Send {
    /// Writes one batch atomically: all of it or none of it.
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError>;

    /// Reads back every execution, for [`super::Engine::open`].
    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError>;

    /// Writes one batch the caller no longer needs; a store that keeps batches for later
    /// (the group-commit queue of [`super::LocalService`]) takes it without copying.
    fn commit_owned(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit(&batch)
    }

    /// Writes several batches, in order, as one atomic unit: all of them or none. This is
    /// the group commit of [`super::LocalService`]: one transaction (one fsync) for the
    /// batches of many concurrent calls.
    ///
    /// The default commits them one by one, so a failure can leave the first ones written;
    /// a durable store overrides it with one transaction.
    fn commit_group(&mut self, batches: &[WriteBatch]) -> Result<(), StoreError> {
        batches.iter().try_for_each(|b| self.commit(b))
    }

    /// Whether the store wants batches at all; a store that keeps nothing answers `false` so
    /// the engine skips building them.
    fn needs_batches(&self) -> bool {
        true
    }
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, SQL, ...).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Backend(_) => "DFSM-STORE-BACKEND",
            StoreError::Corrupt(_) => "DFSM-STORE-CORRUPT",
        }
    }
}

/// The rows one engine call changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WriteBatch {
    /// Executions to insert or replace, whole.
    pub executions: Vec<ExecutionRow>,
    /// Operations to insert or replace, keyed by (`arn`, `index`).
    pub operations: Vec<OperationRow>,
    /// Events to append, in EventId order per execution.
    pub events: Vec<EventRow>,
    /// Callback ids minted by this call.
    pub callbacks: Vec<CallbackRow>,
}

impl WriteBatch {
    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.executions.is_empty()
            && self.operations.is_empty()
            && self.events.is_empty()
            && self.callbacks.is_empty()
    }
}

/// Everything about one execution except its operations and events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    /// The execution ARN (primary key).
    pub arn: String,
    /// Bare function name.
    pub function_name: String,
    /// Executed version (`$LATEST`, digits, ...).
    pub version: String,
    /// Execution name, unique per function.
    pub name: String,
    /// Id of the EXECUTION operation (the last ARN segment).
    pub execution_op_id: String,
    /// Creation order over all executions.
    pub created_seq: u64,
    /// Execution input.
    pub input: Option<String>,
    /// Status.
    pub status: ExecutionStatus,
    /// Result, when SUCCEEDED.
    pub result: Option<String>,
    /// Error, when FAILED, TIMED_OUT or STOPPED.
    pub error: Option<ErrorObject>,
    /// Start time.
    pub start: Timestamp,
    /// End time, when terminal.
    pub end: Option<Timestamp>,
    /// Execution timeout in seconds (`None` or 0 = none).
    pub execution_timeout: Option<i64>,
    /// Retention in days (stored, not enforced).
    pub retention_days: Option<i64>,
    /// Tenant id the execution was started with.
    pub tenant_id: Option<String>,
    /// The CHAINED_INVOKE operation waiting for this execution, for a chained child.
    pub parent: Option<ParentLink>,
    /// The handler invocation in flight.
    pub invocation: Option<RunningInvocation>,
    /// Whether the execution waits for a handler invocation.
    pub needs_invocation: bool,
    /// When a failed invocation is retried.
    pub retry_at: Option<Timestamp>,
    /// Failed invocations in a row.
    pub consecutive_failures: u32,
    /// PENDING outputs in a row with nothing pending and nothing changed.
    pub empty_pendings: u32,
    /// Last operation change sequence number.
    pub change_seq: u64,
    /// Checkpoint tokens minted so far.
    pub token_seq: u64,
    /// Indexes of operations the service changed since the last invocation input.
    pub service_updated: BTreeSet<usize>,
    /// Events recorded while an invocation ran, numbered after its InvocationCompleted.
    pub held_events: Vec<Event>,
}

/// Link from a chained child execution to its parent's CHAINED_INVOKE operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The parent execution.
    pub arn: String,
    /// Index of the CHAINED_INVOKE operation in the parent.
    pub op_index: usize,
}

/// A handler invocation that has begun and not yet completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningInvocation {
    /// Invocation id.
    pub id: String,
    /// The token the invocation input carried.
    pub input_token: String,
    /// The token the next checkpoint must carry; `None` once the execution ended.
    pub token: Option<String>,
    /// Change sequence number the handler has seen up to.
    pub seen_seq: u64,
    /// Change sequence number when the input was built.
    pub input_seq: u64,
    /// When the invocation began.
    pub began: Timestamp,
}

/// One operation and the service's private bookkeeping about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperationRow {
    /// The execution.
    pub arn: String,
    /// Creation index within the execution (0 = the EXECUTION operation).
    pub index: usize,
    /// The operation as the API shows it.
    pub operation: Operation,
    /// Bookkeeping the API does not show.
    pub meta: OperationMeta,
}

/// Service-private data about an operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationMeta {
    /// Change sequence number of the last change.
    pub seq: u64,
    /// WAIT: the requested duration.
    pub wait_seconds: Option<i64>,
    /// CALLBACK: requested timeout.
    pub callback_timeout: Option<i64>,
    /// CALLBACK: when it times out.
    pub callback_timeout_at: Option<Timestamp>,
    /// CALLBACK: requested heartbeat timeout.
    pub heartbeat_timeout: Option<i64>,
    /// CALLBACK: when it times out without a heartbeat.
    pub heartbeat_at: Option<Timestamp>,
    /// CHAINED_INVOKE: the child execution, for a durable target.
    pub child_arn: Option<String>,
    /// CHAINED_INVOKE: the child's execution timeout, for the timeout message.
    pub child_timeout: Option<i64>,
}

/// One history event of one execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// The execution.
    pub arn: String,
    /// The event (its `event_id` is the key within the execution).
    pub event: Event,
}

/// A callback id and the operation it completes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRow {
    /// The callback id.
    pub callback_id: String,
    /// The execution.
    pub arn: String,
    /// The CALLBACK operation's index.
    pub op_index: usize,
}

/// One execution as loaded back from a store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredExecution {
    /// The execution row.
    pub execution: ExecutionRow,
    /// Its operations (any order; indexes must be 0..n without gaps).
    pub operations: Vec<OperationRow>,
    /// Its events (any order; EventIds must be 1..=n without gaps).
    pub events: Vec<Event>,
}

/// A store that keeps nothing: state lives only in the engine's memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemStore;

impl Store for MemStore {
    fn commit(&mut self, _batch: &WriteBatch) -> Result<(), StoreError> {
        Ok(())
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        Ok(Vec::new())
    }

    fn needs_batches(&self) -> bool {
        false
    }
}
