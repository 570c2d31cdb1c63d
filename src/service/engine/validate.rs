//! Validation of a checkpoint request against the legality rules of operations.md §2, in the
//! runner's order, before anything is applied. Messages are the runner's.

use super::record::ExecutionRecord;
use crate::api::ApiError;
use crate::model::{OperationAction as A, OperationStatus as S, OperationType as T, *};
use std::collections::{HashMap, HashSet};

/// Largest error object (as JSON) a checkpoint may carry.
pub(super) const MAX_ERROR_BYTES: usize = 32_768;
/// Largest chained-invoke input and chained-child output.
pub(super) const MAX_CHAINED_BYTES: usize = 1_048_576;
/// Largest payload of any other update.
pub(super) const MAX_PAYLOAD_BYTES: usize = 6_291_456;

fn invalid(msg: &str) -> ApiError {
    ApiError::invalid(msg)
}

/// Checks the whole request; `chained_child` tightens the EXECUTION output limit.
pub(super) fn validate(
    rec: &ExecutionRecord,
    updates: &[OperationUpdate],
    chained_child: bool,
) -> Result<(), ApiError> {
    if updates.is_empty() {
        return Ok(());
    }
    for u in updates {
        check_shape(u)?;
    }
    let executions = updates.iter().filter(|u| u.op_type == T::Execution).count();
    if executions > 1 {
        return Err(invalid("Cannot checkpoint multiple EXECUTION updates."));
    }
    if executions == 1 && updates.last().is_some_and(|u| u.op_type != T::Execution) {
        return Err(invalid("EXECUTION checkpoint must be the last update."));
    }
    check_ids_and_parents(rec, updates)?;
    let mut first_start: HashMap<&str, &OperationUpdate> = HashMap::new();
    for u in updates {
        if u.op_type == T::Execution {
            check_execution(u, chained_child)?;
            continue;
        }
        let existing = rec.find(&u.id).map(|e| &e.op);
        check_consistency(u, existing, first_start.get(u.id.as_str()).copied())?;
        check_sizes(u)?;
        check_action(u)?;
        check_transition(u, existing)?;
        if u.action == A::Start {
            first_start.entry(u.id.as_str()).or_insert(u);
        }
    }
    Ok(())
}

fn check_shape(u: &OperationUpdate) -> Result<(), ApiError> {
    let simple = |s: &str, max: usize| super::ids::is_simple_name(s, max);
    if !simple(&u.id, 64) {
        return Err(ApiError::invalid(
            "Operation Id must be 1 to 64 characters of [a-zA-Z0-9_-].",
        ));
    }
    if u.parent_id.as_deref().is_some_and(|p| !simple(p, 64)) {
        return Err(ApiError::invalid(
            "ParentId must be 1 to 64 characters of [a-zA-Z0-9_-].",
        ));
    }
    if u.sub_type.as_deref().is_some_and(|s| !simple(s, 32)) {
        return Err(ApiError::invalid(
            "SubType must be 1 to 32 characters of [a-zA-Z0-9_-].",
        ));
    }
    if u.name.as_deref().is_some_and(|n| {
        n.is_empty() || n.len() > 256 || !n.bytes().all(|b| (0x20..=0x7e).contains(&b))
    }) {
        return Err(ApiError::invalid(
            "Name must be 1 to 256 printable ASCII characters.",
        ));
    }
    if let Some(t) = u
        .chained_invoke_options
        .as_ref()
        .and_then(|o| o.tenant_id.as_deref())
    {
        let ok = !t.is_empty()
            && t.len() <= 256
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/=+-@ ".contains(&b));
        if !ok {
            return Err(ApiError::invalid(
                "TenantId must be 1 to 256 characters of [a-zA-Z0-9._:/=+-@ ].",
            ));
        }
    }
    Ok(())
}

fn check_ids_and_parents(
    rec: &ExecutionRecord,
    updates: &[OperationUpdate],
) -> Result<(), ApiError> {
    // id → (occurrences, first action, type)
    let mut seen: HashMap<&str, (u8, A, T)> = HashMap::new();
    let mut new_contexts: HashSet<&str> = HashSet::new();
    for u in updates.iter().filter(|u| u.op_type != T::Execution) {
        match seen.get_mut(u.id.as_str()) {
            None => {
                seen.insert(&u.id, (1, u.action, u.op_type));
            }
            Some((n @ 1, A::Start, T::Step | T::Context)) if u.action != A::Start => *n = 2,
            Some(_) => {
                return Err(invalid(
                    "Cannot checkpoint multiple operations with the same ID.",
                ));
            }
        }
        if let Some(p) = &u.parent_id {
            let existing = rec.find(p).is_some_and(|e| e.op.op_type == T::Context);
            if !existing && !new_contexts.contains(p.as_str()) {
                return Err(invalid("Invalid parent operation id."));
            }
        }
        if u.op_type == T::Context && u.action == A::Start {
            new_contexts.insert(&u.id);
        }
    }
    Ok(())
}

fn check_consistency(
    u: &OperationUpdate,
    existing: Option<&Operation>,
    started: Option<&OperationUpdate>,
) -> Result<(), ApiError> {
    let (op_type, sub_type, name, parent) = match (existing, started) {
        (Some(op), _) => (op.op_type, &op.sub_type, &op.name, &op.parent_id),
        (None, Some(s)) => (s.op_type, &s.sub_type, &s.name, &s.parent_id),
        (None, None) => return Ok(()),
    };
    if u.op_type != op_type {
        return Err(invalid("Inconsistent operation type."));
    }
    if u.sub_type.is_some() && u.sub_type != *sub_type {
        return Err(invalid("Inconsistent operation subtype."));
    }
    if u.name.is_some() && u.name != *name {
        return Err(invalid("Inconsistent operation name."));
    }
    if u.parent_id.is_some() && u.parent_id != *parent {
        return Err(invalid("Inconsistent parent operation id."));
    }
    Ok(())
}

