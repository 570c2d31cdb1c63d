//! One execution in memory ([`ExecutionRecord`]): its row, operations and events, plus what
//! the engine derives from them (id index, change sequence index, visibility, timers).
//!
//! Everything derived can be rebuilt from the row, the operations and the events
//! ([`ExecutionRecord::rebuild`]): that is what [`super::Engine::open`] does after a load
//! and what a rollback does after restoring the snapshots of [`Tx`].

use super::indexes::{Indexes, TimerKind};
use super::tx::Tx;
use crate::model::*;
use crate::service::store::{ExecutionRow, OperationMeta};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An operation and what the engine derives about it.
#[derive(Clone, Debug)]
pub(super) struct OpEntry {
    /// The operation as the API shows it.
    pub op: Operation,
    /// Private bookkeeping (persisted).
    pub meta: OperationMeta,
    /// Hidden from state reads: inside a completed CONTEXT without ReplayChildren.
    pub hidden: bool,
    /// Indexes of direct children.
    pub children: Vec<usize>,
}

/// The last accepted checkpoint, for idempotent retries.
#[derive(Clone, Debug)]
pub(super) struct CachedCheckpoint {
    pub client_token: String,
    pub checkpoint_token: String,
    pub response: CheckpointDurableExecutionResponse,
}

/// One execution.
pub(super) struct ExecutionRecord {
    /// The persisted row.
    pub h: ExecutionRow,
    /// Operations in creation order.
    pub ops: Vec<OpEntry>,
    /// Operation id → index.
    pub ids: HashMap<String, usize>,
    /// Recorded (numbered) events.
    pub events: Vec<Event>,
    /// Last change sequence number → operation index (one entry per operation).
    changed: BTreeMap<u64, usize>,
    /// Indexes of operations not hidden.
    visible: BTreeSet<usize>,
    /// This execution's armed timers.
    timers: BTreeSet<(Timestamp, TimerKind)>,
    /// Armed execution-level timers (timeout, invocation retry).
    exec_armed: [Option<Timestamp>; 2],
    /// Operations something is pending on (WAIT/CALLBACK/CHAINED_INVOKE STARTED, STEP PENDING).
    open_ops: usize,
    /// Indexes of CALLBACK operations.
    callback_ops: Vec<usize>,
    /// The last accepted checkpoint (memory only).
    pub last_checkpoint: Option<CachedCheckpoint>,
}

/// Whether something is pending on the operation (the handler may suspend on it).
fn is_open(op: &Operation) -> bool {
    use OperationStatus as S;
    use OperationType as T;
    matches!(
        (op.op_type, op.status),
        (T::Wait | T::Callback | T::ChainedInvoke, S::Started) | (T::Step, S::Pending)
    )
}

/// Whether a CONTEXT hides its children: completed without ReplayChildren.
fn hides_children(op: &Operation) -> bool {
    op.op_type == OperationType::Context
        && op.status.is_terminal()
        && op.context_details.as_ref().and_then(|d| d.replay_children) != Some(true)
}

/// The timers an operation needs in its current state.
fn op_timers(idx: usize, e: &OpEntry) -> [Option<(Timestamp, TimerKind)>; 2] {
    use OperationStatus as S;
    use OperationType as T;
    match (e.op.op_type, e.op.status) {
        (T::Wait, S::Started) => [
            e.op.wait_details
                .as_ref()
                .and_then(|d| d.scheduled_end_timestamp)
                .map(|t| (t, TimerKind::WaitEnd(idx))),
            None,
        ],
        (T::Step, S::Pending) => [
            e.op.step_details
                .as_ref()
                .and_then(|d| d.next_attempt_timestamp)
                .map(|t| (t, TimerKind::StepRetry(idx))),
            None,
        ],
        (T::Callback, S::Started) => [
            e.meta
                .callback_timeout_at
                .map(|t| (t, TimerKind::CallbackTimeout(idx))),
            e.meta
                .heartbeat_at
                .map(|t| (t, TimerKind::CallbackHeartbeat(idx))),
        ],
        _ => [None, None],
    }
}

impl ExecutionRecord {
    /// A record with a row and no operations or events yet.
    pub fn new(h: ExecutionRow) -> Self {
        ExecutionRecord {
            h,
            ops: Vec::new(),
            ids: HashMap::new(),
            events: Vec::new(),
            changed: BTreeMap::new(),
            visible: BTreeSet::new(),
            timers: BTreeSet::new(),
            exec_armed: [None, None],
            open_ops: 0,
            callback_ops: Vec::new(),
            last_checkpoint: None,
        }
    }

