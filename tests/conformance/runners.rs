//! Running one requirement: its handler on the in-process runner (virtual time) and on the
//! local durable service (real time), then the validator's checks on what came out.

use super::handlers::{Case, Outcome};
use super::matcher::{Context, check_result};
use super::spec::{CallbackAction, Requirement, V};
use durable_fsm::DurableApi;
use durable_fsm::model::{ErrorObject, GetDurableExecutionHistoryRequest};
use durable_fsm::service::StartExecution;
use durable_fsm::service::runtime::RuntimeHandle;
use durable_fsm::testing::CallbackReply;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// How often the asynchronous flow polls the history. AWS's default is 2 s; the local service
/// answers at once, so the runner polls faster to keep the run short.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The longest a synchronous requirement may run on the service.
const SYNC_TIMEOUT: Duration = Duration::from_secs(90);

/// The two judgements of one run: strict (the history as returned) and model (Transition
/// checkpoint steps removed and EventIds renumbered).
#[derive(Clone, Debug)]
pub struct Verdict {
    pub strict: Result<(), String>,
    pub model: Result<(), String>,
}

impl Verdict {
    fn both(error: String) -> Verdict {
        Verdict {
            strict: Err(error.clone()),
            model: Err(error),
        }
    }
}

/// The history with the executor's Transition STEP events removed and EventIds renumbered
/// 1..n, order kept.
pub fn model_view(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.get("SubType").and_then(Value::as_str) != Some("Transition"))
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                o.insert("EventId".into(), Value::from(i as u64 + 1));
            }
            e
        })
        .collect()
}

/// History (§5) then result (§4) against one history view.
fn judge(req: &Requirement, base: &Context, events: &[Value], out: &Outcome) -> Result<(), String> {
    let mut ctx = base.clone();
    let mut errors = ctx.match_history(&req.history, events);
    if errors.is_empty() && (req.expected_status.is_some() || req.has_expected_result) {
        errors = check_result(
            &ctx,
            req.expected_status.as_deref(),
            req.expected_result
                .as_ref()
                .filter(|_| req.has_expected_result),
            &out.status,
            out.result.as_deref(),
        );
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    if req.logs.is_empty() {
        return Ok(());
    }
    super::logs::check(&ctx, &req.logs, &super::logs::records(&out.arn))
}

fn verdict(req: &Requirement, base: &Context, out: &Outcome) -> Verdict {
    dump(req, out);
    Verdict {
        strict: judge(req, base, &out.events, out),
        model: judge(req, base, &model_view(&out.events), out),
    }
}

/// With `CONFORMANCE_DUMP=<id>[,<id>…]`, prints the run's outcome and both history views.
fn dump(req: &Requirement, out: &Outcome) {
    let wanted = std::env::var("CONFORMANCE_DUMP").unwrap_or_default();
    if !wanted.split(',').any(|w| w == req.id) {
        return;
    }
    let line = |e: &Value| {
        let mut e = e.clone();
        if let Some(o) = e.as_object_mut() {
            o.remove("EventTimestamp");
        }
        e.to_string()
    };
    let mut text = format!("--- {}: {} {:?}\n", req.id, out.status, out.result);
    for e in &out.events {
        text.push_str(&format!("  {}\n", line(e)));
    }
    super::report::emit(&text);
}

/// Python's `json.dumps` (default separators, ASCII only), as the runner encodes a success
/// payload.
pub fn json_dumps(v: &V) -> String {
    match v {
        V::Null => "null".into(),
        V::Bool(b) => if *b { "true" } else { "false" }.into(),
        V::Int(i) => i.to_string(),
        V::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                f.to_string()
            }
        }
        V::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                        let mut buf = [0u16; 2];
                        for unit in c.encode_utf16(&mut buf) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        V::List(l) => format!(
            "[{}]",
            l.iter().map(json_dumps).collect::<Vec<_>>().join(", ")
        ),
        V::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", json_dumps(&V::Str(k.clone())), json_dumps(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The failure a `failure` action sends: only the four error members of its payload.
fn failure_error(payload: Option<&V>) -> Result<ErrorObject, String> {
    let Some(payload) = payload else {
        return Ok(ErrorObject::default());
    };
    let V::Map(m) = payload else {
        return Err(format!(
            "a failure callback payload must be a mapping, got {payload:?}"
        ));
    };
    let mut error = ErrorObject::default();
    for (k, v) in m {
        let text = || match v {
            V::Str(s) => s.clone(),
            other => other.to_json().to_string(),
        };
        match k.as_str() {
            "ErrorType" => error.error_type = Some(text()),
            "ErrorMessage" => error.error_message = Some(text()),
            "ErrorData" => error.error_data = Some(text()),
            "StackTrace" => {
                error.stack_trace = Some(match v {
                    V::List(l) => l
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map_or_else(|| x.to_json().to_string(), str::to_string)
                        })
                        .collect(),
                    other => vec![other.as_str().unwrap_or_default().to_string()],
                })
            }
            _ => {}
        }
    }
    Ok(error)
}

