//! Running a child machine inside its CONTEXT, on behalf of `Ctx::child`, `map` and
//! `parallel`.

use super::resume::{Resume, find_resume_point};
use super::{DONE_KEY, DriveEnd, InvocationError, MAX_STATE_BYTES, drive};
use crate::api::ApiError;
use crate::machine::ids::hash_id;
use crate::machine::{CtxBackend, Transition};
use crate::model::*;

/// Writes a child's result with a custom codec.
pub(crate) type Encoder<'e, T> = dyn Fn(&T) -> Result<String, ErrorObject> + Send + Sync + 'e;

/// How a child machine's run in this invocation ended.
pub(crate) enum ChildEnd<T> {
    /// Finished with this output (the CONTEXT's SUCCEED is queued or sent).
    Done(ChildOutput<T>),
    /// Failed (the CONTEXT's FAIL is queued or sent).
    Failed(ErrorObject),
    /// Waiting for something; what it did is checkpointed.
    Pending,
    /// A durable API call failed.
    Api(ApiError),
    /// Its stored state no longer decodes.
    Invalid(String),
}

/// A finished child's output: the value when it finished in this invocation, its JSON when
/// it had finished before.
pub(crate) enum ChildOutput<T> {
    Value(T),
    Json(String),
}

/// Runs child machine `C` in CONTEXT `ctx_id` (already started or queued to start) until it
/// ends or waits. `close` builds an update of that CONTEXT with the given action.
pub(crate) async fn drive_child<C: Transition>(
    b: &mut dyn CtxBackend,
    ctx_id: &str,
    input: C::Input,
    close: &(dyn Fn(OperationAction) -> OperationUpdate + Send + Sync),
    encode: Option<&Encoder<'_, C::Output>>,
) -> ChildEnd<C::Output> {
    let resume = match find_resume_point::<C>(b, Some(ctx_id), || Ok(C::start(input))) {
        Ok(resume) => resume,
        Err(e) => return ChildEnd::Invalid(invalid(e)),
    };
    let point = match resume {
        Resume::At(point) => point,
        Resume::Pending => return ChildEnd::Pending,
        Resume::Finished(Ok(json)) => {
            // The last transition was recorded but the CONTEXT was not closed.
            let mut u = close(OperationAction::Succeed);
            u.payload = Some(json.clone());
            b.defer(vec![u]);
            return ChildEnd::Done(ChildOutput::Json(json));
        }
        Resume::Finished(Err(error)) => {
            let mut u = close(OperationAction::Fail);
            u.error = Some(error.clone());
            b.defer(vec![u]);
            return ChildEnd::Failed(error);
        }
    };
    let placement = super::Placement::Fixed {
        parent: Some(ctx_id.to_string()),
        index: point.index,
    };
    match drive::<C>(b, placement, point, false).await {
        Err(e) => ChildEnd::Invalid(invalid(e)),
        Ok(DriveEnd::Pending) => ChildEnd::Pending,
        Ok(DriveEnd::Api(e)) => ChildEnd::Api(e),
        // `drive` turns a child's continue-as-new into a failure; kept for completeness.
        Ok(DriveEnd::ContinueAsNew { updates, .. }) => {
            fail_child(b, updates, close, super::continuation::in_child::<C>())
        }
        Ok(DriveEnd::Failed { error, mut updates }) => {
            let mut u = close(OperationAction::Fail);
            u.error = Some(error.clone());
            updates.push(u);
            b.defer(updates);
            ChildEnd::Failed(error)
        }
        Ok(DriveEnd::Done {
            output,
            mut updates,
        }) => {
            let encoded = match encode {
                Some(encode) => encode(&output),
                None => serde_json::to_string(&output).map_err(|e| {
                    ErrorObject::new(
                        "SerdesError",
                        format!(
                            "cannot serialize the result of child machine {}: {e}",
                            std::any::type_name::<C>()
                        ),
                    )
                }),
            };
            let json = match encoded {
                Ok(json) => json,
                Err(error) => return fail_child(b, updates, close, error),
            };
            // The last transition's record of the result; the CONTEXT holds the real one.
            let done = if encode.is_some() {
                serde_json::Value::String(json.clone()).to_string()
            } else {
                json.clone()
            };
            if let Some(step) = updates.last_mut() {
                step.payload = Some(if json.len() > MAX_STATE_BYTES {
                    PARTS_MARKER.to_string()
                } else {
                    format!("{{\"{DONE_KEY}\":{done}}}")
                });
            }
            // The result parts go first: the last transition's SUCCEED points at them.
            let last = updates.pop();
            let mut closing = succeed_context(ctx_id, close, json);
            let context = closing.pop();
            updates.extend(closing);
            updates.extend(last);
            updates.extend(context);
            b.defer(updates);
            ChildEnd::Done(ChildOutput::Value(output))
        }
    }
}

