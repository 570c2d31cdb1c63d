//! Log expectations (spec §6): handlers log through `tracing` with a `durableExecutionArn`
//! field, as the execution-correlated logger of AWS's SDKs does; a small subscriber keeps
//! those records, and the expectations are checked against the records of one execution.

use super::matcher::Context;
use super::spec::V;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// The field that ties a log record to an execution.
pub const ARN_FIELD: &str = "durableExecutionArn";

static RECORDS: Mutex<Vec<Map<String, Value>>> = Mutex::new(Vec::new());

/// Keeps every event that has a `durableExecutionArn` field; ignores everything else.
struct Capture {
    next_span: AtomicU64,
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_event() && metadata.fields().field(ARN_FIELD).is_some() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && metadata.fields().field(ARN_FIELD).is_some()
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        if fields.0.contains_key(ARN_FIELD) {
            let mut records = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
            records.push(fields.0);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Installs the capturing subscriber as the process's default (once; later calls and a
/// default set elsewhere leave things as they are).
pub fn install() {
    let _ = tracing::subscriber::set_global_default(Capture {
        next_span: AtomicU64::new(1),
    });
}

/// The records of execution `arn`, in the order they were logged.
pub fn records(arn: &str) -> Vec<Map<String, Value>> {
    let records = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
    records
        .iter()
        .filter(|r| r.get(ARN_FIELD).and_then(Value::as_str) == Some(arn))
        .cloned()
        .collect()
}

fn value_matches(expected: &V, actual: &Value) -> bool {
    let actual_str = || match actual {
        Value::String(s) => s.trim().to_string(),
        other => super::matcher::python_str(other).trim().to_string(),
    };
    match expected {
        V::Str(e) if e.len() >= 2 && e.starts_with('/') && e.ends_with('/') => {
            regex::Regex::new(&e[1..e.len() - 1]).is_ok_and(|re| re.is_match(&actual_str()))
        }
        V::Str(e) => actual_str() == e.trim(),
        V::Bool(b) => actual.as_bool() == Some(*b),
        V::Int(_) | V::Float(_) => {
            let want = match expected {
                V::Int(i) => *i as f64,
                V::Float(f) => *f,
                _ => f64::NAN,
            };
            actual.as_f64() == Some(want)
        }
        other => super::matcher::python_str(&other.to_json()) == super::matcher::python_str(actual),
    }
}

fn count_of(v: Option<&V>) -> Option<i64> {
    match v {
        Some(V::Int(i)) => Some(*i),
        _ => None,
    }
}

/// Checks `ExpectedLogs` against the records of one execution; returns the first problem.
pub fn check(ctx: &Context, expected: &[V], records: &[Map<String, Value>]) -> Result<(), String> {
    for (i, entry) in expected.iter().enumerate() {
        if entry.get("before").is_some() || entry.get("after").is_some() {
            return Err(format!(
                "ExpectedLogs[{i}]: before/after ordering is not checked"
            ));
        }
        let Some(V::Map(matcher)) = entry.get("match").map(|m| ctx.substitute(m)) else {
            return Err(format!("ExpectedLogs[{i}] has no match mapping"));
        };
        let n = records
            .iter()
            .filter(|r| {
                matcher
                    .iter()
                    .all(|(field, want)| r.get(field).is_some_and(|got| value_matches(want, got)))
            })
            .count() as i64;
        let (exact, min, max) = (
            count_of(entry.get("count")),
            count_of(entry.get("min_count")),
            count_of(entry.get("max_count")),
        );
        let ok = match (exact, min, max) {
            (Some(c), _, _) => n == c,
            (None, None, None) => n >= 1,
            (None, lo, hi) => lo.is_none_or(|lo| n >= lo) && hi.is_none_or(|hi| n <= hi),
        };
        if !ok {
            return Err(format!(
                "ExpectedLogs[{i}] {:?}: {n} matching log record(s), expected count={exact:?} min={min:?} max={max:?}",
                V::Map(matcher).to_json().to_string()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(message: &str) -> Map<String, Value> {
        match json!({ "message": message, ARN_FIELD: "arn" }) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn expect(message: &str, count: Option<i64>) -> V {
        let mut entry = vec![(
            "match".to_string(),
            V::Map(vec![("message".into(), V::Str(message.into()))]),
        )];
        if let Some(c) = count {
            entry.push(("count".into(), V::Int(c)));
        }
        V::Map(entry)
    }

    #[test]
    fn log_expectations_count_regex_and_exact_matches() {
        let vars = vec![("X".to_string(), V::Str("abc".into()))];
        let ctx = Context::with_variables(&vars, 1);
        let records = [
            record("step for: abc"),
            record("  done  "),
            record("step for: abc"),
        ];
        assert!(check(&ctx, &[expect("/for: ${X}/", Some(2))], &records).is_ok());
        assert!(check(&ctx, &[expect("/for: ${X}/", Some(1))], &records).is_err());
        assert!(check(&ctx, &[expect("done", None)], &records).is_ok());
        assert!(check(&ctx, &[expect("/\\[ERROR\\]/", Some(0))], &records).is_ok());
        assert!(check(&ctx, &[expect("missing", None)], &records).is_err());
    }
}
