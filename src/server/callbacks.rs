//! Callback routes (spec/api.md §4.6–§4.8): answer 200 `{}`.

use super::Frontend;
use super::error::HttpError;
use super::extract::{Body, Label, empty_object, parse_error_body};
use axum::extract::State;
use axum::response::Response;

/// `POST /2025-12-01/durable-execution-callbacks/{CallbackId}/succeed`: the body is the raw
/// result, whatever its Content-Type (boto3 sends none).
pub(crate) async fn succeed<F: Frontend>(
    State(frontend): State<F>,
    Label(callback_id): Label,
    Body(body): Body,
) -> Result<Response, HttpError> {
    frontend
        .send_callback_success(&callback_id, body.to_vec())
        .await?;
    empty_object()
}

/// `POST …/{CallbackId}/fail`: the body is the ErrorObject itself, possibly empty.
pub(crate) async fn fail<F: Frontend>(
    State(frontend): State<F>,
    Label(callback_id): Label,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let error = parse_error_body(&body)?.unwrap_or_default();
    frontend.send_callback_failure(&callback_id, error).await?;
    empty_object()
}

/// `POST …/{CallbackId}/heartbeat`: no body.
pub(crate) async fn heartbeat<F: Frontend>(
    State(frontend): State<F>,
    Label(callback_id): Label,
) -> Result<Response, HttpError> {
    frontend.send_callback_heartbeat(&callback_id).await?;
    empty_object()
}
