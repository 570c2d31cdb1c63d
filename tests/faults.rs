//! Faults in the `DurableApi` layer: checkpoint calls that fail (5xx, throttling, refused as
//! invalid), time out, come back with a stale or corrupt token, or are applied while their
//! answer is lost.
//!
//! * In process: [`TestRunner`] with [`FaultyApi`] faults, one fault of each kind at every
//!   checkpoint call of a workflow with transitions, a durable sleep and a callback.
//! * Over the wire: the function host of [`support::Stack`] runs the executor over
//!   aws-sdk-lambda ([`AwsDurableApi`]) through a fault-injecting HTTP proxy in front of the
//!   local server, so the SDK's parsing, timeouts and this crate's retries are on the path.
//!
//! Retryable faults (spec/invocation.md §8.4: 429, 5xx, network errors, stale tokens) must
//! end in the result of an uninterrupted run, every transition recorded once; a
//! non-retryable one must fail the execution with the service's error, never report success.
#![cfg(feature = "test-util")]

use durable_fsm::executor::TRANSITION_SUBTYPE;
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome};
use durable_fsm::model::*;
use durable_fsm::testing::{CallbackReply, Fault, TestOutcome, TestRunner};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

/// Numbers the workflow adds, one per transition.
const STEPS: u64 = 6;
/// What the callback brings.
const CALLBACK_VALUE: u64 = 1000;

thread_local! {
    // Per test thread: each #[tokio::test] runs on its own current-thread runtime.
    static SIDE_EFFECTS: RefCell<BTreeMap<u64, u32>> = const { RefCell::new(BTreeMap::new()) };
}

fn side_effects() -> BTreeMap<u64, u32> {
    SIDE_EFFECTS.with(|s| s.borrow().clone())
}

fn reset_side_effects() {
    SIDE_EFFECTS.with(|s| s.borrow_mut().clear());
}

/// Adds 1..=STEPS (each transition records its number as a side effect), sleeping durably
/// after 2 and waiting for a callback after 4 whose number it adds too.
#[derive(Serialize, Deserialize)]
enum Order {
    Add {
        i: u64,
        sum: u64,
    },
    Waiting {
        i: u64,
        sum: u64,
        callback: Callback,
    },
}

impl Transition for Order {
    type Input = ();
    type Output = u64;

    fn start(_: ()) -> Self {
        Order::Add { i: 1, sum: 0 }
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        match self {
            Order::Add { i, sum } => {
                SIDE_EFFECTS.with(|s| *s.borrow_mut().entry(i).or_insert(0) += 1);
                let sum = sum + i;
                Ok(match i {
                    STEPS => Next::done(sum),
                    2 => Next::sleep(Duration::from_secs(30), Order::Add { i: i + 1, sum }),
                    4 => {
                        let config = CallbackConfig::timeout(Duration::from_secs(3600));
                        let callback = ctx.callback("approve", config).await?;
                        Next::to(Order::Waiting {
                            i: i + 1,
                            sum,
                            callback,
                        })
                    }
                    _ => Next::to(Order::Add { i: i + 1, sum }),
                })
            }
            Order::Waiting { i, sum, callback } => match ctx.callback_outcome(&callback)? {
                CallbackOutcome::Succeeded(body) => {
                    let value: u64 = body
                        .trim()
                        .parse()
                        .map_err(|e| TransitionError::new(format!("callback {body:?}: {e}")))?;
                    Ok(Next::to(Order::Add {
                        i,
                        sum: sum + value,
                    }))
                }
                CallbackOutcome::Failed(e) | CallbackOutcome::TimedOut(e) => Ok(Next::fail(e)),
            },
        }
    }
}

fn runner() -> TestRunner<Order> {
    TestRunner::<Order>::new().on_callback(
        "approve",
        CallbackReply::succeed(CALLBACK_VALUE.to_string()),
    )
}

/// Ids of the transition STEPs, in order.
fn transitions(out: &TestOutcome) -> Vec<String> {
    out.operations
        .iter()
        .filter(|o| o.sub_type.as_deref() == Some(TRANSITION_SUBTYPE))
        .map(|o| o.id.clone())
        .collect()
}

