//! [`support::Stack`](crate::support::Stack)'s wiring with a timed function host: the durable
//! service (in memory, its runtime, the HTTP server) and a function host running [`Nap`] over
//! aws-sdk-lambda, both on 127.0.0.1:0 inside the test's runtime.

use crate::Nap;
use crate::support::REGION;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use durable_fsm::api::{ApiError, DurableApi};
use durable_fsm::aws::AwsDurableApi;
use durable_fsm::lambda;
use durable_fsm::model::*;
use durable_fsm::server::{self, ServerConfig};
use durable_fsm::service::runtime::{Invokers, Registry, Runtime, RuntimeHandle};
use durable_fsm::service::{EngineConfig, LocalService, SystemClock};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The runtime's limit on one invocation.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long shutdown waits for in-flight invocations and open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// CheckpointDurableExecution latencies as the caller saw them, and failed calls.
#[derive(Clone, Default)]
pub struct Timings {
    samples: Arc<Mutex<Vec<Duration>>>,
    failed: Arc<AtomicU64>,
}

/// A `DurableApi` that times every checkpoint of the one it wraps.
#[derive(Clone)]
pub struct Timed<A> {
    inner: A,
    timings: Timings,
}

impl<A: DurableApi> DurableApi for Timed<A> {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let sent = Instant::now();
        let out = self.inner.checkpoint(req).await;
        let took = sent.elapsed();
        self.timings
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(took);
        if out.is_err() {
            self.timings.failed.fetch_add(1, Ordering::SeqCst);
        }
        out
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        self.inner.get_state(req).await
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        self.inner.get_execution(arn, include_execution_data).await
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        self.inner.get_history(req).await
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.inner.list_by_function(req).await
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        self.inner.send_callback_success(callback_id, result).await
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        self.inner.send_callback_failure(callback_id, error).await
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        self.inner.send_callback_heartbeat(callback_id).await
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        self.inner.stop(arn, error).await
    }
}

/// One handler invocation of `nap` (the only function the host serves), answered as Lambda
/// does: 200 with the output, or 200 with `X-Amz-Function-Error: Unhandled`.
async fn invoke_nap(State(api): State<Timed<AwsDurableApi>>, body: Bytes) -> Response {
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => {
            let body = json!({ "Type": "User", "message": format!("Invalid JSON event: {e}") });
            return (
                StatusCode::BAD_REQUEST,
                [("x-amzn-errortype", "InvalidRequestContentException")],
                body.to_string(),
            )
                .into_response();
        }
    };
    match lambda::handle::<Nap, _>(&api, event).await {
        Ok(output) => (StatusCode::OK, output.to_string()).into_response(),
        Err(failure) => {
            let body = json!({ "errorType": failure.code(), "errorMessage": failure.to_string() });
            (
                StatusCode::OK,
                [("x-amz-function-error", "Unhandled")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// A running durable service and timed function host on loopback ports.
pub struct TimedStack {
    service_url: String,
    runtime: RuntimeHandle,
    timings: Timings,
    servers: Vec<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl TimedStack {
    /// Starts the service and the host serving `nap`.
    pub async fn start() -> TimedStack {
        let bind = || TcpListener::bind("127.0.0.1:0");
        let service_listener = bind().await.expect("bind the durable service");
        let function_listener = bind().await.expect("bind the function host");
        let service_url = format!(
            "http://{}",
            service_listener.local_addr().expect("service address")
        );
        let function_url = format!(
            "http://{}",
            function_listener.local_addr().expect("host address")
        );

        let service = LocalService::in_memory(EngineConfig::default(), Arc::new(SystemClock));
        let invokers = Invokers::new(Registry::new())
            .with_lambda_endpoint(function_url)
            .with_invocation_timeout(INVOCATION_TIMEOUT);
        let runtime = Runtime::start(service, invokers, Arc::new(SystemClock));
        let (stop_service, service_stopped) = oneshot::channel::<()>();
        let service_task = tokio::spawn(server::serve(
            runtime.clone(),
            service_listener,
            ServerConfig::default(),
            async {
                let _ = service_stopped.await;
            },
        ));

        let timings = Timings::default();
        let api = Timed {
            inner: AwsDurableApi::with_endpoint(service_url.clone(), REGION),
            timings: timings.clone(),
        };
        let app = Router::new()
            .route("/2015-03-31/functions/nap/invocations", post(invoke_nap))
            .with_state(api);
        let (stop_host, host_stopped) = oneshot::channel::<()>();
        let host_task = tokio::spawn(async move {
            axum::serve(function_listener, app)
                .with_graceful_shutdown(async {
                    let _ = host_stopped.await;
                })
                .await
        });

        TimedStack {
            service_url,
            runtime,
            timings,
            servers: vec![(stop_service, service_task), (stop_host, host_task)],
        }
    }

    /// The runtime behind the service.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// Every checkpoint latency so far, in completion order.
    pub fn checkpoint_latencies(&self) -> Vec<Duration> {
        self.timings
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checkpoint calls that returned an error.
    pub fn failed_checkpoints(&self) -> u64 {
        self.timings.failed.load(Ordering::SeqCst)
    }

    /// An aws-sdk-lambda client for the service, as [`support::Stack::client`] builds it:
    /// dummy credentials, SDK retries off, bounded calls.
    pub fn client(&self) -> aws_sdk_lambda::Client {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_timeout(INVOCATION_TIMEOUT + Duration::from_secs(10))
            .build();
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.service_url)
            .credentials_provider(Credentials::new("dummy", "dummy", None, None, "test"))
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// Stops the runtime, then both servers; a server that does not drain in time is aborted.
    pub async fn shutdown(self) {
        self.runtime.shutdown_with_grace(SHUTDOWN_GRACE).await;
        for (stop, mut task) in self.servers {
            let _ = stop.send(());
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("a server failed: {e}"),
                Ok(Err(e)) => panic!("a server task failed: {e}"),
                Err(_) => task.abort(),
            }
        }
    }
}
