//! Retries of durable API calls (spec/invocation.md §5 and §8.4), and the mapping of SDK
//! errors to [`ApiError`].

use crate::api::{ApiError, ErrorCode};
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::Duration;

/// How [`AwsDurableApi`](super::AwsDurableApi) retries failed calls.
///
/// Two kinds of failure are retried inside one invocation:
///
/// * **transient** ones (throttling `429`, `5xx` other than the `KMS*` errors, timeouts and
///   connection failures), up to [`max_attempts`](Self::max_attempts) attempts in all, with
///   exponential backoff from [`initial_delay`](Self::initial_delay) doubling up to
///   [`max_delay`](Self::max_delay). A `Retry-After` longer than `max_delay` is not waited
///   for: the error goes back to the executor, which fails the invocation so the service
///   invokes again later;
/// * **"Invalid checkpoint token"** on CheckpointDurableExecution, up to
///   [`invalid_token_retries`](Self::invalid_token_retries) more times. This is safe because
///   the retry is the identical request: same `CheckpointToken`, same `ClientToken` (set
///   explicitly, never left to the SDK to fill in per attempt), and the service deduplicates
///   by `ClientToken`, so an update that was already applied is not applied twice.
///
/// Whatever is still failing afterwards is returned as [`ApiError`]; its
/// [`is_retryable`](ApiError::is_retryable) then decides between failing the invocation
/// (the service re-invokes) and failing the execution.
///
/// **The SDK's own retries.** aws-sdk-lambda has a retry layer of its own (standard mode,
/// 3 attempts, for clients built from `aws_config`). With [`sdk_retries`](Self::sdk_retries)
/// `false` (the default) every call switches it off through a per-operation config override,
/// so this policy is the only one and attempts do not multiply. With `true` the client's
/// configured SDK retries run inside each of these attempts (up to `max_attempts ×` the
/// SDK's attempts in all); combine it with [`RetryConfig::none`] to keep only the SDK's.
/// The SDK layer knows nothing of stale tokens and retries checkpoints with the same
/// `ClientToken`, so either arrangement is safe; the default is simply easier to reason about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all for transient failures (1 = no retry). Default 3.
    pub max_attempts: u32,
    /// Delay before the first retry. Default 100 ms.
    pub initial_delay: Duration,
    /// Largest delay between attempts. Default 2 s.
    pub max_delay: Duration,
    /// Extra CheckpointDurableExecution attempts on "Invalid checkpoint token". Default 2.
    pub invalid_token_retries: u32,
    /// Keep the SDK client's own retries (see above). Default `false`.
    pub sdk_retries: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            invalid_token_retries: 2,
            sdk_retries: false,
        }
    }
}

impl RetryConfig {
    /// No retries at all in this layer (the SDK's stay off unless `with_sdk_retries(true)`).
    pub fn none() -> Self {
        RetryConfig {
            max_attempts: 1,
            invalid_token_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts) (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff: first delay and cap.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max.max(initial);
        self
    }

    /// Sets [`invalid_token_retries`](Self::invalid_token_retries).
    pub fn with_invalid_token_retries(mut self, retries: u32) -> Self {
        self.invalid_token_retries = retries;
        self
    }

    /// Sets [`sdk_retries`](Self::sdk_retries).
    pub fn with_sdk_retries(mut self, keep: bool) -> Self {
        self.sdk_retries = keep;
        self
    }

    /// The delay before retry number `retry` (1 for the first), before any `Retry-After`.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

/// A failed attempt: the error and whether trying again right away may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ApiError,
    pub(crate) transient: bool,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure {
            error,
            transient: false,
        }
    }
}

/// Maps an SDK error to [`ApiError`], keeping the AWS error code and message.
pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = match ctx.err().code() {
                Some(code) => ErrorCode::parse(code),
                // No X-Amzn-ErrorType and no code in the body: boto3 reports the status.
                None if status == 429 => ErrorCode::TooManyRequests,
                None if status >= 500 => ErrorCode::Service,
                None => ErrorCode::Other(status.to_string()),
            };
            let retry_after_seconds = ctx
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok());
            let transient = matches!(code, ErrorCode::TooManyRequests | ErrorCode::Service)
                || (status >= 500 && !matches!(code, ErrorCode::Kms(_)));
            let message = ctx.err().message().unwrap_or_default().to_string();
            Failure {
                error: ApiError {
                    code,
                    message,
                    retry_after_seconds,
                },
                transient,
            }
        }
        SdkError::ConstructionFailure(_) => Failure {
            // Nothing was sent; sending the same request again cannot help.
            error: ApiError::new(
                ErrorCode::Transport,
                format!("request not sent: {}", DisplayErrorContext(&err)),
            ),
            transient: false,
        },
        _ => Failure {
            // Timeouts, connection failures, undecodable responses.
            error: ApiError::new(ErrorCode::Transport, DisplayErrorContext(&err).to_string()),
            transient: true,
        },
    }
}

