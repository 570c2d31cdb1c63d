//! The local durable service: an in-process implementation of the Lambda durable-execution
//! API (spec/api.md) over the [`Engine`], with a pluggable [`Store`] and [`Clock`].
//!
//! [`LocalService`] is the cheap-to-clone handle the executor, the test runner and the HTTP
//! server share; drivers reach the engine through [`LocalService::with_engine`] to begin and
//! complete invocations and to fire timers.

pub mod clock;
mod engine;
pub mod store;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use engine::{
    Engine, EngineConfig, FunctionConfig, InvocationOutcome, ListExecutions, PendingInvoke,
    StartExecution, Started,
};
pub use store::{
    CallbackRow, EventRow, ExecutionRow, MemStore, OperationMeta, OperationRow, ParentLink,
    RunningInvocation, Store, StoreError, StoredExecution, WriteBatch,
};

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::model::*;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// A shared handle on one [`Engine`], implementing [`DurableApi`].
///
/// The mutex is never held across an `.await`: every call locks, runs synchronously and
/// unlocks. After each call that may have changed something, [`Self::notifier`] is notified
/// so drivers can look for runnable executions and new deadlines.
#[derive(Clone, Debug)]
pub struct LocalService {
    engine: Arc<Mutex<Engine>>,
    notify: Arc<Notify>,
}

impl LocalService {
    /// A service over an engine.
    pub fn new(engine: Engine) -> Self {
        LocalService {
            engine: Arc::new(Mutex::new(engine)),
            notify: Arc::new(Notify::new()),
        }
    }

    /// A service keeping its state in memory only.
    pub fn in_memory(config: EngineConfig, clock: Arc<dyn Clock>) -> Self {
        Self::new(Engine::new(config, clock))
    }

    /// The shared engine.
    pub fn engine(&self) -> &Arc<Mutex<Engine>> {
        &self.engine
    }

    /// Locks the engine; fails if an earlier call panicked while holding it.
    pub fn lock(&self) -> Result<MutexGuard<'_, Engine>, ApiError> {
        self.engine.lock().map_err(|_| {
            ApiError::new(
                ErrorCode::Service,
                "The local durable service is unavailable: an earlier call panicked.",
            )
        })
    }

    /// Runs `f` on the locked engine, then wakes drivers.
    pub fn with_engine<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Result<R, ApiError> {
        let out = f(&mut *self.lock()?);
        self.notify.notify_waiters();
        Ok(out)
    }

    /// Notified after every call that may have changed the engine.
    pub fn notifier(&self) -> &Arc<Notify> {
        &self.notify
    }

    fn call<R>(&self, f: impl FnOnce(&mut Engine) -> Result<R, ApiError>) -> Result<R, ApiError> {
        self.with_engine(f)?
    }

    fn read<R>(&self, f: impl FnOnce(&Engine) -> Result<R, ApiError>) -> Result<R, ApiError> {
        f(&*self.lock()?)
    }
}

impl DurableApi for LocalService {
    fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> impl Future<Output = Result<CheckpointDurableExecutionResponse, ApiError>> + Send {
        async move { self.call(|e| e.checkpoint(req)) }
    }

    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionStateResponse, ApiError>> + Send {
        async move { self.read(|e| e.get_state(req)) }
    }

    fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> impl Future<Output = Result<GetDurableExecutionResponse, ApiError>> + Send {
        async move { self.read(|e| e.get_execution(arn, include_execution_data)) }
    }

    fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionHistoryResponse, ApiError>> + Send {
        async move { self.read(|e| e.get_history(req)) }
    }

    fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send
    {
        async move { self.read(|e| e.list_by_function(req)) }
    }

    fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async move { self.call(|e| e.send_callback_success(callback_id, &result)) }
    }

    fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async move { self.call(|e| e.send_callback_failure(callback_id, error)) }
    }

    fn send_callback_heartbeat(
        &self,
        callback_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async move { self.call(|e| e.send_callback_heartbeat(callback_id)) }
    }

    fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> impl Future<Output = Result<StopDurableExecutionResponse, ApiError>> + Send {
        async move { self.call(|e| e.stop(arn, error)) }
    }
}
