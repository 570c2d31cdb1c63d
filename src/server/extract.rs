//! Request extractors and response helpers whose failures are AWS-shaped.
//!
//! axum's own extractors answer rejections with plain-text bodies; these wrap them so every
//! failure reaches the client as an exception it can parse.

use super::error::{HttpError, invalid};
use super::query::QueryParams;
use crate::api::{ApiError, ErrorCode};
use crate::model::ErrorObject;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The one path label of a route (`{DurableExecutionArn}`, `{CallbackId}`, `{FunctionName}`),
/// decoded.
///
/// The router matches the still-encoded path, so `%2F` inside a label never splits it; the
/// label is percent-decoded only after routing, and `+` stays `+`.
pub(crate) struct Label(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Label {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| invalid(format!("Invalid path parameter: {}", e.body_text())))?;
        let Some((name, value)) = params.into_iter().next() else {
            return Err(invalid("A path parameter is missing."));
        };
        if value.is_empty() {
            return Err(invalid(format!(
                "1 validation error detected: Value at '{name}' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1"
            )));
        }
        Ok(Label(value))
    }
}

/// The decoded query string.
pub(crate) struct Query(pub(crate) QueryParams);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        QueryParams::parse(parts.uri.query()).map(Query)
    }
}

/// The body limit the router enforces, as a request extension so the 413 can state it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// The raw request body, bounded by the router's body limit (413 beyond it).
pub(crate) struct Body(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().copied();
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let message = match limit {
                    Some(BodyLimit(n)) => format!("Request must be smaller than {n} bytes."),
                    None => "Request is larger than this server accepts.".to_string(),
                };
                Err(HttpError::Api(ApiError::new(
                    ErrorCode::RequestTooLarge,
                    message,
                )))
            }
            Err(e) => Err(invalid(format!(
                "Could not read the request body: {}",
                e.body_text()
            ))),
        }
    }
}

/// Whether a body carries nothing but whitespace.
pub(crate) fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Parses a required JSON body into `T`; errors name the offending member where they can.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, HttpError> {
    if is_blank(body) {
        return Err(invalid("Request body is required."));
    }
    serde_json::from_slice(body).map_err(|e| json_error(body, &e))
}

fn json_error(body: &[u8], e: &serde_json::Error) -> HttpError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let at = offset_of(body, e.line(), e.column());
            match member_before(body, at) {
                // "missing field `X`" already names the member; others get the nearest key.
                Some(member) if !e.to_string().starts_with("missing field") => {
                    invalid(format!("Invalid request body: member {member}: {e}"))
                }
                _ => invalid(format!("Invalid request body: {e}")),
            }
        }
        Category::Syntax | Category::Eof | Category::Io => {
            invalid(format!("Request body is not valid JSON: {e}"))
        }
    }
}

/// Byte offset of serde_json's (1-based line, 0-based byte column) position.
fn offset_of(body: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match body[start..].iter().position(|&b| b == b'\n') {
            Some(nl) => start += nl + 1,
            None => break,
        }
    }
    (start + column).min(body.len())
}

/// The last object key that begins before `end`: the member whose value failed to deserialize.
fn member_before(body: &[u8], end: usize) -> Option<String> {
    let mut last = None;
    let mut i = 0;
    while i < end {
        if body[i] != b'"' {
            i += 1;
            continue;
        }
        let open = i;
        i += 1;
        while i < body.len() && body[i] != b'"' {
            i += if body[i] == b'\\' { 2 } else { 1 };
        }
        let Some(string) = body.get(open..=i) else {
            break; // unterminated string
        };
        i += 1;
        let rest = body.get(i..).unwrap_or(&[]);
        if rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':') {
            last = serde_json::from_slice::<String>(string).ok();
        }
    }
    last
}

/// Reads an ErrorObject body: empty, `{}` or an all-empty object mean none.
///
/// Also accepts `{"Error": {...}}`, the form AWS's emulator reads on its stop route, so tools
/// written against the emulator keep working.
pub(crate) fn parse_error_body(body: &[u8]) -> Result<Option<ErrorObject>, HttpError> {
    if is_blank(body) {
        return Ok(None);
    }
    let error: ErrorObject = match parse_json::<Value>(body)? {
        Value::Null => return Ok(None),
        Value::Object(mut map) if is_wrapped_error(&map) => {
            // Re-encoded compactly so a bad member is still named in the error.
            let inner = serde_json::to_vec(&map.remove("Error")).unwrap_or_default();
            parse_json(&inner)?
        }
        Value::Object(_) => parse_json(body)?,
        _ => return Err(invalid("Invalid request body: expected an ErrorObject.")),
    };
    Ok(Some(error).filter(|e| *e != ErrorObject::default()))
}

