//! Choosing where a function runs (the in-process [`Registry`], else the Lambda endpoint)
//! and running one call there, with the invocation timeout and with panics of in-process
//! code turned into invocation errors.

use super::http::{HttpInvoker, InvokerError, local_request_id, sandbox_timeout};
use super::registry::{BoxFuture, PlainFunction, Registered, Registry};
use crate::model::{ErrorObject, InvocationInput};
use crate::service::{InvocationOutcome, LocalService, PendingInvoke};
use serde_json::Value;
use std::any::Any;
use std::time::Duration;
use tokio::task::JoinHandle;

/// An execution ARN taken apart:
/// `arn:aws:lambda:{region}:{account}:function:{function}:{version}/durable-execution/…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExecutionArn {
    pub region: String,
    pub account: String,
    pub function: String,
    pub version: String,
}

impl ExecutionArn {
    pub fn parse(arn: &str) -> Option<Self> {
        let (head, _) = arn.split_once("/durable-execution/")?;
        match head.split(':').collect::<Vec<_>>().as_slice() {
            [
                "arn",
                _,
                "lambda",
                region,
                account,
                "function",
                function,
                version,
            ] => Some(ExecutionArn {
                region: (*region).to_string(),
                account: (*account).to_string(),
                function: (*function).to_string(),
                version: (*version).to_string(),
            }),
            _ => None,
        }
    }
}

/// `ResourceNotFoundException` "Function not found: arn:aws:lambda:…:function:NAME".
pub(crate) fn function_not_found(region: &str, account: &str, function: &str) -> ErrorObject {
    ErrorObject::new(
        "ResourceNotFoundException",
        format!("Function not found: arn:aws:lambda:{region}:{account}:function:{function}"),
    )
}

/// Where functions run, and for how long at most.
pub(crate) struct Dispatcher {
    pub registry: Registry,
    pub http: Option<Result<HttpInvoker, InvokerError>>,
    pub timeout: Duration,
}

/// Aborts the task when dropped (a timed-out or shut-down invocation must not keep running).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How in-process code failed to produce a value.
enum Guarded {
    TimedOut,
    Panicked(String),
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into())
}

/// Runs in-process code on its own task, so a panic stays there, for at most `timeout`.
async fn guarded<T: Send + 'static>(fut: BoxFuture<T>, timeout: Duration) -> Result<T, Guarded> {
    let mut task = AbortOnDrop(tokio::spawn(fut));
    match tokio::time::timeout(timeout, &mut task.0).await {
        Err(_) => Err(Guarded::TimedOut),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.is_panic() => Err(Guarded::Panicked(panic_message(&*e.into_panic()))),
        Ok(Err(_)) => Err(Guarded::Panicked("the task was cancelled".into())),
    }
}

/// A plain function's event: the payload as JSON (`{}` when empty; text that is not JSON
/// as a JSON string).
fn plain_event(payload: &[u8]) -> Result<Value, ErrorObject> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    if let Ok(v) = serde_json::from_slice(payload) {
        return Ok(v);
    }
    std::str::from_utf8(payload)
        .map(|s| Value::String(s.to_string()))
        .map_err(|_| {
            ErrorObject::new(
                "InvalidRequestContentException",
                "Could not parse request body into json: the payload is not UTF-8.",
            )
        })
}

impl Dispatcher {
    fn http(&self) -> Option<Result<&HttpInvoker, ErrorObject>> {
        self.http.as_ref().map(|r| {
            r.as_ref()
                .map_err(|e| ErrorObject::new("InvalidParameterValueException", e.to_string()))
        })
    }

    /// Whether functions not in the registry are invoked over HTTP.
    pub fn has_endpoint(&self) -> bool {
        self.http.is_some()
    }

