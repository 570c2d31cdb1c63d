//! One invocation's view of the execution: the token chain, the operations seen so far, and
//! checkpoint calls batched within AWS's limits.

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::machine::{BoxFuture, CtxBackend, CtxError};
use crate::model::*;
use std::collections::HashMap;

/// Most updates in one CheckpointDurableExecution call.
pub const MAX_UPDATES_PER_CALL: usize = 250;
/// Most bytes of updates (sum of their JSON sizes) in one call.
pub const MAX_BYTES_PER_CALL: usize = 750 * 1024;
/// Page size used to read state.
const STATE_PAGE: u32 = 1000;

/// The object-safe part of [`DurableApi`] the executor needs.
pub(crate) trait ErasedApi: Send + Sync {
    fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> BoxFuture<'_, Result<CheckpointDurableExecutionResponse, ApiError>>;
    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> BoxFuture<'_, Result<GetDurableExecutionStateResponse, ApiError>>;
}

impl<A: DurableApi> ErasedApi for A {
    fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> BoxFuture<'_, Result<CheckpointDurableExecutionResponse, ApiError>> {
        Box::pin(DurableApi::checkpoint(self, req))
    }
    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> BoxFuture<'_, Result<GetDurableExecutionStateResponse, ApiError>> {
        Box::pin(DurableApi::get_state(self, req))
    }
}

/// Why checkpointing stopped without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    /// Checkpoints may continue.
    Live,
    /// The batch completed the execution (EXECUTION update).
    Completed,
    /// The service revoked this invocation's right to checkpoint: return PENDING.
    Revoked,
}

pub(crate) struct Session<'a> {
    api: &'a dyn ErasedApi,
    arn: String,
    token: String,
    pub(crate) token_state: TokenState,
    ops: HashMap<String, Operation>,
    /// Operation ids in creation order, as first seen.
    order: Vec<String>,
    pub(crate) checkpoint_calls: u64,
}

impl<'a> Session<'a> {
    pub(crate) fn new(api: &'a dyn ErasedApi, arn: String, token: String) -> Self {
        Session {
            api,
            arn,
            token,
            token_state: TokenState::Live,
            ops: HashMap::new(),
            order: Vec::new(),
            checkpoint_calls: 0,
        }
    }

    pub(crate) fn merge(&mut self, ops: impl IntoIterator<Item = Operation>) {
        for op in ops {
            match self.ops.get_mut(&op.id) {
                Some(slot) => *slot = op,
                None => {
                    self.order.push(op.id.clone());
                    self.ops.insert(op.id.clone(), op);
                }
            }
        }
    }

    /// Pages the rest of the state starting at `marker` with the current token.
    pub(crate) async fn page_from(&mut self, mut marker: Option<String>) -> Result<(), ApiError> {
        while let Some(m) = marker.filter(|m| !m.is_empty()) {
            let page = self
                .api
                .get_state(GetDurableExecutionStateRequest {
                    durable_execution_arn: self.arn.clone(),
                    checkpoint_token: self.token.clone(),
                    marker: Some(m),
                    max_items: Some(STATE_PAGE),
                })
                .await?;
            self.merge(page.operations);
            marker = page.next_marker;
        }
        Ok(())
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Operation> {
        self.ops.get(id)
    }

    /// Operations in creation order.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = &Operation> {
        self.order.iter().filter_map(|id| self.ops.get(id))
    }

    pub(crate) fn arn(&self) -> &str {
        &self.arn
    }

    /// Sends `updates` in as few calls as AWS's limits allow, chaining tokens.
    pub(crate) async fn checkpoint(
        &mut self,
        updates: Vec<OperationUpdate>,
    ) -> Result<(), ApiError> {
        for batch in split_batches(updates) {
            if self.token_state != TokenState::Live {
                return Ok(());
            }
            let completes = batch.iter().any(|u| u.op_type == OperationType::Execution);
            self.checkpoint_calls += 1;
            let resp = self
                .api
                .checkpoint(CheckpointDurableExecutionRequest {
                    durable_execution_arn: self.arn.clone(),
                    checkpoint_token: self.token.clone(),
                    updates: Some(batch),
                    client_token: Some(uuid::Uuid::new_v4().to_string()),
                })
                .await?;
            let state = resp.new_execution_state;
            self.merge(state.operations.unwrap_or_default());
            match resp.checkpoint_token {
                Some(token) => {
                    self.token = token;
                    self.page_from(state.next_marker).await?;
                }
                None if completes => self.token_state = TokenState::Completed,
                None => self.token_state = TokenState::Revoked,
            }
        }
        Ok(())
    }
}

/// An upper bound of an update's JSON size, without serializing it: the payload and error
/// dominate, the rest is a few hundred bytes at most.
fn update_size(u: &OperationUpdate) -> usize {
    const FIXED: usize = 512;
    let text = |s: &Option<String>| s.as_ref().map_or(0, |s| json_string_len(s));
    let error = u.error.as_ref().map_or(0, |e| {
        text(&e.error_message)
            + text(&e.error_type)
            + text(&e.error_data)
            + e.stack_trace
                .as_ref()
                .map_or(0, |t| t.iter().map(|l| json_string_len(l)).sum())
    });
    FIXED + u.id.len() + text(&u.name) + text(&u.payload) + error
}

/// The length of `s` as a JSON string literal, at most (quotes and escapes included).
fn json_string_len(s: &str) -> usize {
    let extra: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 1,
            0..0x20 => 5,
            _ => 0,
        })
        .sum();
    s.len() + extra + 2
}

/// Splits updates into requests of at most 250 updates and 750 KiB.
fn split_batches(updates: Vec<OperationUpdate>) -> Vec<Vec<OperationUpdate>> {
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0usize;
    for update in updates {
        let size = update_size(&update);
        if !current.is_empty()
            && (current.len() == MAX_UPDATES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)
        {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(update);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl CtxBackend for Session<'_> {
    fn execution_arn(&self) -> &str {
        &self.arn
    }

    fn operation(&self, id: &str) -> Option<&Operation> {
        self.ops.get(id)
    }

    fn checkpoint(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), CtxError>> {
        Box::pin(async move {
            Session::checkpoint(self, updates).await.map_err(CtxError)?;
            if self.token_state == TokenState::Revoked {
                return Err(CtxError(ApiError::new(
                    ErrorCode::Other("CheckpointRevoked".into()),
                    "the service revoked this invocation's checkpoint token",
                )));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(i: usize, payload: usize) -> OperationUpdate {
        let mut u = OperationUpdate::new(
            format!("op{i}"),
            OperationType::Step,
            OperationAction::Succeed,
        );
        u.payload = Some("x".repeat(payload));
        u
    }

    #[test]
    fn batches_respect_count_and_size_limits() {
        let many: Vec<_> = (0..600).map(|i| update(i, 10)).collect();
        let b = split_batches(many);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![250, 250, 100]
        );

        let big: Vec<_> = (0..5).map(|i| update(i, 300 * 1024)).collect();
        let b = split_batches(big);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        for batch in &b {
            let bytes: usize = batch
                .iter()
                .map(|u| serde_json::to_vec(u).unwrap().len())
                .sum();
            assert!(bytes <= MAX_BYTES_PER_CALL);
        }
        // An update larger than the limit still goes, alone.
        let b = split_batches(vec![update(0, 800 * 1024), update(1, 1)]);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1]);
        assert!(split_batches(vec![]).is_empty());
    }
}
