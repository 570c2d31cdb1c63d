//! AWS-shaped error responses (spec/api.md §1.1).
//!
//! Every error carries the exception name in `X-Amzn-ErrorType` (what the AWS SDKs read first)
//! and again as `__type` in the body, with `Type` = `User`/`Service` and the message under the
//! member case the Lambda model uses for that exception.

use crate::api::{ApiError, ErrorCode};
use crate::model::AwsErrorBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The header AWS SDK clients read the exception name from.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A request the HTTP front end answers with an AWS error shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A durable API error, from the frontend or from parsing the request.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No operation is served at this path (404 `UnknownOperationException`).
    #[error("Unknown operation: {method} {path}")]
    UnknownOperation {
        /// Request method.
        method: String,
        /// Request path, as sent.
        path: String,
    },
    /// The path is served, but not for this method (405 `MethodNotAllowedException`).
    #[error("Method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// Request method.
        method: String,
        /// Request path, as sent.
        path: String,
    },
    /// An operation of AWS's newer model this service does not implement
    /// (501 `UnsupportedOperationException`).
    #[error("{operation} is not supported by this service.")]
    Unsupported {
        /// The AWS operation name, e.g. `PauseDurableExecution`.
        operation: &'static str,
    },
}

impl HttpError {
    /// The exception name sent in `X-Amzn-ErrorType` and `__type`: a stable code to search for.
    pub fn code(&self) -> &str {
        match self {
            // `TransportError` is this crate's client-side code, not an AWS exception: a
            // frontend that could not reach something is a service failure to our caller.
            HttpError::Api(e) if e.code == ErrorCode::Transport => "ServiceException",
            HttpError::Api(e) => e.code.as_str(),
            HttpError::UnknownOperation { .. } => "UnknownOperationException",
            HttpError::MethodNotAllowed { .. } => "MethodNotAllowedException",
            HttpError::Unsupported { .. } => "UnsupportedOperationException",
        }
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            HttpError::Api(e) => e.code.http_status(),
            HttpError::UnknownOperation { .. } => 404,
            HttpError::MethodNotAllowed { .. } => 405,
            HttpError::Unsupported { .. } => 501,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The JSON body: `Type`, `__type` and the message member(s).
    pub fn body(&self) -> AwsErrorBody {
        let message = match self {
            HttpError::Api(e) => e.message.clone(),
            other => other.to_string(),
        };
        let kind = if self.status().is_server_error() {
            "Service"
        } else {
            "User"
        };
        let (lower, upper) = match message_case(self) {
            MessageCase::Lower => (Some(message), None),
            MessageCase::Upper => (None, Some(message)),
            MessageCase::Both => (Some(message.clone()), Some(message)),
        };
        AwsErrorBody {
            error_kind: Some(kind.to_string()),
            type_name: Some(self.code().to_string()),
            message: lower,
            message_upper: upper,
        }
    }
}

enum MessageCase {
    Lower,
    Upper,
    Both,
}

/// The message member's case per exception, as the Lambda model spells it (api.md §1.1);
/// both for exceptions outside the model, since clients read either.
fn message_case(e: &HttpError) -> MessageCase {
    let HttpError::Api(e) = e else {
        return MessageCase::Both;
    };
    match e.code {
        ErrorCode::InvalidParameterValue
        | ErrorCode::TooManyRequests
        | ErrorCode::ResourceConflict
        | ErrorCode::RequestTooLarge => MessageCase::Lower,
        ErrorCode::ResourceNotFound
        | ErrorCode::CallbackTimeout
        | ErrorCode::DurableExecutionAlreadyStarted
        | ErrorCode::Service
        | ErrorCode::Transport
        | ErrorCode::Kms(_) => MessageCase::Upper,
        _ => MessageCase::Both,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request rejected");
        }
        // Serializing a struct of strings cannot fail; the fallback only keeps this panic-free.
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(self.code()) {
            headers.insert(ERROR_TYPE_HEADER, v);
        }
        if let HttpError::Api(ApiError {
            retry_after_seconds: Some(secs),
            ..
        }) = &self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
        response
    }
}

/// `InvalidParameterValueException` for a request member that could not be read.
pub(crate) fn invalid(message: impl Into<String>) -> HttpError {
    HttpError::Api(ApiError::invalid(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_member_follows_the_model() {
        let nf = HttpError::from(ApiError::not_found("gone")).body();
        assert_eq!(nf.message_upper.as_deref(), Some("gone"));
        assert_eq!(nf.message, None);
        assert_eq!(nf.error_kind.as_deref(), Some("User"));
        assert_eq!(nf.type_name.as_deref(), Some("ResourceNotFoundException"));

        let bad = HttpError::from(ApiError::invalid("nope")).body();
        assert_eq!(bad.message.as_deref(), Some("nope"));
        assert_eq!(bad.message_upper, None);

        let svc = HttpError::from(ApiError::new(ErrorCode::Service, "boom")).body();
        assert_eq!(svc.error_kind.as_deref(), Some("Service"));

        let unknown = HttpError::UnknownOperation {
            method: "GET".into(),
            path: "/nope".into(),
        }
        .body();
        assert!(unknown.message.is_some() && unknown.message_upper.is_some());
    }

    #[test]
    fn transport_errors_answer_as_service_exceptions() {
        let e = HttpError::from(ApiError::new(ErrorCode::Transport, "unreachable"));
        assert_eq!(e.code(), "ServiceException");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn statuses() {
        let cases = [
            (ErrorCode::InvalidParameterValue, 400),
            (ErrorCode::CallbackTimeout, 400),
            (ErrorCode::ResourceNotFound, 404),
            (ErrorCode::DurableExecutionAlreadyStarted, 409),
            (ErrorCode::RequestTooLarge, 413),
            (ErrorCode::TooManyRequests, 429),
            (ErrorCode::Service, 500),
            (ErrorCode::Kms("KMSNotFoundException".into()), 502),
        ];
        for (code, status) in cases {
            let e = HttpError::from(ApiError::new(code.clone(), "m"));
            assert_eq!(e.status().as_u16(), status, "{code:?}");
            assert_eq!(e.code(), code.as_str());
        }
        let unsupported = HttpError::Unsupported {
            operation: "PauseDurableExecution",
        };
        assert_eq!(unsupported.status().as_u16(), 501);
    }
}
