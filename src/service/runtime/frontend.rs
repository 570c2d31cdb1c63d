//! The runtime as the HTTP server's [`Frontend`]: Lambda Invoke starts durable executions
//! (spec/api.md §5.1) or calls plain functions; the emulator routes start and list.

use super::RuntimeHandle;
use super::dispatch::function_not_found;
use super::http::{local_request_id, sandbox_timeout};
use super::registry::Registered;
use crate::api::ApiError;
use crate::model::*;
use crate::server::{Frontend, InvocationType, InvokeRequest, InvokeResponse};
use crate::service::{ListExecutions, StartExecution};

/// A function named in a request, resolved against the service's region and account.
struct FunctionRef {
    name: String,
    qualifier: Option<String>,
}

/// Parses a name, `name:qualifier`, `account:function:name[:qualifier]` or a full ARN.
fn parse_function(s: &str, region: &str, account: &str) -> Result<FunctionRef, ApiError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [a, "function", name] if *a == account => (*name, None),
        [a, "function", name, q] if *a == account => (*name, Some(*q)),
        ["arn", _, "lambda", r, a, "function", name] if *r == region && *a == account => {
            (*name, None)
        }
        ["arn", _, "lambda", r, a, "function", name, q] if *r == region && *a == account => {
            (*name, Some(*q))
        }
        _ => {
            return Err(ApiError::not_found(format!(
                "Function not found: {}",
                s.chars().take(200).collect::<String>()
            )));
        }
    };
    let simple = |v: &str| {
        !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !simple(name) {
        return Err(ApiError::invalid(format!(
            "FunctionName must be 1 to 64 characters of [a-zA-Z0-9_-]: {:?}",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
    })
}

/// The body Lambda answers a function error with.
fn error_body(error_type: &str, message: &str) -> Vec<u8> {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
        .to_string()
        .into_bytes()
}

fn function_error(error: &ErrorObject, fallback_type: &str) -> InvokeResponse {
    InvokeResponse {
        status_code: 200,
        payload: error_body(
            error.error_type.as_deref().unwrap_or(fallback_type),
            error.error_message.as_deref().unwrap_or_default(),
        ),
        function_error: Some("Unhandled".into()),
        ..Default::default()
    }
}

/// What the invoked name is.
enum Kind {
    Durable,
    Plain(super::registry::PlainFunction),
    PlainRemote,
}

impl RuntimeHandle {
    fn kind(&self, name: &str, configured_plain: bool) -> Option<Kind> {
        let d = &self.inner.dispatcher;
        match d.registry.get(name) {
            Some(Registered::Durable(..)) => Some(Kind::Durable),
            Some(Registered::Plain(f)) => Some(Kind::Plain(f.clone())),
            None if d.has_endpoint() && configured_plain => Some(Kind::PlainRemote),
            None if d.has_endpoint() => Some(Kind::Durable),
            None => None,
        }
    }

    async fn invoke_durable(
        &self,
        f: FunctionRef,
        req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        let input = if req.payload.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let text = String::from_utf8(req.payload).map_err(|_| {
                ApiError::invalid(
                    "Could not parse request body into json: the payload is not UTF-8.",
                )
            })?;
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                ApiError::invalid(format!("Could not parse request body into json: {e}"))
            })?;
            Some(text)
        };
        let start = StartExecution {
            function_name: f.name,
            qualifier: f.qualifier,
            execution_name: req.durable_execution_name,
            input,
            tenant_id: req.tenant_id,
            ..Default::default()
        };
        let started = self.service.with_engine(|e| e.start_execution(start))??;
        self.service.sync().await?;
        let arn = started.arn;
        if req.invocation_type == InvocationType::Event {
            let version = self.service.lock()?.get_execution(&arn, false)?.version;
            return Ok(InvokeResponse {
                status_code: 202,
                durable_execution_arn: Some(arn),
                executed_version: version,
                ..Default::default()
            });
        }
        let exec = self.wait_for_end(&arn, self.invocation_timeout()).await?;
        let mut out = match exec.status {
            ExecutionStatus::Succeeded => InvokeResponse {
                status_code: 200,
                payload: exec.result.unwrap_or_default().into_bytes(),
                ..Default::default()
            },
            status => function_error(&exec.error.unwrap_or_default(), status.as_str()),
        };
        out.durable_execution_arn = Some(arn);
        out.executed_version = exec.version;
        Ok(out)
    }

    async fn invoke_plain(
        &self,
        f: FunctionRef,
        kind: Kind,
        req: InvokeRequest,
    ) -> Result<InvokeResponse, ApiError> {
        let version = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        let this = self.clone();
        let call = async move {
            let d = &this.inner.dispatcher;
            match (kind, &d.http) {
                (Kind::Plain(handler), _) => d.call_plain(&handler, &req.payload).await,
                (_, Some(Ok(http))) => {
                    http.invoke_plain(&f.name, &version, req.tenant_id.as_deref(), &req.payload)
                        .await
                }
                (_, Some(Err(e))) => Err(ErrorObject::new(
                    "InvalidParameterValueException",
                    e.to_string(),
                )),
                (_, None) => Err(ErrorObject::new(
                    "ResourceNotFoundException",
                    format!("Function not found: {}", f.name),
                )),
            }
        };
        if req.invocation_type == InvocationType::Event {
            tokio::spawn(async move {
                if let Err(e) = call.await {
                    tracing::warn!(error = ?e, "asynchronous invoke of a plain function failed");
                }
            });
            return Ok(InvokeResponse {
                status_code: 202,
                ..Default::default()
            });
        }
        let mut out = match call.await {
            Ok(body) => InvokeResponse {
                status_code: 200,
                payload: body.into_bytes(),
                ..Default::default()
            },
            // A direct invoke that runs too long is Lambda's function timeout, not a
            // chained-invoke timeout.
            Err(e) if e.error_type.as_deref() == Some("ChainedInvoke.Timeout") => {
                let timeout = self.invocation_timeout();
                function_error(&sandbox_timeout(&local_request_id(), timeout), "Unhandled")
            }
            Err(e) => function_error(&e, "Unhandled"),
        };
        out.executed_version = Some("$LATEST".into());
        Ok(out)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
impl Frontend for RuntimeHandle {
    /// A registered workflow, or any function not known as plain when a Lambda endpoint is
    /// configured, is durable: the Invoke starts an execution (named by
    /// `X-Amz-Durable-Execution-Name`; same name and payload → the same execution, another
    /// payload → 409). `Event` answers 202 with the ARN at once; `RequestResponse` waits up
    /// to the invocation timeout for the end and answers the result, or a function error
    /// `{"errorType","errorMessage"}`; `DryRun` answers 204. A plain function is called
    /// directly. Handler invocations (`X-Dex-Handler-Invoke`) are refused: they belong to
    /// the function's endpoint.
    async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        if req.handler_invoke {
            return Err(ApiError::invalid(
                "X-Dex-Handler-Invoke requests run one handler invocation and go to the \
                 function's endpoint; this durable service starts durable executions and \
                 invokes the function itself.",
            ));
        }
        let (region, account, configured_plain, f) = {
            let engine = self.service.lock()?;
            let config = engine.config();
            let mut f = parse_function(&req.function_name, &config.region, &config.account_id)?;
            match (&req.qualifier, &f.qualifier) {
                (Some(a), Some(b)) if a != b => {
                    return Err(ApiError::invalid(
                        "The Qualifier does not match the qualifier in FunctionName.",
                    ));
                }
                (Some(a), None) => f.qualifier = Some(a.clone()),
                _ => {}
            }
            let plain = config
                .functions
                .get(&f.name)
                .is_some_and(|c| c.durable.is_none());
            (config.region.clone(), config.account_id.clone(), plain, f)
        };
        let Some(kind) = self.kind(&f.name, configured_plain) else {
            let e = function_not_found(&region, &account, &f.name);
            return Err(ApiError::not_found(e.error_message.unwrap_or_default()));
        };
        if req.invocation_type == InvocationType::DryRun {
            return Ok(InvokeResponse {
                status_code: 204,
                ..Default::default()
            });
        }
        match kind {
            Kind::Durable => self.invoke_durable(f, req).await,
            plain => self.invoke_plain(f, plain, req).await,
        }
    }

    /// Starts an execution like AWS's runner: an alias qualifier counts as `$LATEST`, input
    /// that is not JSON is taken as a JSON string, 0 timeout or retention means none. The
    /// per-execution `LambdaEndpoint` is not supported (logged and ignored).
    async fn start(
        &self,
        req: StartDurableExecutionRequest,
    ) -> Result<StartDurableExecutionResponse, ApiError> {
        if req.lambda_endpoint.is_some() {
            tracing::warn!(
                "LambdaEndpoint of a start request is ignored: the runtime has one endpoint"
            );
        }
        // AWS's runner reports an alias as $LATEST.
        let qualifier = match req.function_qualifier.as_str() {
            "" => None,
            q if q == "$LATEST.PUBLISHED" || q.bytes().all(|b| b.is_ascii_digit()) => {
                Some(q.to_string())
            }
            _ => Some("$LATEST".to_string()),
        };
        // Like the runner: input that is not JSON is taken as a JSON string.
        let input = req.input.map(|s| {
            if serde_json::from_str::<serde_json::Value>(&s).is_ok() {
                s
            } else {
                serde_json::Value::String(s).to_string()
            }
        });
        let start = StartExecution {
            function_name: req.function_name,
            qualifier,
            execution_name: Some(req.execution_name).filter(|n| !n.is_empty()),
            input,
            execution_timeout_seconds: Some(req.execution_timeout_seconds).filter(|&s| s > 0),
            retention_days: Some(req.execution_retention_period_days).filter(|&d| d > 0),
            invocation_id: req.invocation_id,
            tenant_id: req.tenant_id,
        };
        let started = self.service.with_engine(|e| e.start_execution(start))??;
        self.service.sync().await?;
        Ok(StartDurableExecutionResponse {
            execution_arn: started.arn,
        })
    }

    /// Executions of every function, or of `req.function_name` when it is not empty.
    async fn list_all(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        let list = ListExecutions {
            function_name: Some(req.function_name).filter(|f| !f.is_empty()),
            qualifier: req.qualifier,
            durable_execution_name: req.durable_execution_name,
            statuses: req.statuses,
            started_after: req.started_after,
            started_before: req.started_before,
            reverse_order: req.reverse_order,
            marker: req.marker,
            max_items: req.max_items,
        };
        self.service.lock()?.list_executions(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    #[test]
    fn function_references_resolve_in_this_region_and_account() {
        let f = parse_function("orders", "us-east-1", "123").unwrap();
        assert_eq!((f.name.as_str(), f.qualifier), ("orders", None));
        let f = parse_function(
            "arn:aws:lambda:us-east-1:123:function:orders:7",
            "us-east-1",
            "123",
        )
        .unwrap();
        assert_eq!(
            (f.name.as_str(), f.qualifier.as_deref()),
            ("orders", Some("7"))
        );
        let f = parse_function("123:function:orders", "us-east-1", "123").unwrap();
        assert_eq!(f.name, "orders");
        let e = parse_function(
            "arn:aws:lambda:eu-west-1:123:function:orders",
            "us-east-1",
            "123",
        )
        .err()
        .unwrap();
        assert_eq!(e.code, ErrorCode::ResourceNotFound);
        let e = parse_function("bad name", "us-east-1", "123")
            .err()
            .unwrap();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    }
}
