//! One execution in memory ([`ExecutionRecord`]), the engine-wide indexes ([`Indexes`]) and
//! the transaction log ([`Tx`]) that lets a call be rolled back when the store refuses it.
//!
//! Everything in a record other than its row, operations and events is derived and can be
//! rebuilt from them ([`ExecutionRecord::rebuild`]): that is what [`super::Engine::open`]
//! does after a load and what a rollback does after restoring the snapshots.

use super::types::PendingInvoke;
use crate::model::*;
use crate::service::store::{ExecutionRow, OperationMeta};
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
    /// The last accepted checkpoint (memory only).
    pub last_checkpoint: Option<CachedCheckpoint>,
}

/// State of a record before the transaction first changed it.
struct Snapshot {
    header: ExecutionRow,
    ops_len: usize,
    events_len: usize,
    old_ops: HashMap<usize, (Operation, OperationMeta)>,
    touched_ops: BTreeSet<usize>,
}

/// The undo information and change set of one engine call.
pub(super) struct Tx {
    /// The time of the call.
    pub now: Timestamp,
    snaps: HashMap<String, Snapshot>,
    order: Vec<String>,
    created: Vec<String>,
    plain_len: usize,
}

/// What a transaction changed in one record.
pub(super) struct TouchedRecord<'a> {
    pub arn: &'a str,
    pub created: bool,
    pub ops: &'a BTreeSet<usize>,
    pub ops_len: usize,
    pub events_len: usize,
}

impl Tx {
    /// A transaction at `now`, over indexes whose plain-invoke queue has `plain_len` entries.
    pub fn new(now: Timestamp, plain_len: usize) -> Self {
        Tx {
            now,
            snaps: HashMap::new(),
            order: Vec::new(),
            created: Vec::new(),
            plain_len,
        }
    }

    /// Registers a record created by this transaction.
    pub fn created(&mut self, rec: &ExecutionRecord) {
        self.created.push(rec.h.arn.clone());
        self.order.push(rec.h.arn.clone());
        self.snaps.insert(
            rec.h.arn.clone(),
            Snapshot {
                header: rec.h.clone(),
                ops_len: 0,
                events_len: 0,
                old_ops: HashMap::new(),
                touched_ops: (0..rec.ops.len()).collect(),
            },
        );
    }

