//! The client side of the CLI: [`AwsDurableApi`] towards the chosen endpoint (or AWS), Lambda
//! Invoke through the same SDK client, and the emulator's list-everything route over hyper.

use super::CliError;
use super::args::ClientArgs;
use crate::api::{ApiError, ErrorCode};
use crate::aws::AwsDurableApi;
use crate::model::{
    ListDurableExecutionsByFunctionRequest, ListDurableExecutionsByFunctionResponse,
};
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// The region signed into requests to a local endpoint (which checks no signature).
const LOCAL_REGION: &str = "us-east-1";
/// How long the list-everything request may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// Why `list --aws` needs a function name.
pub const AWS_LIST_NEEDS_FUNCTION: &str = "AWS lists durable executions per function: give a \
    FUNCTION (durable-fsm list FUNCTION --aws)";
/// Largest list response read.
const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// Where requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A durable service at this URL (no trailing `/`).
    Endpoint(String),
    /// AWS, per the standard configuration.
    Aws {
        /// The configured region, if any.
        region: Option<String>,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Endpoint(url) => f.write_str(url),
            Target::Aws { region: Some(r) } => write!(f, "AWS Lambda in {r}"),
            Target::Aws { region: None } => f.write_str("AWS Lambda (no region configured)"),
        }
    }
}

/// A client for the durable API at one [`Target`].
#[derive(Clone, Debug)]
pub struct Client {
    /// The nine durable API calls.
    pub api: AwsDurableApi,
    /// Where they go.
    pub target: Target,
}

/// What a Lambda Invoke answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invoked {
    /// HTTP status: 202 for `Event`, 200 for `RequestResponse`.
    pub status_code: i32,
    /// `X-Amz-Durable-Execution-Arn`.
    pub durable_execution_arn: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `X-Amz-Function-Error`, when the execution failed.
    pub function_error: Option<String>,
    /// The result (or error) bytes.
    pub payload: Vec<u8>,
}

impl Client {
    /// A client for `--endpoint` or, with `--aws`, the standard AWS configuration.
    pub async fn connect(args: &ClientArgs) -> Result<Client, CliError> {
        if args.aws {
            let api = AwsDurableApi::from_env().await;
            let region = api.client().config().region().map(|r| r.to_string());
            if region.is_none() {
                return Err(CliError::Failed(
                    "no AWS region configured: set AWS_REGION, or a region in the profile \
                     (AWS_PROFILE, ~/.aws/config)"
                        .into(),
                ));
            }
            return Ok(Client {
                api,
                target: Target::Aws { region },
            });
        }
        let endpoint = check_endpoint(&args.endpoint)?;
        Ok(Client {
            api: AwsDurableApi::with_endpoint(endpoint.clone(), LOCAL_REGION),
            target: Target::Endpoint(endpoint),
        })
    }

    /// The error to report for a failed API call.
    pub fn fail(&self, e: ApiError) -> CliError {
        if e.code != ErrorCode::Transport {
            return CliError::Api(e);
        }
        if let Some(rest) = e.message.strip_prefix("cannot read response: ") {
            return CliError::Failed(format!("unexpected response from {}: {rest}", self.target));
        }
        if matches!(self.target, Target::Aws { .. })
            && e.message
                .to_ascii_lowercase()
                .contains("loading credentials")
        {
            return CliError::Failed(format!(
                "cannot load AWS credentials for {} (set AWS_PROFILE, or \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; `aws sso login` for SSO profiles)",
                self.target
            ));
        }
        if let Some(rest) = e.message.strip_prefix("request not sent: ") {
            return CliError::Failed(format!("cannot send the request: {}", one_line(rest)));
        }
        CliError::Unreachable {
            target: self.target.to_string(),
            reason: transport_reason(&e.message),
        }
    }

