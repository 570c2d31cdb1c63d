//! The client commands: each parses its input, makes its API calls and prints the answer.

use super::args::{
    CallbackCommand, CallbackFailArgs, CallbackSucceedArgs, ErrorArgs, GetArgs, HistoryArgs,
    ListArgs, StartArgs, StopArgs,
};
use super::client::{AWS_LIST_NEEDS_FUNCTION, Client, Invoked, one_line};
use super::color::Output;
use super::format::{
    execution_details, execution_table, paint_details, paint_executions, paint_history,
    terminal_width,
};
use super::{CliError, emit};
use crate::api::DurableApi;
use crate::display::history_table;
use crate::model::{
    ErrorObject, Event, GetDurableExecutionHistoryRequest, GetDurableExecutionHistoryResponse,
    ListDurableExecutionsByFunctionRequest, ListDurableExecutionsByFunctionResponse,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::Path;

/// Largest page the durable API hands out.
const MAX_PAGE: u32 = 1000;

/// Prints `value` as pretty JSON.
fn emit_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot encode the response as JSON: {e}")))?;
    emit(&format!("{text}\n"))
}

/// Reads a file, or standard input for `-`.
fn read_input(path: &Path, option: &str) -> Result<Vec<u8>, CliError> {
    let read = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(path)
    };
    read.map_err(|e| CliError::Usage(format!("cannot read {option} {}: {e}", path.display())))
}

/// The execution input: JSON text from `--input` or `--input-file`, checked here so a typo
/// is reported before anything is started.
pub fn start_payload(
    input: Option<&str>,
    input_file: Option<&Path>,
) -> Result<Option<Vec<u8>>, CliError> {
    let (bytes, option) = match (input, input_file) {
        (Some(text), _) => (text.as_bytes().to_vec(), "--input"),
        (None, Some(path)) => (read_input(path, "--input-file")?, "--input-file"),
        (None, None) => return Ok(None),
    };
    if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
        return Err(CliError::Usage(format!("{option} is not valid JSON: {e}")));
    }
    Ok(Some(bytes))
}

/// `start`.
pub async fn start(args: StartArgs) -> Result<(), CliError> {
    let payload = start_payload(args.input.as_deref(), args.input_file.as_deref())?;
    let client = Client::connect(&args.client).await?;
    let out = client
        .invoke(
            &args.function,
            args.qualifier.as_deref(),
            args.name.as_deref(),
            payload,
            args.wait,
        )
        .await?;
    if args.client.json {
        return emit_json(&invoke_json(&out, args.wait));
    }
    let Some(arn) = &out.durable_execution_arn else {
        return Err(CliError::Failed(format!(
            "{} is not a durable function: the invoke returned no durable execution ARN",
            args.function
        )));
    };
    let payload = String::from_utf8_lossy(&out.payload);
    if !args.wait {
        return emit(&format!("{arn}\n"));
    }
    if let Some(kind) = &out.function_error {
        emit(&format!("{arn}\n"))?;
        return Err(CliError::Failed(format!(
            "the execution failed ({kind}): {}",
            function_error_text(&payload)
        )));
    }
    emit(&format!("{arn}\n{payload}\n"))
}

/// The Invoke response as JSON, in the AWS CLI's member names (the payload parsed when it is
/// JSON).
fn invoke_json(out: &Invoked, wait: bool) -> Value {
    let mut v = json!({ "StatusCode": out.status_code });
    let mut set = |k: &str, value: Value| {
        if let Some(obj) = v.as_object_mut() {
            obj.insert(k.to_string(), value);
        }
    };
    if let Some(arn) = &out.durable_execution_arn {
        set("DurableExecutionArn", json!(arn));
    }
    if let Some(version) = &out.executed_version {
        set("ExecutedVersion", json!(version));
    }
    if let Some(err) = &out.function_error {
        set("FunctionError", json!(err));
    }
    if wait {
        let text = String::from_utf8_lossy(&out.payload);
        set(
            "Payload",
            serde_json::from_str(&text).unwrap_or_else(|_| json!(text)),
        );
    }
    v
}

/// `errorType: errorMessage` of a Lambda function error body, else the body on one line.
fn function_error_text(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    match (field("errorType"), field("errorMessage")) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (Some(t), None) => t.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => one_line(body),
    }
}

