//! Identifiers the engine mints or parses: ARNs, checkpoint tokens, callback ids, function
//! references and pagination markers.

use crate::api::ApiError;
use uuid::Uuid;

/// Longest checkpoint token the model allows.
#[cfg(test)]
pub(super) const MAX_TOKEN_LEN: usize = 2048;
/// Longest callback id the model allows.
pub(super) const MAX_CALLBACK_ID_LEN: usize = 1024;

/// A new checkpoint token: unguessable (a v4 UUID) and in the base64 alphabet (hex).
pub(super) fn mint_token(seq: u64) -> String {
    format!("{}{seq:x}", Uuid::new_v4().simple())
}

/// A new callback id: unguessable and in the base64 alphabet (hex).
pub(super) fn mint_callback_id() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// A new UUID string (invocation ids, generated names).
pub(super) fn uuid() -> String {
    Uuid::new_v4().to_string()
}

/// Whether `s` is 1..=`max` characters of `[A-Za-z0-9+/]+={0,2}`.
pub(super) fn is_base64_text(s: &str, max: usize) -> bool {
    let body = s.trim_end_matches('=');
    let pad = s.len() - body.len();
    !body.is_empty()
        && s.len() <= max
        && pad <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Whether `s` is 1..=`max` characters of `[a-zA-Z0-9_-]`.
pub(super) fn is_simple_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a `[a-zA-Z0-9_-]{1,max}` parameter, naming the field when it is wrong.
pub(super) fn check_simple_name(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if is_simple_name(value, max) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be 1 to {max} characters of [a-zA-Z0-9_-]: {:?}",
            truncate(value, 80)
        )))
    }
}

/// Whether `q` is a version an execution ARN can carry.
pub(super) fn is_version(q: &str) -> bool {
    q == "$LATEST"
        || q == "$LATEST.PUBLISHED"
        || (!q.is_empty() && q.len() <= 20 && q.bytes().all(|b| b.is_ascii_digit()))
}

/// `arn:aws:lambda:{region}:{account}:function:{fn}:{version}/durable-execution/{name}/{id}`.
pub(super) fn execution_arn(
    region: &str,
    account: &str,
    function: &str,
    version: &str,
    name: &str,
    id: &str,
) -> String {
    format!(
        "arn:aws:lambda:{region}:{account}:function:{function}:{version}/durable-execution/{name}/{id}"
    )
}

/// `arn:aws:lambda:{region}:{account}:function:{fn}[:{version}]`.
pub(super) fn function_arn(
    region: &str,
    account: &str,
    function: &str,
    version: Option<&str>,
) -> String {
    match version {
        Some(v) => format!("arn:aws:lambda:{region}:{account}:function:{function}:{v}"),
        None => format!("arn:aws:lambda:{region}:{account}:function:{function}"),
    }
}

/// A function named by a name, `name:qualifier`, a partial or a full ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FunctionRef {
    /// Bare name.
    pub name: String,
    /// Qualifier, when one was given.
    pub qualifier: Option<String>,
}

/// Parses a function reference in this region and account; `None` when it is malformed or
/// names another region or account.
pub(super) fn parse_function_ref(s: &str, region: &str, account: &str) -> Option<FunctionRef> {
    let parts: Vec<&str> = s.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [acct, "function", name] if *acct == account => (*name, None),
        [acct, "function", name, q] if *acct == account => (*name, Some(*q)),
        ["arn", "aws", "lambda", r, acct, "function", name] if *r == region && *acct == account => {
            (*name, None)
        }
        ["arn", "aws", "lambda", r, acct, "function", name, q]
            if *r == region && *acct == account =>
        {
            (*name, Some(*q))
        }
        _ => return None,
    };
    if !is_simple_name(name, 64) || qualifier.is_some_and(|q| !is_version(q)) {
        return None;
    }
    Some(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
    })
}

/// A decoded pagination marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// GetDurableExecutionState over all visible operations, from this index.
    State { from: usize },
    /// The rest of a checkpoint response: operations changed in `(lo, hi]`, from this index.
    Changed { lo: u64, hi: u64, from: usize },
    /// History, from this EventId (inclusive, in the requested direction).
    History { next: u64 },
    /// A list of executions, from this creation sequence number (inclusive).
    List { next: u64 },
}