    /// Lambda Invoke of `function`: `Event` (returns at once) unless `wait`.
    pub async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        name: Option<&str>,
        payload: Option<Vec<u8>>,
        wait: bool,
    ) -> Result<Invoked, CliError> {
        let invocation_type = if wait {
            InvocationType::RequestResponse
        } else {
            InvocationType::Event
        };
        let out = self
            .api
            .client()
            .invoke()
            .function_name(function)
            .invocation_type(invocation_type)
            .set_qualifier(qualifier.map(str::to_string))
            .set_durable_execution_name(name.map(str::to_string))
            .set_payload(payload.map(Blob::new))
            .send()
            .await
            .map_err(|e| self.fail(sdk_error(e)))?;
        Ok(Invoked {
            status_code: out.status_code(),
            durable_execution_arn: out.durable_execution_arn().map(str::to_string),
            executed_version: out.executed_version().map(str::to_string),
            function_error: out.function_error().map(str::to_string),
            payload: out
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
        })
    }

    /// The executions of every function: the local service's
    /// `GET /2025-12-01/durable-executions` (not an AWS API).
    pub async fn list_all(
        &self,
        req: &ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, CliError> {
        let endpoint = match &self.target {
            Target::Endpoint(url) if url.starts_with("http://") => url,
            Target::Endpoint(_) => {
                return Err(CliError::Usage(
                    "listing the executions of every function needs a durable-fsm service on \
                     an http:// endpoint; name a FUNCTION to list its executions"
                        .into(),
                ));
            }
            Target::Aws { .. } => {
                return Err(CliError::Usage(AWS_LIST_NEEDS_FUNCTION.into()));
            }
        };
        let url = format!(
            "{endpoint}/2025-12-01/durable-executions{}",
            list_query(req)
        );
        let unreachable = |reason: String| CliError::Unreachable {
            target: endpoint.clone(),
            reason,
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| CliError::Usage(format!("invalid endpoint URL {url}: {e}")))?;
        let request = Request::get(uri)
            .header("accept", "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| CliError::Failed(format!("cannot build the request: {e}")))?;
        let client = HyperClient::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(LIST_TIMEOUT, client.request(request))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(transport_reason(&error_chain(&e))))?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(LIST_TIMEOUT, Limited::new(body, MAX_LIST_BYTES).collect())
            .await
            .map_err(|_| unreachable("timed out reading the response".into()))?
            .map_err(|e| unreachable(format!("reading the response failed: {e}")))?
            .to_bytes();
        if !parts.status.is_success() {
            let code = parts
                .headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map_or_else(
                    || ErrorCode::Other(parts.status.as_u16().to_string()),
                    ErrorCode::parse,
                );
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let message = ["message", "Message"]
                .iter()
                .find_map(|k| json.get(*k).and_then(Value::as_str))
                .map_or_else(|| one_line(&String::from_utf8_lossy(&body)), str::to_string);
            return Err(CliError::Api(ApiError::new(code, message)));
        }
        serde_json::from_slice(&body).map_err(|e| {
            CliError::Failed(format!(
                "unexpected response from {endpoint}: not a list of durable executions: {e}"
            ))
        })
    }
}

/// Checks an `--endpoint` value: an `http://` or `https://` URL with a host and no query.
pub fn check_endpoint(endpoint: &str) -> Result<String, CliError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let bad = |why: &str| {
        CliError::Usage(format!(
            "invalid --endpoint {endpoint:?}: {why} (expected a URL like {})",
            super::args::DEFAULT_ENDPOINT
        ))
    };
    let uri: Uri = trimmed.parse().map_err(|_| bad("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(bad("only http:// and https:// are supported")),
        None => return Err(bad("the scheme is missing")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("the host is missing"));
    }
    if uri.query().is_some() {
        return Err(bad("a query is not allowed"));
    }
    Ok(trimmed.to_string())
}