/// Which retry rules apply to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Any call: transient failures only.
    Plain,
    /// CheckpointDurableExecution with a fixed ClientToken: also "Invalid checkpoint token".
    Checkpoint,
}

/// Runs `attempt` until it succeeds or the policy gives up.
pub(crate) async fn retrying<T, F, Fut>(
    config: &RetryConfig,
    operation: &'static str,
    kind: CallKind,
    mut attempt: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut transient_failures = 0u32;
    let mut token_failures = 0u32;
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let retry = if kind == CallKind::Checkpoint && failure.error.is_invalid_token() {
            token_failures += 1;
            (token_failures <= config.invalid_token_retries).then(|| config.delay(token_failures))
        } else if failure.transient {
            transient_failures += 1;
            (transient_failures < config.max_attempts)
                .then(|| config.delay(transient_failures))
                .and_then(|delay| match failure.error.retry_after_seconds {
                    Some(secs) if Duration::from_secs(secs) > config.max_delay => None,
                    Some(secs) => Some(delay.max(Duration::from_secs(secs))),
                    None => Some(delay),
                })
        } else {
            None
        };
        let Some(delay) = retry else {
            return Err(failure.error);
        };
        tracing::debug!(
            operation,
            error = %failure.error,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "durable API call failed; retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = RetryConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(350));
        assert_eq!(c.delay(1), Duration::from_millis(100));
        assert_eq!(c.delay(2), Duration::from_millis(200));
        assert_eq!(c.delay(3), Duration::from_millis(350));
        assert_eq!(c.delay(40), Duration::from_millis(350));
    }

    fn fast() -> RetryConfig {
        RetryConfig::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5))
    }

    async fn count(
        config: &RetryConfig,
        kind: CallKind,
        failures: Vec<Failure>,
    ) -> (usize, Result<(), ApiError>) {
        let mut queue = std::collections::VecDeque::from(failures);
        let mut calls = 0;
        let result = retrying(config, "Test", kind, || {
            calls += 1;
            let next = queue.pop_front();
            async move { next.map_or(Ok(()), Err) }
        })
        .await;
        (calls, result)
    }

    fn transient(code: ErrorCode) -> Failure {
        Failure {
            error: ApiError::new(code, "x"),
            transient: true,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_up_to_max_attempts() {
        let (calls, r) = count(
            &fast(),
            CallKind::Plain,
            vec![transient(ErrorCode::Service)],
        )
        .await;
        assert_eq!((calls, r.is_ok()), (2, true));
        let three = vec![
            transient(ErrorCode::Service),
            transient(ErrorCode::Transport),
            transient(ErrorCode::TooManyRequests),
        ];
        let (calls, r) = count(&fast(), CallKind::Plain, three).await;
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err().code, ErrorCode::TooManyRequests);
    }

    #[tokio::test]
    async fn terminal_failures_are_not_retried() {
        let (calls, r) = count(
            &fast(),
            CallKind::Plain,
            vec![ApiError::not_found("gone").into()],
        )
        .await;
        assert_eq!(calls, 1);
        assert_eq!(r.unwrap_err().code, ErrorCode::ResourceNotFound);
    }

    #[tokio::test]
    async fn invalid_token_is_retried_only_for_checkpoints() {
        let stale = || Failure::from(ApiError::invalid_token());
        let (calls, r) = count(&fast(), CallKind::Checkpoint, vec![stale(), stale()]).await;
        assert_eq!((calls, r.is_ok()), (3, true));
        let (calls, r) = count(
            &fast(),
            CallKind::Checkpoint,
            vec![stale(), stale(), stale()],
        )
        .await;
        assert_eq!(calls, 3);
        assert!(r.unwrap_err().is_invalid_token());
        let (calls, _) = count(&fast(), CallKind::Plain, vec![stale()]).await;
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn a_long_retry_after_is_left_to_the_service() {
        let mut throttled = transient(ErrorCode::TooManyRequests);
        throttled.error.retry_after_seconds = Some(60);
        let (calls, r) = count(&fast(), CallKind::Plain, vec![throttled]).await;
        assert_eq!(calls, 1);
        assert_eq!(r.unwrap_err().retry_after_seconds, Some(60));
    }
}
