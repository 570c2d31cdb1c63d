//! The validator's placeholder context, history matcher (spec §5) and result check (§4), with
//! Python's equality.

use super::spec::V;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

static EMBEDDED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("valid regex"));
static WHOLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$\{(.+)\}$").expect("valid regex"));
static REGEX_FORM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\{/(.+)/\}$").expect("valid regex"));
static GEN_STR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\{GEN_STR:(\d+)\}$").expect("valid regex"));

/// Placeholder bindings shared by every phase of one requirement.
#[derive(Clone, Debug, Default)]
pub struct Context {
    bindings: HashMap<String, Value>,
}

impl Context {
    /// Binds the requirement's `Variables` (`${GEN_STR:N}` → random `[a-z0-9]{N}`).
    pub fn with_variables(vars: &[(String, V)], seed: u64) -> Context {
        let mut ctx = Context::default();
        let mut rng = seed ^ 0x9E37_79B9_7F4A_7C15;
        for (name, value) in vars {
            let bound = match value {
                V::Str(s) => match GEN_STR.captures(s) {
                    Some(c) => {
                        let n: usize = c[1].parse().unwrap_or(8);
                        Value::String(random_string(n, &mut rng))
                    }
                    None => Value::String(s.clone()),
                },
                other => Value::String(python_str(&other.to_json())),
            };
            ctx.bindings.insert(name.clone(), bound);
        }
        ctx
    }

    /// Substitutes bound `${NAME}` references inside every string of `v`.
    pub fn substitute(&self, v: &V) -> V {
        if self.bindings.is_empty() {
            return v.clone();
        }
        match v {
            V::Str(s) => V::Str(self.substitute_str(s)),
            V::List(l) => V::List(l.iter().map(|x| self.substitute(x)).collect()),
            V::Map(m) => V::Map(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.substitute(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    pub fn substitute_str(&self, s: &str) -> String {
        EMBEDDED
            .replace_all(s, |c: &regex::Captures<'_>| {
                match self.bindings.get(&c[1]) {
                    Some(v) => python_str(v),
                    None => c[0].to_string(),
                }
            })
            .into_owned()
    }

    /// Matches the expected events against the actual ones by EventId; returns the errors.
    pub fn match_history(&mut self, expected: &[V], actual: &[Value]) -> Vec<String> {
        let mut by_id: HashMap<i64, &Value> = HashMap::new();
        for e in actual {
            if let Some(id) = e.get("EventId").and_then(Value::as_i64) {
                by_id.insert(id, e);
            }
        }
        let mut errors = Vec::new();
        for exp in expected {
            let Some(id) = exp.get("EventId").and_then(|v| match v {
                V::Int(i) => Some(*i),
                _ => None,
            }) else {
                errors.push(format!("expected event without EventId: {exp:?}"));
                continue;
            };
            let Some(act) = by_id.get(&id) else {
                errors.push(format!("No actual event found for EventId={id}"));
                continue;
            };
            self.match_value(exp, act, &format!("Event[EventId={id}]"), &mut errors);
        }
        errors
    }

    fn match_value(&mut self, exp: &V, act: &Value, path: &str, errors: &mut Vec<String>) {
        if let V::Map(m) = exp
            && m.is_empty()
        {
            return;
        }
        if let V::Str(s) = exp {
            if s == "*" {
                return;
            }
            if let Some(c) = REGEX_FORM.captures(s) {
                match Regex::new(&c[1]) {
                    Ok(re) => {
                        let text = python_str(act);
                        if !re.is_match(&text) {
                            errors.push(format!(
                                "{path}: value {text:?} does not match regex pattern {:?}",
                                &c[1]
                            ));
                        }
                    }
                    Err(e) => errors.push(format!("{path}: invalid regex {:?}: {e}", &c[1])),
                }
                return;
            }
            if let Some(c) = WHOLE.captures(s) {
                let name = c[1].to_string();
                match self.bindings.get(&name) {
                    Some(bound) => {
                        if !json_eq(bound, act) {
                            errors.push(format!(
                                "{path}: placeholder ${{{name}}} was previously bound to {bound}, but got {act}"
                            ));
                        }
                    }
                    None => {
                        self.bindings.insert(name, act.clone());
                    }
                }
                return;
            }
        }
        match (exp, act) {
            (V::Map(m), Value::Object(o)) => {
                for (k, e) in m {
                    match o.get(k) {
                        Some(a) => self.match_value(e, a, &format!("{path}.{k}"), errors),
                        None => errors.push(format!("{path}.{k}: key missing in actual event")),
                    }
                }
            }
            (V::List(l), Value::Array(a)) => {
                if l.len() != a.len() {
                    errors.push(format!(
                        "{path}: list length mismatch (expected {}, got {})",
                        l.len(),
                        a.len()
                    ));
                    return;
                }
                for (i, (e, x)) in l.iter().zip(a).enumerate() {
                    self.match_value(e, x, &format!("{path}[{i}]"), errors);
                }
            }
            _ => {
                let resolved = match exp {
                    V::Str(s) => V::Str(self.substitute_str(s)),
                    other => other.clone(),
                };
                if !py_eq(&resolved, act) {
                    errors.push(format!(
                        "{path}: expected {}, got {act}",
                        resolved.to_json()
                    ));
                }
            }
        }
    }
}

/// Python's `expected == actual` between a YAML value and a JSON value.
pub fn py_eq(exp: &V, act: &Value) -> bool {
    match (exp, act) {
        (V::Null, Value::Null) => true,
        (V::Str(a), Value::String(b)) => a == b,
        (V::List(l), Value::Array(a)) => {
            l.len() == a.len() && l.iter().zip(a).all(|(x, y)| py_eq(x, y))
        }
        (V::Map(m), Value::Object(o)) => {
            m.len() == o.len() && m.iter().all(|(k, v)| o.get(k).is_some_and(|a| py_eq(v, a)))
        }
        (V::Bool(_) | V::Int(_) | V::Float(_), Value::Bool(_) | Value::Number(_)) => {
            num_of_v(exp) == num_of_json(act)
        }
        _ => false,
    }
}

/// Python's equality between two JSON values (bindings against actual values).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(_) | Value::Number(_), Value::Bool(_) | Value::Number(_)) => {
            num_of_json(a) == num_of_json(b)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A number as Python compares it (bools are 0 and 1; ints exactly, floats as floats).
#[derive(Debug, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

fn norm(n: Num) -> Num {
    match n {
        Num::Float(f) if f.fract() == 0.0 && f.abs() < 1e18 => Num::Int(f as i128),
        other => other,
    }
}

fn num_of_v(v: &V) -> Option<Num> {
    Some(norm(match v {
        V::Bool(b) => Num::Int(i128::from(*b)),
        V::Int(i) => Num::Int(i128::from(*i)),
        V::Float(f) => Num::Float(*f),
        _ => return None,
    }))
}

fn num_of_json(v: &Value) -> Option<Num> {
    Some(norm(match v {
        Value::Bool(b) => Num::Int(i128::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Num::Int(i128::from(i)),
            (None, Some(u)) => Num::Int(i128::from(u)),
            _ => Num::Float(n.as_f64()?),
        },
        _ => return None,
    }))
}

/// Python's `str()` of a JSON-decoded value.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e16 {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            } else {
                n.to_string()
            }
        }
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    python_repr(&Value::String(k.clone())),
                    python_repr(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        other => python_str(other),
    }
}

