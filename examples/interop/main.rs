//! Small durable functions for interop tests, one workflow per function, picked by the
//! function's name: `three-steps`, `with-sleep`, `with-callback`, `retries`, `paged-state`
//! (see `workflows.rs`).
//!
//! The workflow is `$INTEROP_WORKFLOW` when set, else the function's name
//! (`AWS_LAMBDA_FUNCTION_NAME`). On AWS, deploy this binary once per workflow, each function
//! named after its workflow. Under `cargo lambda watch` the name is always `_`: cargo lambda
//! serves an example only as its default function `_` (named functions are looked up among the
//! package's `[[bin]]` targets) and sets `AWS_LAMBDA_FUNCTION_NAME` itself, overriding
//! `--env-var`. So run one `cargo lambda watch` per workflow and choose it with the variable:
//!
//! ```text
//! cargo lambda watch -A 127.0.0.1 -P 9000 --example interop --features lambda \
//!     --env-var INTEROP_WORKFLOW=three-steps \
//!     --env-var AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:5000
//! ```
//!
//! and invoke it as `_` (`POST /2015-03-31/functions/_/invocations`). The book's
//! "Interop with AWS's emulator" chapter has the whole setup.

mod workflows;

use durable_fsm::lambda::run;
use workflows::*;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let name = std::env::var(WORKFLOW_ENV)
        .or_else(|_| std::env::var("AWS_LAMBDA_FUNCTION_NAME"))
        .unwrap_or_default();
    match name.as_str() {
        "three-steps" => run::<ThreeSteps>().await,
        "with-sleep" => run::<WithSleep>().await,
        "with-callback" => run::<WithCallback>().await,
        "retries" => run::<Retries>().await,
        "paged-state" => run::<PagedState>().await,
        other => Err(format!(
            "no interop workflow is named {other:?}: set {WORKFLOW_ENV} or name the function \
             after one of {WORKFLOWS:?}"
        )
        .into()),
    }
}