/// Every transition STEP started once and succeeded once; the timer and the callback
/// completed once.
fn assert_recorded_once(out: &TestOutcome, context: &str) {
    for id in transitions(out) {
        let count = |t: EventType| {
            out.events
                .iter()
                .filter(|e| e.event_type == t && e.id.as_deref() == Some(id.as_str()))
                .count()
        };
        assert_eq!(count(EventType::StepStarted), 1, "{context}: {id} started");
        assert_eq!(
            count(EventType::StepSucceeded),
            1,
            "{context}: {id} succeeded"
        );
    }
    assert_eq!(
        out.events_of(EventType::WaitSucceeded).count(),
        1,
        "{context}"
    );
    assert_eq!(
        out.events_of(EventType::CallbackSucceeded).count(),
        1,
        "{context}"
    );
}

#[tokio::test]
async fn one_retryable_fault_at_any_checkpoint_ends_like_an_uninterrupted_run() {
    reset_side_effects();
    let clean = runner().run(()).await.expect("the uninterrupted run");
    assert_eq!(clean.status, ExecutionStatus::Succeeded);
    let expected = (STEPS * (STEPS + 1) / 2 + CALLBACK_VALUE).to_string();
    assert_eq!(clean.result.as_deref(), Some(expected.as_str()));
    assert_recorded_once(&clean, "uninterrupted");
    assert!(side_effects().values().all(|&c| c == 1));
    let calls = clean.checkpoint_calls;
    assert!(calls >= STEPS, "{calls} checkpoint calls");

    let mut runs = 0;
    for fault in Fault::ALL.into_iter().filter(|f| f.is_retryable()) {
        for n in 1..=calls {
            reset_side_effects();
            let context = format!("{fault:?} at checkpoint {n}");
            let out = runner()
                .fail_checkpoint(n, fault)
                .run(())
                .await
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(out.status, ExecutionStatus::Succeeded, "{context}");
            assert_eq!(out.result, clean.result, "{context}");
            assert_eq!(transitions(&out), transitions(&clean), "{context}");
            assert_recorded_once(&out, &context);
            // The faulty call failed one invocation at most, which re-ran one transition at
            // most; no transition was skipped.
            assert!(
                out.invocations <= clean.invocations + 1,
                "{context}: {} invocations",
                out.invocations
            );
            let effects = side_effects();
            assert_eq!(effects.len() as u64, STEPS, "{context}: {effects:?}");
            let repeated = effects.values().filter(|&&c| c > 1).count();
            assert!(repeated <= 1, "{context}: {effects:?}");
            runs += 1;
        }
    }
    println!("faults: {runs} runs with one retryable fault, {calls} checkpoint calls each");
    assert_eq!(runs, 6 * calls);
}

#[tokio::test]
async fn repeated_faults_at_one_call_end_like_an_uninterrupted_run() {
    reset_side_effects();
    let clean = runner().run(()).await.expect("the uninterrupted run");
    for fault in [
        Fault::FailBefore,
        Fault::Throttle,
        Fault::StaleToken,
        Fault::Timeout,
    ] {
        // Three consecutive calls fail: three failed invocations, then it goes through.
        let out = runner()
            .fail_checkpoint(3, fault)
            .fail_checkpoint(4, fault)
            .fail_checkpoint(5, fault)
            .run(())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(out.status, ExecutionStatus::Succeeded, "{fault:?}");
        assert_eq!(out.result, clean.result, "{fault:?}");
        assert_recorded_once(&out, &format!("{fault:?} x3"));
        assert_eq!(out.invocations, clean.invocations + 3, "{fault:?}");
        let failed = out
            .events_of(EventType::InvocationCompleted)
            .filter(|e| {
                e.invocation_completed_details
                    .as_ref()
                    .is_some_and(|d| d.error.is_some())
            })
            .count();
        assert_eq!(
            failed, 3,
            "{fault:?}: each failed invocation is in the history"
        );
    }
}