/// `get`.
pub async fn get(args: GetArgs, output: Output) -> Result<(), CliError> {
    let client = Client::connect(&args.client).await?;
    let exec = client
        .api
        .get_execution(&args.arn, true)
        .await
        .map_err(|e| client.fail(e))?;
    if args.client.json {
        return emit_json(&exec);
    }
    let text = execution_details(&exec, terminal_width());
    emit(&paint_details(&text, output))
}

/// `history`.
pub async fn history(args: HistoryArgs, output: Output) -> Result<(), CliError> {
    let client = Client::connect(&args.client).await?;
    let mut events: Vec<Event> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let req = GetDurableExecutionHistoryRequest {
            durable_execution_arn: args.arn.clone(),
            include_execution_data: Some(true),
            max_items: args.all.then_some(MAX_PAGE),
            marker: marker.clone(),
            reverse_order: args.reverse.then_some(true),
        };
        let page = client
            .api
            .get_history(req)
            .await
            .map_err(|e| client.fail(e))?;
        let got = page.events.len();
        events.extend(page.events);
        let next = page.next_marker.filter(|m| !m.is_empty());
        // A marker that does not move, or an empty page, would page forever.
        let stuck = got == 0 || next == marker;
        marker = next;
        if !args.all || marker.is_none() || stuck {
            break;
        }
    }
    if args.client.json {
        return emit_json(&GetDurableExecutionHistoryResponse {
            events,
            next_marker: marker,
        });
    }
    if events.is_empty() {
        return emit("no events\n");
    }
    let table = if args.reverse {
        // Offsets count from the oldest event shown: render oldest first, then flip the rows.
        events.reverse();
        let table = history_table(&events, terminal_width());
        let mut lines: Vec<&str> = table.lines().collect();
        if lines.len() > 1 {
            lines[1..].reverse();
        }
        lines.iter().map(|l| format!("{l}\n")).collect()
    } else {
        history_table(&events, terminal_width())
    };
    let mut text = paint_history(&table, output);
    if marker.is_some() {
        text.push_str("(more events: --all shows every one)\n");
    }
    emit(&text)
}

/// `list`.
pub async fn list(args: ListArgs, output: Output) -> Result<(), CliError> {
    let all_functions = args.function.is_none();
    if all_functions && args.client.aws {
        return Err(CliError::Usage(AWS_LIST_NEEDS_FUNCTION.into()));
    }
    let client = Client::connect(&args.client).await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let room = u32::try_from(limit.saturating_sub(found.len())).unwrap_or(u32::MAX);
        let req = ListDurableExecutionsByFunctionRequest {
            function_name: args.function.clone().unwrap_or_default(),
            durable_execution_name: args.name.clone(),
            statuses: args.status.clone(),
            marker: marker.clone(),
            max_items: Some(room.min(MAX_PAGE)),
            ..Default::default()
        };
        let page = if all_functions {
            client.list_all(&req).await?
        } else {
            client
                .api
                .list_by_function(req)
                .await
                .map_err(|e| client.fail(e))?
        };
        let got = page.durable_executions.len();
        found.extend(page.durable_executions);
        let next = page.next_marker.filter(|m| !m.is_empty());
        let stuck = got == 0 || next == marker;
        marker = next;
        if marker.is_none() || stuck || found.len() >= limit {
            break;
        }
    }
    found.truncate(limit);
    if args.client.json {
        return emit_json(&ListDurableExecutionsByFunctionResponse {
            durable_executions: found,
            next_marker: marker,
        });
    }
    if found.is_empty() {
        return emit("no durable executions\n");
    }
    let table = execution_table(&found, all_functions, terminal_width());
    let mut text = paint_executions(&table, output);
    if marker.is_some() {
        text.push_str(&format!(
            "(more executions: showing the first {limit}; raise --limit to see more)\n"
        ));
    }
    emit(&text)
}

/// The error an operator records: `--type`, `--message` and (for callbacks) `--data`.
pub fn error_object(error: &ErrorArgs, data: Option<&str>) -> Option<ErrorObject> {
    let e = ErrorObject {
        error_type: error.error_type.clone(),
        error_message: error.message.clone(),
        error_data: data.map(str::to_string),
        stack_trace: None,
    };
    (e != ErrorObject::default()).then_some(e)
}

