//! Applying validated checkpoint updates (operations.md §2.2 effects, §5 events).

use super::indexes::Indexes;
use super::lifecycle::NewExecution;
use super::record::ExecutionRecord;
use super::tx::Tx;
use super::{Engine, PendingInvoke, events, ids};
use crate::model::{OperationAction as A, OperationStatus as S, OperationType as T, *};
use crate::service::store::{OperationMeta, ParentLink};
use std::time::Duration;

fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0).unsigned_abs())
}

/// A new operation with the update's identity fields.
fn new_op(u: &OperationUpdate, status: S, now: Timestamp) -> Operation {
    let mut op = Operation::new(u.id.clone(), u.op_type, status, now);
    op.parent_id = u.parent_id.clone();
    op.name = u.name.clone();
    op.sub_type = u.sub_type.clone();
    op
}

fn op_at(rec: &ExecutionRecord, idx: usize) -> Option<&Operation> {
    rec.ops.get(idx).map(|e| &e.op)
}

impl Engine {
    /// Applies every update in order; returns whether an EXECUTION update ended the execution.
    pub(super) fn apply_updates(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        updates: Vec<OperationUpdate>,
    ) -> bool {
        let mut ended = false;
        for u in updates {
            match u.op_type {
                T::Execution => {
                    let (status, error) = match u.action {
                        A::Succeed => (ExecutionStatus::Succeeded, None),
                        _ => (ExecutionStatus::Failed, Some(u.error.unwrap_or_default())),
                    };
                    self.finish_execution(tx, arn, status, u.payload, error);
                    ended = true;
                }
                T::ChainedInvoke => self.apply_chained(tx, arn, u),
                _ => {
                    let Some((rec, ix)) = self.rec_mut(arn) else {
                        continue;
                    };
                    match u.op_type {
                        T::Step => apply_step(rec, ix, tx, u),
                        T::Context => apply_context(rec, ix, tx, u),
                        T::Wait => apply_wait(rec, ix, tx, u),
                        _ => apply_callback(rec, ix, tx, u),
                    }
                }
            }
        }
        ended
    }

    fn apply_chained(&mut self, tx: &mut Tx, arn: &str, u: OperationUpdate) {
        let now = tx.now;
        let Some(opts) = u.chained_invoke_options.clone() else {
            return;
        };
        let target = ids::parse_function_ref(
            &opts.function_name,
            &self.config.region,
            &self.config.account_id,
        )
        .and_then(|f| {
            self.config
                .functions
                .get(&f.name)
                .map(|c| (f, c.durable.clone()))
        });
        let Some(idx) = self.recs.get(arn).map(|r| r.ops.len()) else {
            return;
        };
        let mut meta = OperationMeta::default();
        let version = target
            .as_ref()
            .and_then(|(f, _)| f.qualifier.clone())
            .unwrap_or_else(|| "$LATEST".into());
        let mut child_arn = String::new();
        if let Some((f, Some(durable))) = &target {
            let tenant_id = opts
                .tenant_id
                .clone()
                .or_else(|| self.recs.get(arn).and_then(|r| r.h.tenant_id.clone()));
            child_arn = self.create_execution(
                tx,
                NewExecution {
                    function_name: f.name.clone(),
                    version: version.clone(),
                    name: ids::uuid(),
                    op_id: ids::uuid(),
                    input: Some(u.payload.clone().unwrap_or_else(|| "{}".into())),
                    timeout: durable.execution_timeout,
                    retention_days: durable.retention_period_in_days,
                    tenant_id,
                    parent: Some(ParentLink {
                        arn: arn.to_string(),
                        op_index: idx,
                    }),
                },
            );
            meta.child_arn = Some(child_arn.clone());
            meta.child_timeout = durable.execution_timeout;
        }
        let Some((rec, ix)) = self.rec_mut(arn) else {
            return;
        };
        let mut op = new_op(&u, S::Started, now);
        op.chained_invoke_details = Some(ChainedInvokeDetails::default());
        let ev = events::chained_started(
            &op,
            &opts.function_name,
            opts.tenant_id.as_ref(),
            u.payload.as_ref(),
            &version,
            &child_arn,
            now,
        );
        let idx = rec.push_op(ix, tx, op, meta);
        rec.append_event(tx, ev);
        match target {
            None => {
                let error = ErrorObject::new(
                    "ResourceNotFoundException",
                    format!("Function not found: {}.", opts.function_name),
                );
                rec.update_op(ix, tx, idx, |op, _| {
                    op.status = S::Failed;
                    op.end_timestamp = Some(now);
                    op.chained_invoke_details = Some(ChainedInvokeDetails {
                        result: None,
                        error: Some(error.clone()),
                    });
                });
                if let Some(op) = op_at(rec, idx) {
                    let ev = events::chained_ended(op, S::Failed, None, Some(&error), now);
                    rec.append_event(tx, ev);
                }
            }
            Some((f, None)) => ix.plain.push(PendingInvoke {
                parent_arn: arn.to_string(),
                op_id: u.id,
                function_name: f.name,
                qualifier: version,
                payload: u.payload,
                tenant_id: opts.tenant_id,
            }),
            Some((_, Some(_))) => {}
        }
    }
}

