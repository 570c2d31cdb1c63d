//! The service engine: every durable execution in memory, the legality rules, history,
//! tokens, timers, callbacks and chained invokes of the local durable service.
//!
//! The engine is synchronous and single-owner; [`super::LocalService`] wraps it in a mutex.
//! Every mutating call runs as one transaction: it changes the in-memory state, hands the
//! changed rows to the [`Store`], and rolls the change back if the store refuses it.

mod apply;
mod callbacks;
mod checkpoint;
mod events;
mod ids;
mod indexes;
mod invocation;
mod lifecycle;
mod query;
mod record;
mod recovery;
mod timers;
mod tx;
mod types;
mod validate;

#[cfg(test)]
mod tests;

pub use types::*;

use super::clock::Clock;
use super::store::{
    CallbackRow, EventRow, MemStore, OperationRow, Store, StoreError, StoredExecution, WriteBatch,
};
use crate::api::{ApiError, ErrorCode};
use crate::model::{ErrorObject, Timestamp};
use indexes::Indexes;
use record::ExecutionRecord;
use std::collections::HashMap;
use std::sync::Arc;
use tx::Tx;

/// The local durable service's state machine over all executions.
pub struct Engine {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    store: Box<dyn Store>,
    recs: HashMap<String, ExecutionRecord>,
    ix: Indexes,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("executions", &self.recs.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine that keeps its state in memory only.
    pub fn new(config: EngineConfig, clock: Arc<dyn Clock>) -> Self {
        Engine {
            config,
            clock,
            store: Box::new(MemStore),
            recs: HashMap::new(),
            ix: Indexes::default(),
        }
    }

    /// An engine over `store`, rebuilt from what it loads. Invocations that were running
    /// when the state was saved count as failed (the process that ran them is gone).
    pub fn open(
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        mut store: Box<dyn Store>,
    ) -> Result<Self, StoreError> {
        let loaded = store.load()?;
        let mut engine = Engine::new(config, clock);
        engine.store = store;
        engine.restore(loaded)?;
        let interrupted: Vec<(String, String, Timestamp)> = engine
            .recs
            .values()
            .filter_map(|r| {
                r.h.invocation
                    .as_ref()
                    .map(|i| (r.h.arn.clone(), i.id.clone(), i.began))
            })
            .collect();
        for (arn, id, began) in interrupted {
            let error = ErrorObject::new(
                "Runtime.ExitError",
                "The local durable service restarted while the invocation was running.",
            );
            engine
                .complete_invocation(
                    &arn,
                    &id,
                    InvocationOutcome::Error(error),
                    format!("local-{}", ids::uuid()),
                    began,
                )
                .map_err(|e| StoreError::Backend(e.message))?;
        }
        Ok(engine)
    }

    /// Adds the loaded executions to an empty engine, checking their numbering.
    fn restore(&mut self, loaded: Vec<StoredExecution>) -> Result<(), StoreError> {
        for stored in loaded {
            let h = stored.execution;
            let mut ops = stored.operations;
            ops.sort_by_key(|r| r.index);
            if ops
                .iter()
                .enumerate()
                .any(|(i, r)| r.index != i || r.arn != h.arn)
            {
                return Err(StoreError::Corrupt(format!(
                    "operations of {} are not numbered 0..n",
                    h.arn
                )));
            }
            let mut events = stored.events;
            events.sort_by_key(|e| e.event_id);
            if events
                .iter()
                .enumerate()
                .any(|(i, e)| e.event_id != i as u64 + 1)
            {
                return Err(StoreError::Corrupt(format!(
                    "events of {} are not numbered 1..=n",
                    h.arn
                )));
            }
            let ix = &mut self.ix;
            ix.next_created_seq = ix.next_created_seq.max(h.created_seq.saturating_add(1));
            ix.by_name
                .insert((h.function_name.clone(), h.name.clone()), h.arn.clone());
            ix.by_function
                .entry(h.function_name.clone())
                .or_default()
                .insert(h.created_seq);
            ix.order.insert(h.created_seq, h.arn.clone());
            let arn = h.arn.clone();
            let ops = ops.into_iter().map(|r| (r.operation, r.meta)).collect();
            let rec = ExecutionRecord::restore(h, ops, events, ix);
            self.recs.insert(arn, rec);
        }
        Ok(())
    }

    /// Throws away the in-memory state and rebuilds it from `loaded` (what the store holds),
    /// keeping the configuration, the clock and the store. The group commit of
    /// [`super::LocalService`] calls it when a commit failed, so the engine is never ahead of
    /// the store. Invocations recorded as running stay running: their process is this one.
    /// Plain chained invokes not yet taken by a driver are kept if their operation survived.
    pub(crate) fn reload(&mut self, loaded: Vec<StoredExecution>) -> Result<(), StoreError> {
        let plain = std::mem::take(&mut self.ix.plain);
        self.recs.clear();
        self.ix = Indexes::default();
        let restored = self.restore(loaded);
        self.ix.plain = plain
            .into_iter()
            .filter(|p| {
                self.recs
                    .get(&p.parent_arn)
                    .is_some_and(|r| r.ids.contains_key(&p.op_id))
            })
            .collect();
        restored
    }

    /// Replaces the store, returning the old one.
    pub(crate) fn replace_store(&mut self, store: Box<dyn Store>) -> Box<dyn Store> {
        std::mem::replace(&mut self.store, store)
    }

    /// Whether the store keeps anything (see [`Store::needs_batches`]).
    pub(crate) fn is_durable(&self) -> bool {
        self.store.needs_batches()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Adds or replaces a function in the registry (targets of chained invokes).
    pub fn register_function(&mut self, name: impl Into<String>, config: FunctionConfig) {
        self.config.functions.insert(name.into(), config);
    }

    /// ARNs of executions waiting for an invocation now, oldest first.
    pub fn runnable(&self) -> Vec<String> {
        self.ix
            .runnable
            .iter()
            .map(|(_, arn)| arn.clone())
            .collect()
    }

    /// The earliest armed deadline over all executions.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.ix.timers.first().map(|(t, _, _)| *t)
    }

    /// Chained invokes of plain functions a driver must now perform.
    pub fn take_plain_invokes(&mut self) -> Vec<PendingInvoke> {
        std::mem::take(&mut self.ix.plain)
    }

    /// Number of executions held.
    pub fn execution_count(&self) -> usize {
        self.recs.len()
    }

    /// Whether an invocation of this execution is in flight.
    pub fn is_invoking(&self, arn: &str) -> bool {
        self.recs.get(arn).is_some_and(ExecutionRecord::invoking)
    }

    fn rec_mut(&mut self, arn: &str) -> Option<(&mut ExecutionRecord, &mut Indexes)> {
        let ix = &mut self.ix;
        self.recs.get_mut(arn).map(move |r| (r, ix))
    }

    /// Runs `f` as one transaction: commit to the store on success, roll back on any error.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Self, &mut Tx) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut tx = Tx::new(self.clock.now(), self.ix.plain.len());
        let out = match f(self, &mut tx) {
            Ok(v) => v,
            Err(e) => {
                tx.rollback(&mut self.recs, &mut self.ix);
                return Err(e);
            }
        };
        for t in tx.touched() {
            if let Some(rec) = self.recs.get_mut(t.arn) {
                rec.sync(&mut self.ix);
            }
        }
        if tx.is_empty() || !self.store.needs_batches() {
            return Ok(out);
        }
        let batch = self.batch(&tx);
        match self.store.commit_owned(batch) {
            Ok(()) => Ok(out),
            Err(e) => {
                tracing::error!(code = e.code(), error = %e, "store commit failed; change rolled back");
                tx.rollback(&mut self.recs, &mut self.ix);
                Err(ApiError::new(
                    ErrorCode::Service,
                    format!("The local store failed: {e}"),
                ))
            }
        }
    }

    /// The rows a transaction changed.
    fn batch(&self, tx: &Tx) -> WriteBatch {
        let mut b = WriteBatch::default();
        for t in tx.touched() {
            let Some(rec) = self.recs.get(t.arn) else {
                continue;
            };
            b.executions.push(rec.h.clone());
            for &idx in t.ops {
                let Some(e) = rec.ops.get(idx) else { continue };
                b.operations.push(OperationRow {
                    arn: t.arn.to_string(),
                    index: idx,
                    operation: e.op.clone(),
                    meta: e.meta.clone(),
                });
                let new = t.created || idx >= t.ops_len;
                if let Some(id) =
                    e.op.callback_details
                        .as_ref()
                        .and_then(|d| d.callback_id.as_ref())
                        .filter(|_| new)
                {
                    b.callbacks.push(CallbackRow {
                        callback_id: id.clone(),
                        arn: t.arn.to_string(),
                        op_index: idx,
                    });
                }
            }
            for ev in rec.events.get(t.events_len..).unwrap_or_default() {
                b.events.push(EventRow {
                    arn: t.arn.to_string(),
                    event: ev.clone(),
                });
            }
        }
        b
    }
}
