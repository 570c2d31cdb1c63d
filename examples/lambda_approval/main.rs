//! The approval workflow deployed as an AWS Lambda durable function.
//!
//! Build with `cargo lambda build --release --example lambda-approval --features lambda`
//! (or `cargo build --example lambda-approval --features lambda` to check it), deploy with
//! the SAM template beside this file: `sam deploy --guided --template-file
//! examples/lambda_approval/template.yaml`. The book's "Deploying to AWS" chapter walks
//! through it.

#[path = "../approval/workflow.rs"]
mod workflow;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON logs, with the spans the executor opens per invocation and per transition.
    lambda_runtime::tracing::init_default_subscriber();
    durable_fsm::lambda::run::<workflow::Approval>().await
}
