//! Invoking functions served elsewhere (`cargo lambda watch`, `sam local start-lambda`, any
//! Lambda-Invoke-compatible endpoint) exactly as AWS's local runner does
//! (spec/local-runner.md §4).

use crate::api::ErrorCode;
use crate::model::{ErrorObject, InvocationInput, InvocationOutput, Timestamp};
use crate::service::InvocationOutcome;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// Largest response body read from a function (Lambda's 6 MB limit plus room).
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

const INVOCATION_TYPE: &str = "x-amz-invocation-type";
const HANDLER_INVOKE: &str = "x-dex-handler-invoke";
const TENANT_ID: &str = "x-amz-tenant-id";
const FUNCTION_ERROR: &str = "x-amz-function-error";
const REQUEST_ID: &str = "x-amzn-requestid";
const ERROR_TYPE: &str = "x-amzn-errortype";

/// A runtime configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvokerError {
    /// The Lambda endpoint is not an `http://host[:port][/prefix]` URL.
    #[error("invalid Lambda endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl InvokerError {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            InvokerError::InvalidEndpoint { .. } => "DFSM-RUNTIME-ENDPOINT",
        }
    }
}

/// Calls the Lambda Invoke API of an endpoint: handler invocations of durable functions
/// (`X-Dex-Handler-Invoke: true`, body = the invocation input) and plain invokes.
#[derive(Clone, Debug)]
pub struct HttpInvoker {
    endpoint: String,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// What came back from the endpoint.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn request_id(&self) -> String {
        self.header(REQUEST_ID)
            .map(str::to_string)
            .unwrap_or_else(local_request_id)
    }

    /// The Lambda API error of a non-2xx reply: code from `X-Amzn-ErrorType` or the body.
    fn api_error(&self) -> ErrorObject {
        let body: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| body.get(*n).and_then(Value::as_str))
                .map(str::to_string)
        };
        let code = self
            .header(ERROR_TYPE)
            .map(str::to_string)
            .or_else(|| {
                field(&["__type", "code", "Type"]).filter(|t| t != "User" && t != "Service")
            })
            .map(|c| ErrorCode::parse(&c).as_str().to_string())
            .unwrap_or_else(|| "ServiceException".into());
        let message = field(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
            format!(
                "The function endpoint answered HTTP {}: {}",
                self.status.as_u16(),
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )
        });
        ErrorObject::new(code, message)
    }

    /// The error a function returned with `X-Amz-Function-Error`:
    /// `{errorType, errorMessage, errorData?, stackTrace?}`.
    fn function_error(&self) -> ErrorObject {
        function_error_from_body(
            &self.body,
            self.header(FUNCTION_ERROR).unwrap_or("Unhandled"),
        )
    }
}

