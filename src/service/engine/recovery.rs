//! What a driver needs when it takes over a service: failing the invocations no process is
//! running any more, and the per-execution facts it needs to invoke a function.

use super::{Engine, InvocationOutcome, ids};
use crate::api::ApiError;
use crate::model::{ErrorObject, Timestamp};

impl Engine {
    /// Fails every invocation in flight as an invocation error (`InvocationOutcome::Error`
    /// with `error`), so each execution is retried after the retry delay and its history gets
    /// an InvocationCompleted with the error, as AWS records a crashed invocation. For a
    /// driver that takes over a service whose previous driver is gone. Returns the ARNs.
    pub fn fail_invocations_in_flight(
        &mut self,
        error: &ErrorObject,
    ) -> Result<Vec<String>, ApiError> {
        let mut in_flight: Vec<(String, String, Timestamp)> = self
            .recs
            .values()
            .filter_map(|r| {
                let i = r.h.invocation.as_ref()?;
                Some((r.h.arn.clone(), i.id.clone(), i.began))
            })
            .collect();
        in_flight.sort();
        for (arn, id, began) in &in_flight {
            self.complete_invocation(
                arn,
                id,
                InvocationOutcome::Error(error.clone()),
                format!("local-{}", ids::uuid()),
                *began,
            )?;
        }
        Ok(in_flight.into_iter().map(|(arn, _, _)| arn).collect())
    }

    /// The tenant id an execution was started with (sent as `X-Amz-Tenant-Id` on its handler
    /// invocations); `None` for an unknown execution or one without a tenant.
    pub fn tenant_id(&self, arn: &str) -> Option<String> {
        self.recs.get(arn).and_then(|r| r.h.tenant_id.clone())
    }
}
