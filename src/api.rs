//! The `DurableApi` trait: the nine durable-execution API calls plus starting an execution,
//! and their error type.
//!
//! The executor only talks to this trait. Implementations: the local service (in process),
//! the `aws` backend (aws-sdk-lambda) and test doubles that inject faults.

mod start;

pub use start::{ExecutionArn, StartExecutionRequest, StartExecutionResponse};

use crate::model::*;
use std::future::Future;

/// The durable-execution API of AWS Lambda (2025-12-01), as the executor and tools use it:
/// the nine durable API calls, and [`start_execution`](Self::start_execution) (Lambda
/// `Invoke`), which continue-as-new needs.
pub trait DurableApi: Send + Sync {
    /// CheckpointDurableExecution.
    fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> impl Future<Output = Result<CheckpointDurableExecutionResponse, ApiError>> + Send;

    /// GetDurableExecutionState.
    fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionStateResponse, ApiError>> + Send;

    /// GetDurableExecution.
    fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> impl Future<Output = Result<GetDurableExecutionResponse, ApiError>> + Send;

    /// GetDurableExecutionHistory.
    fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> impl Future<Output = Result<GetDurableExecutionHistoryResponse, ApiError>> + Send;

    /// ListDurableExecutionsByFunction.
    fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> impl Future<Output = Result<ListDurableExecutionsByFunctionResponse, ApiError>> + Send;

    /// SendDurableExecutionCallbackSuccess: `result` is the raw body.
    fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// SendDurableExecutionCallbackFailure.
    fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// SendDurableExecutionCallbackHeartbeat.
    fn send_callback_heartbeat(
        &self,
        callback_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// StopDurableExecution.
    fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> impl Future<Output = Result<StopDurableExecutionResponse, ApiError>> + Send;

    /// Starts a durable execution (Lambda `Invoke`, `InvocationType: Event`, with a
    /// `DurableExecutionName`) and returns its ARN without waiting for it. Idempotent by name:
    /// the same name and input return the existing execution; another input fails with
    /// `DurableExecutionAlreadyStartedException`.
    fn start_execution(
        &self,
        req: StartExecutionRequest,
    ) -> impl Future<Output = Result<StartExecutionResponse, ApiError>> + Send;
}

/// The AWS exception a durable API call failed with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InvalidParameterValueException` (400).
    InvalidParameterValue,
    /// `ResourceNotFoundException` (404).
    ResourceNotFound,
    /// `CallbackTimeoutException` (400).
    CallbackTimeout,
    /// `DurableExecutionAlreadyStartedException` (409).
    DurableExecutionAlreadyStarted,
    /// `ResourceConflictException` (409).
    ResourceConflict,
    /// `TooManyRequestsException` (429).
    TooManyRequests,
    /// `ServiceException` (500).
    Service,
    /// `RequestTooLargeException` (413).
    RequestTooLarge,
    /// One of the four `KMS*Exception`s (502), by name.
    Kms(String),
    /// The request never got an answer (connection, timeout, undecodable response).
    Transport,
    /// Any other code, verbatim.
    Other(String),
}

