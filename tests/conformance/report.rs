//! The per-requirement report, the counts, and the recorded expectations.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "n.a.",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        match s {
            "pass" => Some(Status::Pass),
            "fail" => Some(Status::Fail),
            "n.a." => Some(Status::NotApplicable),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One requirement's line.
#[derive(Clone, Debug)]
pub struct Line {
    pub id: String,
    pub suite: String,
    pub model: Status,
    pub strict: Status,
    /// The n.a. reason, or the first mismatch (model first, else strict), or notes.
    pub reason: String,
}

/// Counts per suite and in total: (model passed, model failed, strict passed, strict failed, n.a.).
pub fn counts(lines: &[Line]) -> BTreeMap<String, [usize; 5]> {
    let mut out: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for l in lines {
        for key in [l.suite.clone(), "total".to_string()] {
            let c = out.entry(key).or_default();
            match l.model {
                Status::Pass => c[0] += 1,
                Status::Fail => c[1] += 1,
                Status::NotApplicable => c[4] += 1,
            }
            match l.strict {
                Status::Pass => c[2] += 1,
                Status::Fail => c[3] += 1,
                Status::NotApplicable => {}
            }
        }
    }
    out
}

/// The recorded statuses: `{"1-1": {"model": "pass", "strict": "fail"}, ...}`.
pub type Expected = BTreeMap<String, (Status, Status)>;

pub fn read_expected(path: &Path) -> Result<Expected, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Expected::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("{}: not a JSON object", path.display()))?;
    let mut out = Expected::new();
    for (id, entry) in obj {
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(Status::parse)
                .ok_or_else(|| format!("{}: {id}.{k} is not pass, fail or n.a.", path.display()))
        };
        out.insert(id.clone(), (field("model")?, field("strict")?));
    }
    Ok(out)
}

pub fn write_expected(path: &Path, lines: &[Line]) -> Result<(), String> {
    let mut text = String::from("{\n");
    for (i, l) in lines.iter().enumerate() {
        let comma = if i + 1 == lines.len() { "" } else { "," };
        text.push_str(&format!(
            "  \"{}\": {{ \"model\": \"{}\", \"strict\": \"{}\" }}{comma}\n",
            l.id, l.model, l.strict
        ));
    }
    text.push_str("}\n");
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Requirements recorded as passing that fail now, and those that pass now but are not
/// recorded as passing.
pub fn compare(expected: &Expected, lines: &[Line]) -> (Vec<String>, Vec<String>) {
    let mut regressions = Vec::new();
    let mut improvements = Vec::new();
    for l in lines {
        let (model, strict) = expected
            .get(&l.id)
            .copied()
            .unwrap_or((Status::Fail, Status::Fail));
        for (what, was, now) in [("model", model, l.model), ("strict", strict, l.strict)] {
            if was == Status::Pass && now != Status::Pass {
                regressions.push(format!("{} ({what}): {}", l.id, l.reason));
            } else if was != Status::Pass && now == Status::Pass {
                improvements.push(format!("{} ({what})", l.id));
            }
        }
    }
    (regressions, improvements)
}

/// Writes straight to the process's stdout, past the test harness's output capture, so the
/// report shows in CI logs even when the test passes.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
