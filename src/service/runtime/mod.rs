//! The runtime of the local durable service: a Tokio task that fires timers, invokes every
//! execution that needs an invocation (in-process workflows from a [`Registry`], or a Lambda
//! endpoint over HTTP), performs chained invokes of plain functions, and records each
//! outcome in the [`Engine`](crate::service::Engine).
//!
//! It is the real-time, concurrent counterpart of [`crate::testing`]: many executions run at
//! once, at most one invocation of each at a time (the engine refuses a second
//! `begin_invocation`).
//!
//! ```no_run
//! # use durable_fsm::{Ctx, Next, Transition, TransitionError};
//! # #[derive(serde::Serialize, serde::Deserialize)] enum Hello { Start }
//! # impl Transition for Hello { type Input = (); type Output = String;
//! #   fn start(_: ()) -> Self { Hello::Start }
//! #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> { Ok(Next::done("hi".into())) } }
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use durable_fsm::service::runtime::{Invokers, Registry, Runtime};
//! use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! let service = LocalService::open("durable.db".as_ref(), EngineConfig::default())?;
//! let mut registry = Registry::new();
//! registry.register::<Hello>("hello");
//! let runtime = Runtime::start(service, Invokers::new(registry), Arc::new(SystemClock));
//! let started = runtime
//!     .service()
//!     .with_engine(|e| e.start_execution(StartExecution::new("hello", "null")))??;
//! let done = runtime.wait_for_end(&started.arn, Duration::from_secs(60)).await?;
//! println!("{:?}", done.result);
//! runtime.shutdown().await;
//! # Ok(()) }
//! ```

mod dispatch;
mod driver;
#[cfg(feature = "server")]
mod frontend;
mod http;
mod open;
mod registry;
#[cfg(test)]
mod tests;

pub use http::{HttpInvoker, InvokerError};
pub use registry::Registry;

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::model::*;
use crate::service::{Clock, LocalService};
use dispatch::Dispatcher;
use driver::Driver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Lambda's longest function timeout: the default limit of one invocation.
pub const DEFAULT_INVOCATION_TIMEOUT: Duration = Duration::from_secs(900);
/// How long [`RuntimeHandle::shutdown`] lets in-flight invocations finish.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where the runtime sends invocations.
#[derive(Clone, Debug)]
pub struct Invokers {
    /// Functions that run in this process.
    pub registry: Registry,
    /// A Lambda Invoke endpoint (`http://127.0.0.1:3001` for `sam local start-lambda`,
    /// `http://127.0.0.1:9000` for `cargo lambda watch`) for every function not in the
    /// registry; without one such functions are not found.
    pub lambda_endpoint: Option<String>,
    /// How long one invocation may run (default 900 s): a handler invocation that takes
    /// longer fails with `Sandbox.Timedout` and is retried.
    pub invocation_timeout: Duration,
}

impl Default for Invokers {
    fn default() -> Self {
        Invokers::new(Registry::new())
    }
}

impl Invokers {
    /// In-process functions only, with the default invocation timeout.
    pub fn new(registry: Registry) -> Self {
        Invokers {
            registry,
            lambda_endpoint: None,
            invocation_timeout: DEFAULT_INVOCATION_TIMEOUT,
        }
    }

    /// Sends functions not in the registry to `endpoint`.
    pub fn with_lambda_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.lambda_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the invocation timeout.
    pub fn with_invocation_timeout(mut self, timeout: Duration) -> Self {
        self.invocation_timeout = timeout;
        self
    }
}

/// Starts the runtime of a [`LocalService`].
#[derive(Debug)]
pub struct Runtime;

