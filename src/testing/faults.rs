//! A fault-injecting [`DurableApi`] wrapper for crash and failure tests.

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::model::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What goes wrong with one CheckpointDurableExecution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call fails before reaching the service: nothing is applied (`ServiceException`).
    FailBefore,
    /// The service applies the call but the response is lost (a transport error).
    LoseResponse,
    /// The service answers that the token is stale; nothing is applied.
    StaleToken,
    /// The service is throttling; nothing is applied (`TooManyRequestsException`).
    Throttle,
    /// The call times out before the service answers; nothing is applied (a transport
    /// error, retryable).
    Timeout,
    /// The service refuses the request with a non-retryable error
    /// (`InvalidParameterValueException`, not about the token); nothing is applied. The
    /// executor must fail the execution (spec/invocation.md §8.4).
    Reject,
    /// The service applies the call but the response carries a checkpoint token it never
    /// issued, so the invocation's next call is refused as a stale token.
    CorruptToken,
}

impl Fault {
    /// Every fault kind.
    pub const ALL: [Fault; 7] = [
        Fault::FailBefore,
        Fault::LoseResponse,
        Fault::StaleToken,
        Fault::Throttle,
        Fault::Timeout,
        Fault::Reject,
        Fault::CorruptToken,
    ];

    /// Whether the executor may retry past this fault (the invocation fails and the service
    /// invokes again, or the call is retried), as opposed to failing the execution.
    pub fn is_retryable(self) -> bool {
        self != Fault::Reject
    }

    /// Whether the faulty call is applied by the service.
    pub fn is_applied(self) -> bool {
        matches!(self, Fault::LoseResponse | Fault::CorruptToken)
    }
}

/// The token [`Fault::CorruptToken`] puts in a response: base64 of text no service issues.
pub const CORRUPT_TOKEN: &str = "aW5qZWN0ZWQtY29ycnVwdC10b2tlbg==";

/// Wraps a [`DurableApi`] and injects [`Fault`]s into chosen checkpoint calls, counted from 1
/// over the wrapper's lifetime (clones share the count and the plan).
#[derive(Clone, Debug)]
pub struct FaultyApi<A> {
    inner: A,
    calls: Arc<AtomicU64>,
    state_reads: Arc<AtomicU64>,
    plan: Arc<Mutex<HashMap<u64, Fault>>>,
    starts: Arc<AtomicU64>,
    start_plan: Arc<Mutex<HashMap<u64, Fault>>>,
}

impl<A: DurableApi> FaultyApi<A> {
    /// Wraps `inner` with no faults planned.
    pub fn new(inner: A) -> Self {
        FaultyApi {
            inner,
            calls: Arc::new(AtomicU64::new(0)),
            state_reads: Arc::new(AtomicU64::new(0)),
            plan: Arc::new(Mutex::new(HashMap::new())),
            starts: Arc::new(AtomicU64::new(0)),
            start_plan: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Plans `fault` for the `n`th `start_execution` call (1-based): the faults the service
    /// applies (`LoseResponse`, `CorruptToken`) start the execution and lose the answer,
    /// `Reject` answers `InvalidParameterValueException`, the others a retryable error;
    /// none of those start anything.
    pub fn fail_start(self, n: u64, fault: Fault) -> Self {
        if let Ok(mut plan) = self.start_plan.lock() {
            plan.insert(n, fault);
        }
        self
    }

    /// `start_execution` calls made so far.
    pub fn start_calls(&self) -> u64 {
        self.starts.load(Ordering::SeqCst)
    }

    /// Plans `fault` for the `n`th checkpoint call (1-based).
    pub fn fail_checkpoint(self, n: u64, fault: Fault) -> Self {
        if let Ok(mut plan) = self.plan.lock() {
            plan.insert(n, fault);
        }
        self
    }

    /// Plans `fault` for each of the checkpoint calls `ns` (1-based).
    pub fn fail_checkpoints(mut self, ns: impl IntoIterator<Item = u64>, fault: Fault) -> Self {
        for n in ns {
            self = self.fail_checkpoint(n, fault);
        }
        self
    }

    /// Checkpoint calls made so far.
    pub fn checkpoint_calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// GetDurableExecutionState calls made so far.
    pub fn state_reads(&self) -> u64 {
        self.state_reads.load(Ordering::SeqCst)
    }

    /// The wrapped API.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

impl<A: DurableApi> DurableApi for FaultyApi<A> {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.plan.lock().ok().and_then(|p| p.get(&n).copied());
        match fault {
            None => self.inner.checkpoint(req).await,
            Some(Fault::FailBefore) => Err(ApiError::new(
                ErrorCode::Service,
                "injected: service unavailable",
            )),
            Some(Fault::StaleToken) => Err(ApiError::invalid_token()),
            Some(Fault::Throttle) => Err(ApiError::new(
                ErrorCode::TooManyRequests,
                "injected: rate exceeded",
            )),
            Some(Fault::LoseResponse) => {
                let _applied = self.inner.checkpoint(req).await;
                Err(ApiError::new(
                    ErrorCode::Transport,
                    "injected: response lost",
                ))
            }
            Some(Fault::Timeout) => Err(ApiError::new(
                ErrorCode::Transport,
                "injected: the call timed out",
            )),
            Some(Fault::Reject) => Err(ApiError::invalid(
                "injected: the request was refused as invalid",
            )),
            Some(Fault::CorruptToken) => {
                let mut resp = self.inner.checkpoint(req).await?;
                if resp.checkpoint_token.is_some() {
                    resp.checkpoint_token = Some(CORRUPT_TOKEN.to_string());
                }
                Ok(resp)
            }
        }
    }

    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionStateResponse, ApiError>> + Send {
        self.state_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_state(req)
    }

    fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> impl Future<Output = Result<GetDurableExecutionResponse, ApiError>> + Send {
        self.inner.get_execution(arn, include_execution_data)
    }

    fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionHistoryResponse, ApiError>> + Send {
        self.inner.get_history(req)
    }

    fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send
    {
        self.inner.list_by_function(req)
    }

    fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.inner.send_callback_success(callback_id, result)
    }

    fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.inner.send_callback_failure(callback_id, error)
    }

    fn send_callback_heartbeat(
        &self,
        callback_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        self.inner.send_callback_heartbeat(callback_id)
    }

    fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> impl Future<Output = Result<StopDurableExecutionResponse, ApiError>> + Send {
        self.inner.stop(arn, error)
    }

    /// Injects the [`Fault`] planned with [`FaultyApi::fail_start`] for this call, if any.
    async fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let fault = self.start_plan.lock().ok().and_then(|p| p.get(&n).copied());
        match fault {
            None => self.inner.start_execution(req).await,
            // The execution starts; the answer is lost.
            Some(f) if f.is_applied() => {
                let _applied = self.inner.start_execution(req).await;
                Err(ApiError::new(
                    ErrorCode::Transport,
                    "injected: response lost",
                ))
            }
            Some(Fault::Reject) => Err(ApiError::invalid("injected: request refused")),
            Some(Fault::StaleToken | Fault::Throttle) => Err(ApiError::new(
                ErrorCode::TooManyRequests,
                "injected: rate exceeded",
            )),
            Some(_) => Err(ApiError::new(
                ErrorCode::Service,
                "injected: service unavailable",
            )),
        }
    }
}