fn apply_step(rec: &mut ExecutionRecord, ix: &mut Indexes, tx: &mut Tx, u: OperationUpdate) {
    let now = tx.now;
    let idx = match rec.ids.get(&u.id) {
        Some(&idx) => idx,
        None => {
            let mut op = new_op(&u, S::Started, now);
            op.step_details = Some(StepDetails {
                attempt: Some(0),
                ..Default::default()
            });
            let idx = rec.push_op(ix, tx, op, OperationMeta::default());
            if u.action == A::Start {
                if let Some(op) = op_at(rec, idx) {
                    let ev = events::step_started(op, now);
                    rec.append_event(tx, ev);
                }
                return;
            }
            idx
        }
    };
    let mut attempt = 0;
    let delay = u
        .step_options
        .as_ref()
        .and_then(|o| o.next_attempt_delay_seconds)
        .unwrap_or(0)
        .max(0);
    rec.update_op(ix, tx, idx, |op, _| {
        let d = op.step_details.get_or_insert_with(StepDetails::default);
        let ended = d.attempt.unwrap_or(0).saturating_add(1);
        d.next_attempt_timestamp = None;
        match u.action {
            A::Start => {
                op.status = S::Started;
                d.result = None;
                d.error = None;
                return;
            }
            A::Succeed => {
                op.status = S::Succeeded;
                d.result = u.payload.clone();
                d.error = None;
            }
            A::Fail => {
                op.status = S::Failed;
                d.result = None;
                d.error = Some(u.error.clone().unwrap_or_default());
            }
            _ => {
                op.status = S::Pending;
                d.result = u.payload.clone();
                d.error = u.error.clone();
                d.next_attempt_timestamp = Some(now.add(secs(delay)));
            }
        }
        d.attempt = Some(ended);
        attempt = ended;
        if op.status.is_terminal() {
            op.end_timestamp = Some(now);
        }
    });
    let Some(op) = op_at(rec, idx) else { return };
    let ev = match u.action {
        A::Start => events::step_started(op, now),
        A::Succeed => events::step_succeeded(op, u.payload.as_ref(), attempt, None, now),
        A::Fail => events::step_failed(op, u.error.as_ref(), attempt, None, now),
        _ if u.error.is_some() => {
            events::step_failed(op, u.error.as_ref(), attempt, Some(delay), now)
        }
        _ => events::step_succeeded(op, u.payload.as_ref(), attempt, Some(delay), now),
    };
    rec.append_event(tx, ev);
}