impl Runtime {
    /// Takes over `service`: registers the registry's functions with the engine (a function
    /// the engine already knows keeps its configuration if it is of the same kind), fails the
    /// invocations still in flight (their process is gone: `Runtime.ExitError`, retried after
    /// the engine's retry delay), and spawns the driver task. One runtime per service.
    ///
    /// An invalid `lambda_endpoint` is logged, and every invocation that would use it fails
    /// with `InvalidParameterValueException`; check it first with [`HttpInvoker::new`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns a task).
    pub fn start(
        service: LocalService,
        invokers: Invokers,
        clock: Arc<dyn Clock>,
    ) -> RuntimeHandle {
        let timeout = invokers.invocation_timeout;
        let http = invokers
            .lambda_endpoint
            .map(|e| HttpInvoker::new(e, timeout));
        if let Some(Err(e)) = &http {
            tracing::error!(code = e.code(), error = %e, "the Lambda endpoint is unusable");
        }
        match service.lock() {
            Ok(mut engine) => {
                for (name, config) in invokers.registry.function_configs() {
                    let same_kind = engine
                        .config()
                        .functions
                        .get(name)
                        .is_some_and(|c| c.durable.is_some() == config.durable.is_some());
                    if !same_kind {
                        engine.register_function(name, config);
                    }
                }
                let error = ErrorObject::new(
                    "Runtime.ExitError",
                    "the local service restarted during the invocation",
                );
                match engine.fail_invocations_in_flight(&error) {
                    Ok(arns) if !arns.is_empty() => {
                        tracing::warn!(
                            count = arns.len(),
                            "failed invocations interrupted by a restart; they will be retried"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "failing interrupted invocations failed"),
                }
            }
            Err(e) => tracing::error!(error = %e, "the service is unavailable"),
        }
        service.notifier().notify_waiters();
        let dispatcher = Arc::new(Dispatcher {
            registry: invokers.registry,
            http,
            timeout,
        });
        let (stop, stop_rx) = watch::channel(None);
        let driver = Driver::new(service.clone(), dispatcher.clone(), clock, stop_rx);
        let task = tokio::spawn(driver.run());
        RuntimeHandle {
            service,
            inner: Arc::new(Inner {
                dispatcher,
                stop,
                driver: Mutex::new(Some(task)),
            }),
        }
    }
}

/// A running runtime: the service it drives, waiting for executions, and shutdown.
///
/// Clones share the runtime. When the last clone is dropped the driver stops (after the
/// default grace period for in-flight invocations); [`Self::shutdown`] stops it and waits.
#[derive(Clone, Debug)]
pub struct RuntimeHandle {
    service: LocalService,
    inner: Arc<Inner>,
}

struct Inner {
    dispatcher: Arc<Dispatcher>,
    stop: watch::Sender<Option<Duration>>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("registry", &self.dispatcher.registry)
            .field("lambda_endpoint", &self.dispatcher.has_endpoint())
            .field("invocation_timeout", &self.dispatcher.timeout)
            .finish_non_exhaustive()
    }
}

impl RuntimeHandle {
    /// The service the runtime drives (send callbacks, start or stop executions through it).
    pub fn service(&self) -> &LocalService {
        &self.service
    }

    /// The in-process functions.
    pub fn registry(&self) -> &Registry {
        &self.inner.dispatcher.registry
    }

    /// The limit of one invocation.
    pub fn invocation_timeout(&self) -> Duration {
        self.inner.dispatcher.timeout
    }

    /// Stops the driver and waits for in-flight invocations for up to
    /// [`DEFAULT_SHUTDOWN_GRACE`].
    pub async fn shutdown(&self) {
        self.shutdown_with_grace(DEFAULT_SHUTDOWN_GRACE).await;
    }

    /// Stops the driver and waits for in-flight invocations for up to `grace`; those still
    /// running then are aborted and recorded as failed with `Runtime.ExitError` (retried by
    /// the next runtime), and aborted chained invokes of plain functions fail. Later calls
    /// return at once.
    pub async fn shutdown_with_grace(&self, grace: Duration) {
        self.inner.stop.send_replace(Some(grace));
        let task = self
            .inner
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the runtime driver task failed");
        }
    }

    /// Waits until the execution has ended and returns it (with its result), woken by the
    /// service's notifier; a `ServiceException` whose message starts with
    /// `DFSM-RUNTIME-WAIT-TIMEOUT` if it is still running after `timeout`.
    pub async fn wait_for_end(
        &self,
        arn: &str,
        timeout: Duration,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let notify = self.service.notifier().clone();
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let status = self.service.lock()?.get_execution(arn, false)?.status;
            if status.is_terminal() {
                // Report only an end that is on disk.
                self.service.sync().await?;
                return self.service.lock()?.get_execution(arn, true);
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ApiError::new(
                        ErrorCode::Service,
                        format!(
                            "DFSM-RUNTIME-WAIT-TIMEOUT: durable execution {arn} did not end within {} s; it is still running",
                            timeout.as_secs_f64()
                        ),
                    ));
                }
            }
        }
    }
}

impl DurableApi for RuntimeHandle {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        self.service.checkpoint(req).await
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        self.service.get_state(req).await
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        self.service
            .get_execution(arn, include_execution_data)
            .await
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        self.service.get_history(req).await
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.service.list_by_function(req).await
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        self.service
            .send_callback_success(callback_id, result)
            .await
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        self.service.send_callback_failure(callback_id, error).await
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        self.service.send_callback_heartbeat(callback_id).await
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        self.service.stop(arn, error).await
    }

    async fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        self.service.start_execution(req).await
    }
}
