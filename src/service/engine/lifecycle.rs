//! Execution life cycle: start (idempotent by name), end (succeeded, failed, timed out,
//! stopped) and StopDurableExecution.

use super::ids::{self, check_simple_name};
use super::record::ExecutionRecord;
use super::tx::Tx;
use super::{Engine, StartExecution, Started, events};
use crate::api::{ApiError, ErrorCode};
use crate::model::*;
use crate::service::store::{ExecutionRow, OperationMeta, ParentLink};
use std::collections::BTreeSet;

/// Largest execution input (synchronous Invoke).
const MAX_INPUT_BYTES: usize = 6_291_456;
/// Longest execution timeout the model allows.
const MAX_EXECUTION_TIMEOUT: i64 = 31_622_400;

/// Everything needed to create an execution.
pub(super) struct NewExecution {
    pub function_name: String,
    pub version: String,
    pub name: String,
    pub op_id: String,
    pub input: Option<String>,
    pub timeout: Option<i64>,
    pub retention_days: Option<i64>,
    pub tenant_id: Option<String>,
    pub parent: Option<ParentLink>,
}

impl Engine {
    /// Starts a durable execution, or returns the existing one with the same function, name
    /// and input (`created: false`); the same name with another input is a 409.
    pub fn start_execution(&mut self, req: StartExecution) -> Result<Started, ApiError> {
        check_simple_name("FunctionName", &req.function_name, 64)?;
        let version = req.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        if !ids::is_version(&version) {
            return Err(ApiError::invalid(format!(
                "Qualifier must be $LATEST, $LATEST.PUBLISHED or a version number: {:?}",
                ids::truncate(&version, 40)
            )));
        }
        if let Some(name) = &req.execution_name {
            check_simple_name("DurableExecutionName", name, 64)?;
        }
        if let Some(id) = &req.invocation_id {
            check_simple_name("InvocationId", id, 64)?;
        }
        if req
            .input
            .as_ref()
            .is_some_and(|i| i.len() > MAX_INPUT_BYTES)
        {
            return Err(ApiError::new(
                ErrorCode::RequestTooLarge,
                format!(
                    "Input payload size must be less than or equal to {MAX_INPUT_BYTES} bytes."
                ),
            ));
        }
        if req
            .execution_timeout_seconds
            .is_some_and(|t| !(1..=MAX_EXECUTION_TIMEOUT).contains(&t))
        {
            return Err(ApiError::invalid(format!(
                "ExecutionTimeout must be between 1 and {MAX_EXECUTION_TIMEOUT} seconds."
            )));
        }
        if req.retention_days.is_some_and(|d| !(1..=90).contains(&d)) {
            return Err(ApiError::invalid(
                "RetentionPeriodInDays must be between 1 and 90.",
            ));
        }
        if let Some(name) = &req.execution_name {
            let key = (req.function_name.clone(), name.clone());
            if let Some(rec) = self.ix.by_name.get(&key).and_then(|arn| self.recs.get(arn)) {
                if rec.h.input == req.input {
                    return Ok(Started {
                        arn: rec.h.arn.clone(),
                        created: false,
                    });
                }
                return Err(ApiError::new(
                    ErrorCode::DurableExecutionAlreadyStarted,
                    format!(
                        "Durable execution {name} of function {} already exists with a different input.",
                        req.function_name
                    ),
                ));
            }
        }
        let durable = self
            .config
            .functions
            .get(&req.function_name)
            .and_then(|f| f.durable.clone())
            .unwrap_or_default();
        let new = NewExecution {
            version,
            name: req.execution_name.unwrap_or_else(ids::uuid),
            op_id: req.invocation_id.unwrap_or_else(ids::uuid),
            input: req.input,
            timeout: req.execution_timeout_seconds.or(durable.execution_timeout),
            retention_days: req.retention_days.or(durable.retention_period_in_days),
            tenant_id: req.tenant_id,
            parent: None,
            function_name: req.function_name,
        };
        let arn = self.run(|eng, tx| Ok(eng.create_execution(tx, new)))?;
        Ok(Started { arn, created: true })
    }