/// SubType of the STEP operations that hold the parts of a large CONTEXT result.
pub const RESULT_PART_SUBTYPE: &str = "ResultPart";
/// Largest part of a large result.
const PART_BYTES: usize = 192 * 1024;
/// The payload of a child machine's last transition when its result is in parts.
pub(crate) const PARTS_MARKER: &str = "{\"$done_in_parts\":true}";

/// The updates that close a CONTEXT successfully with the result `json`: a SUCCEED with the
/// result, or, for a result over the checkpoint limit, the result in parts (STEP operations
/// inside the CONTEXT) and a SUCCEED with ReplayChildren, so the service keeps sending the
/// parts. The SUCCEED is last.
pub(crate) fn succeed_context(
    ctx_id: &str,
    close: &(dyn Fn(OperationAction) -> OperationUpdate + Send + Sync),
    json: String,
) -> Vec<OperationUpdate> {
    let mut succeed = close(OperationAction::Succeed);
    if json.len() <= MAX_STATE_BYTES {
        succeed.payload = Some(json);
        return vec![succeed];
    }
    let mut updates = Vec::new();
    let mut rest = json.as_str();
    let mut i = 0u64;
    while !rest.is_empty() {
        let mut end = rest.len().min(PART_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        let id = hash_id(&format!("{ctx_id}-part-{i}"));
        for action in [OperationAction::Start, OperationAction::Succeed] {
            let mut u = OperationUpdate::new(&id, OperationType::Step, action);
            u.parent_id = Some(ctx_id.to_string());
            u.sub_type = Some(RESULT_PART_SUBTYPE.to_string());
            if action == OperationAction::Succeed {
                u.payload = Some(part.to_string());
            }
            updates.push(u);
        }
        rest = tail;
        i += 1;
    }
    succeed.context_options = Some(ContextOptions {
        replay_children: Some(true),
    });
    updates.push(succeed);
    updates
}

/// The result of a CONTEXT that succeeded: its payload, or its parts when it was too large.
pub(crate) fn context_result(b: &dyn CtxBackend, op: &Operation) -> Option<String> {
    let details = op.context_details.as_ref()?;
    if details.replay_children != Some(true) {
        return details.result.clone();
    }
    parts_in(b, &op.id).or_else(|| details.result.clone())
}

/// The concatenated result parts inside CONTEXT `ctx_id`, if any.
pub(crate) fn parts_in(b: &dyn CtxBackend, ctx_id: &str) -> Option<String> {
    let parts: Vec<&Operation> = b
        .children(Some(ctx_id))
        .into_iter()
        .filter(|op| op.sub_type.as_deref() == Some(RESULT_PART_SUBTYPE))
        .collect();
    if parts.is_empty() {
        return None;
    }
    Some(
        parts
            .iter()
            .filter_map(|op| op.step_details.as_ref()?.result.as_deref())
            .collect(),
    )
}

fn fail_child<T>(
    b: &mut dyn CtxBackend,
    mut updates: Vec<OperationUpdate>,
    close: &(dyn Fn(OperationAction) -> OperationUpdate + Send + Sync),
    error: ErrorObject,
) -> ChildEnd<T> {
    if let Some(step) = updates.last_mut() {
        step.action = OperationAction::Fail;
        step.error = Some(error.clone());
        step.payload = None;
    }
    let mut u = close(OperationAction::Fail);
    u.error = Some(error.clone());
    updates.push(u);
    b.defer(updates);
    ChildEnd::Failed(error)
}

fn invalid(e: InvocationError) -> String {
    e.to_string()
}