fn is_wrapped_error(map: &serde_json::Map<String, Value>) -> bool {
    const MEMBERS: [&str; 4] = ["ErrorMessage", "ErrorType", "ErrorData", "StackTrace"];
    matches!(map.get("Error"), Some(Value::Object(_)))
        && !MEMBERS.iter().any(|m| map.contains_key(*m))
}

/// A JSON success response with the model type serialized compactly.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, HttpError> {
    let body = serde_json::to_vec(value).map_err(|e| {
        HttpError::Api(ApiError::new(
            ErrorCode::Service,
            format!("Could not serialize the response: {e}"),
        ))
    })?;
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The `{}` body of operations whose output has no members.
pub(crate) fn empty_object() -> Result<Response, HttpError> {
    json(StatusCode::OK, &serde_json::Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CheckpointDurableExecutionRequest;

    #[test]
    fn wrong_shape_names_the_member() {
        let body =
            br#"{"CheckpointToken":"t","Updates":[{"Id":"x","Type":"STEP","Action":"JUMP"}]}"#;
        let err = parse_json::<CheckpointDurableExecutionRequest>(body).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Action") && msg.contains("JUMP"), "{msg}");

        let body = b"{\n  \"CheckpointToken\": 5\n}";
        let msg = parse_json::<CheckpointDurableExecutionRequest>(body)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("member CheckpointToken"), "{msg}");

        let msg = parse_json::<CheckpointDurableExecutionRequest>(br#"{"Updates":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("CheckpointToken"), "{msg}");
    }

    #[test]
    fn keys_with_escapes_are_found() {
        let body = br#"{"a\"b": {"k\\": 1, "Z": tru"#;
        assert_eq!(member_before(body, body.len()).as_deref(), Some("Z"));
        assert_eq!(member_before(b"", 0), None);
        assert_eq!(member_before(b"\"unterminated", 13), None);
    }

    #[test]
    fn malformed_json_is_invalid_parameter() {
        for body in [&b"{"[..], b"nope", b"{\"CheckpointToken\":}"] {
            let err = parse_json::<CheckpointDurableExecutionRequest>(body).unwrap_err();
            assert_eq!(err.code(), "InvalidParameterValueException");
        }
        let err = parse_json::<CheckpointDurableExecutionRequest>(b"  ").unwrap_err();
        assert!(err.to_string().contains("required"));
    }

    #[test]
    fn error_bodies() {
        let e = ErrorObject::new("Cancelled", "operator stop");
        let direct = br#"{"ErrorType":"Cancelled","ErrorMessage":"operator stop"}"#;
        let wrapped = br#"{"Error":{"ErrorType":"Cancelled","ErrorMessage":"operator stop"}}"#;
        assert_eq!(parse_error_body(direct).unwrap(), Some(e.clone()));
        assert_eq!(parse_error_body(wrapped).unwrap(), Some(e));
        assert_eq!(parse_error_body(b"").unwrap(), None);
        assert_eq!(parse_error_body(b"{}").unwrap(), None);
        assert_eq!(parse_error_body(b"null").unwrap(), None);
        assert_eq!(parse_error_body(br#"{"Error":{}}"#).unwrap(), None);
        assert!(parse_error_body(b"[1]").is_err());
        assert!(parse_error_body(br#"{"ErrorMessage":5}"#).is_err());
        assert!(parse_error_body(b"{").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            end in 0usize..300,
        ) {
            let _ = parse_json::<CheckpointDurableExecutionRequest>(&body);
            let _ = parse_error_body(&body);
            let _ = member_before(&body, end.min(body.len()));
            let _ = offset_of(&body, end % 7, end);
        }

        #[test]
        fn json_like_bodies_never_panic(body in r#"[{}\[\]":,\\a-zA-Z0-9 ]{0,80}"#) {
            let _ = parse_json::<CheckpointDurableExecutionRequest>(body.as_bytes());
            let _ = parse_error_body(body.as_bytes());
        }
    }
}
