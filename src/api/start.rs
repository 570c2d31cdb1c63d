//! Starting executions: the request and response of [`DurableApi::start_execution`], and
//! execution ARNs taken apart.
//!
//! [`DurableApi::start_execution`]: super::DurableApi::start_execution

use super::ApiError;

/// Starts a durable execution of a function: Lambda `Invoke` with `InvocationType: Event` and
/// a `DurableExecutionName` (spec/api.md §5.1).
///
/// Starting is idempotent by name: the same name with the same input returns the execution
/// that already has it, the same name with another input fails with
/// `DurableExecutionAlreadyStartedException`.
///
/// ```
/// use durable_fsm::api::StartExecutionRequest;
///
/// let req = StartExecutionRequest::new("renewal", "sub-42-g2", r#"{"customer":"c-42"}"#)
///     .qualifier("$LATEST");
/// assert_eq!(req.qualifier.as_deref(), Some("$LATEST"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartExecutionRequest {
    /// The function: a bare name, `name:qualifier`, or a function ARN
    /// (`arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]`).
    pub function_name: String,
    /// The version that runs the execution (`$LATEST`, `$LATEST.PUBLISHED` or a version
    /// number); `None` runs `$LATEST` unless `function_name` carries one.
    pub qualifier: Option<String>,
    /// The execution's name: 1–64 characters of `[a-zA-Z0-9_-]`, unique per function.
    pub execution_name: String,
    /// The execution input, JSON (at most 1 MB: an asynchronous invoke's limit).
    pub input: String,
}

impl StartExecutionRequest {
    /// A request to start `execution_name` of `function_name` with `input`.
    pub fn new(
        function_name: impl Into<String>,
        execution_name: impl Into<String>,
        input: impl Into<String>,
    ) -> Self {
        StartExecutionRequest {
            function_name: function_name.into(),
            qualifier: None,
            execution_name: execution_name.into(),
            input: input.into(),
        }
    }

    /// Runs the execution on this version.
    pub fn qualifier(mut self, qualifier: impl Into<String>) -> Self {
        self.qualifier = Some(qualifier.into());
        self
    }

    /// The bare function name and the qualifier (from [`Self::qualifier`], else from
    /// `function_name`), and the region and account when `function_name` is an ARN.
    pub(crate) fn target(&self) -> Result<FunctionTarget, ApiError> {
        let parts: Vec<&str> = self.function_name.split(':').collect();
        let (name, qualifier, place) = match parts.as_slice() {
            [name] => (*name, None, None),
            [name, q] => (*name, Some(*q), None),
            ["arn", _, "lambda", region, account, "function", name] => {
                (*name, None, Some((*region, *account)))
            }
            ["arn", _, "lambda", region, account, "function", name, q] => {
                (*name, Some(*q), Some((*region, *account)))
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "FunctionName must be a name, name:qualifier or a function ARN: {:?}",
                    self.function_name.chars().take(120).collect::<String>()
                )));
            }
        };
        let qualifier = match (self.qualifier.as_deref(), qualifier) {
            (Some(a), Some(b)) if a != b => {
                return Err(ApiError::invalid(
                    "The Qualifier does not match the qualifier in FunctionName.",
                ));
            }
            (Some(q), _) | (None, Some(q)) => Some(q.to_string()),
            (None, None) => None,
        };
        Ok(FunctionTarget {
            name: name.to_string(),
            qualifier,
            region: place.map(|(r, _)| r.to_string()),
            account: place.map(|(_, a)| a.to_string()),
        })
    }
}

/// A function named by a [`StartExecutionRequest`], taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FunctionTarget {
    pub name: String,
    pub qualifier: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
}

/// The execution [`DurableApi::start_execution`](super::DurableApi::start_execution) started
/// or found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartExecutionResponse {
    /// Its ARN (`X-Amz-Durable-Execution-Arn` of the Invoke response).
    pub durable_execution_arn: String,
}

