//! The HTTP front end: AWS's Lambda durable-execution API (2025-12-01), Lambda Invoke and the
//! extra routes of AWS's local emulator, served with axum over any [`Frontend`].
//!
//! This module is a transport only: it turns HTTP requests into [`DurableApi`] /
//! [`Frontend`] calls and their results back into AWS-shaped responses (spec/api.md §1, §4,
//! §5.1). Every error is answered with `X-Amzn-ErrorType` and an AWS error body, and every
//! response carries an `x-amzn-RequestId`.
//!
//! ```no_run
//! # async fn run<F: durable_fsm::server::Frontend>(frontend: F) -> std::io::Result<()> {
//! use durable_fsm::server::{ServerConfig, serve};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5000").await?;
//! serve(frontend, listener, ServerConfig::default(), std::future::pending()).await
//! # }
//! ```

mod callbacks;
mod emulator;
mod error;
mod executions;
mod extract;
mod invoke;
mod query;
#[cfg(test)]
mod tests;

pub use error::{ERROR_TYPE_HEADER, HttpError};
pub use invoke::{
    DURABLE_EXECUTION_ARN_HEADER, DURABLE_EXECUTION_NAME_HEADER, EXECUTED_VERSION_HEADER,
    FUNCTION_ERROR_HEADER, HANDLER_INVOKE_HEADER, INVOCATION_TYPE_HEADER, InvocationType,
    InvokeRequest, InvokeResponse, TENANT_ID_HEADER,
};

use crate::api::{ApiError, DurableApi};
use crate::model::{
    ListDurableExecutionsByFunctionRequest, ListDurableExecutionsByFunctionResponse,
    StartDurableExecutionRequest, StartDurableExecutionResponse,
};
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::future::Future;

/// The service the HTTP front end serves: the nine durable API calls plus Lambda Invoke and
/// the emulator-only routes.
pub trait Frontend: DurableApi + Clone + Send + Sync + 'static {
    /// Lambda Invoke of a function (starts a durable execution, or plain invoke).
    fn invoke(
        &self,
        req: InvokeRequest,
    ) -> impl Future<Output = Result<InvokeResponse, ApiError>> + Send;

    /// The emulator-only start route of AWS's local runner.
    fn start(
        &self,
        req: StartDurableExecutionRequest,
    ) -> impl Future<Output = Result<StartDurableExecutionResponse, ApiError>> + Send;

    /// List executions of every function (emulator-only GET /2025-12-01/durable-executions).
    ///
    /// `req.function_name` is empty unless the client filtered with `FunctionName`.
    fn list_all(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send;
}

/// Settings of the HTTP front end.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Largest accepted request body; larger ones get 413 `RequestTooLargeException`.
    /// Default: 6 MiB (Lambda's synchronous payload limit) + 64 KiB for the envelope.
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// The default body limit: 6 MiB + 64 KiB.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024 + 64 * 1024;

    /// This configuration with another body limit.
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The header carrying each response's request id (a random UUID v4).
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// The axum router serving every route of this module over `frontend`.
///
/// Path labels are matched still percent-encoded, one segment each, and decoded afterwards,
/// so an ARN with `/`, `:` and `$` sent as `%2F`, `%3A`, `%24` arrives intact.
pub fn router<F: Frontend>(frontend: F, config: ServerConfig) -> Router {
    use executions as ex;
    Router::new()
        .route(
            "/2025-12-01/durable-executions",
            get(emulator::list_all::<F>),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}",
            get(ex::get_execution::<F>).delete(ex::delete),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint",
            post(ex::checkpoint::<F>),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/state",
            get(ex::get_state::<F>),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/history",
            get(ex::get_history::<F>),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/stop",
            post(ex::stop::<F>),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/pause",
            post(ex::pause),
        )
        .route(
            "/2025-12-01/durable-executions/{DurableExecutionArn}/resume",
            post(ex::resume),
        )
        .route(
            "/2025-12-01/functions/{FunctionName}/durable-executions",
            get(ex::list_by_function::<F>),
        )
        .route(
            "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed",
            post(callbacks::succeed::<F>),
        )
        .route(
            "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail",
            post(callbacks::fail::<F>),
        )
        .route(
            "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat",
            post(callbacks::heartbeat::<F>),
        )
        .route(
            "/2015-03-31/functions/{FunctionName}/invocations",
            post(invoke::invoke::<F>),
        )
        .route("/start-durable-execution", post(emulator::start::<F>))
        .route("/health", get(emulator::health))
        .route("/metrics", get(emulator::metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(unknown_operation)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(Extension(extract::BodyLimit(config.max_body_bytes)))
        .layer(middleware::map_response(add_request_id))
        .with_state(frontend)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then drains open requests.
pub async fn serve<F: Frontend>(
    frontend: F,
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving the durable-execution API");
    }
    axum::serve(listener, router(frontend, config))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn unknown_operation(method: Method, uri: Uri) -> HttpError {
    HttpError::UnknownOperation {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> HttpError {
    HttpError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn add_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key(REQUEST_ID_HEADER) {
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
    }
    response
}
