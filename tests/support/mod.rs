//! A loopback stack for tests that drive the local durable service with AWS's own clients.
//!
//! [`Stack::start`] binds two listeners on 127.0.0.1:0 inside the test's Tokio runtime:
//!
//! * the durable service: an in-memory [`LocalService`], its [`Runtime`] invoking functions at
//!   the function host, and [`server::serve`];
//! * a function host playing `cargo lambda watch`: `POST /2015-03-31/functions/{name}/invocations`
//!   runs [`lambda::handle`] for the workflow registered under `name`, over an
//!   [`AwsDurableApi`] pointed at the service, so every checkpoint and state read of the
//!   executor goes through aws-sdk-lambda over HTTP into the server under test.
//!
//! [`Stack::start_with`] also takes [`StackOptions`]: the engine's configuration and a hook
//! that wraps the function host's `DurableApi` (to time or break its calls).
//!
//! [`Stack::shutdown`] stops both; a test that panics first leaves nothing behind either, since
//! every task lives in the test's runtime.
// Each test file that declares `mod support;` uses a different part of it.
#![allow(dead_code)]

use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use durable_fsm::api::DurableApi;
use durable_fsm::aws::AwsDurableApi;
use durable_fsm::lambda::{self, InvocationFailure};
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome};
use durable_fsm::server::{self, ServerConfig};
use durable_fsm::service::runtime::{Invokers, Registry, Runtime, RuntimeHandle};
use durable_fsm::service::{EngineConfig, LocalService, SystemClock};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The region the service and every client use.
pub const REGION: &str = "us-east-1";
/// The longest a condition polled for may take.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a polled condition is checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The runtime's limit on one invocation, which also bounds a synchronous Invoke.
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for in-flight invocations and open requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

// ---- test workflows -----------------------------------------------------------------------

/// The callback `Desk` opens: its name and timeouts.
pub const DESK_CALLBACK: &str = "approve";
/// `Desk`'s callback timeout.
pub const DESK_TIMEOUT_SECS: i64 = 3600;
/// `Desk`'s heartbeat timeout.
pub const DESK_HEARTBEAT_SECS: i64 = 600;

/// Opens a callback, waits for it, and ends with its body (parsed as JSON when it is JSON) or
/// with the string `failed:<ErrorType>`.
#[derive(Serialize, Deserialize)]
pub enum Desk {
    Open,
    Waiting(Callback),
}

impl Transition for Desk {
    type Input = Value;
    type Output = Value;

    fn start(_input: Value) -> Self {
        Desk::Open
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Desk::Open => {
                let config = CallbackConfig::timeout(Duration::from_secs(DESK_TIMEOUT_SECS as u64))
                    .with_heartbeat(Duration::from_secs(DESK_HEARTBEAT_SECS as u64));
                Next::to(Desk::Waiting(ctx.callback(DESK_CALLBACK, config).await?))
            }
            Desk::Waiting(callback) => Next::done(match ctx.callback_outcome(&callback)? {
                CallbackOutcome::Succeeded(body) => {
                    serde_json::from_str(&body).unwrap_or(Value::String(body))
                }
                CallbackOutcome::Failed(e) | CallbackOutcome::TimedOut(e) => {
                    json!(format!("failed:{}", e.error_type.unwrap_or_default()))
                }
            }),
        })
    }
}

/// Ends at once with its input.
#[derive(Serialize, Deserialize)]
pub enum Echo {
    Reply(Value),
}

impl Transition for Echo {
    type Input = Value;
    type Output = Value;

    fn start(input: Value) -> Self {
        Echo::Reply(input)
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Echo::Reply(value) = self;
        Ok(Next::done(value))
    }
}

// ---- the function host --------------------------------------------------------------------

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler<A> =
    Arc<dyn Fn(A, Value) -> BoxFuture<Result<Value, InvocationFailure>> + Send + Sync>;

/// The functions the host serves, by bare function name, over the host's `DurableApi` `A`
/// (aws-sdk-lambda pointed at the service, unless [`StackOptions::wrap`] wraps it).
#[derive(Clone)]
pub struct Functions<A = AwsDurableApi>(HashMap<String, Handler<A>>);

impl<A> Default for Functions<A> {
    fn default() -> Self {
        Functions(HashMap::new())
    }
}

impl Functions {
    /// `desk` runs [`Desk`] and `echo` runs [`Echo`].
    pub fn desk_and_echo() -> Self {
        Self::new()
            .workflow::<Desk>("desk")
            .workflow::<Echo>("echo")
    }
}

impl<A: DurableApi + Clone + 'static> Functions<A> {
    /// No functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves workflow `W` as the durable function `name`.
    pub fn workflow<W: Transition>(mut self, name: &str) -> Self {
        let handler: Handler<A> = Arc::new(|api, event| {
            Box::pin(async move { lambda::handle::<W, A>(&api, event).await })
        });
        self.0.insert(name.to_string(), handler);
        self
    }
}

