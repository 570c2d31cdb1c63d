//! Strategies for every wire type of `durable_fsm::model`: every operation type with its own
//! details member, every status, action and event type.

use durable_fsm::model::invocation::InvocationInput;
use durable_fsm::model::*;
use proptest::collection::vec;
use proptest::option::of as opt;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// 2100-01-01T00:00:00Z in microseconds: far enough for any real timestamp.
const MAX_MICROS: i64 = 4_102_444_800_000_000;

/// Mostly id-like text, sometimes any characters (controls, quotes, non-ASCII), sometimes "".
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_-]{1,12}",
        2 => vec(any::<char>(), 0..12).prop_map(String::from_iter),
        1 => Just(String::new()),
    ]
}

pub fn micros() -> impl Strategy<Value = Timestamp> + Clone {
    (0..=MAX_MICROS).prop_map(Timestamp::from_micros)
}

pub fn millis() -> impl Strategy<Value = Timestamp> + Clone {
    (0..=MAX_MICROS / 1000).prop_map(Timestamp::from_millis)
}

pub fn seconds() -> impl Strategy<Value = i64> {
    prop_oneof![0..=31_622_400i64, any::<i64>()]
}

pub fn error_object() -> impl Strategy<Value = ErrorObject> {
    (
        opt(text()),
        opt(text()),
        opt(text()),
        opt(vec(text(), 0..3)),
    )
        .prop_map(
            |(error_message, error_type, error_data, stack_trace)| ErrorObject {
                error_message,
                error_type,
                error_data,
                stack_trace,
            },
        )
}

/// Every operation type with its own details member (present or not), every status.
pub fn operation<S>(ts: S) -> impl Strategy<Value = Operation>
where
    S: Strategy<Value = Timestamp> + Clone,
{
    let head = (
        select(OperationType::ALL),
        select(OperationStatus::ALL),
        text(),
        opt(text()),
        opt(text()),
        opt(text()),
        ts.clone(),
        opt(ts.clone()),
    );
    let details = (
        opt(text()).prop_map(|input_payload| ExecutionDetails { input_payload }),
        (opt(any::<bool>()), opt(text()), opt(error_object())).prop_map(
            |(replay_children, result, error)| ContextDetails {
                replay_children,
                result,
                error,
            },
        ),
        (
            opt(any::<u32>()),
            opt(ts.clone()),
            opt(text()),
            opt(error_object()),
        )
            .prop_map(
                |(attempt, next_attempt_timestamp, result, error)| StepDetails {
                    attempt,
                    next_attempt_timestamp,
                    result,
                    error,
                },
            ),
        opt(ts).prop_map(|scheduled_end_timestamp| WaitDetails {
            scheduled_end_timestamp,
        }),
        (opt(text()), opt(text()), opt(error_object())).prop_map(|(callback_id, result, error)| {
            CallbackDetails {
                callback_id,
                result,
                error,
            }
        }),
        (opt(text()), opt(error_object()))
            .prop_map(|(result, error)| ChainedInvokeDetails { result, error }),
        any::<bool>(),
    );
    (head, details).prop_map(
        |((op_type, status, id, parent_id, name, sub_type, start, end), d)| {
            let (execution, context, step, wait, callback, chained, present) = d;
            let mut op = Operation::new(id, op_type, status, start);
            op.parent_id = parent_id;
            op.name = name;
            op.sub_type = sub_type;
            op.end_timestamp = end;
            if present {
                match op_type {
                    OperationType::Execution => op.execution_details = Some(execution),
                    OperationType::Context => op.context_details = Some(context),
                    OperationType::Step => op.step_details = Some(step),
                    OperationType::Wait => op.wait_details = Some(wait),
                    OperationType::Callback => op.callback_details = Some(callback),
                    OperationType::ChainedInvoke => op.chained_invoke_details = Some(chained),
                }
            }
            op
        },
    )
}