/// A durable execution ARN taken apart:
/// `arn:{partition}:lambda:{region}:{account}:function:{function}:{version}/durable-execution/{name}/{invocation_id}`.
///
/// ```
/// use durable_fsm::api::ExecutionArn;
///
/// let arn = ExecutionArn::parse(
///     "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/order-42/7c1e5a7e",
/// )
/// .unwrap();
/// assert_eq!((arn.function_name.as_str(), arn.version.as_str()), ("orders", "$LATEST"));
/// assert_eq!(arn.execution_name, "order-42");
/// assert_eq!(arn.function_arn(), "arn:aws:lambda:us-east-1:123456789012:function:orders");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutionArn {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
    /// The region.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
    /// The bare function name.
    pub function_name: String,
    /// The executed version: `$LATEST`, `$LATEST.PUBLISHED` or a number.
    pub version: String,
    /// The execution's name.
    pub execution_name: String,
    /// The id of the EXECUTION operation (the last segment).
    pub invocation_id: String,
}

impl ExecutionArn {
    /// Parses an execution ARN; `InvalidParameterValueException` naming what is wrong.
    pub fn parse(arn: &str) -> Result<Self, ApiError> {
        let bad = |what: &str| {
            ApiError::invalid(format!(
                "not a durable execution ARN ({what}): {:?}",
                arn.chars().take(200).collect::<String>()
            ))
        };
        let (head, tail) = arn
            .split_once("/durable-execution/")
            .ok_or_else(|| bad("no /durable-execution/ segment"))?;
        let (name, id) = tail
            .split_once('/')
            .ok_or_else(|| bad("no invocation id after the execution name"))?;
        let simple = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !simple(name) || !simple(id) {
            return Err(bad(
                "the execution name and id must be 1-64 characters of [a-zA-Z0-9_-]",
            ));
        }
        match head.split(':').collect::<Vec<_>>().as_slice() {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                function,
                version,
            ] if !function.is_empty() && !version.is_empty() => Ok(ExecutionArn {
                partition: (*partition).to_string(),
                region: (*region).to_string(),
                account: (*account).to_string(),
                function_name: (*function).to_string(),
                version: (*version).to_string(),
                execution_name: name.to_string(),
                invocation_id: id.to_string(),
            }),
            _ => Err(bad(
                "expected arn:{partition}:lambda:{region}:{account}:function:{name}:{version}",
            )),
        }
    }

    /// The function's unqualified ARN; its version is [`Self::version`].
    pub fn function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition, self.region, self.account, self.function_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    #[test]
    fn function_targets_resolve_names_and_arns() {
        let t = StartExecutionRequest::new("orders", "n", "{}")
            .target()
            .unwrap();
        assert_eq!((t.name.as_str(), t.qualifier), ("orders", None));
        let t = StartExecutionRequest::new("arn:aws:lambda:eu-west-1:111:function:orders", "n", "")
            .qualifier("7")
            .target()
            .unwrap();
        assert_eq!(
            (t.name.as_str(), t.qualifier.as_deref(), t.region.as_deref()),
            ("orders", Some("7"), Some("eu-west-1"))
        );
        let e = StartExecutionRequest::new("orders:3", "n", "")
            .qualifier("4")
            .target()
            .unwrap_err();
        assert!(e.message.contains("does not match"), "{e}");
        let e = StartExecutionRequest::new("a:b:c", "n", "")
            .target()
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    }

    #[test]
    fn bad_execution_arns_say_what_is_wrong() {
        for (arn, what) in [
            ("arn:aws:lambda:r:a:function:f", "no /durable-execution/"),
            (
                "arn:aws:lambda:r:a:function:f:1/durable-execution/n",
                "no invocation id",
            ),
            (
                "arn:aws:lambda:r:a:function:f/durable-execution/n/i",
                "expected arn:",
            ),
            (
                "arn:aws:lambda:r:a:function:f:1/durable-execution/bad name/i",
                "[a-zA-Z0-9_-]",
            ),
        ] {
            let e = ExecutionArn::parse(arn).unwrap_err();
            assert!(e.message.contains(what), "{arn}: {e}");
        }
    }
}