/// `callback succeed|fail|heartbeat`.
pub async fn callback(cmd: CallbackCommand) -> Result<(), CliError> {
    match cmd {
        CallbackCommand::Succeed(args) => callback_succeed(args).await,
        CallbackCommand::Fail(args) => callback_fail(args).await,
        CallbackCommand::Heartbeat(args) => {
            let client = Client::connect(&args.client).await?;
            client
                .api
                .send_callback_heartbeat(&args.id)
                .await
                .map_err(|e| client.fail(e))?;
            done(
                args.client.json,
                &format!("heartbeat sent to callback {}", args.id),
            )
        }
    }
}

async fn callback_succeed(args: CallbackSucceedArgs) -> Result<(), CliError> {
    let result = match (&args.payload, &args.file) {
        (Some(p), _) => p.clone().into_bytes(),
        (None, Some(path)) => read_input(path, "--file")?,
        (None, None) => Vec::new(),
    };
    let client = Client::connect(&args.client).await?;
    client
        .api
        .send_callback_success(&args.id, result)
        .await
        .map_err(|e| client.fail(e))?;
    done(args.client.json, &format!("callback {} succeeded", args.id))
}

async fn callback_fail(args: CallbackFailArgs) -> Result<(), CliError> {
    let error = error_object(&args.error, args.data.as_deref()).unwrap_or_default();
    let client = Client::connect(&args.client).await?;
    client
        .api
        .send_callback_failure(&args.id, error)
        .await
        .map_err(|e| client.fail(e))?;
    done(args.client.json, &format!("callback {} failed", args.id))
}

/// The output of a call whose response has no members: `{}` in JSON, else `message`.
fn done(json: bool, message: &str) -> Result<(), CliError> {
    if json {
        emit("{}\n")
    } else {
        emit(&format!("{message}\n"))
    }
}

/// `stop`.
pub async fn stop(args: StopArgs) -> Result<(), CliError> {
    let client = Client::connect(&args.client).await?;
    let out = client
        .api
        .stop(&args.arn, error_object(&args.error, None))
        .await
        .map_err(|e| client.fail(e))?;
    if args.client.json {
        return emit_json(&out);
    }
    emit(&format!("stopped at {}\n", out.stop_timestamp.to_rfc3339()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_input_must_be_json() {
        assert_eq!(start_payload(None, None).ok(), Some(None));
        assert_eq!(
            start_payload(Some("{\"a\":1}"), None).ok(),
            Some(Some(b"{\"a\":1}".to_vec()))
        );
        let err = start_payload(Some("{a:1}"), None).err();
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(
            text.starts_with("--input is not valid JSON: key must be a string"),
            "{text}"
        );
        assert_eq!(err.map(|e| e.exit_code()), Some(2));
        let missing = start_payload(None, Some(Path::new("/nonexistent/input.json"))).err();
        let text = missing.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with("cannot read --input-file /nonexistent/input.json"),
            "{text}"
        );
    }

    #[test]
    fn operator_errors_leave_out_what_is_not_given() {
        let none = ErrorArgs {
            error_type: None,
            message: None,
        };
        assert_eq!(error_object(&none, None), None);
        let some = ErrorArgs {
            error_type: Some("Cancelled".into()),
            message: None,
        };
        let e = error_object(&some, Some("{}"));
        assert_eq!(
            e.as_ref().and_then(|e| e.error_type.as_deref()),
            Some("Cancelled")
        );
        assert_eq!(e.and_then(|e| e.error_data), Some("{}".to_string()));
    }

    #[test]
    fn invoke_responses_print_in_the_aws_shape() {
        let out = Invoked {
            status_code: 200,
            durable_execution_arn: Some("arn:x".into()),
            executed_version: Some("$LATEST".into()),
            function_error: None,
            payload: b"{\"ok\":true}".to_vec(),
        };
        assert_eq!(
            invoke_json(&out, true),
            json!({"StatusCode": 200, "DurableExecutionArn": "arn:x",
                   "ExecutedVersion": "$LATEST", "Payload": {"ok": true}})
        );
        assert_eq!(
            invoke_json(&out, false),
            json!({"StatusCode": 200, "DurableExecutionArn": "arn:x",
                   "ExecutedVersion": "$LATEST"})
        );
        assert_eq!(
            function_error_text(r#"{"errorType":"Rejected","errorMessage":"no"}"#),
            "Rejected: no"
        );
        assert_eq!(function_error_text("plain\ntext"), "plain text");
    }
}