impl Marker {
    /// The opaque string form.
    pub fn encode(self) -> String {
        match self {
            Marker::State { from } => format!("s{from:x}"),
            Marker::Changed { lo, hi, from } => format!("c{lo:x}-{hi:x}-{from:x}"),
            Marker::History { next } => format!("h{next:x}"),
            Marker::List { next } => format!("l{next:x}"),
        }
    }

    /// Parses a marker; `ApiError` "Invalid marker" when it is not one of ours.
    pub fn decode(s: &str) -> Result<Marker, ApiError> {
        let hex = |t: &str| {
            u64::from_str_radix(t, 16)
                .ok()
                .filter(|_| !t.starts_with('+'))
        };
        let parsed = match s.split_at_checked(1) {
            Some(("s", rest)) => hex(rest)
                .and_then(|v| usize::try_from(v).ok())
                .map(|from| Marker::State { from }),
            Some(("h", rest)) => hex(rest).map(|next| Marker::History { next }),
            Some(("l", rest)) => hex(rest).map(|next| Marker::List { next }),
            Some(("c", rest)) => {
                let mut it = rest.split('-');
                match (
                    it.next().and_then(hex),
                    it.next().and_then(hex),
                    it.next().and_then(hex),
                    it.next(),
                ) {
                    (Some(lo), Some(hi), Some(from), None) if lo <= hi => usize::try_from(from)
                        .ok()
                        .map(|from| Marker::Changed { lo, hi, from }),
                    _ => None,
                }
            }
            _ => None,
        };
        parsed.ok_or_else(|| ApiError::invalid("Invalid marker"))
    }
}

/// Page size from a request's MaxItems: 0 or absent = 100; above 1000 is rejected.
pub(super) fn page_size(max_items: Option<u32>) -> Result<usize, ApiError> {
    match max_items {
        None | Some(0) => Ok(100),
        Some(n) if n <= 1000 => Ok(n as usize),
        Some(n) => Err(ApiError::invalid(format!(
            "MaxItems must be between 0 and 1000, got {n}."
        ))),
    }
}

/// At most `max` characters of `s`, for error messages.
pub(super) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_callback_ids_use_the_base64_alphabet() {
        let t = mint_token(7);
        assert!(is_base64_text(&t, MAX_TOKEN_LEN), "{t}");
        let c = mint_callback_id();
        assert!(is_base64_text(&c, MAX_CALLBACK_ID_LEN), "{c}");
        assert_ne!(mint_callback_id(), c);
        assert!(is_base64_text("ab+/==", 10));
        assert!(!is_base64_text("ab===", 10));
        assert!(!is_base64_text("a-b", 10));
        assert!(!is_base64_text("", 10));
    }

    #[test]
    fn function_references_parse() {
        let p = |s| parse_function_ref(s, "us-east-1", "123456789012");
        let f = |n: &str, q: Option<&str>| {
            Some(FunctionRef {
                name: n.into(),
                qualifier: q.map(Into::into),
            })
        };
        assert_eq!(p("orders"), f("orders", None));
        assert_eq!(p("orders:$LATEST"), f("orders", Some("$LATEST")));
        assert_eq!(p("123456789012:function:orders:3"), f("orders", Some("3")));
        assert_eq!(
            p("arn:aws:lambda:us-east-1:123456789012:function:orders"),
            f("orders", None)
        );
        assert_eq!(
            p("arn:aws:lambda:eu-west-1:123456789012:function:orders"),
            None
        );
        assert_eq!(p("999999999999:function:orders"), None);
        assert_eq!(p("bad name"), None);
        assert_eq!(p("orders:alias"), None);
    }

    #[test]
    fn markers_round_trip_and_reject_garbage() {
        for m in [
            Marker::State { from: 17 },
            Marker::Changed {
                lo: 1,
                hi: 9,
                from: 300,
            },
            Marker::History { next: 101 },
            Marker::List { next: 0 },
        ] {
            assert_eq!(Marker::decode(&m.encode()), Ok(m));
        }
        for bad in ["", "x1", "s", "sz", "c1-2", "c3-2-1", "c1-2-3-4", "s+1"] {
            assert_eq!(
                Marker::decode(bad).unwrap_err().message,
                "Invalid marker",
                "{bad}"
            );
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None), Ok(100));
        assert_eq!(page_size(Some(0)), Ok(100));
        assert_eq!(page_size(Some(1000)), Ok(1000));
        assert!(page_size(Some(1001)).is_err());
    }
}
