//! The transaction log of one engine call: snapshots of what it first changed in each
//! record, so the call can be rolled back when the store refuses it, and the change set the
//! store batch is built from.

use super::indexes::Indexes;
use super::record::ExecutionRecord;
use crate::model::{Operation, Timestamp};
use crate::service::store::{ExecutionRow, OperationMeta};
use std::collections::{BTreeSet, HashMap};

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

    /// Snapshots a record before its first change in this transaction.
    pub fn snapshot(&mut self, rec: &ExecutionRecord) {
        if !self.snaps.contains_key(rec.h.arn.as_str()) {
            self.order.push(rec.h.arn.clone());
            self.snaps.insert(
                rec.h.arn.clone(),
                Snapshot {
                    header: rec.h.clone(),
                    ops_len: rec.ops.len(),
                    events_len: rec.events.len(),
                    old_ops: HashMap::new(),
                    touched_ops: BTreeSet::new(),
                },
            );
        }
    }

    /// Snapshots an operation before its first change (operations created in this
    /// transaction need none) and marks it changed.
    pub fn snapshot_op(&mut self, rec: &ExecutionRecord, idx: usize) {
        self.snapshot(rec);
        if let (Some(s), Some(e)) = (self.snaps.get_mut(rec.h.arn.as_str()), rec.ops.get(idx)) {
            if idx < s.ops_len && !s.old_ops.contains_key(&idx) {
                s.old_ops.insert(idx, (e.op.clone(), e.meta.clone()));
            }
            s.touched_ops.insert(idx);
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
                ix.by_name
                    .remove(&(rec.h.function_name.clone(), rec.h.name.clone()));
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
            let Some(rec) = recs.get_mut(&arn) else {
                continue;
            };
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
