//! The local durable service: an in-process implementation of the Lambda durable-execution
//! API (spec/api.md) over the [`Engine`], with a pluggable [`Store`] and [`Clock`].
//!
//! [`LocalService`] is the cheap-to-clone handle the executor, the test runner and the HTTP
//! server share; drivers reach the engine through [`LocalService::with_engine`] to begin and
//! complete invocations and to fire timers.
//!
//! Over a durable store the service *group-commits*: concurrent calls are applied to the
//! engine one at a time as before, and one committer thread writes the batches of all of
//! them in one store transaction (one fsync). A [`DurableApi`] call answers only once its
//! change, and every change it may have seen, is on disk.

pub mod clock;
mod engine;
mod group;
pub mod runtime;
pub mod sqlite;
pub mod store;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use engine::{
    Engine, EngineConfig, FunctionConfig, InvocationOutcome, ListExecutions, PendingInvoke,
    StartExecution, Started,
};
pub use group::CommitStats;
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
///
/// Over a durable store (one whose [`Store::needs_batches`] is true) the service owns a
/// committer thread that group-commits the engine's batches (see the module docs). The
/// [`DurableApi`] calls wait for durability before they answer; code that changes the
/// engine through [`Self::with_engine`] or [`Self::lock`] calls [`Self::sync`] before it
/// acknowledges anything to the outside. If a commit fails, every call whose change was in
/// the failed group or applied after it gets a `ServiceException` and the engine is rebuilt
/// from the store, so it is never ahead of what is on disk.
#[derive(Clone, Debug)]
pub struct LocalService {
    engine: Arc<Mutex<Engine>>,
    notify: Arc<Notify>,
    commits: Option<Arc<group::Shared>>,
}

impl std::fmt::Debug for group::Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl LocalService {
    /// A service over an engine; group-committing if the engine's store is durable.
    ///
    /// If the committer thread cannot be started the service commits each call directly,
    /// as the engine does on its own.
    pub fn new(engine: Engine) -> Self {
        let durable = engine.is_durable();
        let engine = Arc::new(Mutex::new(engine));
        let notify = Arc::new(Notify::new());
        let commits = if durable {
            match group::install(&engine, notify.clone()) {
                Ok(shared) => Some(shared),
                Err(e) => {
                    tracing::error!(error = %e, "group commit is off");
                    None
                }
            }
        } else {
            None
        };
        LocalService {
            engine,
            notify,
            commits,
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

    /// Locks the engine; fails if an earlier call panicked while holding it, or if a failed
    /// commit left the engine and the store apart (see [`LocalService`]).
    pub fn lock(&self) -> Result<MutexGuard<'_, Engine>, ApiError> {
        if let Some(e) = self.commits.as_ref().and_then(|c| c.poisoned()) {
            return Err(e);
        }
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
        crate::failpoint::hit("service.call.after");
        self.notify.notify_waiters();
        Ok(out)
    }

    /// Notified (`notify_waiters`) after every call that may have changed the engine. A
    /// driver should create its `notified()` future before it inspects the engine, so a
    /// change in between is not missed.
    pub fn notifier(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// Waits until every change made through this service so far is durable; an error if
    /// one of them failed to commit. Immediate for a service that keeps nothing on disk.
    pub async fn sync(&self) -> Result<(), ApiError> {
        match &self.commits {
            Some(c) => c.wait(c.queued()).await,
            None => Ok(()),
        }
    }

    /// Group-commit counters; `None` for a service that commits nothing.
    pub fn commit_stats(&self) -> Option<CommitStats> {
        self.commits.as_ref().map(|c| c.stats())
    }

    /// Runs `f` on the locked engine, wakes drivers, then waits until what `f` wrote or saw
    /// is durable.
    async fn call<R>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let (out, seq) = {
            let mut engine = self.lock()?;
            let out = f(&mut engine);
            (out, self.queued())
        };
        self.notify.notify_waiters();
        self.wait(seq).await?;
        out
    }

    /// Runs `f` on the locked engine, then waits until what it saw is durable.
    async fn read<R>(&self, f: impl FnOnce(&Engine) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let (out, seq) = {
            let engine = self.lock()?;
            (f(&engine), self.queued())
        };
        self.wait(seq).await?;
        out
    }

    /// The newest queued batch; exact while the engine lock is held.
    fn queued(&self) -> u64 {
        self.commits.as_ref().map_or(0, |c| c.queued())
    }

    async fn wait(&self, seq: u64) -> Result<(), ApiError> {
        match &self.commits {
            Some(c) => c.wait(seq).await,
            None => Ok(()),
        }
    }
}

impl DurableApi for LocalService {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        self.call(|e| e.checkpoint(req)).await
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        self.read(|e| e.get_state(req)).await
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        self.read(|e| e.get_execution(arn, include_execution_data))
            .await
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        self.read(|e| e.get_history(req)).await
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.read(|e| e.list_by_function(req)).await
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_success(callback_id, &result))
            .await
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_failure(callback_id, error))
            .await
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        self.call(|e| e.send_callback_heartbeat(callback_id)).await
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        self.call(|e| e.stop(arn, error)).await
    }

    /// Starts an execution in this engine; a function ARN must name the engine's region and
    /// account.
    async fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        let target = req.target()?;
        self.call(|e| {
            let config = e.config();
            let elsewhere = target.region.as_ref().is_some_and(|r| *r != config.region)
                || target
                    .account
                    .as_ref()
                    .is_some_and(|a| *a != config.account_id);
            if elsewhere {
                return Err(ApiError::not_found(format!(
                    "Function not found: {}",
                    req.function_name
                )));
            }
            let mut start = StartExecution::new(target.name, req.input).named(req.execution_name);
            start.qualifier = target.qualifier;
            let started = e.start_execution(start)?;
            Ok(crate::api::StartExecutionResponse {
                durable_execution_arn: started.arn,
            })
        })
        .await
    }
}