    /// Creates an execution (EXECUTION operation, ExecutionStarted event), needing an
    /// invocation at once; returns its ARN.
    pub(super) fn create_execution(&mut self, tx: &mut Tx, n: NewExecution) -> String {
        let (region, account) = (&self.config.region, &self.config.account_id);
        let arn = ids::execution_arn(
            region,
            account,
            &n.function_name,
            &n.version,
            &n.name,
            &n.op_id,
        );
        let ix = &mut self.ix;
        let created_seq = ix.next_created_seq;
        ix.next_created_seq += 1;
        let now = tx.now;
        let mut rec = ExecutionRecord::new(ExecutionRow {
            arn: arn.clone(),
            function_name: n.function_name,
            version: n.version,
            name: n.name,
            execution_op_id: n.op_id.clone(),
            created_seq,
            input: n.input,
            status: ExecutionStatus::Running,
            result: None,
            error: None,
            start: now,
            end: None,
            execution_timeout: n.timeout,
            retention_days: n.retention_days,
            tenant_id: n.tenant_id,
            parent: n.parent,
            invocation: None,
            needs_invocation: true,
            retry_at: None,
            consecutive_failures: 0,
            empty_pendings: 0,
            change_seq: 0,
            token_seq: 0,
            service_updated: BTreeSet::new(),
            held_events: Vec::new(),
        });
        tx.created(&rec);
        let mut op = Operation::new(
            n.op_id,
            OperationType::Execution,
            OperationStatus::Started,
            now,
        );
        op.name = Some(rec.h.name.clone());
        op.execution_details = Some(ExecutionDetails {
            input_payload: rec.h.input.clone(),
        });
        let ev = events::execution_started(
            &op,
            rec.h.input.as_ref(),
            rec.h.execution_timeout.unwrap_or(0),
            now,
        );
        rec.push_op(ix, tx, op, OperationMeta::default());
        rec.append_event(tx, ev);
        ix.by_name.insert(
            (rec.h.function_name.clone(), rec.h.name.clone()),
            arn.clone(),
        );
        ix.by_function
            .entry(rec.h.function_name.clone())
            .or_default()
            .insert(created_seq);
        ix.order.insert(created_seq, arn.clone());
        self.recs.insert(arn.clone(), rec);
        arn
    }

    /// Ends a running execution. Its terminal event is held while an invocation runs (it must
    /// follow that invocation's InvocationCompleted); a chained parent's operation completes.
    pub(super) fn finish_execution(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        status: ExecutionStatus,
        result: Option<String>,
        error: Option<ErrorObject>,
    ) {
        let now = tx.now;
        let Some((rec, ix)) = self.rec_mut(arn) else {
            return;
        };
        if !rec.running() {
            return;
        }
        let h = rec.header(tx);
        h.status = status;
        h.end = Some(now);
        h.result = result.clone();
        h.error = error.clone();
        h.needs_invocation = false;
        h.retry_at = None;
        if let Some(inv) = &mut h.invocation {
            inv.token = None;
        }
        let parent = h.parent.clone();
        let timeout = h.execution_timeout;
        rec.clear_timers(ix);
        let op_status = match status {
            ExecutionStatus::Succeeded => OperationStatus::Succeeded,
            ExecutionStatus::TimedOut => OperationStatus::TimedOut,
            ExecutionStatus::Stopped => OperationStatus::Stopped,
            _ => OperationStatus::Failed,
        };
        if let Some(idx) = rec.ids.get(&rec.h.execution_op_id).copied() {
            rec.update_op(ix, tx, idx, |op, _| {
                op.status = op_status;
                op.end_timestamp = Some(now);
            });
            if let Some(e) = rec.ops.get(idx) {
                let ev =
                    events::execution_ended(&e.op, status, result.as_ref(), error.as_ref(), now);
                rec.emit_async(tx, ev);
            }
        }
        if let Some(p) = parent {
            let (status, result, error) = match status {
                ExecutionStatus::Succeeded => (OperationStatus::Succeeded, result, None),
                ExecutionStatus::TimedOut => (
                    OperationStatus::TimedOut,
                    None,
                    Some(ErrorObject::new(
                        "ChainedInvoke.Timeout",
                        format!(
                            "CHAINED_INVOKE timed out after {} seconds.",
                            timeout.unwrap_or(0)
                        ),
                    )),
                ),
                ExecutionStatus::Stopped => (OperationStatus::Stopped, None, error),
                _ => (OperationStatus::Failed, None, error),
            };
            self.complete_chained(tx, &p.arn, p.op_index, status, result, error);
        }
    }

    /// StopDurableExecution: a running execution becomes STOPPED (default error message
    /// "Execution stopped by user request"); a terminal one reports its end time.
    pub fn stop(
        &mut self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        let rec = self.recs.get(arn).ok_or_else(|| not_found(arn))?;
        if !rec.running() {
            return Ok(StopDurableExecutionResponse {
                stop_timestamp: rec.h.end.unwrap_or(rec.h.start),
            });
        }
        let error =
            error.unwrap_or_else(|| ErrorObject::message("Execution stopped by user request"));
        self.run(|eng, tx| {
            eng.finish_execution(tx, arn, ExecutionStatus::Stopped, None, Some(error));
            Ok(StopDurableExecutionResponse {
                stop_timestamp: tx.now,
            })
        })
    }
}

/// ResourceNotFoundException for an unknown execution.
pub(super) fn not_found(arn: &str) -> ApiError {
    ApiError::not_found(format!(
        "Durable execution not found: {}",
        ids::truncate(arn, 1100)
    ))
}
