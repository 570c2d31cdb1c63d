//! Scheduling: firing due timers (WAIT ends, STEP retry times, callback timeouts, execution
//! timeouts, invocation retries), for all executions or, inside a checkpoint, for one.

use super::Engine;
use super::events;
use super::indexes::TimerKind;
use super::tx::Tx;
use crate::api::ApiError;
use crate::model::{
    ErrorObject, ExecutionStatus, OperationStatus as S, OperationType as T, Timestamp,
};
use std::time::Duration;

impl Engine {
    /// Completes everything due at the clock's current time and returns the ARNs that now
    /// need an invocation. A store failure is logged and leaves the timers due.
    pub fn fire_due(&mut self) -> Vec<String> {
        let now = self.clock.now();
        if self.next_due().is_none_or(|t| t > now) {
            return Vec::new();
        }
        let fired = self.run(|eng, tx| {
            while let Some((t, arn, kind)) = eng.ix.timers.first().cloned() {
                if t > tx.now {
                    break;
                }
                eng.ix.timers.remove(&(t, arn.clone(), kind));
                if let Some(rec) = eng.recs.get_mut(&arn) {
                    rec.timer_fired(t, kind);
                }
                eng.fire(tx, &arn, t, kind);
                crate::failpoint::hit("timer.fire");
            }
            // Everything touched, not only the timers' owners: a child's end wakes its parent.
            Ok(tx.touched().map(|t| t.arn.to_string()).collect::<Vec<_>>())
        });
        match fired {
            Ok(mut arns) => {
                arns.sort();
                arns.dedup();
                arns.retain(|a| {
                    self.recs
                        .get(a)
                        .is_some_and(|r| r.running() && r.h.needs_invocation && !r.invoking())
                });
                arns
            }
            Err(e) => {
                tracing::error!(error = %e, "firing due timers failed");
                Vec::new()
            }
        }
    }

    /// Times the execution out now if its deadline has passed, whether or not a driver has
    /// fired the timer yet (a checkpoint or an invocation must not outlive the deadline).
    pub(super) fn expire_if_overdue(&mut self, arn: &str) -> Result<(), ApiError> {
        let now = self.clock.now();
        let overdue = self.recs.get(arn).is_some_and(|r| {
            r.running()
                && r.h
                    .execution_timeout
                    .filter(|&s| s > 0)
                    .is_some_and(|s| r.h.start.add(Duration::from_secs(s.unsigned_abs())) <= now)
        });
        if !overdue {
            return Ok(());
        }
        self.run(|eng, tx| {
            eng.fire(tx, arn, tx.now, TimerKind::ExecutionTimeout);
            Ok(())
        })
    }

    /// Inside a checkpoint: completes this execution's due WAITs and makes its due STEPs
    /// READY, so the response carries them (invocation.md §5.2).
    pub(super) fn fire_due_ops(&mut self, tx: &mut Tx, arn: &str) {
        let Some(rec) = self.recs.get(arn) else {
            return;
        };
        let due: Vec<(Timestamp, TimerKind)> = rec
            .due_op_timers(tx.now)
            .into_iter()
            .filter(|(_, k)| matches!(k, TimerKind::WaitEnd(_) | TimerKind::StepRetry(_)))
            .collect();
        for (t, kind) in due {
            self.ix.timers.remove(&(t, arn.to_string(), kind));
            if let Some(rec) = self.recs.get_mut(arn) {
                rec.timer_fired(t, kind);
            }
            self.fire(tx, arn, t, kind);
        }
    }

    /// Acts on one fired timer if the state it was armed for still holds.
    fn fire(&mut self, tx: &mut Tx, arn: &str, t: Timestamp, kind: TimerKind) {
        let now = tx.now;
        let Some((rec, ix)) = self.rec_mut(arn) else {
            return;
        };
        if !rec.running() {
            return;
        }
        match kind {
            TimerKind::ExecutionTimeout => {
                let secs = rec.h.execution_timeout.unwrap_or(0);
                let error =
                    ErrorObject::message(format!("Execution timed out after {secs} seconds."));
                self.finish_execution(tx, arn, ExecutionStatus::TimedOut, None, Some(error));
            }
            TimerKind::InvocationRetry => {
                if rec.h.retry_at.is_some_and(|r| r <= now) {
                    let h = rec.header(tx);
                    h.retry_at = None;
                    h.needs_invocation = true;
                }
            }
            TimerKind::WaitEnd(idx) => {
                let due = rec.ops.get(idx).is_some_and(|e| {
                    e.op.op_type == T::Wait
                        && e.op.status == S::Started
                        && e.op
                            .wait_details
                            .as_ref()
                            .and_then(|d| d.scheduled_end_timestamp)
                            == Some(t)
                });
                if !due {
                    return;
                }
                rec.update_op(ix, tx, idx, |op, _| {
                    op.status = S::Succeeded;
                    op.end_timestamp = Some(now);
                });
                if let Some(e) = rec.ops.get(idx) {
                    let ev = events::wait_succeeded(&e.op, e.meta.wait_seconds, now);
                    rec.emit_async(tx, ev);
                }
                rec.note_service_change(tx, idx);
            }
            TimerKind::StepRetry(idx) => {
                let due = rec.ops.get(idx).is_some_and(|e| {
                    e.op.op_type == T::Step
                        && e.op.status == S::Pending
                        && e.op
                            .step_details
                            .as_ref()
                            .and_then(|d| d.next_attempt_timestamp)
                            == Some(t)
                });
                if !due {
                    return;
                }
                rec.update_op(ix, tx, idx, |op, _| {
                    op.status = S::Ready;
                    if let Some(d) = &mut op.step_details {
                        d.next_attempt_timestamp = None;
                    }
                });
                rec.note_service_change(tx, idx);
            }
            TimerKind::CallbackTimeout(idx) | TimerKind::CallbackHeartbeat(idx) => {
                let heartbeat = matches!(kind, TimerKind::CallbackHeartbeat(_));
                let due = rec.ops.get(idx).is_some_and(|e| {
                    let deadline = if heartbeat {
                        e.meta.heartbeat_at
                    } else {
                        e.meta.callback_timeout_at
                    };
                    e.op.op_type == T::Callback && e.op.status == S::Started && deadline == Some(t)
                });
                if !due {
                    return;
                }
                let error = if heartbeat {
                    ErrorObject::new("Callback.Heartbeat", "Callback timed out on heartbeat")
                } else {
                    ErrorObject::new("Callback.Timeout", "Callback timed out")
                };
                self.close_callback(tx, arn, idx, S::TimedOut, None, Some(error));
            }
        }
    }
}