impl ErrorCode {
    /// The exception name as AWS sends it in `X-Amzn-ErrorType`.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidParameterValue => "InvalidParameterValueException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::CallbackTimeout => "CallbackTimeoutException",
            ErrorCode::DurableExecutionAlreadyStarted => "DurableExecutionAlreadyStartedException",
            ErrorCode::ResourceConflict => "ResourceConflictException",
            ErrorCode::TooManyRequests => "TooManyRequestsException",
            ErrorCode::Service => "ServiceException",
            ErrorCode::RequestTooLarge => "RequestTooLargeException",
            ErrorCode::Kms(name) | ErrorCode::Other(name) => name,
            ErrorCode::Transport => "TransportError",
        }
    }

    /// Parses an exception name (after AWS's `#`/`:` stripping).
    pub fn parse(name: &str) -> Self {
        let name = name.rsplit('#').next().unwrap_or(name);
        let name = name.split(':').next().unwrap_or(name);
        match name {
            "InvalidParameterValueException" => ErrorCode::InvalidParameterValue,
            "ResourceNotFoundException" => ErrorCode::ResourceNotFound,
            "CallbackTimeoutException" => ErrorCode::CallbackTimeout,
            "DurableExecutionAlreadyStartedException" => ErrorCode::DurableExecutionAlreadyStarted,
            "ResourceConflictException" => ErrorCode::ResourceConflict,
            "TooManyRequestsException" => ErrorCode::TooManyRequests,
            "ServiceException" => ErrorCode::Service,
            "RequestTooLargeException" => ErrorCode::RequestTooLarge,
            kms if kms.starts_with("KMS") && kms.ends_with("Exception") => {
                ErrorCode::Kms(kms.to_string())
            }
            other => ErrorCode::Other(other.to_string()),
        }
    }

    /// The HTTP status AWS answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorCode::InvalidParameterValue | ErrorCode::CallbackTimeout => 400,
            ErrorCode::ResourceNotFound => 404,
            ErrorCode::DurableExecutionAlreadyStarted | ErrorCode::ResourceConflict => 409,
            ErrorCode::RequestTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Kms(_) => 502,
            ErrorCode::Service | ErrorCode::Transport | ErrorCode::Other(_) => 500,
        }
    }
}

/// A failed durable API call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    /// The exception.
    pub code: ErrorCode,
    /// The message AWS sent.
    pub message: String,
    /// Seconds to wait before retrying (429).
    pub retry_after_seconds: Option<u64>,
}

/// The message prefix of a stale or superseded checkpoint token.
pub const INVALID_CHECKPOINT_TOKEN: &str = "Invalid checkpoint token";

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    /// `InvalidParameterValueException`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }

    /// `InvalidParameterValueException` "Invalid checkpoint token".
    pub fn invalid_token() -> Self {
        Self::invalid(INVALID_CHECKPOINT_TOKEN)
    }

    /// Whether this is the stale-token case.
    pub fn is_invalid_token(&self) -> bool {
        self.code == ErrorCode::InvalidParameterValue
            && self.message.starts_with(INVALID_CHECKPOINT_TOKEN)
    }

    /// Whether the invocation should be retried rather than the execution failed
    /// (spec/invocation.md §8.4): throttling, 5xx, transport errors and stale tokens.
    pub fn is_retryable(&self) -> bool {
        match &self.code {
            ErrorCode::TooManyRequests | ErrorCode::Service | ErrorCode::Transport => true,
            ErrorCode::InvalidParameterValue => self.is_invalid_token(),
            ErrorCode::Kms(_) => false,
            other => other.http_status() >= 500,
        }
    }

    /// The error as an [`ErrorObject`], keeping the AWS code as its type.
    pub fn to_error_object(&self) -> ErrorObject {
        ErrorObject::new(self.code.as_str(), self.message.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_like_aws_clients() {
        assert_eq!(
            ErrorCode::parse("com.amazonaws.lambda#ResourceNotFoundException"),
            ErrorCode::ResourceNotFound
        );
        assert_eq!(
            ErrorCode::parse("InvalidParameterValueException:http://internal"),
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            ErrorCode::parse("KMSDisabledException"),
            ErrorCode::Kms("KMSDisabledException".into())
        );
        assert_eq!(ErrorCode::parse("Weird").as_str(), "Weird");
    }

    #[test]
    fn retry_classification_follows_the_sdk() {
        assert!(ApiError::invalid_token().is_retryable());
        assert!(!ApiError::invalid("Invalid parent operation id.").is_retryable());
        assert!(ApiError::new(ErrorCode::TooManyRequests, "slow down").is_retryable());
        assert!(ApiError::new(ErrorCode::Service, "boom").is_retryable());
        assert!(!ApiError::new(ErrorCode::Kms("KMSNotFoundException".into()), "x").is_retryable());
        assert!(!ApiError::not_found("gone").is_retryable());
    }
}
