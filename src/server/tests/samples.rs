//! Replays the requests captured from AWS's emulator and SDKs (spec/wire-samples) through the
//! router: each path resolves to the route of its operation and each body parses.

use super::*;
use crate::server::query::percent_decode;
use std::path::{Path, PathBuf};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/wire-samples")
}

/// One captured request: (where from, operation, request object).
fn captured_requests() -> Vec<(String, String, Value)> {
    let mut files = Vec::new();
    let Ok(dirs) = std::fs::read_dir(samples_dir()) else {
        panic!(
            "spec/wire-samples beside the repository: {}",
            samples_dir().display()
        );
    };
    for dir in dirs.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let entries = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path());
        files.extend(entries.filter(|p| p.extension().is_some_and(|x| x == "json")));
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let name = f.strip_prefix(samples_dir()).unwrap().display().to_string();
        let examples: Vec<(String, &Value)> = match doc.get("examples").and_then(Value::as_object) {
            Some(map) => map
                .iter()
                .map(|(k, v)| (format!("{name}#{k}"), v))
                .collect(),
            None => vec![(name, &doc)],
        };
        for (what, ex) in examples {
            let op = ex["operation"].as_str().unwrap().to_string();
            out.push((what, op, ex["request"].clone()));
        }
    }
    out
}

/// The request as sent: method, path with query, the headers that matter, the body text
/// (re-serialized from `body_json` where the capture elided a large body).
fn rebuild(req: &Value) -> Request<Body> {
    let mut builder = Request::builder()
        .method(req["method"].as_str().unwrap())
        .uri(req["path"].as_str().unwrap());
    for pair in req["headers"].as_array().unwrap() {
        let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        let skip = ["host", "content-length", "connection", "transfer-encoding"];
        if !skip.contains(&name.to_ascii_lowercase().as_str()) {
            builder = builder.header(name, value);
        }
    }
    let body = match req.get("body").and_then(Value::as_str) {
        Some(text) => text.to_string(),
        None => serde_json::to_string(&req["body_json"]).unwrap(),
    };
    builder.body(Body::from(body)).unwrap()
}

/// The path label (second-to-last or last segment), decoded as the server must.
fn label(path: &str, index_from_end: usize) -> String {
    let path = path.split('?').next().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    percent_decode(segments[segments.len() - 1 - index_from_end]).unwrap()
}

#[tokio::test]
async fn every_captured_request_reaches_its_route_and_parses() {
    let requests = captured_requests();
    assert!(requests.len() > 100, "only {} samples", requests.len());
    let mut seen = std::collections::BTreeSet::new();
    for (what, op, req) in requests {
        let path = req["path"].as_str().unwrap().to_string();
        let body_json = req["body_json"].clone();
        let body_text = req["body"].as_str().map(str::to_string);
        let fake = Fake::new();
        let reply = send(fake.app(), rebuild(&req)).await;
        let calls = fake.calls();
        let ctx = format!(
            "{what} ({op} {path}): {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_request_id(&reply.headers);
        seen.insert(op.clone());
        match op.as_str() {
            "CheckpointDurableExecution" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::Checkpoint(c)] = &calls[..] else {
                    panic!("{ctx}: {calls:?}")
                };
                assert_eq!(c.durable_execution_arn, label(&path, 1), "{ctx}");
                assert!(c.durable_execution_arn.contains('/'), "{ctx}");
                assert_eq!(c.checkpoint_token, body_json["CheckpointToken"], "{ctx}");
                let n = body_json["Updates"].as_array().map_or(0, Vec::len);
                assert_eq!(c.updates.as_ref().map_or(0, Vec::len), n, "{ctx}");
            }
            "GetDurableExecution" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::GetExecution(arn, _)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(*arn, label(&path, 0), "{ctx}");
            }
            "GetDurableExecutionHistory" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::GetHistory(h)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(h.durable_execution_arn, label(&path, 1), "{ctx}");
            }
            "GetDurableExecutionState" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::GetState(s)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(s.durable_execution_arn, label(&path, 1), "{ctx}");
                assert!(s.checkpoint_token.ends_with('='), "{ctx}: token decoded");
                assert!(s.max_items.is_some(), "{ctx}");
            }
            "StopDurableExecution" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::Stop(arn, error)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(*arn, label(&path, 1), "{ctx}");
                let expected: Option<ErrorObject> = serde_json::from_value(body_json.clone())
                    .ok()
                    .filter(|e| *e != ErrorObject::default());
                assert_eq!(*error, expected, "{ctx}");
            }
            "SendDurableExecutionCallbackSuccess" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::CallbackSuccess(id, result)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(*id, label(&path, 1), "{ctx}");
                assert_eq!(
                    Some(String::from_utf8_lossy(result).into_owned()),
                    body_text
                );
            }
            "SendDurableExecutionCallbackFailure" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::CallbackFailure(id, error)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(*id, label(&path, 1), "{ctx}");
                assert_eq!(*error, serde_json::from_value(body_json).unwrap(), "{ctx}");
            }
            "SendDurableExecutionCallbackHeartbeat" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::CallbackHeartbeat(id)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(*id, label(&path, 1), "{ctx}");
            }
            "ListDurableExecutionsByFunction" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::ListByFunction(l)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(l.function_name, label(&path, 1), "{ctx}");
                if path.contains("STOPPED") {
                    assert_eq!(l.statuses, [ExecutionStatus::Stopped], "{ctx}");
                }
            }
            "ListDurableExecutions(emulator-only)" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::ListAll(l)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(l.max_items, Some(3), "{ctx}");
            }
            "Invoke" => {
                assert_eq!(reply.status, 200, "{ctx}");
                let [Call::Invoke(i)] = &calls[..] else {
                    panic!("{ctx}")
                };
                assert_eq!(i.function_name, label(&path, 1), "{ctx}");
                assert_eq!(i.invocation_type, InvocationType::RequestResponse);
                let marked = req.to_string().contains("X-Dex-Handler-Invoke");
                assert_eq!(i.handler_invoke, marked, "{ctx}");
                if let Some(text) = &body_text {
                    assert_eq!(i.payload, text.as_bytes(), "{ctx}");
                }
            }
            "StartDurableExecution(emulator-only)" => {
                if body_json.get("AccountId").is_some() {
                    assert_eq!(reply.status, 201, "{ctx}");
                    let [Call::Start(s)] = &calls[..] else {
                        panic!("{ctx}")
                    };
                    assert_eq!(s.function_name, body_json["FunctionName"], "{ctx}");
                } else {
                    reply.assert_error(400, "InvalidParameterValueException");
                    assert!(reply.message().contains("AccountId"), "{ctx}");
                    assert!(calls.is_empty());
                }
            }
            "Health(emulator-only)" | "Metrics(emulator-only)" => {
                reply.assert_ok(200);
                assert!(calls.is_empty());
            }
            "PauseDurableExecution" | "ResumeDurableExecution" | "DeleteDurableExecution" => {
                reply.assert_error(501, "UnsupportedOperationException");
                assert!(calls.is_empty());
            }
            "UnknownRoute" | "UpdateLambdaEndpoint(emulator-only)" => {
                // `PUT /lambda-endpoint` configures the emulator's invoker; not served here.
                reply.assert_error(404, "UnknownOperationException");
                assert!(calls.is_empty());
            }
            other => panic!("{what}: no expectation for operation {other}"),
        }
    }
    assert_eq!(seen.len(), 19, "{seen:?}");
}