/// Every action, every options member, consistent with the type or not.
pub fn operation_update() -> impl Strategy<Value = OperationUpdate> {
    let head = (
        text(),
        opt(text()),
        opt(text()),
        select(OperationType::ALL),
        opt(text()),
        select(OperationAction::ALL),
        opt(text()),
        opt(error_object()),
    );
    let options = (
        opt(opt(any::<bool>()).prop_map(|replay_children| ContextOptions { replay_children })),
        opt(
            opt(seconds()).prop_map(|next_attempt_delay_seconds| StepOptions {
                next_attempt_delay_seconds,
            }),
        ),
        opt(opt(seconds()).prop_map(|wait_seconds| WaitOptions { wait_seconds })),
        opt((opt(seconds()), opt(seconds())).prop_map(
            |(timeout_seconds, heartbeat_timeout_seconds)| CallbackOptions {
                timeout_seconds,
                heartbeat_timeout_seconds,
            },
        )),
        opt((text(), opt(text()), opt(text())).prop_map(
            |(function_name, tenant_id, x_amzn_trace_id)| ChainedInvokeOptions {
                function_name,
                tenant_id,
                x_amzn_trace_id,
            },
        )),
    );
    (head, options).prop_map(|(h, o)| {
        let (id, parent_id, name, op_type, sub_type, action, payload, error) = h;
        let mut u = OperationUpdate::new(id, op_type, action);
        u.parent_id = parent_id;
        u.name = name;
        u.sub_type = sub_type;
        u.payload = payload;
        u.error = error;
        (
            u.context_options,
            u.step_options,
            u.wait_options,
            u.callback_options,
            u.chained_invoke_options,
        ) = o;
        u
    })
}

pub fn event_payload() -> impl Strategy<Value = EventPayload> {
    (opt(text()), opt(any::<bool>()))
        .prop_map(|(payload, truncated)| EventPayload { payload, truncated })
}

pub fn event_error() -> impl Strategy<Value = EventError> {
    (opt(error_object()), opt(any::<bool>()))
        .prop_map(|(payload, truncated)| EventError { payload, truncated })
}

pub fn retry_details() -> impl Strategy<Value = RetryDetails> {
    (opt(any::<u32>()), opt(seconds())).prop_map(|(current_attempt, next_attempt_delay_seconds)| {
        RetryDetails {
            current_attempt,
            next_attempt_delay_seconds,
        }
    })
}

/// One details value of each shape the model has.
#[derive(Clone, Debug)]
enum Details {
    ExecutionStarted(ExecutionStartedDetails),
    ExecutionSucceeded(ExecutionSucceededDetails),
    ExecutionError(ExecutionErrorDetails),
    Empty(EmptyDetails),
    Result(ResultDetails),
    Error(ErrorDetails),
    WaitStarted(WaitStartedDetails),
    WaitSucceeded(WaitSucceededDetails),
    StepSucceeded(StepSucceededDetails),
    StepFailed(StepFailedDetails),
    ChainedInvokeStarted(ChainedInvokeStartedDetails),
    CallbackStarted(CallbackStartedDetails),
    InvocationCompleted(InvocationCompletedDetails),
    ExecutionPaused(ExecutionPausedDetails),
    ExecutionResumed(ExecutionResumedDetails),
}

