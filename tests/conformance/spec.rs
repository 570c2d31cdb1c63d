//! The requirement files: YAML read into an order-preserving value, and the keys the
//! validator uses.

use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// A YAML value with mapping order kept (placeholders bind in traversal order).
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<V>),
    Map(Vec<(String, V)>),
}

impl V {
    /// The member `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&V> {
        match self {
            V::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as JSON (mapping order is lost, which JSON equality ignores anyway).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Int(i) => Value::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            V::Str(s) => Value::String(s.clone()),
            V::List(l) => Value::Array(l.iter().map(V::to_json).collect()),
            V::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    fn from_yaml(y: &Yaml, path: &str) -> Result<V, String> {
        Ok(match y {
            Yaml::Null => V::Null,
            Yaml::Boolean(b) => V::Bool(*b),
            Yaml::Integer(i) => V::Int(*i),
            Yaml::Real(s) => V::Float(
                s.parse::<f64>()
                    .map_err(|e| format!("{path}: bad float {s:?}: {e}"))?,
            ),
            Yaml::String(s) => V::Str(s.clone()),
            Yaml::Array(a) => V::List(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| V::from_yaml(v, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Hash(h) => {
                let mut m = Vec::with_capacity(h.len());
                for (k, v) in h {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => return Err(format!("{path}: unsupported mapping key {other:?}")),
                    };
                    let value = V::from_yaml(v, &format!("{path}.{key}"))?;
                    m.push((key, value));
                }
                V::Map(m)
            }
            Yaml::Alias(_) | Yaml::BadValue => {
                return Err(format!("{path}: unsupported YAML node {y:?}"));
            }
        })
    }
}

/// One callback action of an asynchronous requirement.
#[derive(Clone, Debug)]
pub struct CallbackAction {
    pub name: V,
    pub operation: String,
    pub payload: Option<V>,
    pub delay_secs: f64,
}

/// One requirement file.
#[derive(Clone, Debug)]
pub struct Requirement {
    pub id: String,
    pub suite: String,
    pub optional: bool,
    pub variables: Vec<(String, V)>,
    pub input: V,
    pub async_invoke: bool,
    pub poll_interval_secs: f64,
    pub no_progress_timeout_secs: f64,
    pub callback_actions: Option<Vec<CallbackAction>>,
    /// `ExpectedResult`, when present.
    pub expected_status: Option<String>,
    /// `ExpectedResult.Result`: `None` when the key is absent.
    pub expected_result: Option<V>,
    pub has_expected_result: bool,
    pub history: Vec<V>,
    /// `ExpectedLogs`.
    pub logs: Vec<V>,
}

impl Requirement {
    pub fn load(path: &Path, suite: &str) -> Result<Requirement, String> {
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: file name is not UTF-8", path.display()))?
            .to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let docs = YamlLoader::load_from_str(&text)
            .map_err(|e| format!("{}: invalid YAML: {e}", path.display()))?;
        let doc = docs
            .first()
            .ok_or_else(|| format!("{}: empty YAML", path.display()))?;
        let doc = V::from_yaml(doc, &id)?;
        if !matches!(doc, V::Map(_)) {
            return Err(format!("{id}: the document is not a mapping"));
        }
        let variables = match doc.get("Variables") {
            Some(V::Map(m)) => m.clone(),
            None | Some(V::Null) => Vec::new(),
            Some(other) => return Err(format!("{id}: Variables is not a mapping: {other:?}")),
        };
        let async_invoke = matches!(doc.get("AsyncInvoke"), Some(V::Bool(true)));
        let number = |v: Option<&V>, default: f64| match v {
            Some(V::Int(i)) => *i as f64,
            Some(V::Float(f)) => *f,
            _ => default,
        };
        let config = doc.get("AsyncConfig");
        let poll = number(config.and_then(|c| c.get("PollIntervalSeconds")), 2.0);
        let no_progress = number(config.and_then(|c| c.get("NoProgressTimeoutSeconds")), 30.0);
        let callback_actions = match doc.get("CallbackActions") {
            None | Some(V::Null) => None,
            Some(V::List(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let name = a.get("CallbackName").cloned().ok_or_else(|| {
                            format!("{id}: CallbackActions[{i}] has no CallbackName")
                        })?;
                        let operation = a
                            .get("Operation")
                            .and_then(V::as_str)
                            .ok_or_else(|| format!("{id}: CallbackActions[{i}] has no Operation"))?
                            .to_ascii_lowercase();
                        if !matches!(operation.as_str(), "success" | "failure" | "heartbeat") {
                            return Err(format!(
                                "{id}: CallbackActions[{i}] has an unknown Operation {operation:?}"
                            ));
                        }
                        Ok(CallbackAction {
                            name,
                            operation,
                            payload: a.get("Payload").cloned(),
                            delay_secs: number(a.get("Delay"), 0.0),
                        })
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Some(other) => return Err(format!("{id}: CallbackActions is not a list: {other:?}")),
        };
        let expected = doc.get("ExpectedResult");
        let history = match doc.get("ExpectedExecutionHistory") {
            Some(V::List(l)) => l.clone(),
            None | Some(V::Null) => Vec::new(),
            Some(other) => {
                return Err(format!(
                    "{id}: ExpectedExecutionHistory is not a list: {other:?}"
                ));
            }
        };
        let logs = match doc.get("ExpectedLogs") {
            Some(V::List(l)) => l.clone(),
            None | Some(V::Null) => Vec::new(),
            Some(other) => return Err(format!("{id}: ExpectedLogs is not a list: {other:?}")),
        };
        Ok(Requirement {
            id,
            suite: suite.to_string(),
            optional: matches!(doc.get("optional"), Some(V::Bool(true))),
            variables,
            input: doc.get("Input").cloned().unwrap_or(V::Null),
            async_invoke,
            poll_interval_secs: poll,
            no_progress_timeout_secs: no_progress,
            callback_actions,
            expected_status: expected
                .and_then(|e| e.get("ExecutionStatus"))
                .and_then(V::as_str)
                .map(str::to_string),
            expected_result: expected.and_then(|e| e.get("Result")).cloned(),
            has_expected_result: expected.is_some_and(|e| e.get("Result").is_some()),
            history,
            logs,
        })
    }
}

/// The numeric key of an id like `4-12`, for ordering.
pub fn id_key(id: &str) -> (u32, u32) {
    let mut parts = id.split('-').map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
    (
        parts.next().unwrap_or(u32::MAX),
        parts.next().unwrap_or(u32::MAX),
    )
}

/// Every requirement under `dir` (one subdirectory per suite), ordered by id.
pub fn load_all(dir: &Path) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    let suites = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for suite in suites {
        let suite = suite.map_err(|e| format!("{}: {e}", dir.display()))?;
        if !suite.path().is_dir() {
            continue;
        }
        let name = suite.file_name().to_string_lossy().into_owned();
        let files = std::fs::read_dir(suite.path())
            .map_err(|e| format!("{}: {e}", suite.path().display()))?;
        for file in files {
            let path = file.map_err(|e| format!("{name}: {e}"))?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                out.push(Requirement::load(&path, &name)?);
            }
        }
    }
    out.sort_by_key(|r| id_key(&r.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requirement_keeps_mapping_order_and_reads_its_keys() {
        let dir = std::env::temp_dir().join(format!("conformance-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("4-5.yaml");
        let text = "---\nAsyncInvoke: true\nVariables:\n  CB: ${GEN_STR:4}\nInput: ${CB}\n\
                    ExpectedResult:\n  ExecutionStatus: SUCCEEDED\n\
                    CallbackActions:\n  - CallbackName: ${CB}\n    Operation: Heartbeat\n\
                    ExpectedExecutionHistory:\n  - EventType: CallbackStarted\n    EventId: 2\n    Id: ${ID1}\n";
        std::fs::write(&path, text).expect("write");
        let r = Requirement::load(&path, "callback").expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            (r.id.as_str(), r.suite.as_str(), r.async_invoke),
            ("4-5", "callback", true)
        );
        assert_eq!(r.expected_status.as_deref(), Some("SUCCEEDED"));
        assert!(!r.has_expected_result);
        let actions = r.callback_actions.expect("actions");
        assert_eq!(actions[0].operation, "heartbeat");
        let V::Map(event) = &r.history[0] else {
            panic!("an event is a mapping")
        };
        let keys: Vec<&str> = event.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["EventType", "EventId", "Id"]);
        assert_eq!(id_key("4-12"), (4, 12));
    }
}