/// Maps a Lambda function-error body to an [`ErrorObject`]; `fallback_type` when it has no
/// `errorType`.
pub(crate) fn function_error_from_body(body: &[u8], fallback_type: &str) -> ErrorObject {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    ErrorObject {
        error_type: Some(text("errorType").unwrap_or_else(|| fallback_type.to_string())),
        error_message: Some(
            text("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(1000).collect()),
        ),
        error_data: v.get("errorData").map(|d| match d {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        stack_trace: v.get("stackTrace").and_then(Value::as_array).map(|lines| {
            lines
                .iter()
                .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_string))
                .collect()
        }),
    }
}

/// A request id for an invocation whose endpoint sent none.
pub(crate) fn local_request_id() -> String {
    format!("local-{}", uuid::Uuid::new_v4())
}

/// Lambda's function-timeout error (spec/invocation.md §6.1).
pub(crate) fn sandbox_timeout(request_id: &str, timeout: Duration) -> ErrorObject {
    ErrorObject::new(
        "Sandbox.Timedout",
        format!(
            "{} {request_id} Task timed out after {:.2} seconds",
            Timestamp::now(),
            timeout.as_secs_f64()
        ),
    )
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl HttpInvoker {
    /// An invoker for `endpoint` (`http://host:port`, optionally with a path prefix); each
    /// call gives up after `timeout`.
    pub fn new(endpoint: impl Into<String>, timeout: Duration) -> Result<Self, InvokerError> {
        let given = endpoint.into();
        let invalid = |reason: &str| InvokerError::InvalidEndpoint {
            endpoint: given.clone(),
            reason: reason.to_string(),
        };
        let trimmed = given.trim().trim_end_matches('/').to_string();
        let uri: Uri = trimmed
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// endpoints are supported"));
        }
        if uri.authority().is_none() {
            return Err(invalid("the URL has no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("the URL must not have a query"));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(HttpInvoker {
            endpoint: trimmed,
            timeout,
            client,
        })
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `{endpoint}/2015-03-31/functions/{name[:qualifier]}/invocations`, the function
    /// percent-encoded, the qualifier left out when it is `$LATEST`.
    pub fn invocation_url(&self, function: &str, qualifier: &str) -> String {
        let target = if qualifier.is_empty() || qualifier == "$LATEST" {
            function.to_string()
        } else {
            format!("{function}:{qualifier}")
        };
        format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.endpoint,
            encode_segment(&target)
        )
    }

    /// One handler invocation of a durable function: POSTs the invocation input with
    /// `X-Dex-Handler-Invoke: true` and maps the reply to an outcome and a request id
    /// (`x-amzn-RequestId`, else `local-<uuid>`).
    pub async fn invoke_handler(
        &self,
        function: &str,
        qualifier: &str,
        tenant_id: Option<&str>,
        input: &InvocationInput,
    ) -> (InvocationOutcome, String) {
        let body = match serde_json::to_vec(input) {
            Ok(b) => b,
            Err(e) => {
                let error = ErrorObject::new(
                    "ServiceException",
                    format!("cannot serialize the invocation input: {e}"),
                );
                return (InvocationOutcome::Error(error), local_request_id());
            }
        };
        let url = self.invocation_url(function, qualifier);
        let reply = match self.post(&url, true, tenant_id, body).await {
            Ok(r) => r,
            Err(CallError::Timeout) => {
                let id = local_request_id();
                let error = sandbox_timeout(&id, self.timeout);
                return (InvocationOutcome::Error(error), id);
            }
            Err(CallError::Transport(e)) => {
                return (InvocationOutcome::Error(e), local_request_id());
            }
        };
        let request_id = reply.request_id();
        (handler_outcome(&reply), request_id)
    }

    /// One plain invoke (no handler marker): the response body is the result; a function
    /// error, an API error, a transport error or a timeout (`ChainedInvoke.Timeout`) is the
    /// error.
    pub async fn invoke_plain(
        &self,
        function: &str,
        qualifier: &str,
        tenant_id: Option<&str>,
        payload: &[u8],
    ) -> Result<String, ErrorObject> {
        let url = self.invocation_url(function, qualifier);
        let reply = match self.post(&url, false, tenant_id, payload.to_vec()).await {
            Ok(r) => r,
            Err(CallError::Timeout) => {
                return Err(ErrorObject::new(
                    "ChainedInvoke.Timeout",
                    format!(
                        "CHAINED_INVOKE timed out after {} seconds.",
                        self.timeout.as_secs()
                    ),
                ));
            }
            Err(CallError::Transport(e)) => return Err(e),
        };
        if reply.header(FUNCTION_ERROR).is_some() {
            return Err(reply.function_error());
        }
        if !reply.status.is_success() {
            return Err(reply.api_error());
        }
        String::from_utf8(reply.body.to_vec()).map_err(|_| {
            ErrorObject::new(
                "InvalidParameterValueException",
                "The function returned a response that is not UTF-8.",
            )
        })
    }

    async fn post(
        &self,
        url: &str,
        handler: bool,
        tenant_id: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, CallError> {
        let transport = |what: String| {
            CallError::Transport(ErrorObject::new(
                "ServiceException",
                format!("cannot invoke the function at {url}: {what}"),
            ))
        };
        let mut req = Request::builder().method(Method::POST).uri(url).header(
            HeaderName::from_static(INVOCATION_TYPE),
            HeaderValue::from_static("RequestResponse"),
        );
        if handler {
            req = req.header(
                HeaderName::from_static(HANDLER_INVOKE),
                HeaderValue::from_static("true"),
            );
        }
        if let Some(t) = tenant_id {
            let value = HeaderValue::from_str(t)
                .map_err(|_| transport("the tenant id is not a valid header value".into()))?;
            req = req.header(HeaderName::from_static(TENANT_ID), value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        let call = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| transport(format!("reading the response failed: {e}")))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(CallError::Timeout))
    }
}

enum CallError {
    Timeout,
    Transport(ErrorObject),
}

/// What a handler invocation's reply means (spec/local-runner.md §4, response handling).
fn handler_outcome(reply: &Reply) -> InvocationOutcome {
    if reply.header(FUNCTION_ERROR).is_some() {
        return InvocationOutcome::Error(reply.function_error());
    }
    if !reply.status.is_success() {
        let error = reply.api_error();
        if reply.status == StatusCode::NOT_FOUND
            && error.error_type.as_deref() == Some("ResourceNotFoundException")
        {
            return InvocationOutcome::Unrecoverable(error);
        }
        return InvocationOutcome::Error(error);
    }
    match parse_output(&reply.body) {
        Ok(out) => InvocationOutcome::Output(out),
        Err(e) => InvocationOutcome::Unrecoverable(ErrorObject::new(
            "InvalidParameterValueException",
            format!("The function returned an invalid durable invocation output: {e}"),
        )),
    }
}

/// Parses an invocation output: a JSON object with a known `Status` and an object `Error`.
fn parse_output(body: &[u8]) -> Result<InvocationOutput, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_runner() {
        let inv = HttpInvoker::new("http://127.0.0.1:3001/", Duration::from_secs(1)).unwrap();
        assert_eq!(
            inv.invocation_url("orders", "$LATEST"),
            "http://127.0.0.1:3001/2015-03-31/functions/orders/invocations"
        );
        assert_eq!(
            inv.invocation_url("orders", "$LATEST.PUBLISHED"),
            "http://127.0.0.1:3001/2015-03-31/functions/orders%3A%24LATEST.PUBLISHED/invocations"
        );
        assert_eq!(
            inv.invocation_url("orders", "7"),
            "http://127.0.0.1:3001/2015-03-31/functions/orders%3A7/invocations"
        );
    }

    #[test]
    fn rejects_unusable_endpoints() {
        for bad in [
            "https://x",
            "127.0.0.1:3001",
            "http://",
            "http://h/?q=1",
            "not a url",
        ] {
            let err = HttpInvoker::new(bad, Duration::from_secs(1)).unwrap_err();
            assert_eq!(err.code(), "DFSM-RUNTIME-ENDPOINT", "{bad}");
        }
    }

    #[test]
    fn outputs_are_validated() {
        assert!(parse_output(br#"{"Status":"PENDING"}"#).is_ok());
        for bad in [
            &b"nope"[..],
            b"[]",
            br#"{"Status":"RETRY"}"#,
            br#"{"Status":"FAILED","Error":"x"}"#,
        ] {
            assert!(parse_output(bad).is_err());
        }
    }

    #[test]
    fn function_errors_map_to_error_objects() {
        let e = function_error_from_body(
            br#"{"errorType":"ValueError","errorMessage":"bad","errorData":{"k":1},"stackTrace":["a"]}"#,
            "Unhandled",
        );
        assert_eq!(e.error_type.as_deref(), Some("ValueError"));
        assert_eq!(e.error_message.as_deref(), Some("bad"));
        assert_eq!(e.error_data.as_deref(), Some(r#"{"k":1}"#));
        assert_eq!(e.stack_trace, Some(vec!["a".to_string()]));
        let e = function_error_from_body(b"boom", "Unhandled");
        assert_eq!(e.error_type.as_deref(), Some("Unhandled"));
        assert_eq!(e.error_message.as_deref(), Some("boom"));
    }
}
