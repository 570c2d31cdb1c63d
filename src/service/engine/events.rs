//! History event construction (operations.md §5, history-and-conformance.md §1): each event
//! carries its operation's Id/Name/SubType/ParentId and exactly one `<EventType>Details`.

use crate::model::*;

/// An event about `op` with no details yet (EventId is assigned when it is recorded).
fn base(event_type: EventType, op: &Operation, at: Timestamp) -> Event {
    let mut ev = Event::new(event_type, 0, at);
    ev.id = Some(op.id.clone());
    ev.name = op.name.clone();
    ev.sub_type = op.sub_type.clone();
    ev.parent_id = op.parent_id.clone();
    ev
}

fn payload(p: Option<&String>) -> EventPayload {
    EventPayload {
        payload: p.cloned(),
        truncated: Some(false),
    }
}

fn error(e: Option<&ErrorObject>) -> EventError {
    EventError {
        payload: Some(e.cloned().unwrap_or_default()),
        truncated: Some(false),
    }
}

/// ExecutionStarted.
pub(super) fn execution_started(
    op: &Operation,
    input: Option<&String>,
    timeout: i64,
    at: Timestamp,
) -> Event {
    let mut ev = base(EventType::ExecutionStarted, op, at);
    ev.execution_started_details = Some(ExecutionStartedDetails {
        input: Some(payload(input)),
        execution_timeout: Some(timeout),
    });
    ev
}

/// ExecutionSucceeded / Failed / TimedOut / Stopped.
pub(super) fn execution_ended(
    op: &Operation,
    status: ExecutionStatus,
    result: Option<&String>,
    err: Option<&ErrorObject>,
    at: Timestamp,
) -> Event {
    let err_details = || ExecutionErrorDetails {
        error: Some(error(err)),
    };
    match status {
        ExecutionStatus::Succeeded => {
            let mut ev = base(EventType::ExecutionSucceeded, op, at);
            ev.execution_succeeded_details = Some(ExecutionSucceededDetails {
                result: Some(payload(result)),
            });
            ev
        }
        ExecutionStatus::TimedOut => {
            let mut ev = base(EventType::ExecutionTimedOut, op, at);
            ev.execution_timed_out_details = Some(err_details());
            ev
        }
        ExecutionStatus::Stopped => {
            let mut ev = base(EventType::ExecutionStopped, op, at);
            ev.execution_stopped_details = Some(err_details());
            ev
        }
        _ => {
            let mut ev = base(EventType::ExecutionFailed, op, at);
            ev.execution_failed_details = Some(err_details());
            ev
        }
    }
}

/// InvocationCompleted (no operation fields).
pub(super) fn invocation_completed(
    start: Timestamp,
    end: Timestamp,
    request_id: String,
    err: Option<&ErrorObject>,
) -> Event {
    let mut ev = Event::new(EventType::InvocationCompleted, 0, end);
    ev.invocation_completed_details = Some(InvocationCompletedDetails {
        start_timestamp: Some(start),
        end_timestamp: Some(end),
        request_id: Some(request_id),
        error: err.map(|e| error(Some(e))),
    });
    ev
}

/// StepStarted.
pub(super) fn step_started(op: &Operation, at: Timestamp) -> Event {
    let mut ev = base(EventType::StepStarted, op, at);
    ev.step_started_details = Some(EmptyDetails {});
    ev
}

/// StepSucceeded (a success, or a polling RETRY without error when `delay` is set).
pub(super) fn step_succeeded(
    op: &Operation,
    result: Option<&String>,
    attempt: u32,
    delay: Option<i64>,
    at: Timestamp,
) -> Event {
    let mut ev = base(EventType::StepSucceeded, op, at);
    ev.step_succeeded_details = Some(StepSucceededDetails {
        result: Some(payload(result)),
        retry_details: Some(RetryDetails {
            current_attempt: Some(attempt),
            next_attempt_delay_seconds: delay,
        }),
    });
    ev
}