#[tokio::test]
async fn a_refused_checkpoint_fails_the_execution_and_never_reports_success() {
    reset_side_effects();
    let clean = runner().run(()).await.expect("the uninterrupted run");
    for n in 1..=clean.checkpoint_calls {
        let out = runner()
            .fail_checkpoint(n, Fault::Reject)
            .run(())
            .await
            .unwrap_or_else(|e| panic!("Reject at {n}: {e}"));
        assert_eq!(out.status, ExecutionStatus::Failed, "Reject at {n}");
        assert_eq!(out.result, None, "Reject at {n}");
        let error = out.error.as_ref().expect("the execution's error");
        assert_eq!(
            error.error_type.as_deref(),
            Some("InvalidParameterValueException"),
            "Reject at {n}: {error:?}"
        );
        assert_eq!(out.events_of(EventType::ExecutionSucceeded).count(), 0);
        assert_eq!(out.events_of(EventType::ExecutionFailed).count(), 1);
        // What was recorded before stays recorded, once.
        let done: Vec<_> = transitions(&out);
        assert!(done.len() < transitions(&clean).len(), "Reject at {n}");
        assert_eq!(done[..], transitions(&clean)[..done.len()], "Reject at {n}");
        // No invocation after the failure.
        assert!(out.invocations <= clean.invocations, "Reject at {n}");
    }
}

// ---- over the wire: AwsDurableApi through a fault-injecting proxy ---------------------------

#[cfg(all(feature = "aws", feature = "server", feature = "lambda"))]
mod support;

#[cfg(all(feature = "aws", feature = "server", feature = "lambda"))]
mod wire {
    use super::support::{Functions, Stack, StackOptions};
    use aws_sdk_lambda::config::timeout::TimeoutConfig;
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::InvocationType;
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::{Request, State};
    use axum::http::{HeaderValue, Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use durable_fsm::aws::{AwsDurableApi, RetryConfig};
    use durable_fsm::executor::TRANSITION_SUBTYPE;
    use durable_fsm::model::*;
    use durable_fsm::service::EngineConfig;
    use durable_fsm::{Ctx, Next, Transition, TransitionError};
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// Transitions of [`Relay`].
    const RELAY_STEPS: u64 = 4;
    /// The SDK's limit on one attempt; the proxy's hang outlasts it.
    const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(700);
    const HANG: Duration = Duration::from_millis(1500);
    /// A token no service issued.
    const BAD_TOKEN: &str = "d2lyZS1jb3JydXB0LXRva2Vu";

    /// Side effects of [`Relay`], by execution name and number.
    static EFFECTS: Mutex<BTreeMap<(String, u64), u32>> = Mutex::new(BTreeMap::new());

    /// Counts 1..=RELAY_STEPS, one transition each, recording each as a side effect.
    #[derive(Serialize, Deserialize)]
    enum Relay {
        Leg { name: String, i: u64 },
    }

    impl Transition for Relay {
        type Input = String;
        type Output = u64;

        fn start(name: String) -> Self {
            Relay::Leg { name, i: 1 }
        }

        async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            let Relay::Leg { name, i } = self;
            *EFFECTS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry((name.clone(), i))
                .or_insert(0) += 1;
            Ok(if i == RELAY_STEPS {
                Next::done(i * 10)
            } else {
                Next::to(Relay::Leg { name, i: i + 1 })
            })
        }
    }