/// The details shape of an event type (an exhaustive match: a new EventType fails to compile).
fn event_details(t: EventType) -> BoxedStrategy<Details> {
    use EventType as E;
    let result = || {
        opt(event_payload())
            .prop_map(|result| Details::Result(ResultDetails { result }))
            .boxed()
    };
    let error = || {
        opt(event_error())
            .prop_map(|error| Details::Error(ErrorDetails { error }))
            .boxed()
    };
    match t {
        E::ExecutionStarted => (opt(event_payload()), opt(seconds()))
            .prop_map(|(input, execution_timeout)| {
                Details::ExecutionStarted(ExecutionStartedDetails {
                    input,
                    execution_timeout,
                })
            })
            .boxed(),
        E::ExecutionSucceeded => opt(event_payload())
            .prop_map(|result| Details::ExecutionSucceeded(ExecutionSucceededDetails { result }))
            .boxed(),
        E::ExecutionFailed | E::ExecutionTimedOut | E::ExecutionStopped => opt(event_error())
            .prop_map(|error| Details::ExecutionError(ExecutionErrorDetails { error }))
            .boxed(),
        E::ContextStarted | E::StepStarted => Just(Details::Empty(EmptyDetails {})).boxed(),
        E::ContextSucceeded | E::CallbackSucceeded | E::ChainedInvokeSucceeded => result(),
        E::ContextFailed
        | E::WaitCancelled
        | E::ChainedInvokeFailed
        | E::ChainedInvokeTimedOut
        | E::ChainedInvokeStopped
        | E::CallbackFailed
        | E::CallbackTimedOut => error(),
        E::WaitStarted => (opt(seconds()), opt(micros()))
            .prop_map(|(duration, scheduled_end_timestamp)| {
                Details::WaitStarted(WaitStartedDetails {
                    duration,
                    scheduled_end_timestamp,
                })
            })
            .boxed(),
        E::WaitSucceeded => opt(seconds())
            .prop_map(|duration| Details::WaitSucceeded(WaitSucceededDetails { duration }))
            .boxed(),
        E::StepSucceeded => (opt(event_payload()), opt(retry_details()))
            .prop_map(|(result, retry_details)| {
                Details::StepSucceeded(StepSucceededDetails {
                    result,
                    retry_details,
                })
            })
            .boxed(),
        E::StepFailed => (opt(event_error()), opt(retry_details()))
            .prop_map(|(error, retry_details)| {
                Details::StepFailed(StepFailedDetails {
                    error,
                    retry_details,
                })
            })
            .boxed(),
        E::ChainedInvokeStarted => (
            opt(text()),
            opt(text()),
            opt(event_payload()),
            opt(text()),
            opt(text()),
        )
            .prop_map(
                |(function_name, tenant_id, input, executed_version, durable_execution_arn)| {
                    Details::ChainedInvokeStarted(ChainedInvokeStartedDetails {
                        function_name,
                        tenant_id,
                        input,
                        executed_version,
                        durable_execution_arn,
                    })
                },
            )
            .boxed(),
        E::CallbackStarted => (opt(text()), opt(seconds()), opt(seconds()))
            .prop_map(|(callback_id, heartbeat_timeout, timeout)| {
                Details::CallbackStarted(CallbackStartedDetails {
                    callback_id,
                    heartbeat_timeout,
                    timeout,
                })
            })
            .boxed(),
        E::InvocationCompleted => (
            opt(micros()),
            opt(micros()),
            opt(text()),
            opt(event_error()),
        )
            .prop_map(|(start_timestamp, end_timestamp, request_id, error)| {
                Details::InvocationCompleted(InvocationCompletedDetails {
                    start_timestamp,
                    end_timestamp,
                    request_id,
                    error,
                })
            })
            .boxed(),
        E::ExecutionPaused => (opt(micros()), opt(event_payload()), opt(any::<bool>()))
            .prop_map(
                |(pause_request_timestamp, reason, execution_timeout_paused)| {
                    Details::ExecutionPaused(ExecutionPausedDetails {
                        pause_request_timestamp,
                        reason,
                        execution_timeout_paused,
                    })
                },
            )
            .boxed(),
        E::ExecutionResumed => (opt(micros()), opt(event_payload()))
            .prop_map(|(resume_request_timestamp, reason)| {
                Details::ExecutionResumed(ExecutionResumedDetails {
                    resume_request_timestamp,
                    reason,
                })
            })
            .boxed(),
    }
}

