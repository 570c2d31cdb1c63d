//! The captured exchanges of spec/wire-samples, as test fixtures.

use serde_json::Value;
use std::path::{Path, PathBuf};

pub(crate) fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/wire-samples")
}

/// Every exchange in the scenario directories (`by-route` repeats them), with its file name.
pub(crate) fn exchanges() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("spec/wire-samples beside the repository")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.ends_with("by-route"))
        .collect();
    dirs.sort();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            out.push((f.strip_prefix(dir()).unwrap().display().to_string(), doc));
        }
    }
    out
}

/// One example of `by-route/<route>.json`.
pub(crate) fn example(route: &str, name: &str) -> Value {
    let path = dir().join("by-route").join(format!("{route}.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["examples"][name].clone()
}

/// JSON equality where numbers compare by value (`1.0 == 1`).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
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
