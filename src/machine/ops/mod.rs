//! Durable operations a transition creates through [`Ctx`]: steps, waits, chained invokes,
//! wait-for-callback, wait-for-condition, child machines, map and parallel.
//!
//! Every operation gets an id derived from the transition's own id and its order within the
//! transition, so a transition that runs again (after a retry, a crash, or a suspension while
//! it awaited an unfinished operation) finds the operations it created the first time and
//! gets their recorded outcomes instead of doing the work again. An operation that has not
//! finished returns [`StepError::Suspended`]; propagate it with `?` and the transition runs
//! again, from its top, once the operation completes.

mod batch;
mod child;
mod condition;
mod step;

pub use batch::BatchSerdes;
pub use batch::{BatchConfig, BatchItem, BatchResult, CompletionReason, ItemStatus};
pub use condition::{WaitDecision, WaitStrategy};
pub use step::{Serdes, StepConfig, StepInfo, StepSemantics};

use super::ctx::{Ctx, whole_seconds};
use super::error::StepError;
use crate::model::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A name for an operation: `""` means none.
pub(crate) fn op_name(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| name.to_string())
}

/// The recorded error of a finished, unsuccessful operation.
pub(crate) fn failure_of(op: &Operation) -> Option<ErrorObject> {
    let error = match op.op_type {
        OperationType::Step => op.step_details.as_ref().and_then(|d| d.error.clone()),
        OperationType::Callback => op.callback_details.as_ref().and_then(|d| d.error.clone()),
        OperationType::ChainedInvoke => op
            .chained_invoke_details
            .as_ref()
            .and_then(|d| d.error.clone()),
        OperationType::Context => op.context_details.as_ref().and_then(|d| d.error.clone()),
        _ => None,
    };
    match op.status {
        OperationStatus::Failed | OperationStatus::TimedOut => Some(error.unwrap_or_default()),
        OperationStatus::Cancelled | OperationStatus::Stopped => Some(error.unwrap_or_else(|| {
            ErrorObject::new(
                "OperationStopped",
                format!("operation {} was {}", op.id, op.status.as_str()),
            )
        })),
        _ => None,
    }
}

/// Decodes a recorded JSON result; an empty or missing one reads as `null`.
pub(crate) fn decode_json<T: DeserializeOwned>(
    what: &str,
    payload: Option<&str>,
) -> Result<T, StepError> {
    let text = payload.filter(|p| !p.trim().is_empty()).unwrap_or("null");
    serde_json::from_str(text).map_err(|e| {
        StepError::Failed(ErrorObject::new(
            "SerdesError",
            format!("the recorded result of {what} does not deserialize: {e}"),
        ))
    })
}

/// Options of [`Ctx::invoke_with`].
#[derive(Clone, Debug)]
pub struct InvokeConfig<I, O> {
    tenant_id: Option<String>,
    input: Option<Serdes<I>>,
    result: Option<Serdes<O>>,
}

impl<I, O> Default for InvokeConfig<I, O> {
    fn default() -> Self {
        InvokeConfig {
            tenant_id: None,
            input: None,
            result: None,
        }
    }
}

impl<I, O> InvokeConfig<I, O> {
    /// JSON both ways, no tenant.
    pub fn new() -> Self {
        Self::default()
    }

    /// Invoke the target for this tenant (a multi-tenant function).
    pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Send the input written with `serdes` instead of JSON.
    pub fn input_serdes(mut self, serdes: Serdes<I>) -> Self {
        self.input = Some(serdes);
        self
    }

    /// Read the target's result with `serdes` instead of JSON.
    pub fn result_serdes(mut self, serdes: Serdes<O>) -> Self {
        self.result = Some(serdes);
        self
    }
}