fn error_too_big(e: Option<&ErrorObject>) -> bool {
    e.is_some_and(|e| serde_json::to_vec(e).map_or(true, |v| v.len() > MAX_ERROR_BYTES))
}

fn check_sizes(u: &OperationUpdate) -> Result<(), ApiError> {
    if error_too_big(u.error.as_ref()) {
        return Err(invalid("Error object size must be less than 32768 bytes."));
    }
    let len = u.payload.as_ref().map_or(0, String::len);
    if u.op_type == T::ChainedInvoke && len > MAX_CHAINED_BYTES {
        return Err(invalid(
            "CHAINED_INVOKE input payload size must be less than or equal to 1048576 bytes.",
        ));
    }
    if len > MAX_PAYLOAD_BYTES {
        return Err(invalid(
            "Payload size must be less than or equal to 6291456 bytes.",
        ));
    }
    Ok(())
}

fn check_action(u: &OperationUpdate) -> Result<(), ApiError> {
    let ok = match u.op_type {
        T::Step => matches!(u.action, A::Start | A::Succeed | A::Fail | A::Retry),
        T::Context => matches!(u.action, A::Start | A::Succeed | A::Fail),
        T::Wait => matches!(u.action, A::Start | A::Cancel),
        T::Callback | T::ChainedInvoke => u.action == A::Start,
        T::Execution => matches!(u.action, A::Succeed | A::Fail),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid("Invalid action for the given operation type."))
    }
}

fn check_execution(u: &OperationUpdate, chained_child: bool) -> Result<(), ApiError> {
    if error_too_big(u.error.as_ref()) {
        return Err(invalid("Error object size must be less than 32768 bytes."));
    }
    let len = u.payload.as_ref().map_or(0, String::len);
    if chained_child && len > MAX_CHAINED_BYTES {
        return Err(invalid(
            "Execution output payload size must be less than or equal to 1048576 bytes.",
        ));
    }
    if len > MAX_PAYLOAD_BYTES {
        return Err(invalid(
            "Payload size must be less than or equal to 6291456 bytes.",
        ));
    }
    check_action(u)?;
    no_error_on_succeed(u)?;
    no_payload_on_fail(u)
}

fn no_error_on_succeed(u: &OperationUpdate) -> Result<(), ApiError> {
    if u.action == A::Succeed && u.error.is_some() {
        return Err(invalid("Cannot provide an Error for SUCCEED action."));
    }
    Ok(())
}

fn no_payload_on_fail(u: &OperationUpdate) -> Result<(), ApiError> {
    if u.action == A::Fail && u.payload.is_some() {
        return Err(invalid("Cannot provide a Payload for FAIL action."));
    }
    Ok(())
}

fn check_transition(u: &OperationUpdate, existing: Option<&Operation>) -> Result<(), ApiError> {
    let status = existing.map(|op| op.status);
    match u.op_type {
        T::Step => check_step(u, status),
        T::Context => {
            match (u.action, status) {
                (A::Start, Some(_)) => {
                    return Err(invalid("Cannot start a CONTEXT that already exist."));
                }
                (A::Succeed | A::Fail, Some(s)) if s != S::Started => {
                    return Err(invalid("Invalid current CONTEXT state to close."));
                }
                _ => {}
            }
            no_error_on_succeed(u)?;
            no_payload_on_fail(u)
        }
        T::Wait => match (u.action, status) {
            (A::Start, Some(_)) => Err(invalid("Cannot start a WAIT that already exist.")),
            (A::Cancel, Some(S::Started)) | (A::Start, None) => Ok(()),
            _ => Err(invalid(
                "Cannot cancel a WAIT that does not exist or has already completed.",
            )),
        },
        T::Callback => match status {
            None => Ok(()),
            Some(_) => Err(invalid("Cannot start a CALLBACK that already exist.")),
        },
        T::ChainedInvoke => match status {
            Some(_) => Err(invalid(
                "Cannot start a CHAINED_INVOKE operation that already exists.",
            )),
            None if u.chained_invoke_options.is_none() => Err(invalid(
                "Update for CHAINED_INVOKE operation requires ChainedInvokeOptions.",
            )),
            None => Ok(()),
        },
        T::Execution => Ok(()),
    }
}

fn check_step(u: &OperationUpdate, status: Option<S>) -> Result<(), ApiError> {
    let allowed = match u.action {
        A::Start => matches!(status, None | Some(S::Ready)),
        _ => matches!(status, None | Some(S::Started | S::Ready)),
    };
    if !allowed {
        return Err(invalid(match u.action {
            A::Start => "Invalid current STEP state to start.",
            A::Retry => "Invalid current STEP state to re-attempt.",
            _ => "Invalid current STEP state to close.",
        }));
    }
    // The runner checks the field rules only for operations that already exist.
    if status.is_none() {
        return Ok(());
    }
    match u.action {
        A::Succeed => no_error_on_succeed(u),
        A::Fail => no_payload_on_fail(u),
        A::Retry if u.step_options.is_none() => {
            Err(invalid("Invalid StepOptions for the given action."))
        }
        A::Retry if u.error.is_some() && u.payload.is_some() => Err(invalid(
            "Cannot provide both error and payload to RETRY a STEP.",
        )),
        _ => Ok(()),
    }
}
