//! Completions that come from outside the handler: the callback API and its timeouts, and
//! chained-invoke outcomes (child executions and plain invokes).

use super::ids::{self, MAX_CALLBACK_ID_LEN};
use super::lifecycle::not_found;
use super::tx::Tx;
use super::validate::MAX_CHAINED_BYTES;
use super::{Engine, events};
use crate::api::{ApiError, ErrorCode};
use crate::model::{
    CallbackDetails, ChainedInvokeDetails, ErrorObject, OperationStatus as S, OperationType as T,
};

/// Largest callback success body.
const MAX_CALLBACK_RESULT: usize = 1_048_576;
/// Largest callback failure error (as JSON).
const MAX_CALLBACK_ERROR: usize = 1_048_576;

impl Engine {
    /// Finds a callback that can still be completed.
    fn open_callback(&self, callback_id: &str) -> Result<(String, usize), ApiError> {
        let unknown = || {
            ApiError::not_found(format!(
                "Callback not found: {}",
                ids::truncate(callback_id, 80)
            ))
        };
        if !ids::is_base64_text(callback_id, MAX_CALLBACK_ID_LEN) {
            return Err(unknown());
        }
        let (arn, idx) = self
            .ix
            .callbacks
            .get(callback_id)
            .cloned()
            .ok_or_else(unknown)?;
        let rec = self.recs.get(&arn).ok_or_else(unknown)?;
        let closed = |why: String| {
            ApiError::new(
                ErrorCode::CallbackTimeout,
                format!(
                    "Callback {} can no longer be completed: {why}.",
                    ids::truncate(callback_id, 80)
                ),
            )
        };
        if !rec.running() {
            return Err(closed(format!("its durable execution is {}", rec.h.status)));
        }
        match rec.ops.get(idx) {
            Some(e) if e.op.status == S::Started => Ok((arn, idx)),
            Some(e) => Err(closed(format!("it is {}", e.op.status))),
            None => Err(unknown()),
        }
    }