    /// ARNs of records this transaction changed, in first-touch order.
    pub fn touched(&self) -> impl Iterator<Item = TouchedRecord<'_>> {
        self.order.iter().filter_map(|arn| {
            self.snaps.get(arn).map(|s| TouchedRecord {
                arn,
                created: self.created.contains(arn),
                ops: &s.touched_ops,
                ops_len: s.ops_len,
                events_len: s.events_len,
            })
        })
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty() && self.created.is_empty()
    }

    /// Undoes the transaction's changes to `recs` and `ix`.
    pub fn rollback(self, recs: &mut HashMap<String, ExecutionRecord>, ix: &mut Indexes) {
        for arn in &self.created {
            if let Some(mut rec) = recs.remove(arn) {
                rec.unindex(ix);
                ix.by_name.remove(&(rec.h.function_name.clone(), rec.h.name.clone()));
                if let Some(set) = ix.by_function.get_mut(&rec.h.function_name) {
                    set.remove(&rec.h.created_seq);
                }
                ix.order.remove(&rec.h.created_seq);
            }
        }
        for (arn, snap) in self.snaps {
            if self.created.contains(&arn) {
                continue;
            }
            let Some(rec) = recs.get_mut(&arn) else { continue };
            rec.unindex(ix);
            for (idx, (op, meta)) in snap.old_ops {
                if let Some(e) = rec.ops.get_mut(idx) {
                    e.op = op;
                    e.meta = meta;
                }
            }
            rec.ops.truncate(snap.ops_len);
            rec.events.truncate(snap.events_len);
            rec.h = snap.header;
            rec.rebuild(ix);
        }
        ix.plain.truncate(self.plain_len);
    }
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
            e.meta.callback_timeout_at.map(|t| (t, TimerKind::CallbackTimeout(idx))),
            e.meta.heartbeat_at.map(|t| (t, TimerKind::CallbackHeartbeat(idx))),
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
            last_checkpoint: None,
        }
    }

    /// A record rebuilt from stored parts (operations in index order).
    pub fn restore(h: ExecutionRow, ops: Vec<(Operation, OperationMeta)>, events: Vec<Event>, ix: &mut Indexes) -> Self {
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
        if !tx.snaps.contains_key(self.h.arn.as_str()) {
            tx.order.push(self.h.arn.clone());
            tx.snaps.insert(
                self.h.arn.clone(),
                Snapshot {
                    header: self.h.clone(),
                    ops_len: self.ops.len(),
                    events_len: self.events.len(),
                    old_ops: HashMap::new(),
                    touched_ops: BTreeSet::new(),
                },
            );
        }
    }

    fn snap_op(&mut self, tx: &mut Tx, idx: usize) {
        self.snap(tx);
        if let (Some(s), Some(e)) = (tx.snaps.get_mut(self.h.arn.as_str()), self.ops.get(idx)) {
            if idx < s.ops_len && !s.old_ops.contains_key(&idx) {
                s.old_ops.insert(idx, (e.op.clone(), e.meta.clone()));
            }
            s.touched_ops.insert(idx);
        }
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
    pub fn push_op(&mut self, ix: &mut Indexes, tx: &mut Tx, op: Operation, meta: OperationMeta) -> usize {
        self.snap(tx);
        let idx = self.ops.len();
        let parent = op.parent_id.as_ref().and_then(|p| self.ids.get(p).copied());
        let hidden = parent
            .and_then(|p| self.ops.get(p))
            .is_some_and(|p| p.hidden || hides_children(&p.op));
        if let Some(p) = parent.and_then(|p| self.ops.get_mut(p)) {
            p.children.push(idx);
        }
        if let Some(id) = op.callback_details.as_ref().and_then(|d| d.callback_id.clone()) {
            ix.callbacks.insert(id, (self.h.arn.clone(), idx));
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
        if let Some(s) = tx.snaps.get_mut(self.h.arn.as_str()) {
            s.touched_ops.insert(idx);
        }
        idx
    }

    /// Changes an operation the handler can see (bumps its change sequence number).
    pub fn update_op(&mut self, ix: &mut Indexes, tx: &mut Tx, idx: usize, f: impl FnOnce(&mut Operation, &mut OperationMeta)) {
        self.change(ix, tx, idx, true, f);
    }

    /// Changes only the private bookkeeping of an operation (e.g. a heartbeat).
    pub fn update_meta(&mut self, ix: &mut Indexes, tx: &mut Tx, idx: usize, f: impl FnOnce(&mut OperationMeta)) {
        self.change(ix, tx, idx, false, |_, m| f(m));
    }

    fn change(&mut self, ix: &mut Indexes, tx: &mut Tx, idx: usize, visible_change: bool, f: impl FnOnce(&mut Operation, &mut OperationMeta)) {
        self.snap_op(tx, idx);
        let Some(e) = self.ops.get_mut(idx) else { return };
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

    fn after_change(&mut self, ix: &mut Indexes, idx: usize, before: [Option<(Timestamp, TimerKind)>; 2], was_open: bool) {
        let Some(e) = self.ops.get(idx) else { return };
        let after = if self.running() { op_timers(idx, e) } else { [None, None] };
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
        let mut stack: Vec<usize> = self.ops.get(idx).map(|e| e.children.clone()).unwrap_or_default();
        while let Some(c) = stack.pop() {
            if let Some(e) = self.ops.get_mut(c) {
                if !e.hidden {
                    e.hidden = true;
                    self.visible.remove(&c);
                    stack.extend(e.children.iter().copied());
                }
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
        self.changed
            .range(lo.saturating_add(1)..=hi.max(lo))
            .map(|(_, &i)| i)
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
            TimerKind::ExecutionTimeout if self.exec_armed[0] == Some(t) => self.exec_armed[0] = None,
            TimerKind::InvocationRetry if self.exec_armed[1] == Some(t) => self.exec_armed[1] = None,
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
            .map(|s| self.h.start.add(std::time::Duration::from_secs(s.unsigned_abs())));
        let retry = self.h.retry_at.filter(|_| running);
        for (slot, (want, kind)) in [(timeout, TimerKind::ExecutionTimeout), (retry, TimerKind::InvocationRetry)]
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
            if let Some(id) = e.op.callback_details.as_ref().and_then(|d| d.callback_id.as_ref()) {
                ix.callbacks.remove(id);
            }
        }
        ix.runnable.remove(&(self.h.created_seq, self.h.arn.clone()));
    }

    /// Recomputes everything derived from the row and the operations.
    pub fn rebuild(&mut self, ix: &mut Indexes) {
        self.clear_timers(ix);
        self.ids.clear();
        self.changed.clear();
        self.visible.clear();
        self.open_ops = 0;
        for e in &mut self.ops {
            e.children.clear();
        }
        for idx in 0..self.ops.len() {
            // A parent always precedes its children, so `ids` already knows it.
            let parent = self.ops[idx].op.parent_id.as_ref().and_then(|p| self.ids.get(p).copied());
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
            if let Some(id) = e.op.callback_details.as_ref().and_then(|d| d.callback_id.clone()) {
                ix.callbacks.insert(id, (self.h.arn.clone(), idx));
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
                + e.stack_trace.as_ref().map_or(0, |t| t.iter().map(String::len).sum())
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