fn substituted(ctx: &Context, actions: &[CallbackAction]) -> Vec<CallbackAction> {
    actions
        .iter()
        .map(|a| CallbackAction {
            name: ctx.substitute(&a.name),
            payload: a.payload.as_ref().map(|p| ctx.substitute(p)),
            ..a.clone()
        })
        .collect()
}

fn name_pattern(v: &V) -> String {
    match v {
        V::Str(s) => s.clone(),
        other => super::matcher::python_str(&other.to_json()),
    }
}

fn delay(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.max(0.0))
}

/// The callback actions as the in-process runner's replies: a heartbeat is chained with the
/// next action for the same callback name, and each action's Delay becomes virtual time.
fn replies(actions: &[CallbackAction]) -> Result<Vec<(String, CallbackReply)>, String> {
    let mut used = vec![false; actions.len()];
    let mut out = Vec::new();
    for i in 0..actions.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let name = name_pattern(&actions[i].name);
        if name.starts_with("${/") {
            return Err(
                "callback names given as a regex are not supported by the in-process runner".into(),
            );
        }
        let mut chain = vec![i];
        while actions[*chain.last().unwrap_or(&i)].operation == "heartbeat" {
            let Some(j) =
                (0..actions.len()).find(|&j| !used[j] && name_pattern(&actions[j].name) == name)
            else {
                break;
            };
            used[j] = true;
            chain.push(j);
        }
        let mut reply: Option<CallbackReply> = None;
        for &k in chain.iter().rev() {
            let a = &actions[k];
            let step = match a.operation.as_str() {
                "success" => {
                    CallbackReply::succeed(a.payload.as_ref().map(json_dumps).unwrap_or_default())
                }
                "failure" => CallbackReply::Fail(failure_error(a.payload.as_ref())?),
                _ => CallbackReply::Heartbeat(Box::new(
                    reply.take().unwrap_or(CallbackReply::Ignore),
                )),
            };
            reply = Some(step.after(delay(a.delay_secs)));
        }
        if let Some(reply) = reply {
            out.push((name, reply));
        }
    }
    Ok(out)
}

/// The requirement's handler on the in-process runner.
pub async fn run_virtual(req: &Requirement, case: &dyn Case, base: &Context) -> Verdict {
    let input = base.substitute(&req.input).to_json();
    let replies = match replies(&substituted(
        base,
        req.callback_actions.as_deref().unwrap_or(&[]),
    )) {
        Ok(r) => r,
        Err(e) => return Verdict::both(e),
    };
    match case.run_virtual(input, replies).await {
        Ok(out) => verdict(req, base, &out),
        Err(e) => Verdict::both(format!("in-process run failed: {e}")),
    }
}

