//! The local durable service: an in-process implementation of the Lambda durable-execution
//! API (spec/api.md) over the [`Engine`], with a pluggable [`Store`] and [`Clock`].
//!
//! [`LocalService`] is the cheap-to-clone handle the executor, the test runner and the HTTP
//! server share; drivers reach the engine through [`LocalService::with_engine`] to begin and
//! complete invocations and to fire timers.

pub mod clock;
mod engine;
pub mod runtime;
pub mod sqlite;
pub mod store;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use engine::{
    Engine, EngineConfig, FunctionConfig, InvocationOutcome, ListExecutions, PendingInvoke,
    StartExecution, Started,
};
pub use sqlite::SqliteStore;
pub use store::{
    CallbackRow, EventRow, ExecutionRow, MemStore, OperationMeta, OperationRow, ParentLink,
    RunningInvocation, Store, StoreError, StoredExecution, WriteBatch,
};

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::model::*;
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

    /// Notified (`notify_waiters`) after every call that may have changed the engine. A
    /// driver should create its `notified()` future before it inspects the engine, so a
    /// change in between is not missed.
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
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        self.call(|e| e.checkpoint(req))
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        self.read(|e| e.get_state(req))
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        self.read(|e| e.get_execution(arn, include_execution_data))
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        self.read(|e| e.get_history(req))
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.read(|e| e.list_by_function(req))
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_success(callback_id, &result))
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_failure(callback_id, error))
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_heartbeat(callback_id))
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        self.call(|e| e.stop(arn, error))
    }
}