/// StepFailed (a terminal FAIL, or a RETRY after an error when `delay` is set).
pub(super) fn step_failed(
    op: &Operation,
    err: Option<&ErrorObject>,
    attempt: u32,
    delay: Option<i64>,
    at: Timestamp,
) -> Event {
    let mut ev = base(EventType::StepFailed, op, at);
    ev.step_failed_details = Some(StepFailedDetails {
        error: Some(error(err)),
        retry_details: Some(RetryDetails {
            current_attempt: Some(attempt),
            next_attempt_delay_seconds: delay,
        }),
    });
    ev
}

/// WaitStarted.
pub(super) fn wait_started(op: &Operation, duration: i64, end: Timestamp, at: Timestamp) -> Event {
    let mut ev = base(EventType::WaitStarted, op, at);
    ev.wait_started_details = Some(WaitStartedDetails {
        duration: Some(duration),
        scheduled_end_timestamp: Some(end),
    });
    ev
}

/// WaitSucceeded.
pub(super) fn wait_succeeded(op: &Operation, duration: Option<i64>, at: Timestamp) -> Event {
    let mut ev = base(EventType::WaitSucceeded, op, at);
    ev.wait_succeeded_details = Some(WaitSucceededDetails { duration });
    ev
}

/// WaitCancelled.
pub(super) fn wait_cancelled(op: &Operation, err: Option<&ErrorObject>, at: Timestamp) -> Event {
    let mut ev = base(EventType::WaitCancelled, op, at);
    ev.wait_cancelled_details = Some(ErrorDetails {
        error: err.map(|e| error(Some(e))),
    });
    ev
}

/// CallbackStarted.
pub(super) fn callback_started(
    op: &Operation,
    callback_id: &str,
    timeout: Option<i64>,
    heartbeat: Option<i64>,
    at: Timestamp,
) -> Event {
    let mut ev = base(EventType::CallbackStarted, op, at);
    ev.callback_started_details = Some(CallbackStartedDetails {
        callback_id: Some(callback_id.to_string()),
        heartbeat_timeout: heartbeat,
        timeout,
    });
    ev
}

/// CallbackSucceeded.
pub(super) fn callback_succeeded(op: &Operation, result: Option<&String>, at: Timestamp) -> Event {
    let mut ev = base(EventType::CallbackSucceeded, op, at);
    ev.callback_succeeded_details = Some(ResultDetails {
        result: Some(payload(result)),
    });
    ev
}

/// CallbackFailed or CallbackTimedOut.
pub(super) fn callback_failed(
    op: &Operation,
    err: &ErrorObject,
    timed_out: bool,
    at: Timestamp,
) -> Event {
    let details = Some(ErrorDetails {
        error: Some(error(Some(err))),
    });
    if timed_out {
        let mut ev = base(EventType::CallbackTimedOut, op, at);
        ev.callback_timed_out_details = details;
        ev
    } else {
        let mut ev = base(EventType::CallbackFailed, op, at);
        ev.callback_failed_details = details;
        ev
    }
}

/// ContextStarted.
pub(super) fn context_started(op: &Operation, at: Timestamp) -> Event {
    let mut ev = base(EventType::ContextStarted, op, at);
    ev.context_started_details = Some(EmptyDetails {});
    ev
}

/// ContextSucceeded.
pub(super) fn context_succeeded(op: &Operation, result: Option<&String>, at: Timestamp) -> Event {
    let mut ev = base(EventType::ContextSucceeded, op, at);
    ev.context_succeeded_details = Some(ResultDetails {
        result: Some(payload(result)),
    });
    ev
}

/// ContextFailed.
pub(super) fn context_failed(op: &Operation, err: Option<&ErrorObject>, at: Timestamp) -> Event {
    let mut ev = base(EventType::ContextFailed, op, at);
    ev.context_failed_details = Some(ErrorDetails {
        error: Some(error(err)),
    });
    ev
}