    /// What the proxy does to one CheckpointDurableExecution.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum WireFault {
        /// Answers 500 `ServiceException` itself.
        Status500,
        /// Answers 429 `TooManyRequestsException` itself.
        Status429,
        /// Answers 400 `InvalidParameterValueException` (not about the token) itself.
        Reject400,
        /// Answers 400 "Invalid checkpoint token" itself.
        StaleToken,
        /// Never answers in time; does not forward.
        Hang,
        /// Forwards, then never answers in time: applied, the answer lost.
        LoseResponse,
        /// Forwards, then replaces the new token with one no service issued.
        BadToken,
    }

    impl WireFault {
        const ALL: [WireFault; 7] = [
            WireFault::Status500,
            WireFault::Status429,
            WireFault::Reject400,
            WireFault::StaleToken,
            WireFault::Hang,
            WireFault::LoseResponse,
            WireFault::BadToken,
        ];
    }

    struct Proxy {
        upstream: Mutex<String>,
        checkpoints: AtomicU64,
        plan: Mutex<HashMap<u64, WireFault>>,
        client: Client<HttpConnector, Full<Bytes>>,
    }

    fn error(status: StatusCode, kind: &str, message: &str) -> Response {
        let body = serde_json::json!({ "Type": "User", "message": message }).to_string();
        (status, [("x-amzn-errortype", kind)], body).into_response()
    }

    async fn forward(State(proxy): State<Arc<Proxy>>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let Ok(body) = axum::body::to_bytes(body, 16 << 20).await else {
            return error(StatusCode::BAD_REQUEST, "ProxyError", "unreadable body");
        };
        let is_checkpoint =
            parts.method == Method::POST && parts.uri.path().ends_with("/checkpoint");
        let fault = if is_checkpoint {
            let n = proxy.checkpoints.fetch_add(1, Ordering::SeqCst) + 1;
            proxy
                .plan
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&n)
                .copied()
        } else {
            None
        };
        match fault {
            Some(WireFault::Status500) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    "injected",
                );
            }
            Some(WireFault::Status429) => {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    "injected: Rate exceeded",
                );
            }
            Some(WireFault::Reject400) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterValueException",
                    "injected: the request is invalid",
                );
            }
            Some(WireFault::StaleToken) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameterValueException",
                    "Invalid checkpoint token: injected",
                );
            }
            Some(WireFault::Hang) => {
                tokio::time::sleep(HANG).await;
                return error(StatusCode::GATEWAY_TIMEOUT, "ProxyError", "too late");
            }
            _ => {}
        }
        let upstream = proxy
            .upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let uri = format!(
            "{upstream}{}",
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut out = hyper::Request::builder()
            .method(parts.method.clone())
            .uri(uri);
        for (k, v) in &parts.headers {
            if k != "host" {
                out = out.header(k, v);
            }
        }
        let Ok(out) = out.body(Full::new(body)) else {
            return error(StatusCode::BAD_GATEWAY, "ProxyError", "bad request");
        };
        let resp = match proxy.client.request(out).await {
            Ok(resp) => resp,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "ProxyError", &e.to_string()),
        };
        let (rparts, rbody) = resp.into_parts();
        let Ok(rbody) = rbody.collect().await.map(|b| b.to_bytes()) else {
            return error(StatusCode::BAD_GATEWAY, "ProxyError", "unreadable answer");
        };
        let rbody = match fault {
            Some(WireFault::LoseResponse) => {
                tokio::time::sleep(HANG).await;
                rbody
            }
            Some(WireFault::BadToken) if rparts.status.is_success() => {
                let mut v: Value = serde_json::from_slice(&rbody).unwrap_or(Value::Null);
                if v.get("CheckpointToken").is_some() {
                    v["CheckpointToken"] = Value::String(BAD_TOKEN.into());
                }
                Bytes::from(v.to_string())
            }
            _ => rbody,
        };
        let mut answer = Response::new(Body::from(rbody));
        *answer.status_mut() = rparts.status;
        for (k, v) in &rparts.headers {
            if k != "content-length" && k != "transfer-encoding" {
                answer.headers_mut().insert(k, v.clone());
            }
        }
        answer
            .headers_mut()
            .insert("connection", HeaderValue::from_static("keep-alive"));
        answer
    }

    /// aws-sdk-lambda towards `url` with a short attempt timeout and quick retries.
    fn api_towards(url: &str) -> AwsDurableApi {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("dummy", "dummy", None, None, "test"))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .build();
        AwsDurableApi::new(aws_sdk_lambda::Client::from_conf(config)).with_retry(
            RetryConfig::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
    }

    fn effects_of(name: &str) -> Vec<u32> {
        EFFECTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, c)| *c)
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_backend_survives_wire_faults_at_every_checkpoint() {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let proxy_url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let proxy = Arc::new(Proxy {
            upstream: Mutex::new(String::new()),
            checkpoints: AtomicU64::new(0),
            plan: Mutex::new(HashMap::new()),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        let proxy_task = tokio::spawn(async move { axum::serve(listener, app).await });

        let engine = EngineConfig {
            invocation_retry_delay: Duration::from_millis(50),
            ..EngineConfig::default()
        };
        let wrap_url = proxy_url.clone();
        let options = StackOptions::wrapped(move |_direct| api_towards(&wrap_url)).engine(engine);
        let functions = Functions::<AwsDurableApi>::new().workflow::<Relay>("relay");
        let stack = Stack::start_with(functions, options).await;
        *proxy.upstream.lock().expect("the proxy") = stack.service_url.clone();
        let client = stack.client();

        let mut k = 0u32;
        let mut run = async |plan: &[(u64, WireFault)]| {
            k += 1;
            let name = format!("relay-{k}");
            proxy.checkpoints.store(0, Ordering::SeqCst);
            *proxy.plan.lock().expect("the plan") = plan.iter().copied().collect();
            let out = client
                .invoke()
                .function_name("relay")
                .invocation_type(InvocationType::Event)
                .durable_execution_name(&name)
                .payload(Blob::new(Value::String(name.clone()).to_string()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("Invoke: {e:?}"));
            let arn = out
                .durable_execution_arn()
                .expect("DurableExecutionArn")
                .to_string();
            let end = stack
                .runtime()
                .wait_for_end(&arn, Duration::from_secs(60))
                .await
                .unwrap_or_else(|e| panic!("{plan:?}: {e}"));
            let engine = stack.runtime().service().lock().expect("the engine");
            let events = engine.events(&arn).expect("the history");
            let ops = engine.operations(&arn).expect("the operations");
            (
                name,
                end,
                events,
                ops,
                proxy.checkpoints.load(Ordering::SeqCst),
            )
        };

        let (_, clean, _, clean_ops, calls) = run(&[]).await;
        assert_eq!(clean.status, ExecutionStatus::Succeeded);
        let steps = |ops: &[Operation]| {
            ops.iter()
                .filter(|o| o.sub_type.as_deref() == Some(TRANSITION_SUBTYPE))
                .map(|o| o.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(steps(&clean_ops).len() as u64, RELAY_STEPS);

        let mut cases = 0;
        let mut plans: Vec<Vec<(u64, WireFault)>> = Vec::new();
        for fault in WireFault::ALL {
            for n in 1..=calls {
                plans.push(vec![(n, fault)]);
            }
        }
        // More failures in a row than the client's attempts: the invocation fails, the
        // service invokes again.
        plans.push((2..=5).map(|n| (n, WireFault::Status500)).collect());
        plans.push((2..=5).map(|n| (n, WireFault::Hang)).collect());
        for plan in plans {
            let (name, end, events, ops, _) = run(&plan).await;
            let context = format!("{plan:?}");
            if plan.iter().any(|(_, f)| *f == WireFault::Reject400) {
                assert_eq!(end.status, ExecutionStatus::Failed, "{context}");
                assert_eq!(end.result, None, "{context}");
                let error = end.error.expect("the execution's error");
                assert_eq!(
                    error.error_type.as_deref(),
                    Some("InvalidParameterValueException"),
                    "{context}"
                );
                assert!(
                    !events
                        .iter()
                        .any(|e| e.event_type == EventType::ExecutionSucceeded),
                    "{context}"
                );
            } else {
                assert_eq!(end.status, ExecutionStatus::Succeeded, "{context}");
                assert_eq!(end.result, clean.result, "{context}");
                assert_eq!(steps(&ops), steps(&clean_ops), "{context}");
                for id in steps(&ops) {
                    let count = |t: EventType| {
                        events
                            .iter()
                            .filter(|e| e.event_type == t && e.id.as_deref() == Some(id.as_str()))
                            .count()
                    };
                    assert_eq!(count(EventType::StepStarted), 1, "{context}: {id}");
                    assert_eq!(count(EventType::StepSucceeded), 1, "{context}: {id}");
                }
                let effects = effects_of(&name);
                assert_eq!(effects.len() as u64, RELAY_STEPS, "{context}: {effects:?}");
                assert!(
                    effects.iter().filter(|&&c| c > 1).count() <= 1,
                    "{context}: {effects:?}"
                );
            }
            cases += 1;
        }
        println!("faults over the wire: {cases} executions, each with a planned fault");
        assert_eq!(cases as u64, 7 * calls + 2);
        stack.shutdown().await;
        proxy_task.abort();
    }
}