struct Host<A> {
    functions: Functions<A>,
    api: A,
}

/// How [`Stack::start_with`] sets the stack up.
pub struct StackOptions<A> {
    /// The engine's configuration (retry delays, limits).
    pub engine: EngineConfig,
    /// Builds the function host's `DurableApi` from aws-sdk-lambda pointed at the service.
    pub wrap: Box<dyn FnOnce(AwsDurableApi) -> A + Send>,
}

impl StackOptions<AwsDurableApi> {
    /// The default engine and the host's API unwrapped.
    pub fn plain() -> Self {
        StackOptions {
            engine: EngineConfig::default(),
            wrap: Box::new(|api| api),
        }
    }
}

impl<A> StackOptions<A> {
    /// The default engine, the host's API wrapped by `wrap`.
    pub fn wrapped(wrap: impl FnOnce(AwsDurableApi) -> A + Send + 'static) -> Self {
        StackOptions {
            engine: EngineConfig::default(),
            wrap: Box::new(wrap),
        }
    }

    /// Replaces the engine's configuration.
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.engine = engine;
        self
    }
}

/// What Lambda answers for one invocation: 200 with the output, or 200 with
/// `X-Amz-Function-Error: Unhandled` when the handler failed.
async fn invoke_function<A: DurableApi + Clone + 'static>(
    State(host): State<Arc<Host<A>>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    // `name:qualifier` arrives for versions other than $LATEST.
    let bare = name.split(':').next().unwrap_or_default();
    let Some(handler) = host.functions.0.get(bare).cloned() else {
        let body = json!({ "Type": "User", "Message": format!("Function not found: {name}") });
        return (
            StatusCode::NOT_FOUND,
            [("x-amzn-errortype", "ResourceNotFoundException")],
            body.to_string(),
        )
            .into_response();
    };
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
    match handler(host.api.clone(), event).await {
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

// ---- the stack ----------------------------------------------------------------------------

/// A running durable service and function host on loopback ports.
pub struct Stack {
    /// The durable service, `http://127.0.0.1:PORT`.
    pub service_url: String,
    /// The durable service's address, for raw HTTP requests.
    pub service_addr: SocketAddr,
    /// The function host (the runtime's Lambda endpoint).
    pub function_url: String,
    runtime: RuntimeHandle,
    servers: Vec<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
}

impl Stack {
    /// Starts the stack with [`Functions::desk_and_echo`].
    pub async fn start_default() -> Stack {
        Self::start(Functions::desk_and_echo()).await
    }

    /// Starts the service and the function host serving `functions`.
    pub async fn start(functions: Functions) -> Stack {
        Self::start_with(functions, StackOptions::plain()).await
    }

    /// Starts the service with `options.engine` and the function host serving `functions`
    /// over the `DurableApi` that `options.wrap` makes of aws-sdk-lambda.
    pub async fn start_with<A: DurableApi + Clone + 'static>(
        functions: Functions<A>,
        options: StackOptions<A>,
    ) -> Stack {
        let bind = || TcpListener::bind("127.0.0.1:0");
        let service_listener = bind().await.expect("bind the durable service");
        let function_listener = bind().await.expect("bind the function host");
        let service_addr = service_listener.local_addr().expect("service address");
        let service_url = format!("http://{service_addr}");
        let function_url = format!(
            "http://{}",
            function_listener
                .local_addr()
                .expect("function host address")
        );

        let service = LocalService::in_memory(options.engine, Arc::new(SystemClock));
        let invokers = Invokers::new(Registry::new())
            .with_lambda_endpoint(function_url.clone())
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

        let host = Arc::new(Host {
            functions,
            api: (options.wrap)(AwsDurableApi::with_endpoint(service_url.clone(), REGION)),
        });
        let app = Router::new()
            .route(
                "/2015-03-31/functions/{name}/invocations",
                post(invoke_function::<A>),
            )
            .with_state(host);
        let (stop_host, host_stopped) = oneshot::channel::<()>();
        let host_task = tokio::spawn(async move {
            axum::serve(function_listener, app)
                .with_graceful_shutdown(async {
                    let _ = host_stopped.await;
                })
                .await
        });

        Stack {
            service_url,
            service_addr,
            function_url,
            runtime,
            servers: vec![(stop_service, service_task), (stop_host, host_task)],
        }
    }

    /// The runtime behind the service.
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.runtime
    }

    /// A raw aws-sdk-lambda client for the service: dummy credentials, SDK retries off (so
    /// every error is the server's own answer), bounded calls.
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

    /// Stops the runtime (in-flight invocations get a short grace), then both servers; a
    /// server that does not drain in time is aborted.
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

/// Polls `probe` every [`POLL_INTERVAL`] until it returns `Some`, for at most
/// [`POLL_TIMEOUT`]; panics naming `what` after that.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + POLL_TIMEOUT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {POLL_TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
