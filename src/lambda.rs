//! Serves a workflow as a Lambda durable function through `lambda_runtime`.
//!
//! This module only translates I/O: the Lambda event is parsed into an [`InvocationInput`],
//! [`executor::run`] runs the invocation, and its [`InvocationOutput`] goes back as the
//! function's response. Two kinds of failure stay apart:
//!
//! * an event that is not a durable invocation (the function is not configured as durable, or
//!   was invoked directly) answers a `FAILED` envelope with `ErrorType`
//!   [`INVALID_EVENT_ERROR_TYPE`], which the service records as the execution's failure;
//! * a retryable [`InvocationError`] (throttling, 5xx, a stale token, a network error, a state
//!   that no longer decodes) becomes a function error, so the service invokes again.
//!
//! # Tracing
//!
//! Each invocation runs in a `lambda_invocation` span (fields `request_id`, `execution_arn`)
//! inside `lambda_runtime`'s own `Lambda runtime invoke` span; the executor's
//! `durable_invocation` and per-transition `transition` spans (fields `state`, `index`,
//! `attempt`) nest below it. For JSON log lines in CloudWatch, either switch the function's log
//! format to JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`, set by Lambda's advanced logging controls) and
//! call `lambda_runtime::tracing::init_default_subscriber()`, or configure the subscriber
//! yourself; `lambda_runtime` re-exports `tracing-subscriber` with its `json` feature:
//!
//! ```no_run
//! use lambda_runtime::tracing::subscriber::{self, EnvFilter};
//!
//! fn init_json_logs() {
//!     subscriber::fmt()
//!         .json()
//!         // AWS_LAMBDA_LOG_LEVEL is what Lambda's logging controls set; RUST_LOG otherwise.
//!         .with_env_filter(
//!             EnvFilter::try_from_env("AWS_LAMBDA_LOG_LEVEL")
//!                 .or_else(|_| EnvFilter::try_from_default_env())
//!                 .unwrap_or_else(|_| EnvFilter::new("info")),
//!         )
//!         // Every enclosing span on each line: requestId, execution_arn, state, attempt.
//!         .with_current_span(true)
//!         .with_span_list(true)
//!         .with_target(false)
//!         // CloudWatch stamps every line already.
//!         .without_time()
//!         .init();
//! }
//! ```

use crate::api::DurableApi;
use crate::executor::{self, InvocationError};
use crate::machine::Transition;
use crate::model::{ErrorObject, InvocationInput, InvocationOutput};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

/// `ErrorType` of the `FAILED` output answered to an event that is not a durable invocation.
pub const INVALID_EVENT_ERROR_TYPE: &str = "InvalidInvocationEvent";

/// An invocation that failed as a whole and must be retried by the service: `lambda_runtime`
/// reports it as a function error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationFailure {
    /// The executor could not finish the invocation (see [`InvocationError`]).
    #[error(transparent)]
    Invocation(#[from] InvocationError),
    /// The output could not be encoded as JSON.
    #[error("cannot encode the invocation output: {0}")]
    Output(#[source] serde_json::Error),
}

impl InvocationFailure {
    /// A stable code, reported as the function error's `errorType`.
    pub fn code(&self) -> &'static str {
        match self {
            InvocationFailure::Invocation(e) => e.code(),
            InvocationFailure::Output(_) => "OutputEncodeError",
        }
    }
}

impl From<InvocationFailure> for Diagnostic {
    fn from(failure: InvocationFailure) -> Self {
        Diagnostic {
            error_type: failure.code().to_string(),
            error_message: failure.to_string(),
        }
    }
}

/// Runs workflow `W` as the function's handler, talking to the durable service through
/// [`AwsDurableApi::from_env`](crate::aws::AwsDurableApi::from_env) (built once, reused by every
/// invocation of this execution environment).
///
/// ```no_run
/// use durable_fsm::{Ctx, Next, Transition, TransitionError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// enum Greeting {
///     Start { name: String },
///     Greeted(String),
/// }
///
/// impl Transition for Greeting {
///     type Input = String;
///     type Output = String;
///     fn start(name: String) -> Self {
///         Greeting::Start { name }
///     }
///     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
///         Ok(match self {
///             Greeting::Start { name } => Next::to(Greeting::Greeted(format!("Hello, {name}!"))),
///             Greeting::Greeted(text) => Next::done(text),
///         })
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     // JSON lines when the function's log format is JSON; level from AWS_LAMBDA_LOG_LEVEL.
///     lambda_runtime::tracing::init_default_subscriber();
///     durable_fsm::lambda::run::<Greeting>().await
/// }
/// ```
pub async fn run<W: Transition>() -> Result<(), lambda_runtime::Error> {
    let api = crate::aws::AwsDurableApi::from_env().await;
    run_with::<W, _>(api).await
}

/// Runs workflow `W` as the function's handler against a custom [`DurableApi`] (a configured
/// [`AwsDurableApi`](crate::aws::AwsDurableApi), a fault-injecting wrapper, ...).
pub async fn run_with<W, A>(api: A) -> Result<(), lambda_runtime::Error>
where
    W: Transition,
    A: DurableApi + Clone + 'static,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let api = api.clone();
        async move { handle_event::<W, A>(&api, event).await }
    }))
    .await
}

/// Handles one Lambda event with its context: [`handle`] inside a `lambda_invocation` span
/// carrying the request id and the execution ARN.
pub async fn handle_event<W, A>(
    api: &A,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationFailure>
where
    W: Transition,
    A: DurableApi,
{
    let LambdaEvent { payload, context } = event;
    let execution_arn = payload
        .get("DurableExecutionArn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let span = tracing::info_span!(
        "lambda_invocation",
        request_id = %context.request_id,
        execution_arn = %execution_arn,
    );
    handle::<W, A>(api, payload).instrument(span).await
}

/// Handles one invocation event: the testable core of [`run`].
///
/// Returns the [`InvocationOutput`] as JSON; a `FAILED` output when the event is not a durable
/// invocation; `Err` when the invocation must be retried.
pub async fn handle<W, A>(api: &A, event: Value) -> Result<Value, InvocationFailure>
where
    W: Transition,
    A: DurableApi,
{
    let output = match InvocationInput::from_value(event) {
        Ok(input) => match executor::run::<W, A>(api, input).await {
            Ok(output) => output,
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "invocation failed; the service invokes again");
                return Err(e.into());
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "not a durable invocation event");
            InvocationOutput::failed(ErrorObject::new(INVALID_EVENT_ERROR_TYPE, e.to_string()))
        }
    };
    if let Some(error) = &output.error {
        tracing::info!(status = %output.status, %error, "invocation finished");
    } else {
        tracing::info!(status = %output.status, "invocation finished");
    }
    serde_json::to_value(&output).map_err(InvocationFailure::Output)
}

#[cfg(test)]
mod tests;
