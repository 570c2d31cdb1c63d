//! Every JSON body captured from AWS's emulator and SDK (spec/wire-samples) parses into the
//! model and serializes back to the same JSON value.

use durable_fsm::model::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/wire-samples")
}

/// JSON equality where numbers compare by value (`1.0 == 1`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(what: &str, body: &Value) {
    let parsed: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{what}: does not parse: {e}\n{body}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert!(
        same(body, &back),
        "{what}: round trip differs\n in: {body}\nout: {back}"
    );
}

fn exchanges() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(samples_dir())
        .expect("spec/wire-samples beside the repository")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let name = f.strip_prefix(samples_dir()).unwrap().display().to_string();
            match doc.get("examples").and_then(Value::as_object) {
                Some(examples) => {
                    for (k, v) in examples {
                        out.push((format!("{name}#{k}"), v.clone()));
                    }
                }
                None => out.push((name, doc)),
            }
        }
    }
    out
}

#[test]
fn every_captured_body_round_trips() {
    let mut checked = 0;
    for (name, ex) in exchanges() {
        let op = ex["operation"].as_str().unwrap_or_default();
        let status = ex["response"]["status"].as_u64().unwrap_or(0);
        let req = &ex["request"]["body_json"];
        let resp = &ex["response"]["body_json"];
        let ok = (200..300).contains(&status);
        if !ok && resp.is_object() {
            round_trip::<AwsErrorBody>(&format!("{name} error body"), resp);
            checked += 1;
        }
        let mut check = |what: &str, f: &dyn Fn(&str, &Value)| {
            f(
                &format!("{name} {what}"),
                if what == "request" { req } else { resp },
            );
            checked += 1;
        };
        match op {
            "CheckpointDurableExecution" => {
                check("request", &round_trip::<CheckpointDurableExecutionRequest>);
                if ok {
                    check(
                        "response",
                        &round_trip::<CheckpointDurableExecutionResponse>,
                    );
                }
            }
            "GetDurableExecution" if ok => {
                check("response", &round_trip::<GetDurableExecutionResponse>)
            }
            "GetDurableExecutionState" if ok => {
                check("response", &round_trip::<GetDurableExecutionStateResponse>)
            }
            "GetDurableExecutionHistory" if ok => check(
                "response",
                &round_trip::<GetDurableExecutionHistoryResponse>,
            ),
            "ListDurableExecutionsByFunction" | "ListDurableExecutions(emulator-only)" if ok => {
                check(
                    "response",
                    &round_trip::<ListDurableExecutionsByFunctionResponse>,
                )
            }
            "StopDurableExecution" => {
                if req.is_object() {
                    check("request", &round_trip::<ErrorObject>);
                }
                if ok {
                    check("response", &round_trip::<StopDurableExecutionResponse>);
                }
            }
            "SendDurableExecutionCallbackFailure" => check("request", &round_trip::<ErrorObject>),
            "StartDurableExecution(emulator-only)" if ok => {
                check("request", &round_trip::<StartDurableExecutionRequest>);
                check("response", &round_trip::<StartDurableExecutionResponse>);
            }
            "Invoke" if req.get("CheckpointToken").is_some() => {
                // The handler hop: the invocation event in, the invocation output back.
                let input = InvocationInput::from_value(req.clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let back = serde_json::to_value(&input).unwrap();
                assert!(
                    same(req, &back),
                    "{name}: invocation event differs\n in: {req}\nout: {back}"
                );
                if ok {
                    check("response", &round_trip::<InvocationOutput>);
                }
            }
            _ => {}
        }
    }
    assert!(checked > 150, "only {checked} bodies checked");
}

#[test]
fn every_enum_value_of_the_model_round_trips() {
    for t in OperationType::ALL {
        assert_eq!(OperationType::parse(t.as_str()), Some(*t));
        assert_eq!(serde_json::to_value(t).unwrap(), Value::from(t.as_str()));
    }
    for s in OperationStatus::ALL {
        let v: OperationStatus = serde_json::from_value(Value::from(s.as_str())).unwrap();
        assert_eq!(v, *s);
    }
    for e in EventType::ALL {
        let v: EventType = serde_json::from_value(Value::from(e.as_str())).unwrap();
        assert_eq!(v, *e);
    }
    assert_eq!(OperationAction::ALL.len(), 5);
    assert_eq!(ExecutionStatus::ALL.len(), 8);
    assert_eq!(EventType::ALL.len(), 26);
}