    /// A record rebuilt from stored parts (operations in index order).
    pub fn restore(
        h: ExecutionRow,
        ops: Vec<(Operation, OperationMeta)>,
        events: Vec<Event>,
        ix: &mut Indexes,
    ) -> Self {
        let mut rec = ExecutionRecord::new(h);
        rec.ops = ops
            .into_iter()
            .map(|(op, meta)| OpEntry {
                op,
                meta,
                hidden: false,
                children: Vec::new(),
            })
            .collect();
        rec.events = events;
        rec.rebuild(ix);
        rec
    }

    fn snap(&mut self, tx: &mut Tx) {
        tx.snapshot(self);
    }

    fn snap_op(&mut self, tx: &mut Tx, idx: usize) {
        tx.snapshot_op(self, idx);
    }

    /// The row, for changing it within `tx`.
    pub fn header(&mut self, tx: &mut Tx) -> &mut ExecutionRow {
        self.snap(tx);
        &mut self.h
    }

    /// Marks an operation as changed by the service: the handler must be invoked to see it.
    pub fn note_service_change(&mut self, tx: &mut Tx, idx: usize) {
        let h = self.header(tx);
        h.needs_invocation = true;
        h.service_updated.insert(idx);
    }

    /// Whether an invocation is in flight.
    pub fn invoking(&self) -> bool {
        self.h.invocation.is_some()
    }

    /// Whether the execution is running.
    pub fn running(&self) -> bool {
        self.h.status == ExecutionStatus::Running
    }

    /// Number of operations something is pending on.
    pub fn open_ops(&self) -> usize {
        self.open_ops
    }

    /// The operation with this id.
    pub fn find(&self, id: &str) -> Option<&OpEntry> {
        self.ids.get(id).and_then(|&i| self.ops.get(i))
    }

    fn bump(&mut self, idx: usize) {
        self.h.change_seq += 1;
        let seq = self.h.change_seq;
        if let Some(e) = self.ops.get_mut(idx) {
            if self.changed.get(&e.meta.seq) == Some(&idx) {
                self.changed.remove(&e.meta.seq);
            }
            e.meta.seq = seq;
            self.changed.insert(seq, idx);
        }
    }

    fn arm(&mut self, ix: &mut Indexes, t: Timestamp, kind: TimerKind) {
        self.timers.insert((t, kind));
        ix.timers.insert((t, self.h.arn.clone(), kind));
    }

    fn disarm(&mut self, ix: &mut Indexes, t: Timestamp, kind: TimerKind) {
        if self.timers.remove(&(t, kind)) {
            ix.timers.remove(&(t, self.h.arn.clone(), kind));
        }
    }

    /// Appends a new operation; returns its index.
    pub fn push_op(
        &mut self,
        ix: &mut Indexes,
        tx: &mut Tx,
        op: Operation,
        meta: OperationMeta,
    ) -> usize {
        self.snap(tx);
        let idx = self.ops.len();
        let parent = op.parent_id.as_ref().and_then(|p| self.ids.get(p).copied());
        let hidden = parent
            .and_then(|p| self.ops.get(p))
            .is_some_and(|p| p.hidden || hides_children(&p.op));
        if let Some(p) = parent.and_then(|p| self.ops.get_mut(p)) {
            p.children.push(idx);
        }
        if let Some(id) = op
            .callback_details
            .as_ref()
            .and_then(|d| d.callback_id.clone())
        {
            ix.callbacks.insert(id, (self.h.arn.clone(), idx));
            self.callback_ops.push(idx);
        }
        self.ids.insert(op.id.clone(), idx);
        self.ops.push(OpEntry {
            op,
            meta,
            hidden,
            children: Vec::new(),
        });
        if !hidden {
            self.visible.insert(idx);
        }
        self.bump(idx);
        self.after_change(ix, idx, [None, None], false);
        tx.snapshot_op(self, idx);
        idx
    }

    /// Changes an operation the handler can see (bumps its change sequence number).
    pub fn update_op(
        &mut self,
        ix: &mut Indexes,
        tx: &mut Tx,
        idx: usize,
        f: impl FnOnce(&mut Operation, &mut OperationMeta),
    ) {
        self.change(ix, tx, idx, true, f);
    }

    /// Changes only the private bookkeeping of an operation (e.g. a heartbeat).
    pub fn update_meta(
        &mut self,
        ix: &mut Indexes,
        tx: &mut Tx,
        idx: usize,
        f: impl FnOnce(&mut OperationMeta),
    ) {
        self.change(ix, tx, idx, false, |_, m| f(m));
    }