/// The query string of the list-everything route, percent-encoded as AWS clients do.
pub fn list_query(req: &ListDurableExecutionsByFunctionRequest) -> String {
    let mut pairs: Vec<(&str, String)> = req
        .statuses
        .iter()
        .map(|s| ("Statuses", s.as_str().to_string()))
        .collect();
    if let Some(name) = &req.durable_execution_name {
        pairs.push(("DurableExecutionName", name.clone()));
    }
    if let Some(max) = req.max_items {
        pairs.push(("MaxItems", max.to_string()));
    }
    if let Some(marker) = &req.marker {
        pairs.push(("Marker", marker.clone()));
    }
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(key);
        out.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// An SDK error as an [`ApiError`], worded like the `aws` module's so [`Client::fail`] reads
/// both the same way.
fn sdk_error<E>(e: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx
                .err()
                .code()
                .map_or_else(|| ErrorCode::Other(status.to_string()), ErrorCode::parse);
            ApiError::new(code, ctx.err().message().unwrap_or_default())
        }
        SdkError::ConstructionFailure(_) => ApiError::new(
            ErrorCode::Transport,
            format!("request not sent: {}", DisplayErrorContext(&e)),
        ),
        _ => ApiError::new(ErrorCode::Transport, DisplayErrorContext(&e).to_string()),
    }
}

/// The messages of an error and all its sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The short reason for a connection failure, from whatever the HTTP stack said.
pub fn transport_reason(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    let known = [
        ("connection refused", "connection refused"),
        ("connection reset", "connection reset by the server"),
        ("dns error", "host not found"),
        ("failed to lookup address", "host not found"),
        ("name or service not known", "host not found"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("certificate", "TLS certificate error"),
        ("network is unreachable", "network unreachable"),
    ];
    known
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map_or_else(|| one_line(message), |(_, reason)| (*reason).to_string())
}

/// `text` on one line, at most 300 characters.
pub fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::display::cut(&joined, 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExecutionStatus;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert_eq!(
            check_endpoint("http://127.0.0.1:5000/").ok(),
            Some("http://127.0.0.1:5000".to_string())
        );
        assert!(check_endpoint("https://lambda.us-east-1.amazonaws.com").is_ok());
        for bad in [
            "127.0.0.1:5000",
            "ftp://h",
            "http://",
            "http://h/?x=1",
            "not a url",
        ] {
            let err = check_endpoint(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("invalid --endpoint")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn list_query_encodes_like_aws() {
        let req = ListDurableExecutionsByFunctionRequest {
            statuses: vec![ExecutionStatus::Running, ExecutionStatus::TimedOut],
            durable_execution_name: Some("a b".into()),
            max_items: Some(10),
            marker: Some("x+y/=".into()),
            ..Default::default()
        };
        assert_eq!(
            list_query(&req),
            "?Statuses=RUNNING&Statuses=TIMED_OUT&DurableExecutionName=a%20b&MaxItems=10\
             &Marker=x%2By%2F%3D"
        );
        assert_eq!(
            list_query(&ListDurableExecutionsByFunctionRequest::default()),
            ""
        );
    }

    #[test]
    fn transport_errors_read_short() {
        assert_eq!(
            transport_reason(
                "dispatch failure: io error: error trying to connect: tcp connect error: \
                 Connection refused (os error 111)"
            ),
            "connection refused"
        );
        assert_eq!(
            transport_reason("dns error: failed to lookup address information"),
            "host not found"
        );
        assert_eq!(transport_reason("weird\n  thing"), "weird thing");
    }

    #[test]
    fn failures_name_the_target() {
        let client = Client {
            api: AwsDurableApi::with_endpoint("http://127.0.0.1:9", LOCAL_REGION),
            target: Target::Endpoint("http://127.0.0.1:9".into()),
        };
        let e = client.fail(ApiError::new(
            ErrorCode::Transport,
            "dispatch failure: Connection refused (os error 111)",
        ));
        assert_eq!(
            e.to_string(),
            "cannot reach http://127.0.0.1:9: connection refused"
        );
        let e = client.fail(ApiError::not_found("Execution not found"));
        assert_eq!(
            e.to_string(),
            "ResourceNotFoundException: Execution not found"
        );
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            Target::Aws {
                region: Some("eu-west-1".into())
            }
            .to_string(),
            "AWS Lambda in eu-west-1"
        );
    }
}