/// ChainedInvokeStarted, with `ExecutedVersion` and `DurableExecutionArn` always present
/// (empty when there is no child execution).
pub(super) fn chained_started(
    op: &Operation,
    function_name: &str,
    tenant_id: Option<&String>,
    input: Option<&String>,
    version: &str,
    child_arn: &str,
    at: Timestamp,
) -> Event {
    let mut ev = base(EventType::ChainedInvokeStarted, op, at);
    ev.chained_invoke_started_details = Some(ChainedInvokeStartedDetails {
        function_name: Some(function_name.to_string()),
        tenant_id: tenant_id.cloned(),
        input: Some(payload(input)),
        executed_version: Some(version.to_string()),
        durable_execution_arn: Some(child_arn.to_string()),
    });
    ev
}

/// ChainedInvokeSucceeded / Failed / TimedOut / Stopped, by the operation's new status.
pub(super) fn chained_ended(
    op: &Operation,
    status: OperationStatus,
    result: Option<&String>,
    err: Option<&ErrorObject>,
    at: Timestamp,
) -> Event {
    let err_details = || {
        Some(ErrorDetails {
            error: Some(error(err)),
        })
    };
    match status {
        OperationStatus::Succeeded => {
            let mut ev = base(EventType::ChainedInvokeSucceeded, op, at);
            ev.chained_invoke_succeeded_details = Some(ResultDetails {
                result: Some(payload(result)),
            });
            ev
        }
        OperationStatus::TimedOut => {
            let mut ev = base(EventType::ChainedInvokeTimedOut, op, at);
            ev.chained_invoke_timed_out_details = err_details();
            ev
        }
        OperationStatus::Stopped => {
            let mut ev = base(EventType::ChainedInvokeStopped, op, at);
            ev.chained_invoke_stopped_details = err_details();
            ev
        }
        _ => {
            let mut ev = base(EventType::ChainedInvokeFailed, op, at);
            ev.chained_invoke_failed_details = err_details();
            ev
        }
    }
}

/// Drops every payload of an event, marking it truncated (IncludeExecutionData=false).
pub(super) fn strip_payloads(ev: &mut Event) {
    fn p(x: &mut Option<EventPayload>) {
        if let Some(x) = x {
            x.payload = None;
            x.truncated = Some(true);
        }
    }
    fn e(x: &mut Option<EventError>) {
        if let Some(x) = x {
            x.payload = None;
            x.truncated = Some(true);
        }
    }
    if let Some(d) = &mut ev.execution_started_details {
        p(&mut d.input);
    }
    if let Some(d) = &mut ev.execution_succeeded_details {
        p(&mut d.result);
    }
    for d in [
        &mut ev.execution_failed_details,
        &mut ev.execution_timed_out_details,
        &mut ev.execution_stopped_details,
    ]
    .into_iter()
    .flatten()
    {
        e(&mut d.error);
    }
    for d in [
        &mut ev.context_succeeded_details,
        &mut ev.callback_succeeded_details,
        &mut ev.chained_invoke_succeeded_details,
    ]
    .into_iter()
    .flatten()
    {
        p(&mut d.result);
    }
    for d in [
        &mut ev.context_failed_details,
        &mut ev.wait_cancelled_details,
        &mut ev.callback_failed_details,
        &mut ev.callback_timed_out_details,
        &mut ev.chained_invoke_failed_details,
        &mut ev.chained_invoke_timed_out_details,
        &mut ev.chained_invoke_stopped_details,
    ]
    .into_iter()
    .flatten()
    {
        e(&mut d.error);
    }
    if let Some(d) = &mut ev.step_succeeded_details {
        p(&mut d.result);
    }
    if let Some(d) = &mut ev.step_failed_details {
        e(&mut d.error);
    }
    if let Some(d) = &mut ev.chained_invoke_started_details {
        p(&mut d.input);
    }
    if let Some(d) = &mut ev.invocation_completed_details {
        e(&mut d.error);
    }
}
