//! Routes on one durable execution and the by-function list (spec/api.md §4.1–§4.5, §4.9),
//! plus the newer-model operations this service answers as unsupported (§4.10).

use super::Frontend;
use super::error::HttpError;
use super::extract::{Body, Label, Query, json, parse_error_body, parse_json};
use super::query::QueryParams;
use crate::model::{
    CheckpointDurableExecutionRequest, GetDurableExecutionHistoryRequest,
    GetDurableExecutionStateRequest, ListDurableExecutionsByFunctionRequest,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

/// `POST /2025-12-01/durable-executions/{Arn}/checkpoint`.
pub(crate) async fn checkpoint<F: Frontend>(
    State(frontend): State<F>,
    Label(arn): Label,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let mut req: CheckpointDurableExecutionRequest = parse_json(&body)?;
    req.durable_execution_arn = arn;
    json(StatusCode::OK, &frontend.checkpoint(req).await?)
}

/// `GET /2025-12-01/durable-executions/{Arn}/state`.
pub(crate) async fn get_state<F: Frontend>(
    State(frontend): State<F>,
    Label(arn): Label,
    Query(q): Query,
) -> Result<Response, HttpError> {
    let req = GetDurableExecutionStateRequest {
        durable_execution_arn: arn,
        checkpoint_token: q.required("CheckpointToken")?,
        marker: q.string("Marker"),
        max_items: q.u32("MaxItems")?,
    };
    json(StatusCode::OK, &frontend.get_state(req).await?)
}

/// `GET /2025-12-01/durable-executions/{Arn}`.
pub(crate) async fn get_execution<F: Frontend>(
    State(frontend): State<F>,
    Label(arn): Label,
    Query(q): Query,
) -> Result<Response, HttpError> {
    // The model documents the default as true.
    let include = q.bool("IncludeExecutionData")?.unwrap_or(true);
    json(
        StatusCode::OK,
        &frontend.get_execution(&arn, include).await?,
    )
}

/// `GET /2025-12-01/durable-executions/{Arn}/history`.
pub(crate) async fn get_history<F: Frontend>(
    State(frontend): State<F>,
    Label(arn): Label,
    Query(q): Query,
) -> Result<Response, HttpError> {
    let req = GetDurableExecutionHistoryRequest {
        durable_execution_arn: arn,
        include_execution_data: q.bool("IncludeExecutionData")?,
        max_items: q.u32("MaxItems")?,
        marker: q.string("Marker"),
        reverse_order: q.bool("ReverseOrder")?,
    };
    json(StatusCode::OK, &frontend.get_history(req).await?)
}

/// `POST /2025-12-01/durable-executions/{Arn}/stop`: the body is the ErrorObject itself.
pub(crate) async fn stop<F: Frontend>(
    State(frontend): State<F>,
    Label(arn): Label,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let error = parse_error_body(&body)?;
    json(StatusCode::OK, &frontend.stop(&arn, error).await?)
}

/// `GET /2025-12-01/functions/{FunctionName}/durable-executions`.
pub(crate) async fn list_by_function<F: Frontend>(
    State(frontend): State<F>,
    Label(function_name): Label,
    Query(q): Query,
) -> Result<Response, HttpError> {
    let req = list_request(function_name, &q, false)?;
    json(StatusCode::OK, &frontend.list_by_function(req).await?)
}

/// The list query of both list routes.
///
/// Both take AWS's repeated `Statuses` and, as tools written for AWS's local emulator send it,
/// `StatusFilter`. `emulator` (the emulator-only route) also takes `FunctionVersion` for
/// `Qualifier` and epoch-second `StartedAfter`/`StartedBefore`.
pub(crate) fn list_request(
    function_name: String,
    q: &QueryParams,
    emulator: bool,
) -> Result<ListDurableExecutionsByFunctionRequest, HttpError> {
    let qualifier_keys: &[&str] = if emulator {
        &["Qualifier", "FunctionVersion"]
    } else {
        &["Qualifier"]
    };
    Ok(ListDurableExecutionsByFunctionRequest {
        function_name,
        qualifier: q.first_of(qualifier_keys).map(|(_, v)| v.to_string()),
        durable_execution_name: q.string("DurableExecutionName"),
        statuses: q.statuses(&["Statuses", "StatusFilter"])?,
        started_after: q.timestamp("StartedAfter", emulator)?,
        started_before: q.timestamp("StartedBefore", emulator)?,
        reverse_order: q.bool("ReverseOrder")?,
        marker: q.string("Marker"),
        max_items: q.u32("MaxItems")?,
    })
}

/// `POST …/{Arn}/pause` (PauseDurableExecution, newer model).
pub(crate) async fn pause() -> HttpError {
    HttpError::Unsupported {
        operation: "PauseDurableExecution",
    }
}

/// `POST …/{Arn}/resume` (ResumeDurableExecution, newer model).
pub(crate) async fn resume() -> HttpError {
    HttpError::Unsupported {
        operation: "ResumeDurableExecution",
    }
}

/// `DELETE /2025-12-01/durable-executions/{Arn}` (DeleteDurableExecution, newer model).
pub(crate) async fn delete() -> HttpError {
    HttpError::Unsupported {
        operation: "DeleteDurableExecution",
    }
}