/// Puts `d` into the member of `ev` named after its type.
fn set_details(ev: &mut Event, d: Details) {
    use Details as D;
    use EventType as E;
    match (ev.event_type, d) {
        (E::ExecutionStarted, D::ExecutionStarted(d)) => ev.execution_started_details = Some(d),
        (E::ExecutionSucceeded, D::ExecutionSucceeded(d)) => {
            ev.execution_succeeded_details = Some(d)
        }
        (E::ExecutionFailed, D::ExecutionError(d)) => ev.execution_failed_details = Some(d),
        (E::ExecutionTimedOut, D::ExecutionError(d)) => ev.execution_timed_out_details = Some(d),
        (E::ExecutionStopped, D::ExecutionError(d)) => ev.execution_stopped_details = Some(d),
        (E::ContextStarted, D::Empty(d)) => ev.context_started_details = Some(d),
        (E::ContextSucceeded, D::Result(d)) => ev.context_succeeded_details = Some(d),
        (E::ContextFailed, D::Error(d)) => ev.context_failed_details = Some(d),
        (E::WaitStarted, D::WaitStarted(d)) => ev.wait_started_details = Some(d),
        (E::WaitSucceeded, D::WaitSucceeded(d)) => ev.wait_succeeded_details = Some(d),
        (E::WaitCancelled, D::Error(d)) => ev.wait_cancelled_details = Some(d),
        (E::StepStarted, D::Empty(d)) => ev.step_started_details = Some(d),
        (E::StepSucceeded, D::StepSucceeded(d)) => ev.step_succeeded_details = Some(d),
        (E::StepFailed, D::StepFailed(d)) => ev.step_failed_details = Some(d),
        (E::ChainedInvokeStarted, D::ChainedInvokeStarted(d)) => {
            ev.chained_invoke_started_details = Some(d)
        }
        (E::ChainedInvokeSucceeded, D::Result(d)) => ev.chained_invoke_succeeded_details = Some(d),
        (E::ChainedInvokeFailed, D::Error(d)) => ev.chained_invoke_failed_details = Some(d),
        (E::ChainedInvokeTimedOut, D::Error(d)) => ev.chained_invoke_timed_out_details = Some(d),
        (E::ChainedInvokeStopped, D::Error(d)) => ev.chained_invoke_stopped_details = Some(d),
        (E::CallbackStarted, D::CallbackStarted(d)) => ev.callback_started_details = Some(d),
        (E::CallbackSucceeded, D::Result(d)) => ev.callback_succeeded_details = Some(d),
        (E::CallbackFailed, D::Error(d)) => ev.callback_failed_details = Some(d),
        (E::CallbackTimedOut, D::Error(d)) => ev.callback_timed_out_details = Some(d),
        (E::InvocationCompleted, D::InvocationCompleted(d)) => {
            ev.invocation_completed_details = Some(d)
        }
        (E::ExecutionPaused, D::ExecutionPaused(d)) => ev.execution_paused_details = Some(d),
        (E::ExecutionResumed, D::ExecutionResumed(d)) => ev.execution_resumed_details = Some(d),
        (t, d) => panic!("the strategy paired {t} with {d:?}"),
    }
}

/// Every event type with its details member.
pub fn event() -> impl Strategy<Value = Event> {
    select(EventType::ALL)
        .prop_flat_map(|t| {
            (
                Just(t),
                event_details(t),
                (any::<u64>(), micros()),
                (opt(text()), opt(text()), opt(text()), opt(text())),
            )
        })
        .prop_map(|(t, d, (event_id, at), (sub_type, id, name, parent_id))| {
            let mut ev = Event::new(t, event_id, at);
            ev.sub_type = sub_type;
            ev.id = id;
            ev.name = name;
            ev.parent_id = parent_id;
            set_details(&mut ev, d);
            ev
        })
}

pub fn updated_state() -> impl Strategy<Value = CheckpointUpdatedExecutionState> {
    (opt(vec(operation(micros()), 0..3)), opt(text())).prop_map(|(operations, next_marker)| {
        CheckpointUpdatedExecutionState {
            operations,
            next_marker,
        }
    })
}

pub fn durable_config() -> impl Strategy<Value = DurableConfig> {
    (opt(seconds()), opt(1..=90i64), opt(text())).prop_map(
        |(execution_timeout, retention_period_in_days, kms_key_arn)| DurableConfig {
            execution_timeout,
            retention_period_in_days,
            kms_key_arn,
        },
    )
}

