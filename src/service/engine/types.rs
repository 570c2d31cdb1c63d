//! The engine's own request, result and configuration types (the AWS wire types are in
//! [`crate::model`]).

use crate::model::{DurableConfig, ErrorObject, ExecutionStatus, InvocationOutput, Timestamp};
use std::collections::HashMap;
use std::time::Duration;

/// Configuration of an [`super::Engine`].
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Delay before a failed handler invocation is retried.
    pub invocation_retry_delay: Duration,
    /// Failed invocations in a row after which the execution fails.
    pub max_invocation_failures: u32,
    /// Known functions, by bare name (targets of chained invokes).
    pub functions: HashMap<String, FunctionConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            invocation_retry_delay: Duration::from_secs(5),
            max_invocation_failures: 5,
            functions: HashMap::new(),
        }
    }
}

impl EngineConfig {
    /// Adds a function to the registry.
    pub fn with_function(mut self, name: impl Into<String>, config: FunctionConfig) -> Self {
        self.functions.insert(name.into(), config);
        self
    }
}

/// What the engine knows about a function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Set for a durable function; `None` for a plain one.
    pub durable: Option<DurableConfig>,
}

impl FunctionConfig {
    /// A plain (non-durable) function.
    pub fn plain() -> Self {
        FunctionConfig { durable: None }
    }

    /// A durable function with an execution timeout in seconds.
    pub fn durable(execution_timeout_seconds: i64) -> Self {
        FunctionConfig {
            durable: Some(DurableConfig {
                execution_timeout: Some(execution_timeout_seconds),
                ..Default::default()
            }),
        }
    }
}

/// A request to start a durable execution (what Lambda Invoke does for a durable function).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartExecution {
    /// Bare function name.
    pub function_name: String,
    /// Version; `$LATEST` when absent.
    pub qualifier: Option<String>,
    /// Execution name; a UUID when absent.
    pub execution_name: Option<String>,
    /// Input JSON.
    pub input: Option<String>,
    /// Execution timeout in seconds; the function's DurableConfig, else none.
    pub execution_timeout_seconds: Option<i64>,
    /// Retention in days.
    pub retention_days: Option<i64>,
    /// Id of the EXECUTION operation (last ARN segment); a UUID when absent.
    pub invocation_id: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
}

impl StartExecution {
    /// A start request for `function_name` with `input`.
    pub fn new(function_name: impl Into<String>, input: impl Into<String>) -> Self {
        StartExecution {
            function_name: function_name.into(),
            input: Some(input.into()),
            ..Default::default()
        }
    }

    /// Sets the execution name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.execution_name = Some(name.into());
        self
    }

    /// Sets the execution timeout.
    pub fn timeout_seconds(mut self, seconds: i64) -> Self {
        self.execution_timeout_seconds = Some(seconds);
        self
    }
}

/// The result of [`super::Engine::start_execution`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The execution ARN.
    pub arn: String,
    /// False when an execution with this name and input already existed.
    pub created: bool,
}

/// How a handler invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvocationOutcome {
    /// The handler returned an invocation output.
    Output(InvocationOutput),
    /// The invocation itself failed (crash, timeout, unhandled error): retried later.
    Error(ErrorObject),
    /// The function cannot be invoked at all (not found, unreadable output): the execution
    /// fails at once with this error.
    Unrecoverable(ErrorObject),
}

/// A chained invoke of a plain (non-durable) function that a driver must perform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInvoke {
    /// The execution that invoked.
    pub parent_arn: String,
    /// The CHAINED_INVOKE operation id.
    pub op_id: String,
    /// Bare function name of the target.
    pub function_name: String,
    /// Target version (`$LATEST` unless given).
    pub qualifier: String,
    /// Input JSON.
    pub payload: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
}

/// Filters of [`super::Engine::list_executions`] (all functions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListExecutions {
    /// Only this function (bare name, `name:qualifier`, partial or full ARN).
    pub function_name: Option<String>,
    /// Only this version.
    pub qualifier: Option<String>,
    /// Only executions with this name.
    pub durable_execution_name: Option<String>,
    /// Only these statuses (empty = all).
    pub statuses: Vec<ExecutionStatus>,
    /// Only executions started after this instant.
    pub started_after: Option<Timestamp>,
    /// Only executions started before this instant.
    pub started_before: Option<Timestamp>,
    /// Oldest first when true (default newest first).
    pub reverse_order: Option<bool>,
    /// Where to continue.
    pub marker: Option<String>,
    /// Page size (default 100, max 1000).
    pub max_items: Option<u32>,
}