    /// SendDurableExecutionCallbackSuccess: `result` must be UTF-8 text of at most 1 MiB
    /// (empty = no result).
    pub fn send_callback_success(
        &mut self,
        callback_id: &str,
        result: &[u8],
    ) -> Result<(), ApiError> {
        if result.len() > MAX_CALLBACK_RESULT {
            return Err(ApiError::invalid(format!(
                "Callback result size must be less than or equal to {MAX_CALLBACK_RESULT} bytes."
            )));
        }
        let text = match result {
            [] => None,
            bytes => Some(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::invalid("Callback result must be UTF-8 text."))?,
            ),
        };
        let (arn, idx) = self.open_callback(callback_id)?;
        self.run(|eng, tx| {
            eng.close_callback(tx, &arn, idx, S::Succeeded, text, None);
            crate::failpoint::hit("callback.deliver.applied");
            Ok(())
        })
    }

    /// SendDurableExecutionCallbackFailure.
    pub fn send_callback_failure(
        &mut self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        if serde_json::to_vec(&error).map_or(true, |v| v.len() > MAX_CALLBACK_ERROR) {
            return Err(ApiError::invalid(format!(
                "Callback error size must be less than or equal to {MAX_CALLBACK_ERROR} bytes."
            )));
        }
        let (arn, idx) = self.open_callback(callback_id)?;
        self.run(|eng, tx| {
            eng.close_callback(tx, &arn, idx, S::Failed, None, Some(error));
            Ok(())
        })
    }

    /// SendDurableExecutionCallbackHeartbeat: restarts the heartbeat timer, if the callback
    /// has one.
    pub fn send_callback_heartbeat(&mut self, callback_id: &str) -> Result<(), ApiError> {
        let (arn, idx) = self.open_callback(callback_id)?;
        let has_heartbeat = self
            .recs
            .get(&arn)
            .and_then(|r| r.ops.get(idx))
            .is_some_and(|e| e.meta.heartbeat_timeout.is_some());
        if !has_heartbeat {
            return Ok(());
        }
        self.run(|eng, tx| {
            let now = tx.now;
            if let Some((rec, ix)) = eng.rec_mut(&arn) {
                rec.update_meta(ix, tx, idx, |m| {
                    let secs = m.heartbeat_timeout.unwrap_or(0).max(0).unsigned_abs();
                    m.heartbeat_at = Some(now.add(std::time::Duration::from_secs(secs)));
                });
            }
            Ok(())
        })
    }

    /// Completes a STARTED callback (success, failure or timeout) and asks for an invocation.
    pub(super) fn close_callback(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        idx: usize,
        status: S,
        result: Option<String>,
        error: Option<ErrorObject>,
    ) {
        let now = tx.now;
        let Some((rec, ix)) = self.rec_mut(arn) else {
            return;
        };
        rec.update_op(ix, tx, idx, |op, meta| {
            op.status = status;
            op.end_timestamp = Some(now);
            let d = op
                .callback_details
                .get_or_insert_with(CallbackDetails::default);
            d.result = result.clone();
            d.error = error.clone();
            meta.callback_timeout_at = None;
            meta.heartbeat_at = None;
        });
        if let Some(e) = rec.ops.get(idx) {
            let ev = match (&error, status) {
                (Some(err), S::TimedOut) => events::callback_failed(&e.op, err, true, now),
                (Some(err), _) => events::callback_failed(&e.op, err, false, now),
                (None, _) => events::callback_succeeded(&e.op, result.as_ref(), now),
            };
            rec.emit_async(tx, ev);
        }
        rec.note_service_change(tx, idx);
    }

    /// Completes a STARTED CHAINED_INVOKE operation of a running execution with its target's
    /// outcome; does nothing otherwise.
    pub(super) fn complete_chained(
        &mut self,
        tx: &mut Tx,
        arn: &str,
        idx: usize,
        status: S,
        result: Option<String>,
        error: Option<ErrorObject>,
    ) {
        let now = tx.now;
        let Some((rec, ix)) = self.rec_mut(arn) else {
            return;
        };
        let open = rec
            .ops
            .get(idx)
            .is_some_and(|e| e.op.op_type == T::ChainedInvoke && e.op.status == S::Started);
        if !rec.running() || !open {
            return;
        }
        rec.update_op(ix, tx, idx, |op, _| {
            op.status = status;
            op.end_timestamp = Some(now);
            op.chained_invoke_details = Some(ChainedInvokeDetails {
                result: result.clone(),
                error: error.clone(),
            });
        });
        if let Some(e) = rec.ops.get(idx) {
            let ev = events::chained_ended(&e.op, status, result.as_ref(), error.as_ref(), now);
            rec.emit_async(tx, ev);
        }
        rec.note_service_change(tx, idx);
    }

    /// Reports the outcome of a plain chained invoke taken with
    /// [`Engine::take_plain_invokes`]. An error whose `ErrorType` is `ChainedInvoke.Timeout`
    /// makes the operation TIMED_OUT; any other error FAILED; a result over 1 MiB FAILED.
    /// Ignored when the parent execution has ended meanwhile.
    pub fn complete_plain_invoke(
        &mut self,
        parent_arn: &str,
        op_id: &str,
        outcome: Result<String, ErrorObject>,
    ) -> Result<(), ApiError> {
        let rec = self
            .recs
            .get(parent_arn)
            .ok_or_else(|| not_found(parent_arn))?;
        let idx = rec
            .ids
            .get(op_id)
            .copied()
            .filter(|&i| {
                rec.ops
                    .get(i)
                    .is_some_and(|e| e.op.op_type == T::ChainedInvoke)
            })
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "CHAINED_INVOKE operation not found: {}",
                    ids::truncate(op_id, 80)
                ))
            })?;
        if !rec.running() {
            return Ok(());
        }
        let (status, result, error) = match outcome {
            Ok(r) if r.len() > MAX_CHAINED_BYTES => (
                S::Failed,
                None,
                Some(ErrorObject::new(
                    "RequestTooLargeException",
                    format!(
                        "CHAINED_INVOKE result payload size must be less than or equal to {MAX_CHAINED_BYTES} bytes."
                    ),
                )),
            ),
            Ok(r) => (S::Succeeded, Some(r), None),
            Err(e) if e.error_type.as_deref() == Some("ChainedInvoke.Timeout") => {
                (S::TimedOut, None, Some(e))
            }
            Err(e) => (S::Failed, None, Some(e)),
        };
        self.run(|eng, tx| {
            eng.complete_chained(tx, parent_arn, idx, status, result, error);
            Ok(())
        })
    }
}