    /// One handler invocation of the execution `arn`; returns the outcome and the request id
    /// for its InvocationCompleted event.
    pub async fn invoke_execution(
        &self,
        service: &LocalService,
        arn: &str,
        input: InvocationInput,
    ) -> (InvocationOutcome, String) {
        let Some(target) = ExecutionArn::parse(arn) else {
            let error = ErrorObject::new(
                "InvalidParameterValueException",
                format!("Cannot tell the function from the execution ARN {arn}"),
            );
            return (InvocationOutcome::Unrecoverable(error), local_request_id());
        };
        match self.registry.get(&target.function) {
            Some(Registered::Durable(f, _)) => {
                let request_id = local_request_id();
                let fut = f.invoke(service.clone(), input);
                let outcome = match guarded(fut, self.timeout).await {
                    Ok(Ok(output)) => InvocationOutcome::Output(output),
                    Ok(Err(e)) => InvocationOutcome::Error(e.to_error_object()),
                    Err(Guarded::TimedOut) => {
                        InvocationOutcome::Error(sandbox_timeout(&request_id, self.timeout))
                    }
                    Err(Guarded::Panicked(msg)) => InvocationOutcome::Error(ErrorObject::new(
                        "Runtime.ExitError",
                        format!("the handler panicked: {msg}"),
                    )),
                };
                (outcome, request_id)
            }
            Some(Registered::Plain(_)) => {
                let error = ErrorObject::new(
                    "InvalidParameterValueException",
                    format!(
                        "Function {} is registered as a plain function; it cannot run a durable execution.",
                        target.function
                    ),
                );
                (InvocationOutcome::Unrecoverable(error), local_request_id())
            }
            None => match self.http() {
                Some(Ok(http)) => {
                    let tenant = service.lock().ok().and_then(|e| e.tenant_id(arn));
                    http.invoke_handler(
                        &target.function,
                        &target.version,
                        tenant.as_deref(),
                        &input,
                    )
                    .await
                }
                Some(Err(e)) => (InvocationOutcome::Unrecoverable(e), local_request_id()),
                None => {
                    let error =
                        function_not_found(&target.region, &target.account, &target.function);
                    (InvocationOutcome::Unrecoverable(error), local_request_id())
                }
            },
        }
    }

    /// Calls a registered plain function with a raw payload; the result as JSON text.
    pub async fn call_plain(
        &self,
        f: &PlainFunction,
        payload: &[u8],
    ) -> Result<String, ErrorObject> {
        let event = plain_event(payload)?;
        match guarded(f(event), self.timeout).await {
            Ok(Ok(v)) => serde_json::to_string(&v)
                .map_err(|e| ErrorObject::new("Runtime.SerializationError", e.to_string())),
            Ok(Err(e)) => Err(e),
            Err(Guarded::TimedOut) => Err(ErrorObject::new(
                "ChainedInvoke.Timeout",
                format!(
                    "CHAINED_INVOKE timed out after {} seconds.",
                    self.timeout.as_secs()
                ),
            )),
            Err(Guarded::Panicked(msg)) => Err(ErrorObject::new(
                "Runtime.ExitError",
                format!("the function panicked: {msg}"),
            )),
        }
    }

    /// Performs a chained invoke of a plain function (registry, else the endpoint).
    pub async fn invoke_plain(
        &self,
        region: &str,
        account: &str,
        p: &PendingInvoke,
    ) -> Result<String, ErrorObject> {
        let payload = p.payload.as_deref().unwrap_or("{}").as_bytes();
        match self.registry.get(&p.function_name) {
            Some(Registered::Plain(f)) => self.call_plain(f, payload).await,
            Some(Registered::Durable(..)) => Err(ErrorObject::new(
                "InvalidParameterValueException",
                format!(
                    "Function {} is a durable workflow; it cannot be invoked as a plain function.",
                    p.function_name
                ),
            )),
            None => match self.http() {
                Some(Ok(http)) => {
                    http.invoke_plain(
                        &p.function_name,
                        &p.qualifier,
                        p.tenant_id.as_deref(),
                        payload,
                    )
                    .await
                }
                Some(Err(e)) => Err(e),
                None => Err(function_not_found(region, account, &p.function_name)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arns_name_their_function() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/o-1/abc";
        let parsed = ExecutionArn::parse(arn).unwrap();
        assert_eq!(parsed.function, "orders");
        assert_eq!(parsed.version, "$LATEST");
        assert_eq!(parsed.region, "us-east-1");
        assert!(ExecutionArn::parse("uuid/uuid").is_none());
        assert!(
            ExecutionArn::parse("arn:aws:lambda:r:a:function:f/durable-execution/n/i").is_none()
        );
    }

    #[test]
    fn plain_events_are_json() {
        assert_eq!(plain_event(b"").unwrap(), serde_json::json!({}));
        assert_eq!(plain_event(b"[1]").unwrap(), serde_json::json!([1]));
        assert_eq!(
            plain_event(b"hi there").unwrap(),
            serde_json::json!("hi there")
        );
        assert!(plain_event(&[0xff, 0xfe]).is_err());
    }
}