fn random_string(n: usize, state: &mut u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            // xorshift64*
            *state ^= *state >> 12;
            *state ^= *state << 25;
            *state ^= *state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            ALPHABET[(r % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// The result check (§4) given the final status and result JSON text.
pub fn check_result(
    ctx: &Context,
    expected_status: Option<&str>,
    expected_result: Option<&V>,
    status: &str,
    result: Option<&str>,
) -> Vec<String> {
    if let Some(want) = expected_status
        && want != status
    {
        return vec![format!("Expected ExecutionStatus={want:?}, got {status:?}")];
    }
    if status != "SUCCEEDED" {
        return Vec::new();
    }
    let Some(expected) = expected_result else {
        return Vec::new();
    };
    let actual = match result {
        None => Value::Null,
        Some(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
    };
    let expected = ctx.substitute(expected);
    if py_eq(&expected, &actual) {
        Vec::new()
    } else {
        vec![format!(
            "Expected Result={}, got {actual}",
            expected.to_json()
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(x: &str) -> V {
        V::Str(x.into())
    }

    #[test]
    fn placeholders_bind_then_compare() {
        let mut ctx = Context::default();
        let exp = vec![
            V::Map(vec![
                ("EventId".into(), V::Int(1)),
                ("Id".into(), s("${ID1}")),
            ]),
            V::Map(vec![
                ("EventId".into(), V::Int(2)),
                ("Id".into(), s("${ID1}")),
            ]),
        ];
        let ok = [
            json!({"EventId": 1, "Id": "a"}),
            json!({"EventId": 2, "Id": "a"}),
        ];
        assert!(ctx.clone().match_history(&exp, &ok).is_empty());
        let bad = [
            json!({"EventId": 1, "Id": "a"}),
            json!({"EventId": 2, "Id": "b"}),
        ];
        assert_eq!(ctx.match_history(&exp, &bad).len(), 1);
    }

    #[test]
    fn wildcards_regex_and_types() {
        let mut ctx = Context::default();
        let exp = vec![V::Map(vec![
            ("EventId".into(), V::Int(3)),
            ("D".into(), V::Map(vec![])),
            ("T".into(), s("*")),
            ("N".into(), s("${/^[0-5]$/}")),
            ("Duration".into(), V::Int(2)),
        ])];
        assert!(
            ctx.match_history(
                &exp,
                &[json!({"EventId": 3, "D": 1, "T": null, "N": 4, "Duration": 2.0})]
            )
            .is_empty()
        );
        // Keys must exist, numbers are not strings, regexes must match.
        let errs = ctx.match_history(
            &exp,
            &[json!({"EventId": 3, "T": 1, "N": 7, "Duration": "2"})],
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(
            ctx.match_history(&exp, &[]),
            vec!["No actual event found for EventId=3".to_string()]
        );
    }

    #[test]
    fn embedded_substitution_and_result_check() {
        let vars = vec![
            ("NAME".to_string(), s("${GEN_STR:6}")),
            ("N".to_string(), V::Int(3)),
        ];
        let ctx = Context::with_variables(&vars, 7);
        let name = match ctx.substitute(&s("${NAME}")) {
            V::Str(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(name.len(), 6);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(
            ctx.substitute(&s("Hello, ${NAME}! ${N} ${X}")),
            s(&format!("Hello, {name}! 3 ${{X}}"))
        );
        let want = V::Map(vec![("count".into(), V::Int(3))]);
        assert!(
            check_result(
                &ctx,
                Some("SUCCEEDED"),
                Some(&want),
                "SUCCEEDED",
                Some(r#"{"count":3.0}"#)
            )
            .is_empty()
        );
        assert_eq!(
            check_result(&ctx, Some("SUCCEEDED"), None, "FAILED", None).len(),
            1
        );
        assert!(check_result(&ctx, None, Some(&s("x")), "SUCCEEDED", Some("x")).is_empty());
        assert_eq!(
            check_result(&ctx, None, Some(&V::Null), "SUCCEEDED", Some("1")).len(),
            1
        );
    }
}
