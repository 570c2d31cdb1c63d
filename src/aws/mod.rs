//! [`DurableApi`] over `aws-sdk-lambda`, for functions running on AWS (or against any endpoint
//! that speaks the Lambda durable-execution API, such as `durable-fsm serve`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), durable_fsm::ApiError> {
//! use durable_fsm::DurableApi;
//! use durable_fsm::aws::AwsDurableApi;
//!
//! // On AWS: region, credentials and AWS_ENDPOINT_URL_LAMBDA from the environment.
//! let api = AwsDurableApi::from_env().await;
//! // Locally: a fixed endpoint, dummy credentials unless AWS_ACCESS_KEY_ID is set.
//! let local = AwsDurableApi::with_endpoint("http://127.0.0.1:9014", "us-east-1");
//! let execution = local.get_execution("arn:aws:lambda:…", true).await?;
//! println!("{:?}", execution.status);
//! # let _ = api; Ok(()) }
//! ```

pub mod convert;
mod retry;

pub use convert::ConversionError;
pub use retry::RetryConfig;

use crate::api::{ApiError, DurableApi, ErrorCode};
use crate::model::*;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use retry::{CallKind, classify, retrying};

/// [`DurableApi`] backed by an `aws_sdk_lambda::Client`, with the retry policy of
/// [`RetryConfig`]. Cheap to clone (the client is reference-counted).
#[derive(Clone, Debug)]
pub struct AwsDurableApi {
    client: aws_sdk_lambda::Client,
    retry: RetryConfig,
}

/// Sends a fluent builder through this layer's retries, switching the SDK's own retries off unless
/// configured to keep them, and classifies the error.
macro_rules! call {
    ($api:expr, $name:literal, $kind:expr, $builder:expr) => {{
        let builder = $builder;
        retrying(&$api.retry, $name, $kind, || {
            let b = builder.clone();
            async move {
                let result = if $api.retry.sdk_retries {
                    b.send().await
                } else {
                    b.customize()
                        .config_override(sdk_retries_off())
                        .send()
                        .await
                };
                result.map_err(classify)
            }
        })
        .await
    }};
}

fn sdk_retries_off() -> aws_sdk_lambda::config::Builder {
    aws_sdk_lambda::config::Builder::new()
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
}

/// A request this crate cannot express in the SDK's types: the service would reject it too.
fn request_error(e: ConversionError) -> ApiError {
    ApiError::invalid(format!("cannot send request: {e}"))
}

/// A response that does not fit this crate's model.
fn response_error(e: ConversionError) -> ApiError {
    ApiError::new(ErrorCode::Transport, format!("cannot read response: {e}"))
}

fn to_i32(field: &'static str, v: Option<u32>) -> Result<Option<i32>, ApiError> {
    convert::opt_num(field, v).map_err(request_error)
}

impl AwsDurableApi {
    /// Wraps a client configured by the caller, with the default [`RetryConfig`].
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        AwsDurableApi {
            client,
            retry: RetryConfig::default(),
        }
    }

    /// A client from the standard AWS configuration chain
    /// (`aws_config::load_defaults(BehaviorVersion::latest())`): region, credentials, and
    /// endpoint overrides such as `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL`.
    pub async fn from_env() -> Self {
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::new(aws_sdk_lambda::Client::new(&config))
    }

    /// A client for a fixed endpoint (e.g. `http://127.0.0.1:9014`, a local durable service)
    /// and region. Credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    /// (/ `AWS_SESSION_TOKEN`) when both are set, otherwise dummy ones (local services do not
    /// check signatures); profiles and instance metadata are not consulted, so construction
    /// never blocks. For a real AWS endpoint prefer [`from_env`](Self::from_env).
    pub fn with_endpoint(url: impl Into<String>, region: impl Into<String>) -> Self {
        let credentials = match (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            (Ok(key), Ok(secret)) if !key.is_empty() && !secret.is_empty() => Credentials::new(
                key,
                secret,
                std::env::var("AWS_SESSION_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
                None,
                "environment",
            ),
            _ => Credentials::new("dummy", "dummy", None, None, "durable-fsm-dummy"),
        };
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.into()))
            .endpoint_url(url)
            .credentials_provider(credentials)
            .build();
        Self::new(aws_sdk_lambda::Client::from_conf(config))
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.retry
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &aws_sdk_lambda::Client {
        &self.client
    }
}

