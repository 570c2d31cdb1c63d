//! A small HTTP client for the raw wire (the emulator's own routes, events sent straight to a
//! function) and the durable API reads both drivers share: GetDurableExecution polled until
//! the execution ends, GetDurableExecutionHistory read page by page.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The largest response read (a history page of the paged-state workflow is ~6 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// One ordinary request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a polled condition is checked.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The most history pages read for one execution.
const MAX_HISTORY_PAGES: usize = 50;

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A plain HTTP/1.1 client.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Http {
    /// Sends one request; `Err` on a transport error or after `timeout`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        let request = Request::builder()
            .method(method.clone())
            .uri(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request {method} {url}: {e}"))?;
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{method} {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("{method} {url}: reading the body: {e}"))?
                .to_bytes();
            Ok(Reply { status, body })
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| format!("{method} {url}: no answer within {timeout:?}"))?
    }

    /// GET with the default timeout.
    pub async fn get(&self, url: &str) -> Result<Reply, String> {
        self.send(Method::GET, url, Vec::new(), REQUEST_TIMEOUT)
            .await
    }

    /// POST of a JSON (or any) body.
    pub async fn post_json(
        &self,
        url: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Reply, String> {
        self.send(Method::POST, url, body.as_bytes().to_vec(), timeout)
            .await
    }
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `{base}/2025-12-01/durable-executions/{arn}`.
pub fn execution_url(base: &str, arn: &str) -> String {
    format!(
        "{base}/2025-12-01/durable-executions/{}",
        encode_segment(arn)
    )
}

/// GetDurableExecution.
pub async fn get_execution(http: &Http, base: &str, arn: &str) -> Value {
    let reply = http
        .get(&execution_url(base, arn))
        .await
        .unwrap_or_else(|e| panic!("GetDurableExecution: {e}"));
    assert_eq!(reply.status, 200, "GetDurableExecution {arn}: {reply:?}");
    reply.json()
}

/// The whole history (IncludeExecutionData=true), page by page.
pub async fn history(http: &Http, base: &str, arn: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_HISTORY_PAGES {
        let mut url = format!(
            "{}/history?IncludeExecutionData=true&MaxItems=1000",
            execution_url(base, arn)
        );
        if let Some(m) = &marker {
            let _ = write!(url, "&Marker={}", encode_segment(m));
        }
        let reply = http
            .get(&url)
            .await
            .unwrap_or_else(|e| panic!("GetDurableExecutionHistory: {e}"));
        assert_eq!(
            reply.status, 200,
            "GetDurableExecutionHistory {arn}: {reply:?}"
        );
        let page = reply.json();
        if let Some(list) = page["Events"].as_array() {
            events.extend(list.iter().cloned());
        }
        marker = page["NextMarker"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if marker.is_none() {
            return events;
        }
    }
    panic!("the history of {arn} has more than {MAX_HISTORY_PAGES} pages");
}

/// The newest event of an execution (one reversed history page of one event); its EventId
/// counts the events.
pub async fn last_event(http: &Http, base: &str, arn: &str) -> Value {
    let url = format!(
        "{}/history?ReverseOrder=true&MaxItems=1",
        execution_url(base, arn)
    );
    let reply = http
        .get(&url)
        .await
        .unwrap_or_else(|e| panic!("GetDurableExecutionHistory: {e}"));
    assert_eq!(
        reply.status, 200,
        "GetDurableExecutionHistory {arn}: {reply:?}"
    );
    reply.json()["Events"][0].clone()
}

/// Like [`wait_terminal`], but gives up early with `Err` when the execution has stalled: still
/// RUNNING, its newest event an InvocationCompleted (no invocation in flight), and no new event
/// for `stall`. Only meaningful where nothing takes real time (the emulator's skip-time).
pub async fn wait_terminal_or_stalled(
    http: &Http,
    base: &str,
    arn: &str,
    timeout: Duration,
    stall: Duration,
) -> Result<Value, String> {
    let deadline = Instant::now() + timeout;
    let mut newest = (Value::Null, Instant::now());
    loop {
        let execution = get_execution(http, base, arn).await;
        if execution["Status"] != "RUNNING" {
            return Ok(execution);
        }
        let last = last_event(http, base, arn).await;
        if last["EventId"] != newest.0["EventId"] {
            newest = (last, Instant::now());
        } else if last["EventType"] == "InvocationCompleted" && newest.1.elapsed() >= stall {
            let events = history(http, base, arn).await;
            return Err(format!(
                "{arn} stalled: RUNNING with no invocation and no new event for {stall:?}; \
                 history: {}",
                summary(&events)
            ));
        }
        if Instant::now() >= deadline {
            let events = history(http, base, arn).await;
            panic!(
                "{arn} still RUNNING after {timeout:?}; history so far: {}",
                summary(&events)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls until the execution is no longer RUNNING, for at most `timeout`; returns it.
pub async fn wait_terminal(http: &Http, base: &str, arn: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let execution = get_execution(http, base, arn).await;
        if execution["Status"] != "RUNNING" {
            return execution;
        }
        if Instant::now() >= deadline {
            let events = history(http, base, arn).await;
            panic!(
                "{arn} still RUNNING after {timeout:?}; history so far: {}",
                summary(&events)
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls the history until the execution has created a callback and suspended on it (an
/// InvocationCompleted after the CallbackStarted); returns the CallbackId. Completing the
/// callback only then keeps the event order independent of how fast the invocation ends.
pub async fn wait_suspended_on_callback(
    http: &Http,
    base: &str,
    arn: &str,
    timeout: Duration,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let events = history(http, base, arn).await;
        let started = events
            .iter()
            .position(|e| e["EventType"] == "CallbackStarted");
        let id = started.and_then(|i| {
            let suspended = events[i..]
                .iter()
                .any(|e| e["EventType"] == "InvocationCompleted");
            let id = events[i]["CallbackStartedDetails"]["CallbackId"].as_str();
            id.filter(|_| suspended)
        });
        if let Some(id) = id {
            return id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{arn} did not suspend on a callback within {timeout:?}: {}",
            summary(&events)
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `EventType[(Name)]` of each event, for messages.
pub fn summary(events: &[Value]) -> String {
    let shown: Vec<String> = events.iter().map(event_label).collect();
    if shown.len() > 40 {
        format!(
            "{} events: {} … {}",
            shown.len(),
            shown[..20].join(", "),
            shown[shown.len() - 10..].join(", ")
        )
    } else {
        shown.join(", ")
    }
}

/// `EventType` or `EventType(Name)`.
pub fn event_label(event: &Value) -> String {
    let kind = event["EventType"].as_str().unwrap_or("?");
    match event["Name"].as_str() {
        Some(name) => format!("{kind}({name})"),
        None => kind.to_string(),
    }
}
