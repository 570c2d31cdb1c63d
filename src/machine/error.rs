//! Errors a transition can return, and the control signals that travel as errors.

use crate::api::ApiError;
use crate::model::ErrorObject;
use std::error::Error as StdError;
use std::fmt;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error type of [`Transition::next`](super::Transition::next).
///
/// Any error converts into it with `?`. By default an error is retried with the state's
/// [`RetryStrategy`](super::retry::RetryStrategy); return a [`Terminal`] to fail the execution
/// at once. Awaiting an unfinished operation returns [`Suspend`], which the executor turns
/// into a suspension rather than a failure.
pub struct TransitionError {
    inner: BoxError,
    type_name: &'static str,
}

impl<E: Into<BoxError>> From<E> for TransitionError {
    fn from(e: E) -> Self {
        TransitionError {
            inner: e.into(),
            type_name: short_type_name(std::any::type_name::<E>()),
        }
    }
}

impl fmt::Debug for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

/// What the executor makes of a transition error.
#[derive(Debug)]
pub(crate) enum ErrorClass {
    /// Awaited something unfinished: return PENDING.
    Suspend,
    /// A durable API call inside the transition failed: an invocation-level error.
    Api(ApiError),
    /// A child machine's stored state no longer decodes: an invocation-level error.
    Invocation(String),
    /// Fail the execution now.
    Terminal(ErrorObject),
    /// Ask the retry strategy.
    Retryable(ErrorObject),
}

impl TransitionError {
    /// Wraps an error, keeping its type name for the recorded `ErrorType`.
    pub fn new<E: Into<BoxError>>(e: E) -> Self {
        e.into().into()
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    pub(crate) fn classify(self) -> ErrorClass {
        if self.inner.is::<Suspend>() {
            return ErrorClass::Suspend;
        }
        let inner = match self.inner.downcast::<Terminal>() {
            Ok(t) => return ErrorClass::Terminal(t.0),
            Err(e) => e,
        };
        let inner = match inner.downcast::<CtxError>() {
            Ok(c) => return ErrorClass::Api(c.0),
            Err(e) => e,
        };
        let inner = match inner.downcast::<StepError>() {
            Ok(step) => {
                return match *step {
                    StepError::Failed(e) => ErrorClass::Terminal(e),
                    StepError::Suspended => ErrorClass::Suspend,
                    StepError::Api(e) => ErrorClass::Api(e),
                    StepError::Invocation(message) => ErrorClass::Invocation(message),
                };
            }
            Err(e) => e,
        };
        let type_name =
            if self.type_name == "Box" || self.type_name == "String" || self.type_name == "&str" {
                "Error"
            } else {
                self.type_name
            };
        ErrorClass::Retryable(ErrorObject::new(type_name, inner.to_string()))
    }
}

fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// A failure that must not be retried: the execution fails with this error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminal(pub ErrorObject);

impl Terminal {
    /// A terminal error with a type and a message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Terminal(ErrorObject::new(error_type, message))
    }
}

impl fmt::Display for Terminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
impl StdError for Terminal {}

/// Returned when a transition awaits an operation that has not completed yet.
///
/// Propagate it with `?`: the invocation ends with PENDING and the same state runs again
/// once the service has completed the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspend;

impl fmt::Display for Suspend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("suspended: waiting for a durable operation to complete")
    }
}
impl StdError for Suspend {}

/// A durable API call made through [`Ctx`](super::Ctx) failed; the invocation, not the
/// transition, failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtxError(pub ApiError);

impl fmt::Display for CtxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "durable API call failed: {}", self.0)
    }
}
impl StdError for CtxError {}

/// An at-most-once transition found started but unfinished (recorded as `StepInterrupted`).
#[derive(Debug)]
pub(crate) struct StepInterrupted(pub &'static str);

impl fmt::Display for StepInterrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at-most-once transition `{}` was interrupted before it was recorded; it is not run again",
            self.0
        )
    }
}
impl StdError for StepInterrupted {}

/// Why a durable operation created through [`Ctx`](super::Ctx) gave no value.
///
/// Propagate it with `?`: a failed operation fails the execution (a [`Terminal`] error,
/// running the transition again would meet the same recorded failure), an unfinished one
/// suspends it until the operation completes. Match on it to handle a failure instead.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StepError {
    /// The operation ended in failure (after its retries, if any): its error.
    Failed(ErrorObject),
    /// The operation has not finished yet: the transition runs again when it has.
    Suspended,
    /// A durable API call failed; the invocation fails and the service retries it.
    Api(ApiError),
    /// A child machine's stored state no longer decodes into its type.
    #[doc(hidden)]
    Invocation(String),
}

impl StepError {
    /// The error of a failed operation.
    pub fn failure(&self) -> Option<&ErrorObject> {
        match self {
            StepError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Failed(e) => write!(f, "operation failed: {e}"),
            StepError::Suspended => fmt::Display::fmt(&Suspend, f),
            StepError::Api(e) => write!(f, "durable API call failed: {e}"),
            StepError::Invocation(m) => f.write_str(m),
        }
    }
}
impl StdError for StepError {}

impl From<CtxError> for StepError {
    fn from(e: CtxError) -> Self {
        StepError::Api(e.0)
    }
}

impl From<Suspend> for StepError {
    fn from(_: Suspend) -> Self {
        StepError::Suspended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("card declined")]
    struct PaymentDeclined;

    #[test]
    fn classifies_errors() {
        assert!(matches!(
            TransitionError::from(Suspend).classify(),
            ErrorClass::Suspend
        ));
        match TransitionError::from(Terminal::new("Bad", "no")).classify() {
            ErrorClass::Terminal(e) => assert_eq!(e, ErrorObject::new("Bad", "no")),
            other => panic!("{other:?}"),
        }
        match TransitionError::from(PaymentDeclined).classify() {
            ErrorClass::Retryable(e) => {
                assert_eq!(e, ErrorObject::new("PaymentDeclined", "card declined"))
            }
            other => panic!("{other:?}"),
        }
        match TransitionError::from("plain message").classify() {
            ErrorClass::Retryable(e) => assert_eq!(e, ErrorObject::new("Error", "plain message")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            TransitionError::from(CtxError(ApiError::invalid_token())).classify(),
            ErrorClass::Api(_)
        ));
    }
}
