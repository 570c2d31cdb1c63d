//! Query strings as AWS restJson1 clients send them (spec/api.md §1).
//!
//! Values are percent-decoded, and `+` stays `+`: base64 tokens and markers contain it, and
//! form-style decoding (`+` → space) would corrupt them when a client leaves it unescaped.

use super::error::{HttpError, invalid};
use crate::model::{ExecutionStatus, Timestamp};

/// Percent-decodes `s` without mapping `+` to a space.
///
/// A `%` not followed by two hex digits is kept as is (lenient, like browsers); `None` when
/// the decoded bytes are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded `key=value` pairs of a query string, in order, repeated keys kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Splits on `&` and the first `=` of each pair, then decodes keys and values.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, HttpError> {
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k)
                .ok_or_else(|| invalid("A query parameter name is not valid UTF-8."))?;
            let value = percent_decode(v).ok_or_else(|| {
                invalid(format!(
                    "The value of query parameter {key} is not valid UTF-8."
                ))
            })?;
            pairs.push((key, value));
        }
        Ok(QueryParams { pairs })
    }

    /// The first non-empty value of `key` (an empty value counts as absent).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.all(key).next()
    }

    /// Every non-empty value of `key`, in order.
    pub(crate) fn all<'a, 'k>(
        &'a self,
        key: &'k str,
    ) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
        self.pairs
            .iter()
            .filter(move |(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first value of the first key present among `keys`.
    pub(crate) fn first_of(&self, keys: &[&str]) -> Option<(&str, &str)> {
        keys.iter()
            .find_map(|&k| self.pairs.iter().find(|(pk, v)| pk == k && !v.is_empty()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// An optional string member.
    pub(crate) fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    /// A required string member.
    pub(crate) fn required(&self, key: &str) -> Result<String, HttpError> {
        self.string(key).ok_or_else(|| {
            invalid(format!(
                "1 validation error detected: Value null at '{key}' failed to satisfy \
                 constraint: Member must not be null"
            ))
        })
    }

    /// An optional boolean member (`true`/`false`, any case).
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, HttpError> {
        self.get(key).map(|v| parse_bool(key, v)).transpose()
    }

    /// An optional non-negative integer member.
    pub(crate) fn u32(&self, key: &str) -> Result<Option<u32>, HttpError> {
        self.get(key)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| bad_value(key, v, "a non-negative decimal integer"))
            })
            .transpose()
    }

    /// An optional ISO-8601 / RFC 3339 instant; with `epoch_seconds` a number of seconds since
    /// the epoch is accepted too (the form AWS's emulator takes on its own list route).
    pub(crate) fn timestamp(
        &self,
        key: &str,
        epoch_seconds: bool,
    ) -> Result<Option<Timestamp>, HttpError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        if let Ok(t) = Timestamp::parse_rfc3339(v) {
            return Ok(Some(t));
        }
        let seconds = v.parse::<f64>().ok().filter(|_| epoch_seconds);
        if let Some(t) = seconds.and_then(Timestamp::from_secs_f64) {
            return Ok(Some(t));
        }
        Err(bad_value(
            key,
            v,
            "an ISO-8601 UTC timestamp such as 2025-01-02T03:04:05Z",
        ))
    }

    /// Execution statuses from every value of each of `keys` (repeated keys; a comma-separated
    /// value is split too).
    pub(crate) fn statuses(&self, keys: &[&str]) -> Result<Vec<ExecutionStatus>, HttpError> {
        let mut out = Vec::new();
        for &key in keys {
            for value in self.all(key) {
                for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let status = ExecutionStatus::parse(s).ok_or_else(|| {
                        let allowed: Vec<&str> =
                            ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
                        invalid(format!(
                            "1 validation error detected: Value '{s}' at '{key}' failed to \
                             satisfy constraint: Member must satisfy enum value set: [{}]",
                            allowed.join(", ")
                        ))
                    })?;
                    out.push(status);
                }
            }
        }
        Ok(out)
    }
}

/// Parses a boolean the way AWS serializes them (`true`/`false`), accepting any case.
pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool, HttpError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(bad_value(key, v, "true or false"))
    }
}

fn bad_value(key: &str, value: &str, expected: &str) -> HttpError {
    let shown: String = value.chars().take(64).collect();
    invalid(format!(
        "Invalid value for {key}: expected {expected}, got '{shown}'."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_but_keeps_plus() {
        assert_eq!(percent_decode("a%2Bb+c%3D%3D").as_deref(), Some("a+b+c=="));
        assert_eq!(
            percent_decode("%24LATEST%2fx").as_deref(),
            Some("$LATEST/x")
        );
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn parses_pairs_and_repeats() {
        let q = QueryParams::parse(Some("A=1&B&Statuses=RUNNING&&Statuses=FAILED&C=&A=2")).unwrap();
        assert_eq!(q.get("A"), Some("1"));
        assert_eq!(q.get("B"), None);
        assert_eq!(q.get("C"), None);
        assert_eq!(
            q.statuses(&["Statuses"]).unwrap(),
            [ExecutionStatus::Running, ExecutionStatus::Failed]
        );
        assert!(QueryParams::parse(Some("X=%FF")).is_err());
    }

    #[test]
    fn typed_values() {
        let q = QueryParams::parse(Some(
            "N=12&B=TRUE&T=2025-01-02T03%3A04%3A05.5Z&E=1735787045.5&Bad=x&Neg=-1",
        ))
        .unwrap();
        assert_eq!(q.u32("N").unwrap(), Some(12));
        assert_eq!(q.bool("B").unwrap(), Some(true));
        let t = Timestamp::parse_rfc3339("2025-01-02T03:04:05.5Z").unwrap();
        assert_eq!(q.timestamp("T", false).unwrap(), Some(t));
        assert_eq!(q.timestamp("E", true).unwrap(), Some(t));
        assert!(q.timestamp("E", false).is_err());
        assert!(q.u32("Bad").is_err());
        assert!(q.u32("Neg").is_err());
        assert!(q.bool("Bad").is_err());
        assert_eq!(q.u32("Missing").unwrap(), None);
        let msg = q.u32("Bad").unwrap_err().to_string();
        assert!(msg.contains("Bad"), "{msg}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_queries_never_panic(raw in "[%&=+a-zA-Z0-9\\-:.]{0,60}") {
            if let Ok(q) = QueryParams::parse(Some(&raw)) {
                for key in ["A", "MaxItems", "Statuses", "T"] {
                    let _ = q.u32(key);
                    let _ = q.bool(key);
                    let _ = q.timestamp(key, true);
                    let _ = q.statuses(&[key]);
                }
            }
        }

        #[test]
        fn encoded_text_round_trips(text in "\\PC{0,40}") {
            let encoded: String = text
                .bytes()
                .map(|b| match b.is_ascii_alphanumeric() {
                    true => (b as char).to_string(),
                    false => format!("%{b:02X}"),
                })
                .collect();
            proptest::prop_assert_eq!(percent_decode(&encoded), Some(text));
        }
    }
}
