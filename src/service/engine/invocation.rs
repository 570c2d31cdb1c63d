//! Handler invocations: building the invocation input, and applying what the invocation
//! returned (invocation.md §4, §8.4).

use super::checkpoint::{PAGE_OPS, state_page};
use super::lifecycle::not_found;
use super::tx::Tx;
use super::validate::MAX_CHAINED_BYTES;
use super::{Engine, InvocationOutcome, events, ids};
use crate::api::ApiError;
use crate::model::*;
use crate::service::store::RunningInvocation;

/// PENDING outputs in a row, with nothing pending, after which the execution fails.
const MAX_EMPTY_PENDINGS: u32 = 3;

fn output_error(message: &str) -> ErrorObject {
    ErrorObject::new("InvalidParameterValueException", message)
}

impl Engine {
    /// Begins a handler invocation if the execution is running, not being invoked and needs
    /// an invocation; returns the invocation input (first page of the visible operations).
    pub fn begin_invocation(&mut self, arn: &str) -> Result<Option<InvocationInput>, ApiError> {
        self.expire_if_overdue(arn)?;
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        if !rec.running() || rec.invoking() || !rec.h.needs_invocation {
            return Ok(None);
        }
        self.run(|eng, tx| {
            let Some(rec) = eng.recs.get_mut(arn) else {
                return Ok(None);
            };
            rec.last_checkpoint = None;
            let updated: Vec<String> = rec
                .h
                .service_updated
                .iter()
                .filter_map(|&i| rec.ops.get(i).map(|e| e.op.id.clone()))
                .collect();
            let h = rec.header(tx);
            h.token_seq += 1;
            let token = ids::mint_token(h.token_seq);
            h.service_updated.clear();
            h.needs_invocation = false;
            h.invocation = Some(RunningInvocation {
                id: ids::uuid(),
                input_token: token.clone(),
                token: Some(token.clone()),
                seen_seq: h.change_seq,
                input_seq: h.change_seq,
                began: tx.now,
            });
            let (operations, next_marker) = state_page(rec, 0, PAGE_OPS);
            Ok(Some(InvocationInput {
                durable_execution_arn: arn.to_string(),
                checkpoint_token: token,
                initial_execution_state: Some(InitialExecutionState {
                    operations,
                    next_marker,
                }),
                updated_operation_ids: Some(updated),
            }))
        })
    }

    /// The id of the invocation in flight, if any.
    pub fn invocation_id(&self, arn: &str) -> Option<String> {
        self.recs
            .get(arn)
            .and_then(|r| r.h.invocation.as_ref())
            .map(|i| i.id.clone())
    }

    /// Records how an invocation ended. `invocation` is the invocation id or the token of its
    /// input; an invocation that is not the one in flight is ignored. `started` is when the
    /// driver started it (InvocationCompleted.StartTimestamp).
    pub fn complete_invocation(
        &mut self,
        arn: &str,
        invocation: &str,
        outcome: InvocationOutcome,
        request_id: String,
        started: Timestamp,
    ) -> Result<(), ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        let current = rec
            .h
            .invocation
            .as_ref()
            .is_some_and(|i| i.id == invocation || i.input_token == invocation);
        if !current {
            tracing::debug!(
                arn,
                invocation,
                "ignoring the outcome of an invocation that is not in flight"
            );
            return Ok(());
        }
        self.run(|eng, tx| {
            eng.end_invocation(tx, arn, outcome, request_id, started);
            Ok(())
        })
    }

    fn end_invocation(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        outcome: InvocationOutcome,
        request_id: String,
        started: Timestamp,
    ) {
        let now = tx.now;
        let Some(rec) = self.recs.get_mut(arn) else {
            return;
        };
        let failure = match &outcome {
            InvocationOutcome::Error(e) | InvocationOutcome::Unrecoverable(e) => Some(e),
            InvocationOutcome::Output(_) => None,
        };
        let Some(inv) = rec.header(tx).invocation.take() else {
            return;
        };
        rec.append_event(
            tx,
            events::invocation_completed(started, now, request_id, failure),
        );
        rec.flush_held(tx);
        if !rec.running() {
            return;
        }
        let end = |status, result, error| (status, result, error);
        let verdict = match outcome {
            InvocationOutcome::Output(out) => {
                rec.header(tx).consecutive_failures = 0;
                match out.status {
                    InvocationStatus::Succeeded if out.error.is_some() => Some(end(
                        ExecutionStatus::Failed,
                        None,
                        Some(output_error(
                            "Cannot provide an Error for SUCCEEDED status.",
                        )),
                    )),
                    InvocationStatus::Succeeded
                        if rec.h.parent.is_some()
                            && out
                                .result
                                .as_ref()
                                .is_some_and(|r| r.len() > MAX_CHAINED_BYTES) =>
                    {
                        Some(end(
                            ExecutionStatus::Failed,
                            None,
                            Some(output_error(
                                "Execution output payload size must be less than or equal to 1048576 bytes.",
                            )),
                        ))
                    }
                    InvocationStatus::Succeeded => {
                        Some(end(ExecutionStatus::Succeeded, out.result, None))
                    }
                    InvocationStatus::Failed if out.result.is_some() => Some(end(
                        ExecutionStatus::Failed,
                        None,
                        Some(output_error("Cannot provide a Result for FAILED status.")),
                    )),
                    InvocationStatus::Failed => Some(end(
                        ExecutionStatus::Failed,
                        None,
                        Some(out.error.unwrap_or_default()),
                    )),
                    InvocationStatus::Pending => {
                        let unseen = rec.changed_after(inv.seen_seq).next().is_some();
                        let progressed = rec.h.change_seq > inv.input_seq;
                        let open = rec.open_ops() > 0;
                        let h = rec.header(tx);
                        if unseen || (!open && progressed) {
                            h.empty_pendings = 0;
                            h.needs_invocation = true;
                            None
                        } else if open {
                            h.empty_pendings = 0;
                            None
                        } else {
                            h.empty_pendings += 1;
                            if h.empty_pendings >= MAX_EMPTY_PENDINGS {
                                Some(end(
                                    ExecutionStatus::Failed,
                                    None,
                                    Some(output_error(
                                        "Cannot return PENDING status with no pending operations.",
                                    )),
                                ))
                            } else {
                                h.needs_invocation = true;
                                None
                            }
                        }
                    }
                }
            }
            InvocationOutcome::Error(e) => {
                let max = self.config.max_invocation_failures.max(1);
                let delay = self.config.invocation_retry_delay;
                let h = rec.header(tx);
                h.consecutive_failures += 1;
                if h.consecutive_failures >= max {
                    Some(end(ExecutionStatus::Failed, None, Some(e)))
                } else {
                    h.retry_at = Some(now.add(delay));
                    None
                }
            }
            InvocationOutcome::Unrecoverable(e) => {
                Some(end(ExecutionStatus::Failed, None, Some(e)))
            }
        };
        if let Some((status, result, error)) = verdict {
            self.finish_execution(tx, arn, status, result, error);
        }
    }
}