    fn change(
        &mut self,
        ix: &mut Indexes,
        tx: &mut Tx,
        idx: usize,
        visible_change: bool,
        f: impl FnOnce(&mut Operation, &mut OperationMeta),
    ) {
        self.snap_op(tx, idx);
        let Some(e) = self.ops.get_mut(idx) else {
            return;
        };
        let before = op_timers(idx, e);
        let was_open = is_open(&e.op);
        let hid_before = hides_children(&e.op);
        f(&mut e.op, &mut e.meta);
        if visible_change {
            self.bump(idx);
        }
        self.after_change(ix, idx, before, was_open);
        let hides_now = self.ops.get(idx).is_some_and(|e| hides_children(&e.op));
        if hides_now && !hid_before {
            self.hide_subtree(idx);
        }
    }

    fn after_change(
        &mut self,
        ix: &mut Indexes,
        idx: usize,
        before: [Option<(Timestamp, TimerKind)>; 2],
        was_open: bool,
    ) {
        let Some(e) = self.ops.get(idx) else { return };
        let after = if self.running() {
            op_timers(idx, e)
        } else {
            [None, None]
        };
        let now_open = is_open(&e.op);
        for (t, k) in before.into_iter().flatten() {
            if !after.contains(&Some((t, k))) {
                self.disarm(ix, t, k);
            }
        }
        for (t, k) in after.into_iter().flatten() {
            self.arm(ix, t, k);
        }
        match (was_open, now_open) {
            (false, true) => self.open_ops += 1,
            (true, false) => self.open_ops = self.open_ops.saturating_sub(1),
            _ => {}
        }
    }

    fn hide_subtree(&mut self, idx: usize) {
        let mut stack: Vec<usize> = self
            .ops
            .get(idx)
            .map(|e| e.children.clone())
            .unwrap_or_default();
        while let Some(c) = stack.pop() {
            if let Some(e) = self.ops.get_mut(c)
                && !e.hidden
            {
                e.hidden = true;
                self.visible.remove(&c);
                stack.extend(e.children.iter().copied());
            }
        }
    }

    /// Records an event now (it gets the next EventId).
    pub fn append_event(&mut self, tx: &mut Tx, mut ev: Event) {
        self.snap(tx);
        ev.event_id = self.events.len() as u64 + 1;
        self.events.push(ev);
    }

    /// Records an event caused by the service, held back while an invocation runs so that it
    /// is numbered after that invocation's InvocationCompleted.
    pub fn emit_async(&mut self, tx: &mut Tx, ev: Event) {
        if self.invoking() {
            self.header(tx).held_events.push(ev);
        } else {
            self.append_event(tx, ev);
        }
    }

