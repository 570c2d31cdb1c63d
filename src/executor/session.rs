//! One invocation's view of the execution: the token chain, the operations seen so far, and
//! checkpoint calls batched within AWS's limits.

use super::RunOptions;
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
    fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> BoxFuture<'_, Result<crate::api::StartExecutionResponse, ApiError>>;
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
    fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> BoxFuture<'_, Result<crate::api::StartExecutionResponse, ApiError>> {
        Box::pin(DurableApi::start_execution(self, req))
    }
}

pub(crate) use crate::machine::TokenState;

pub(crate) struct Session<'a> {
    api: &'a dyn ErasedApi,
    arn: String,
    token: String,
    pub(crate) token_state: TokenState,
    ops: HashMap<String, Operation>,
    /// Operation ids in creation order, as first seen.
    order: Vec<String>,
    /// Operation ids by parent (`None`: top level), in creation order.
    children: HashMap<Option<String>, Vec<String>>,
    /// Updates that go out with the next checkpoint call (results of at-least-once work that
    /// may be redone if the invocation ends before they are sent).
    deferred: Vec<OperationUpdate>,
    pub(crate) checkpoint_calls: u64,
    pub(crate) transitions_run: u64,
    pub(crate) options: RunOptions,
    pub(crate) now: Timestamp,
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        api: &'a dyn ErasedApi,
        arn: String,
        token: String,
        options: RunOptions,
        now: Timestamp,
    ) -> Self {
        Session {
            api,
            arn,
            token,
            token_state: TokenState::Live,
            ops: HashMap::new(),
            order: Vec::new(),
            children: HashMap::new(),
            deferred: Vec::new(),
            checkpoint_calls: 0,
            transitions_run: 0,
            options,
            now,
        }
    }

    pub(crate) fn merge(&mut self, ops: impl IntoIterator<Item = Operation>) {
        for op in ops {
            match self.ops.get_mut(&op.id) {
                Some(slot) => *slot = op,
                None => {
                    self.order.push(op.id.clone());
                    self.children
                        .entry(op.parent_id.clone())
                        .or_default()
                        .push(op.id.clone());
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

    /// Starts an execution (continue-as-new).
    pub(crate) async fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        self.api.start_execution(req).await
    }

    /// Sends the deferred updates, then `updates`, in as few calls as AWS's limits allow,
    /// chaining tokens.
    pub(crate) async fn checkpoint(
        &mut self,
        updates: Vec<OperationUpdate>,
    ) -> Result<(), ApiError> {
        let updates = if self.deferred.is_empty() {
            updates
        } else {
            let mut all = std::mem::take(&mut self.deferred);
            all.extend(updates);
            all
        };
        for batch in split_batches(updates) {
            if self.token_state != TokenState::Live {
                return Ok(());
            }
            let completes = batch.iter().any(|u| u.op_type == OperationType::Execution);
            self.checkpoint_calls += 1;
            crate::failpoint::hit("executor.checkpoint.before");
            let resp = self
                .api
                .checkpoint(CheckpointDurableExecutionRequest {
                    durable_execution_arn: self.arn.clone(),
                    checkpoint_token: self.token.clone(),
                    updates: Some(batch),
                    client_token: Some(client_token()),
                })
                .await?;
            crate::failpoint::hit("executor.checkpoint.after");
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

/// A client token unique to this call: a prefix random per process and a counter, so
/// minting one costs no system call (the token only has to be unique; a retry of the same
/// request by a backend reuses the request and so the token).
fn client_token() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string());
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
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

    fn children(&self, parent: Option<&str>) -> Vec<&Operation> {
        self.children
            .get(&parent.map(str::to_string))
            .map(|ids| ids.iter().filter_map(|id| self.ops.get(id)).collect())
            .unwrap_or_default()
    }

    fn defer(&mut self, updates: Vec<OperationUpdate>) {
        self.deferred.extend(updates);
    }

    fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    fn send(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(Session::checkpoint(self, updates))
    }

    fn token_state(&self) -> TokenState {
        self.token_state
    }

    fn run_options(&self) -> &RunOptions {
        &self.options
    }

    fn now(&self) -> Timestamp {
        self.now
    }

    fn count_transition(&mut self) {
        self.transitions_run += 1;
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
    fn client_tokens_are_unique_and_within_aws_limits() {
        let a = client_token();
        let b = client_token();
        assert_ne!(a, b);
        for t in [a, b] {
            assert!((1..=64).contains(&t.len()), "{t}");
            assert!(t.bytes().all(|c| (0x21..=0x7e).contains(&c)), "{t}");
        }
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