fn apply_context(rec: &mut ExecutionRecord, ix: &mut Indexes, tx: &mut Tx, u: OperationUpdate) {
    let now = tx.now;
    let idx = match rec.ids.get(&u.id) {
        Some(&idx) => idx,
        None => {
            let idx = rec.push_op(
                ix,
                tx,
                new_op(&u, S::Started, now),
                OperationMeta::default(),
            );
            if u.action == A::Start {
                if let Some(op) = op_at(rec, idx) {
                    let ev = events::context_started(op, now);
                    rec.append_event(tx, ev);
                }
                return;
            }
            idx
        }
    };
    let succeed = u.action == A::Succeed;
    rec.update_op(ix, tx, idx, |op, _| {
        op.status = if succeed { S::Succeeded } else { S::Failed };
        op.end_timestamp = Some(now);
        op.context_details = Some(if succeed {
            ContextDetails {
                replay_children: u.context_options.as_ref().and_then(|o| o.replay_children),
                result: u.payload.clone(),
                error: None,
            }
        } else {
            ContextDetails {
                replay_children: None,
                result: None,
                error: Some(u.error.clone().unwrap_or_default()),
            }
        });
    });
    let Some(op) = op_at(rec, idx) else { return };
    let ev = if succeed {
        events::context_succeeded(op, u.payload.as_ref(), now)
    } else {
        events::context_failed(op, u.error.as_ref(), now)
    };
    rec.append_event(tx, ev);
}

fn apply_wait(rec: &mut ExecutionRecord, ix: &mut Indexes, tx: &mut Tx, u: OperationUpdate) {
    let now = tx.now;
    if u.action == A::Start {
        let seconds = u
            .wait_options
            .as_ref()
            .and_then(|o| o.wait_seconds)
            .unwrap_or(0)
            .max(0);
        let end = now.add(secs(seconds));
        let mut op = new_op(&u, S::Started, now);
        op.wait_details = Some(WaitDetails {
            scheduled_end_timestamp: Some(end),
        });
        let ev = events::wait_started(&op, seconds, end, now);
        let meta = OperationMeta {
            wait_seconds: Some(seconds),
            ..Default::default()
        };
        rec.push_op(ix, tx, op, meta);
        rec.append_event(tx, ev);
        return;
    }
    let Some(&idx) = rec.ids.get(&u.id) else {
        return;
    };
    rec.update_op(ix, tx, idx, |op, _| {
        op.status = S::Cancelled;
        op.end_timestamp = Some(now);
    });
    if let Some(op) = op_at(rec, idx) {
        let ev = events::wait_cancelled(op, u.error.as_ref(), now);
        rec.append_event(tx, ev);
    }
}

fn apply_callback(rec: &mut ExecutionRecord, ix: &mut Indexes, tx: &mut Tx, u: OperationUpdate) {
    let now = tx.now;
    let callback_id = ids::mint_callback_id();
    let opts = u.callback_options.clone().unwrap_or_default();
    let positive = |v: Option<i64>| v.filter(|&s| s > 0);
    let (timeout, heartbeat) = (
        positive(opts.timeout_seconds),
        positive(opts.heartbeat_timeout_seconds),
    );
    let meta = OperationMeta {
        callback_timeout: timeout,
        callback_timeout_at: timeout.map(|s| now.add(secs(s))),
        heartbeat_timeout: heartbeat,
        heartbeat_at: heartbeat.map(|s| now.add(secs(s))),
        ..Default::default()
    };
    let mut op = new_op(&u, S::Started, now);
    op.callback_details = Some(CallbackDetails {
        callback_id: Some(callback_id.clone()),
        ..Default::default()
    });
    let ev = events::callback_started(
        &op,
        &callback_id,
        opts.timeout_seconds,
        opts.heartbeat_timeout_seconds,
        now,
    );
    rec.push_op(ix, tx, op, meta);
    rec.append_event(tx, ev);
}