impl DurableApi for AwsDurableApi {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let updates = req
            .updates
            .map(convert::list)
            .transpose()
            .map_err(request_error)?;
        // Fixed here, not filled in by the SDK, so every retry is the same request and the
        // service can deduplicate it.
        let client_token = req
            .client_token
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let builder = self
            .client
            .checkpoint_durable_execution()
            .durable_execution_arn(req.durable_execution_arn)
            .checkpoint_token(req.checkpoint_token)
            .set_updates(updates)
            .client_token(client_token);
        let out = call!(
            self,
            "CheckpointDurableExecution",
            CallKind::Checkpoint,
            builder
        )?;
        out.try_into().map_err(response_error)
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        let builder = self
            .client
            .get_durable_execution_state()
            .durable_execution_arn(req.durable_execution_arn)
            .checkpoint_token(req.checkpoint_token)
            .set_marker(req.marker)
            .set_max_items(to_i32("MaxItems", req.max_items)?);
        let out = call!(self, "GetDurableExecutionState", CallKind::Plain, builder)?;
        out.try_into().map_err(response_error)
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        let builder = self
            .client
            .get_durable_execution()
            .durable_execution_arn(arn)
            .include_execution_data(include_execution_data);
        let out = call!(self, "GetDurableExecution", CallKind::Plain, builder)?;
        out.try_into().map_err(response_error)
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        let builder = self
            .client
            .get_durable_execution_history()
            .durable_execution_arn(req.durable_execution_arn)
            .set_include_execution_data(req.include_execution_data)
            .set_max_items(to_i32("MaxItems", req.max_items)?)
            .set_marker(req.marker)
            .set_reverse_order(req.reverse_order);
        let out = call!(self, "GetDurableExecutionHistory", CallKind::Plain, builder)?;
        out.try_into().map_err(response_error)
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        let statuses =
            (!req.statuses.is_empty()).then(|| req.statuses.into_iter().map(Into::into).collect());
        let builder = self
            .client
            .list_durable_executions_by_function()
            .function_name(req.function_name)
            .set_qualifier(req.qualifier)
            .set_durable_execution_name(req.durable_execution_name)
            .set_statuses(statuses)
            .set_started_after(req.started_after.map(convert::to_date_time))
            .set_started_before(req.started_before.map(convert::to_date_time))
            .set_reverse_order(req.reverse_order)
            .set_marker(req.marker)
            .set_max_items(to_i32("MaxItems", req.max_items)?);
        let out = call!(
            self,
            "ListDurableExecutionsByFunction",
            CallKind::Plain,
            builder
        )?;
        out.try_into().map_err(response_error)
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        // The blob is the raw HTTP body; an empty one means "no result".
        let blob = (!result.is_empty()).then(|| Blob::new(result));
        let builder = self
            .client
            .send_durable_execution_callback_success()
            .callback_id(callback_id)
            .set_result(blob);
        call!(
            self,
            "SendDurableExecutionCallbackSuccess",
            CallKind::Plain,
            builder
        )
        .map(drop)
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        let builder = self
            .client
            .send_durable_execution_callback_failure()
            .callback_id(callback_id)
            .error(error.into());
        call!(
            self,
            "SendDurableExecutionCallbackFailure",
            CallKind::Plain,
            builder
        )
        .map(drop)
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        let builder = self
            .client
            .send_durable_execution_callback_heartbeat()
            .callback_id(callback_id);
        call!(
            self,
            "SendDurableExecutionCallbackHeartbeat",
            CallKind::Plain,
            builder
        )
        .map(drop)
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        let builder = self
            .client
            .stop_durable_execution()
            .durable_execution_arn(arn)
            .set_error(error.map(Into::into));
        let out = call!(self, "StopDurableExecution", CallKind::Plain, builder)?;
        out.try_into().map_err(response_error)
    }

    /// Lambda `Invoke` with `InvocationType: Event` and `X-Amz-Durable-Execution-Name`; the
    /// ARN comes from the `X-Amz-Durable-Execution-Arn` response header.
    async fn start_execution(
        &self,
        req: crate::api::StartExecutionRequest,
    ) -> Result<crate::api::StartExecutionResponse, ApiError> {
        let function = req.function_name.clone();
        let builder = self
            .client
            .invoke()
            .function_name(req.function_name)
            .set_qualifier(req.qualifier)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .durable_execution_name(req.execution_name)
            .payload(Blob::new(req.input.into_bytes()));
        let out = call!(self, "Invoke", CallKind::Plain, builder)?;
        match out.durable_execution_arn() {
            Some(arn) if !arn.is_empty() => Ok(crate::api::StartExecutionResponse {
                durable_execution_arn: arn.to_string(),
            }),
            _ => Err(ApiError::invalid(format!(
                "Invoke of {function} answered {} without X-Amz-Durable-Execution-Arn: the \
                 function is not a durable function (no DurableConfig)",
                out.status_code()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
