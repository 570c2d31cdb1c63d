//! Routes of AWS's local emulator that are not part of the AWS API
//! (spec/local-runner.md §2–§3), kept so tools written for the emulator work against this
//! server.

use super::Frontend;
use super::error::HttpError;
use super::executions::list_request;
use super::extract::{Body, Query, json, parse_json};
use crate::model::StartDurableExecutionRequest;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json as json_value;

/// `POST /start-durable-execution`: 201 `{"ExecutionArn": …}`.
pub(crate) async fn start<F: Frontend>(
    State(frontend): State<F>,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let req: StartDurableExecutionRequest = parse_json(&body)?;
    json(StatusCode::CREATED, &frontend.start(req).await?)
}

/// `GET /2025-12-01/durable-executions`: executions of every function, or of `FunctionName`.
pub(crate) async fn list_all<F: Frontend>(
    State(frontend): State<F>,
    Query(q): Query,
) -> Result<Response, HttpError> {
    let function_name = q.string("FunctionName").unwrap_or_default();
    let req = list_request(function_name, &q, true)?;
    json(StatusCode::OK, &frontend.list_all(req).await?)
}

/// `GET /health`.
pub(crate) async fn health() -> Result<Response, HttpError> {
    json(StatusCode::OK, &json_value!({ "status": "healthy" }))
}

/// `GET /metrics`.
pub(crate) async fn metrics() -> Result<Response, HttpError> {
    json(StatusCode::OK, &json_value!({ "metrics": {} }))
}
