//! CheckpointDurableExecution and GetDurableExecutionState: tokens, idempotent retries,
//! validation, application, and the pages of operations they return.

use super::Engine;
use super::ids::{self, Marker};
use super::record::{CachedCheckpoint, ExecutionRecord, payload_size};
use super::tx::Tx;
use super::validate::validate;
use crate::api::ApiError;
use crate::model::*;

/// Largest page of operations by count.
pub(super) const PAGE_OPS: usize = 1000;
/// Payload budget of one page of operations.
pub(super) const PAGE_BYTES: usize = 5 * 1024 * 1024;

/// Takes operations by index while the count and byte budgets allow (always at least one);
/// returns them and the index of the first one left over.
pub(super) fn take_page(
    rec: &ExecutionRecord,
    idxs: impl Iterator<Item = usize>,
    max: usize,
) -> (Vec<Operation>, Option<usize>) {
    let mut out = Vec::new();
    let mut bytes = 0;
    for idx in idxs {
        let Some(e) = rec.ops.get(idx) else { continue };
        let size = payload_size(&e.op);
        if out.len() >= max || (!out.is_empty() && bytes + size > PAGE_BYTES) {
            return (out, Some(idx));
        }
        bytes += size;
        out.push(e.op.clone());
    }
    (out, None)
}

/// A page of the operations changed in `(lo, hi]`, from index `from`, in creation order.
fn changed_page(
    rec: &ExecutionRecord,
    lo: u64,
    hi: u64,
    from: usize,
    max: usize,
) -> (Vec<Operation>, Option<String>) {
    let mut idxs: Vec<usize> = rec.changed_between(lo, hi).filter(|&i| i >= from).collect();
    idxs.sort_unstable();
    let (ops, rest) = take_page(rec, idxs.into_iter(), max);
    (
        ops,
        rest.map(|from| Marker::Changed { lo, hi, from }.encode()),
    )
}

/// A page of the visible operations from index `from`.
pub(super) fn state_page(
    rec: &ExecutionRecord,
    from: usize,
    max: usize,
) -> (Vec<Operation>, Option<String>) {
    let (ops, rest) = take_page(rec, rec.visible_from(from), max);
    (ops, rest.map(|from| Marker::State { from }.encode()))
}

impl Engine {
    /// CheckpointDurableExecution (operations.md §2, api.md §4.1).
    pub fn checkpoint(
        &mut self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let arn = req.durable_execution_arn;
        self.expire_if_overdue(&arn)?;
        let rec = self.recs.get(&arn).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid durable execution ARN: {}",
                ids::truncate(&arn, 1100)
            ))
        })?;
        let client_token = req.client_token.filter(|c| !c.is_empty());
        if let (Some(ct), Some(cached)) = (&client_token, &rec.last_checkpoint)
            && cached.client_token == *ct
            && cached.checkpoint_token == req.checkpoint_token
        {
            return Ok(cached.response.clone());
        }
        let current = rec.h.invocation.as_ref().and_then(|i| i.token.as_deref());
        if !rec.running() || current != Some(req.checkpoint_token.as_str()) {
            return Err(ApiError::invalid_token());
        }
        let updates = req.updates.unwrap_or_default();
        validate(rec, &updates, rec.h.parent.is_some())?;
        let response = self.run(|eng, tx| eng.apply_checkpoint(tx, &arn, updates))?;
        if let Some(rec) = self.recs.get_mut(&arn) {
            rec.last_checkpoint = client_token.map(|client_token| CachedCheckpoint {
                client_token,
                checkpoint_token: req.checkpoint_token,
                response: response.clone(),
            });
        }
        Ok(response)
    }

    fn apply_checkpoint(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        updates: Vec<OperationUpdate>,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let ended = self.apply_updates(tx, arn, updates);
        if !ended {
            self.fire_due_ops(tx, arn);
        }
        let Some(rec) = self.recs.get_mut(arn) else {
            return Err(ApiError::invalid_token());
        };
        let running = rec.running();
        let h = rec.header(tx);
        let token = if running && !ended {
            h.token_seq += 1;
            Some(ids::mint_token(h.token_seq))
        } else {
            None
        };
        let hi = h.change_seq;
        let mut lo = hi;
        if let Some(inv) = &mut h.invocation {
            inv.token = token.clone();
            lo = inv.seen_seq;
            inv.seen_seq = hi;
        }
        let (operations, next_marker) = changed_page(rec, lo, hi, 0, PAGE_OPS);
        Ok(CheckpointDurableExecutionResponse {
            checkpoint_token: token,
            new_execution_state: CheckpointUpdatedExecutionState {
                operations: Some(operations),
                next_marker,
            },
        })
    }

    /// GetDurableExecutionState: pages of the visible operations (children of a completed
    /// CONTEXT without ReplayChildren are left out), or the rest of a checkpoint response.
    pub fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        let rec = self.recs.get(&req.durable_execution_arn).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid durable execution ARN: {}",
                ids::truncate(&req.durable_execution_arn, 1100)
            ))
        })?;
        let current = rec.h.invocation.as_ref().and_then(|i| i.token.as_deref());
        if !rec.running() || current != Some(req.checkpoint_token.as_str()) {
            return Err(ApiError::invalid_token());
        }
        let max = ids::page_size(req.max_items)?;
        let marker = match req.marker.as_deref().filter(|m| !m.is_empty()) {
            None => Marker::State { from: 0 },
            Some(m) => Marker::decode(m)?,
        };
        let (operations, next_marker) = match marker {
            Marker::State { from } => state_page(rec, from, max),
            Marker::Changed { lo, hi, from } if hi <= rec.h.change_seq => {
                changed_page(rec, lo, hi, from, max)
            }
            _ => return Err(ApiError::invalid("Invalid marker")),
        };
        Ok(GetDurableExecutionStateResponse {
            operations,
            next_marker,
        })
    }
}