async fn history(runtime: &RuntimeHandle, arn: &str) -> Result<Vec<Value>, String> {
    let page = runtime
        .get_history(GetDurableExecutionHistoryRequest {
            durable_execution_arn: arn.to_string(),
            include_execution_data: Some(true),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("GetDurableExecutionHistory failed: {e}"))?;
    page.events
        .iter()
        .map(|e| serde_json::to_value(e).map_err(|e| e.to_string()))
        .collect()
}

fn terminal_status(events: &[Value]) -> Option<&'static str> {
    events
        .iter()
        .rev()
        .find_map(|e| match e.get("EventType").and_then(Value::as_str) {
            Some("ExecutionSucceeded") => Some("SUCCEEDED"),
            Some("ExecutionFailed") => Some("FAILED"),
            Some("ExecutionTimedOut") => Some("TIMED_OUT"),
            _ => None,
        })
}

/// The requirement's handler, registered as `function`, on the local durable service.
pub async fn run_service(
    req: &Requirement,
    runtime: &RuntimeHandle,
    function: &str,
    base: &Context,
) -> Verdict {
    match service_flow(req, runtime, function, base).await {
        Ok(out) => verdict(req, base, &out),
        Err(e) => Verdict::both(format!("service run failed: {e}")),
    }
}

async fn service_flow(
    req: &Requirement,
    runtime: &RuntimeHandle,
    function: &str,
    base: &Context,
) -> Result<Outcome, String> {
    let input = base.substitute(&req.input).to_json().to_string();
    let started = runtime
        .service()
        .with_engine(|e| e.start_execution(StartExecution::new(function, input)))
        .and_then(|r| r)
        .map_err(|e| format!("starting the execution failed: {e}"))?;
    let arn = started.arn;
    let events = if req.async_invoke {
        async_flow(req, runtime, &arn, base).await?
    } else {
        runtime
            .wait_for_end(&arn, SYNC_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        history(runtime, &arn).await?
    };
    let exec = runtime
        .get_execution(&arn, true)
        .await
        .map_err(|e| format!("GetDurableExecution failed: {e}"))?;
    Ok(Outcome {
        arn: arn.clone(),
        status: exec.status.as_str().to_string(),
        result: exec.result,
        events,
    })
}

/// §3.2: poll the history, answer callbacks, stop at the end (or, without an expected
/// result, as soon as the expected history matches).
async fn async_flow(
    req: &Requirement,
    runtime: &RuntimeHandle,
    arn: &str,
    base: &Context,
) -> Result<Vec<Value>, String> {
    let actions = req.callback_actions.as_ref().map(|a| substituted(base, a));
    let mut used = vec![false; actions.as_ref().map_or(0, Vec::len)];
    let mut handled: HashSet<String> = HashSet::new();
    let no_progress = delay(req.no_progress_timeout_secs);
    let mut last_count = 0usize;
    let mut last_progress = tokio::time::Instant::now();
    let poll = delay(req.poll_interval_secs).min(POLL_INTERVAL);
    loop {
        tokio::time::sleep(poll).await;
        let events = history(runtime, arn).await?;
        if terminal_status(&events).is_some() {
            return Ok(events);
        }
        if events.len() > last_count {
            last_count = events.len();
            last_progress = tokio::time::Instant::now();
        } else if last_progress.elapsed() > no_progress {
            return Err(format!(
                "no progress for {} s ({} events)",
                no_progress.as_secs_f64(),
                events.len()
            ));
        }
        for e in &events {
            if e.get("EventType").and_then(Value::as_str) != Some("CallbackStarted") {
                continue;
            }
            let Some(id) = e
                .pointer("/CallbackStartedDetails/CallbackId")
                .and_then(Value::as_str)
            else {
                continue;
            };
            if handled.contains(id) {
                continue;
            }
            let Some(actions) = &actions else { continue };
            let name = e.get("Name").and_then(Value::as_str).unwrap_or_default();
            let found = actions.iter().enumerate().position(|(i, a)| {
                !used[i] && {
                    let pattern = name_pattern(&a.name);
                    pattern == "*"
                        || pattern == name
                        || pattern
                            .strip_prefix("${/")
                            .and_then(|p| p.strip_suffix("/}"))
                            .and_then(|p| regex::Regex::new(p).ok())
                            .is_some_and(|re| re.is_match(name))
                }
            });
            let Some(i) = found else {
                return Err(format!("no callback action matches callback {name:?}"));
            };
            used[i] = true;
            let action = &actions[i];
            if action.operation != "heartbeat" {
                handled.insert(id.to_string());
            }
            tokio::time::sleep(delay(action.delay_secs)).await;
            let sent = match action.operation.as_str() {
                "success" => {
                    let body = action.payload.as_ref().map(json_dumps).unwrap_or_default();
                    runtime.send_callback_success(id, body.into_bytes()).await
                }
                "failure" => {
                    runtime
                        .send_callback_failure(id, failure_error(action.payload.as_ref())?)
                        .await
                }
                _ => runtime.send_callback_heartbeat(id).await,
            };
            sent.map_err(|e| format!("sending the {} callback failed: {e}", action.operation))?;
        }
        if !req.has_expected_result && req.expected_status.is_none() {
            let strict_ok = base.clone().match_history(&req.history, &events).is_empty();
            let model_ok = base
                .clone()
                .match_history(&req.history, &model_view(&events))
                .is_empty();
            if strict_ok || model_ok {
                return Ok(events);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn model_view_drops_transition_steps_and_renumbers() {
        let events = [
            json!({"EventId": 1, "EventType": "ExecutionStarted"}),
            json!({"EventId": 2, "EventType": "StepStarted", "SubType": "Transition"}),
            json!({"EventId": 3, "EventType": "StepStarted", "SubType": "Step"}),
            json!({"EventId": 4, "EventType": "StepSucceeded", "SubType": "Transition"}),
            json!({"EventId": 5, "EventType": "InvocationCompleted"}),
        ];
        let view = model_view(&events);
        let kinds: Vec<(i64, &str)> = view
            .iter()
            .map(|e| {
                (
                    e["EventId"].as_i64().unwrap_or(0),
                    e["EventType"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (1, "ExecutionStarted"),
                (2, "StepStarted"),
                (3, "InvocationCompleted")
            ]
        );
        assert_eq!(view[1]["SubType"], "Step");
    }

    #[test]
    fn success_payloads_are_encoded_like_python_json_dumps() {
        let v = V::Map(vec![
            ("status".into(), V::Str("approved".into())),
            (
                "n".into(),
                V::List(vec![V::Int(1), V::Float(2.0), V::Null, V::Bool(true)]),
            ),
            ("é".into(), V::Str("a\"b".into())),
        ]);
        assert_eq!(
            json_dumps(&v),
            r#"{"status": "approved", "n": [1, 2.0, null, true], "\u00e9": "a\"b"}"#
        );
        assert_eq!(json_dumps(&V::Str("abc".into())), r#""abc""#);
    }

    #[test]
    fn a_heartbeat_action_is_chained_with_the_next_action_for_its_callback() {
        let action = |name: &str, op: &str, delay: f64| CallbackAction {
            name: V::Str(name.into()),
            operation: op.into(),
            payload: (op == "success").then(|| V::Str("done".into())),
            delay_secs: delay,
        };
        let actions = [
            action("a", "heartbeat", 0.0),
            action("b", "success", 2.0),
            action("a", "success", 1.0),
        ];
        let got = replies(&actions).expect("replies");
        let second = Duration::from_secs(1);
        assert_eq!(
            got,
            vec![
                (
                    "a".to_string(),
                    CallbackReply::Heartbeat(Box::new(
                        CallbackReply::succeed("\"done\"").after(second)
                    ))
                    .after(Duration::ZERO)
                ),
                (
                    "b".to_string(),
                    CallbackReply::succeed("\"done\"").after(2 * second)
                ),
            ]
        );
    }

    #[test]
    fn failure_payloads_keep_only_the_error_members() {
        let payload = V::Map(vec![
            ("ErrorType".into(), V::Str("RejectedError".into())),
            ("ErrorMessage".into(), V::Str("not approved".into())),
            ("Other".into(), V::Int(1)),
        ]);
        let e = failure_error(Some(&payload)).expect("a mapping");
        assert_eq!(e, ErrorObject::new("RejectedError", "not approved"));
        assert!(failure_error(Some(&V::Int(3))).is_err());
    }
}
