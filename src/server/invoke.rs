//! Lambda Invoke (`POST /2015-03-31/functions/{FunctionName}/invocations`, spec/api.md §5.1):
//! the request and response types the [`Frontend`](super::Frontend) sees, and the route.

use super::Frontend;
use super::error::{HttpError, invalid};
use super::extract::{Body, Label, Query};
use super::query::parse_bool;
use crate::api::{ApiError, ErrorCode};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

crate::model::wire_enum! {
    /// How Lambda Invoke runs the function (`X-Amz-Invocation-Type`).
    InvocationType {
        /// Synchronous: answer with the function's result (200).
        RequestResponse = "RequestResponse",
        /// Asynchronous: queue and answer 202 at once.
        Event = "Event",
        /// Validate parameters and permissions only (204).
        DryRun = "DryRun",
    }
}

#[allow(clippy::derivable_impls)] // the derive cannot reach through the wire_enum macro
impl Default for InvocationType {
    fn default() -> Self {
        InvocationType::RequestResponse
    }
}

/// A Lambda Invoke request, as the HTTP front end received it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvokeRequest {
    /// Function name, `name:qualifier`, partial or full ARN (path label, decoded).
    pub function_name: String,
    /// Version or alias (`Qualifier` query parameter).
    pub qualifier: Option<String>,
    /// `X-Amz-Invocation-Type`; `RequestResponse` when absent.
    pub invocation_type: InvocationType,
    /// `X-Amz-Durable-Execution-Name`: names the durable execution this Invoke starts.
    pub durable_execution_name: Option<String>,
    /// `X-Amz-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// The event bytes (the HTTP body, unchanged).
    pub payload: Vec<u8>,
    /// `X-Dex-Handler-Invoke: true`: run the handler once with this payload (an invocation
    /// input made by a durable service) instead of starting a new durable execution.
    pub handler_invoke: bool,
}

/// What a Lambda Invoke answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvokeResponse {
    /// HTTP status: 200 `RequestResponse`, 202 `Event`, 204 `DryRun`.
    pub status_code: u16,
    /// The body: the function's result (or error) bytes.
    pub payload: Vec<u8>,
    /// `X-Amz-Durable-Execution-Arn`, when a durable function was invoked.
    pub durable_execution_arn: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`), when the function failed.
    pub function_error: Option<String>,
}

/// `X-Amz-Invocation-Type`.
pub const INVOCATION_TYPE_HEADER: &str = "x-amz-invocation-type";
/// `X-Amz-Durable-Execution-Name`.
pub const DURABLE_EXECUTION_NAME_HEADER: &str = "x-amz-durable-execution-name";
/// `X-Amz-Tenant-Id`.
pub const TENANT_ID_HEADER: &str = "x-amz-tenant-id";
/// `X-Dex-Handler-Invoke`, the marker AWS's local emulator puts on handler invocations.
pub const HANDLER_INVOKE_HEADER: &str = "x-dex-handler-invoke";
/// `X-Amz-Durable-Execution-Arn`.
pub const DURABLE_EXECUTION_ARN_HEADER: &str = "x-amz-durable-execution-arn";
/// `X-Amz-Executed-Version`.
pub const EXECUTED_VERSION_HEADER: &str = "x-amz-executed-version";
/// `X-Amz-Function-Error`.
pub const FUNCTION_ERROR_HEADER: &str = "x-amz-function-error";

/// `POST /2015-03-31/functions/{FunctionName}/invocations`.
pub(crate) async fn invoke<F: Frontend>(
    State(frontend): State<F>,
    Label(function_name): Label,
    Query(query): Query,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let invocation_type =
        match header_str(&headers, INVOCATION_TYPE_HEADER, "X-Amz-Invocation-Type")? {
            None => InvocationType::default(),
            Some(v) => InvocationType::parse(v).ok_or_else(|| {
                invalid(format!(
                    "Invalid value for X-Amz-Invocation-Type: expected RequestResponse, Event or \
                 DryRun, got '{}'.",
                    v.chars().take(64).collect::<String>()
                ))
            })?,
        };
    let handler_invoke = header_str(&headers, HANDLER_INVOKE_HEADER, "X-Dex-Handler-Invoke")?
        .map(|v| parse_bool("X-Dex-Handler-Invoke", v))
        .transpose()?
        .unwrap_or(false);
    let req = InvokeRequest {
        function_name,
        qualifier: query.string("Qualifier"),
        invocation_type,
        durable_execution_name: header_str(
            &headers,
            DURABLE_EXECUTION_NAME_HEADER,
            "X-Amz-Durable-Execution-Name",
        )?
        .map(str::to_string),
        tenant_id: header_str(&headers, TENANT_ID_HEADER, "X-Amz-Tenant-Id")?.map(str::to_string),
        payload: body.to_vec(),
        handler_invoke,
    };
    let out = frontend.invoke(req).await?;
    invoke_response(out)
}

/// A header's value; empty counts as absent, non-UTF-8 is a 400 naming the header.
fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &str,
    display: &str,
) -> Result<Option<&'a str>, HttpError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
            .map_err(|_| invalid(format!("The {display} header is not valid ASCII."))),
    }
}

fn invoke_response(out: InvokeResponse) -> Result<Response, HttpError> {
    let status = StatusCode::from_u16(out.status_code).map_err(|_| {
        service_error(format!(
            "The function answered with an invalid status code {}.",
            out.status_code
        ))
    })?;
    let body = if status == StatusCode::NO_CONTENT {
        Vec::new()
    } else {
        out.payload
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let optional = [
        (DURABLE_EXECUTION_ARN_HEADER, out.durable_execution_arn),
        (EXECUTED_VERSION_HEADER, out.executed_version),
        (FUNCTION_ERROR_HEADER, out.function_error),
    ];
    for (name, value) in optional {
        let Some(value) = value else { continue };
        let value = HeaderValue::from_str(&value).map_err(|_| {
            service_error(format!("The value of response header {name} is not valid."))
        })?;
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(response)
}

fn service_error(message: String) -> HttpError {
    HttpError::Api(ApiError::new(ErrorCode::Service, message))
}