    /// Records the events held during the invocation that just ended.
    pub fn flush_held(&mut self, tx: &mut Tx) {
        if self.h.held_events.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.header(tx).held_events);
        for ev in held {
            self.append_event(tx, ev);
        }
    }

    /// Indexes of operations changed after sequence number `seq`, in change order.
    pub fn changed_after(&self, seq: u64) -> impl Iterator<Item = usize> + '_ {
        self.changed.range(seq.saturating_add(1)..).map(|(_, &i)| i)
    }

    /// Indexes of operations changed in `(lo, hi]`.
    pub fn changed_between(&self, lo: u64, hi: u64) -> impl Iterator<Item = usize> + '_ {
        use std::ops::Bound::{Excluded, Included};
        self.changed
            .range((Excluded(lo), Included(hi.max(lo))))
            .map(|(_, &i)| i)
    }

    /// Indexes of CALLBACK operations, in creation order.
    pub fn callback_ops(&self) -> &[usize] {
        &self.callback_ops
    }

    /// Indexes of visible operations from `from` on, in creation order.
    pub fn visible_from(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        self.visible.range(from..).copied()
    }

    /// Operation timers of this execution due at `now`.
    pub fn due_op_timers(&self, now: Timestamp) -> Vec<(Timestamp, TimerKind)> {
        self.timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .filter(|(_, k)| !matches!(k, TimerKind::ExecutionTimeout | TimerKind::InvocationRetry))
            .copied()
            .collect()
    }

    /// Forgets a fired timer.
    pub fn timer_fired(&mut self, t: Timestamp, kind: TimerKind) {
        self.timers.remove(&(t, kind));
        match kind {
            TimerKind::ExecutionTimeout if self.exec_armed[0] == Some(t) => {
                self.exec_armed[0] = None
            }
            TimerKind::InvocationRetry if self.exec_armed[1] == Some(t) => {
                self.exec_armed[1] = None
            }
            _ => {}
        }
    }

    /// Removes every timer of this execution (it ended).
    pub fn clear_timers(&mut self, ix: &mut Indexes) {
        for (t, k) in std::mem::take(&mut self.timers) {
            ix.timers.remove(&(t, self.h.arn.clone(), k));
        }
        self.exec_armed = [None, None];
    }

    /// Brings the execution-level timers and the runnable index in line with the row.
    pub fn sync(&mut self, ix: &mut Indexes) {
        let running = self.running();
        let timeout = self
            .h
            .execution_timeout
            .filter(|&s| s > 0 && running)
            .map(|s| {
                self.h
                    .start
                    .add(std::time::Duration::from_secs(s.unsigned_abs()))
            });
        let retry = self.h.retry_at.filter(|_| running);
        for (slot, (want, kind)) in [
            (timeout, TimerKind::ExecutionTimeout),
            (retry, TimerKind::InvocationRetry),
        ]
        .into_iter()
        .enumerate()
        {
            if self.exec_armed[slot] != want {
                if let Some(old) = self.exec_armed[slot] {
                    self.disarm(ix, old, kind);
                }
                if let Some(t) = want {
                    self.arm(ix, t, kind);
                }
                self.exec_armed[slot] = want;
            }
        }
        let key = (self.h.created_seq, self.h.arn.clone());
        if running && self.h.needs_invocation && !self.invoking() {
            ix.runnable.insert(key);
        } else {
            ix.runnable.remove(&key);
        }
    }

    /// Removes this record's entries from the engine-wide indexes (timers, callbacks,
    /// runnable); [`Self::rebuild`] puts them back.
    pub fn unindex(&mut self, ix: &mut Indexes) {
        self.clear_timers(ix);
        for e in &self.ops {
            if let Some(id) =
                e.op.callback_details
                    .as_ref()
                    .and_then(|d| d.callback_id.as_ref())
            {
                ix.callbacks.remove(id);
            }
        }
        ix.runnable
            .remove(&(self.h.created_seq, self.h.arn.clone()));
    }

    /// Recomputes everything derived from the row and the operations.
    pub fn rebuild(&mut self, ix: &mut Indexes) {
        self.clear_timers(ix);
        self.ids.clear();
        self.changed.clear();
        self.visible.clear();
        self.open_ops = 0;
        self.callback_ops.clear();
        for e in &mut self.ops {
            e.children.clear();
        }
        for idx in 0..self.ops.len() {
            // A parent always precedes its children, so `ids` already knows it.
            let parent = self.ops[idx]
                .op
                .parent_id
                .as_ref()
                .and_then(|p| self.ids.get(p).copied());
            let hidden = parent
                .and_then(|p| self.ops.get(p))
                .is_some_and(|p| p.hidden || hides_children(&p.op));
            if let Some(p) = parent.and_then(|p| self.ops.get_mut(p)) {
                p.children.push(idx);
            }
            let e = &mut self.ops[idx];
            e.hidden = hidden;
            self.ids.insert(e.op.id.clone(), idx);
            self.changed.insert(e.meta.seq, idx);
            if !hidden {
                self.visible.insert(idx);
            }
            if let Some(id) =
                e.op.callback_details
                    .as_ref()
                    .and_then(|d| d.callback_id.clone())
            {
                ix.callbacks.insert(id, (self.h.arn.clone(), idx));
                self.callback_ops.push(idx);
            }
            if is_open(&e.op) {
                self.open_ops += 1;
            }
        }
        if self.running() {
            for idx in 0..self.ops.len() {
                for (t, k) in op_timers(idx, &self.ops[idx]).into_iter().flatten() {
                    self.arm(ix, t, k);
                }
            }
        }
        self.sync(ix);
    }
}

/// Bytes of payload an operation carries, for page budgets (at least 1).
pub(super) fn payload_size(op: &Operation) -> usize {
    let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
    let err = |e: &Option<ErrorObject>| {
        e.as_ref().map_or(0, |e| {
            s(&e.error_message)
                + s(&e.error_type)
                + s(&e.error_data)
                + e.stack_trace
                    .as_ref()
                    .map_or(0, |t| t.iter().map(String::len).sum())
        })
    };
    let mut n = 0;
    if let Some(d) = &op.execution_details {
        n += s(&d.input_payload);
    }
    if let Some(d) = &op.step_details {
        n += s(&d.result) + err(&d.error);
    }
    if let Some(d) = &op.context_details {
        n += s(&d.result) + err(&d.error);
    }
    if let Some(d) = &op.callback_details {
        n += s(&d.result) + err(&d.error);
    }
    if let Some(d) = &op.chained_invoke_details {
        n += s(&d.result) + err(&d.error);
    }
    n.max(1)
}