pub fn get_execution_response() -> impl Strategy<Value = GetDurableExecutionResponse> {
    let names = (
        text(),
        text(),
        text(),
        opt(text()),
        opt(text()),
        opt(error_object()),
    );
    let times = (
        micros(),
        select(ExecutionStatus::ALL),
        opt(micros()),
        opt(text()),
        opt(opt(text()).prop_map(|x_amzn_trace_id| TraceHeader { x_amzn_trace_id })),
        opt(any::<bool>()),
    );
    let more = (
        opt(durable_config()),
        opt((micros(), opt(text()), any::<bool>()).prop_map(
            |(pause_request_timestamp, reason, execution_timeout_paused)| PauseDetails {
                pause_request_timestamp,
                reason,
                execution_timeout_paused,
            },
        )),
        opt(micros()),
    );
    (names, times, more).prop_map(|(n, t, m)| GetDurableExecutionResponse {
        durable_execution_arn: n.0,
        durable_execution_name: n.1,
        function_arn: n.2,
        input_payload: n.3,
        result: n.4,
        error: n.5,
        start_timestamp: t.0,
        status: t.1,
        end_timestamp: t.2,
        version: t.3,
        trace_header: t.4,
        execution_data_included: t.5,
        durable_config: m.0,
        pause_details: m.1,
        expected_execution_timeout_timestamp: m.2,
    })
}

pub fn execution() -> impl Strategy<Value = Execution> {
    (
        text(),
        text(),
        text(),
        select(ExecutionStatus::ALL),
        micros(),
        opt(micros()),
        opt(text()),
    )
        .prop_map(
            |(arn, name, function_arn, status, start, end, kms)| Execution {
                durable_execution_arn: arn,
                durable_execution_name: name,
                function_arn,
                status,
                start_timestamp: start,
                end_timestamp: end,
                kms_key_arn: kms,
            },
        )
}

/// JSON values that survive a round trip exactly (no floats; `null` only nested, since a
/// top-level `Some(null)` reads back as `None`).
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    let nested = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            Just(Value::Null),
            vec(inner.clone(), 0..3).prop_map(Value::from),
            vec((text(), inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    nested.prop_filter("top-level null", |v| !v.is_null())
}

pub fn start_request() -> impl Strategy<Value = StartDurableExecutionRequest> {
    (
        (text(), text(), text(), text(), any::<i64>(), any::<i64>()),
        (
            opt(text()),
            opt(text()),
            opt(text()),
            opt(json_value()),
            opt(text()),
        ),
    )
        .prop_map(|(a, b)| StartDurableExecutionRequest {
            account_id: a.0,
            function_name: a.1,
            function_qualifier: a.2,
            execution_name: a.3,
            execution_timeout_seconds: a.4,
            execution_retention_period_days: a.5,
            invocation_id: b.0,
            input: b.1,
            tenant_id: b.2,
            trace_fields: b.3,
            lambda_endpoint: b.4,
        })
}

/// A handler invocation event; operation timestamps at millisecond precision, the precision
/// the event carries.
pub fn invocation_input() -> impl Strategy<Value = InvocationInput> {
    (
        "[a-zA-Z0-9:/$_-]{1,40}",
        "[A-Za-z0-9+/]{1,24}={0,2}",
        opt(
            (vec(operation(millis()), 0..4), opt(text())).prop_map(|(operations, next_marker)| {
                InitialExecutionState {
                    operations,
                    next_marker,
                }
            }),
        ),
        opt(vec(text(), 0..3)),
    )
        .prop_map(|(arn, token, state, updated)| InvocationInput {
            durable_execution_arn: arn,
            checkpoint_token: token,
            initial_execution_state: state,
            updated_operation_ids: updated,
        })
}

pub fn invocation_output() -> impl Strategy<Value = InvocationOutput> {
    (
        select(InvocationStatus::ALL),
        opt(text()),
        opt(error_object()),
    )
        .prop_map(|(status, result, error)| InvocationOutput {
            status,
            result,
            error,
        })
}