impl Ctx<'_> {
    /// A new update for an operation created by this transition, parented to the machine's
    /// CONTEXT.
    pub(crate) fn update(
        &self,
        id: &str,
        op_type: OperationType,
        action: OperationAction,
        sub_type: &str,
        name: &str,
    ) -> OperationUpdate {
        let mut u = OperationUpdate::new(id, op_type, action);
        u.parent_id = self.parent.map(str::to_string);
        u.sub_type = Some(sub_type.to_string());
        u.name = op_name(name);
        u
    }

    /// A durable wait inside a transition (WAIT operation, SubType `Wait`). Returns
    /// [`StepError::Suspended`] until the timer has fired, then `Ok(())` every time the
    /// transition runs again.
    ///
    /// Between states, prefer [`Next::sleep`](crate::Next::sleep); `wait` is for a pause in
    /// the middle of a transition's work.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use std::time::Duration;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Cool { Down }
    /// # impl Transition for Cool { type Input = (); type Output = ();
    /// #   fn start(_: ()) -> Self { Cool::Down }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     ctx.wait("cool-down", Duration::from_secs(30)).await?;
    ///     Ok(Next::done(()))
    /// }
    /// # }
    /// ```
    pub async fn wait(&mut self, name: &str, duration: Duration) -> Result<(), StepError> {
        let id = self.next_op_id();
        match self.recorded(&id, OperationType::Wait) {
            Some(op) if op.status == OperationStatus::Succeeded => Ok(()),
            Some(op) => match failure_of(op) {
                Some(e) => Err(StepError::Failed(e)),
                None => Err(StepError::Suspended),
            },
            None => {
                let mut u = self.update(
                    &id,
                    OperationType::Wait,
                    OperationAction::Start,
                    "Wait",
                    name,
                );
                u.wait_options = Some(WaitOptions {
                    wait_seconds: Some(whole_seconds(duration).max(1)),
                });
                self.backend.defer(vec![u]);
                Err(StepError::Suspended)
            }
        }
    }

    /// Invokes another Lambda function (a chained invoke, CHAINED_INVOKE operation) with
    /// `input` as its JSON payload and returns its JSON result. Suspends until the target has
    /// finished; a failed, timed-out or stopped target returns [`StepError::Failed`].
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Order { Charge { cents: u64 } }
    /// # impl Transition for Order { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Order::Charge { cents: 100 } }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let Order::Charge { cents } = self;
    ///     let receipt: String = ctx.invoke("charge", "payments:live", &cents).await?;
    ///     Ok(Next::done(receipt))
    /// }
    /// # }
    /// ```
    pub async fn invoke<I: Serialize, O: DeserializeOwned>(
        &mut self,
        name: &str,
        function_name: &str,
        input: &I,
    ) -> Result<O, StepError> {
        self.invoke_with(name, function_name, input, InvokeConfig::new())
            .await
    }

    /// [`Ctx::invoke`] with options: the target's tenant, and codecs for the input sent and
    /// the result received.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
    /// # use durable_fsm::machine::ops::InvokeConfig;
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Report { Render }
    /// # impl Transition for Report { type Input = (); type Output = String;
    /// #   fn start(_: ()) -> Self { Report::Render }
    /// async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    ///     let config = InvokeConfig::new().tenant("acme");
    ///     let url: String = ctx.invoke_with("render", "renderer", &"q3", config).await?;
    ///     Ok(Next::done(url))
    /// }
    /// # }
    /// ```
    pub async fn invoke_with<I, O>(
        &mut self,
        name: &str,
        function_name: &str,
        input: &I,
        config: InvokeConfig<I, O>,
    ) -> Result<O, StepError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let id = self.next_op_id();
        let what = format!("chained invoke `{function_name}`");
        if let Some(op) = self.recorded(&id, OperationType::ChainedInvoke) {
            if op.status == OperationStatus::Succeeded {
                let result = op
                    .chained_invoke_details
                    .as_ref()
                    .and_then(|d| d.result.as_deref());
                return match &config.result {
                    Some(serdes) => serdes.decode(result, &what),
                    None => decode_json(&what, result),
                };
            }
            return Err(match failure_of(op) {
                Some(e) => StepError::Failed(e),
                None => StepError::Suspended,
            });
        }
        let payload = match &config.input {
            Some(serdes) => serdes.encode(input, &format!("the input of {what}")),
            None => serde_json::to_string(input).map_err(|e| {
                ErrorObject::new(
                    "SerdesError",
                    format!("cannot serialize the input of {what}: {e}"),
                )
            }),
        }
        .map_err(StepError::Failed)?;
        let mut u = self.update(
            &id,
            OperationType::ChainedInvoke,
            OperationAction::Start,
            "ChainedInvoke",
            name,
        );
        u.payload = Some(payload);
        u.chained_invoke_options = Some(ChainedInvokeOptions {
            function_name: function_name.to_string(),
            tenant_id: config.tenant_id,
            x_amzn_trace_id: None,
        });
        self.backend.defer(vec![u]);
        Err(StepError::Suspended)
    }
}
