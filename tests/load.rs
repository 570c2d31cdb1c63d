//! A bounded load test through the real HTTP stack, on loopback: N concurrent executions
//! (1,000 by default, `DFSM_LOAD_EXECUTIONS` for another count), each a durable sleep of one second and a
//! callback answered through aws-sdk-lambda; a random tenth of the callbacks are sent twice.
//!
//! Every CheckpointDurableExecution is timed as the function host sees it (aws-sdk-lambda
//! over HTTP into the server and back) and the test prints one line for the book:
//!
//! ```text
//! load: N executions, X checkpoints, p50 … ms, p99 … ms, wall … s
//! ```
//!
//! Those figures are reported, never asserted; the only timing bound is a generous overall
//! deadline that keeps CI from hanging. While the load runs, a probe checks that
//! GetDurableExecution still answers.
//!
//! The stack is [`support::Stack`], with the function host's `DurableApi` wrapped in
//! [`Timed`]: timing at the host is what the figures are meant to show.
#![cfg(all(feature = "aws", feature = "server", feature = "lambda"))]

mod support;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{ExecutionStatus, InvocationType};
use durable_fsm::api::{ApiError, DurableApi};
use durable_fsm::aws::AwsDurableApi;
use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome};
use durable_fsm::model::*;
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use support::{Functions, Stack, StackOptions};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Executions in a normal `cargo test`.
const DEFAULT_EXECUTIONS: usize = 1000;
/// The durable sleep of every execution.
const NAP: Duration = Duration::from_secs(1);
/// Longer than any run: a callback that times out is a failure of the test.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(3600);
/// Requests the test itself has in flight at most (starts, callbacks).
const CLIENT_CONCURRENCY: usize = 100;
/// How often the probe asks for an execution while the load runs.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);
/// The most a probe may take: the server is stuck, not slow, beyond it.
const PROBE_BOUND: Duration = Duration::from_secs(20);

/// The overall bound: generous, only there so that a hang fails instead of blocking CI.
fn deadline_for(executions: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(200) * executions as u32
}

// ---- the workflow -------------------------------------------------------------------------

/// Where [`Nap`] reports the callbacks it opens: `(execution ARN, callback id)`, the way a
/// real workflow hands its callback id to the system that will answer.
static OPENED: Mutex<Option<mpsc::UnboundedSender<(String, String)>>> = Mutex::new(None);

/// Sleeps durably, opens a callback, reports it, and ends with the callback's body.
#[derive(Serialize, Deserialize)]
pub enum Nap {
    Start,
    Awake,
    Waiting(Callback),
}

impl Transition for Nap {
    type Input = Value;
    type Output = Value;

    fn start(_input: Value) -> Self {
        Nap::Start
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Nap::Start => Next::sleep(NAP, Nap::Awake),
            Nap::Awake => {
                let callback = ctx
                    .callback("reply", CallbackConfig::timeout(CALLBACK_TIMEOUT))
                    .await?;
                let opened = OPENED.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(tx) = opened {
                    let _ = tx.send((ctx.execution_arn().to_string(), callback.id().to_string()));
                }
                Next::to(Nap::Waiting(callback))
            }
            Nap::Waiting(callback) => match ctx.callback_outcome(&callback)? {
                CallbackOutcome::Succeeded(body) => {
                    Next::done(serde_json::from_str(&body).unwrap_or(Value::String(body)))
                }
                CallbackOutcome::Failed(e) | CallbackOutcome::TimedOut(e) => Next::fail(e),
            },
        })
    }
}

// ---- timing the host's checkpoints ----------------------------------------------------------

/// CheckpointDurableExecution latencies as the caller saw them, and failed calls.
#[derive(Clone, Default)]
pub struct Timings {
    samples: Arc<Mutex<Vec<Duration>>>,
    failed: Arc<AtomicU64>,
}

/// A `DurableApi` that times every checkpoint of the one it wraps.
#[derive(Clone)]
pub struct Timed<A> {
    inner: A,
    timings: Timings,
}

impl<A: DurableApi> DurableApi for Timed<A> {
    async fn checkpoint(
        &self,
        req: CheckpointDurableExecutionRequest,
    ) -> Result<CheckpointDurableExecutionResponse, ApiError> {
        let sent = Instant::now();
        let out = self.inner.checkpoint(req).await;
        let took = sent.elapsed();
        self.timings
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(took);
        if out.is_err() {
            self.timings.failed.fetch_add(1, Ordering::SeqCst);
        }
        out
    }

    async fn get_state(
        &self,
        req: GetDurableExecutionStateRequest,
    ) -> Result<GetDurableExecutionStateResponse, ApiError> {
        self.inner.get_state(req).await
    }

    async fn get_execution(
        &self,
        arn: &str,
        include_execution_data: bool,
    ) -> Result<GetDurableExecutionResponse, ApiError> {
        self.inner.get_execution(arn, include_execution_data).await
    }

    async fn get_history(
        &self,
        req: GetDurableExecutionHistoryRequest,
    ) -> Result<GetDurableExecutionHistoryResponse, ApiError> {
        self.inner.get_history(req).await
    }

    async fn list_by_function(
        &self,
        req: ListDurableExecutionsByFunctionRequest,
    ) -> Result<ListDurableExecutionsByFunctionResponse, ApiError> {
        self.inner.list_by_function(req).await
    }

    async fn send_callback_success(
        &self,
        callback_id: &str,
        result: Vec<u8>,
    ) -> Result<(), ApiError> {
        self.inner.send_callback_success(callback_id, result).await
    }

    async fn send_callback_failure(
        &self,
        callback_id: &str,
        error: ErrorObject,
    ) -> Result<(), ApiError> {
        self.inner.send_callback_failure(callback_id, error).await
    }

    async fn send_callback_heartbeat(&self, callback_id: &str) -> Result<(), ApiError> {
        self.inner.send_callback_heartbeat(callback_id).await
    }

    async fn stop(
        &self,
        arn: &str,
        error: Option<ErrorObject>,
    ) -> Result<StopDurableExecutionResponse, ApiError> {
        self.inner.stop(arn, error).await
    }

    async fn start_execution(
        &self,
        req: durable_fsm::api::StartExecutionRequest,
    ) -> Result<durable_fsm::api::StartExecutionResponse, ApiError> {
        self.inner.start_execution(req).await
    }
}

impl Timings {
    /// Every checkpoint latency so far, in completion order.
    fn latencies(&self) -> Vec<Duration> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checkpoint calls that returned an error.
    fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
}

// ---- helpers ------------------------------------------------------------------------------

/// SplitMix64: a seeded generator, so a run can be repeated with `DFSM_LOAD_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `k` distinct indexes below `n`.
    fn sample(&mut self, n: usize, k: usize) -> HashSet<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            all.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        all.into_iter().take(k).collect()
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The value at quantile `q` of sorted samples, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Starts the execution `nap-{i}` with an `Event` Invoke; returns its ARN.
async fn start(client: &Client, i: usize) -> String {
    let out = client
        .invoke()
        .function_name("nap")
        .invocation_type(InvocationType::Event)
        .durable_execution_name(format!("nap-{i}"))
        .payload(Blob::new(json!({ "i": i }).to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Invoke of nap-{i}: {e:?}"));
    assert_eq!(out.status_code(), 202, "{out:?}");
    out.durable_execution_arn()
        .expect("DurableExecutionArn")
        .to_string()
}

/// Answers a callback; when `twice`, answers again and requires CallbackTimeoutException.
async fn answer(client: &Client, callback_id: &str, body: &str, twice: bool) {
    client
        .send_durable_execution_callback_success()
        .callback_id(callback_id)
        .result(Blob::new(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("SendDurableExecutionCallbackSuccess: {e:?}"));
    if twice {
        let again = client
            .send_durable_execution_callback_success()
            .callback_id(callback_id)
            .result(Blob::new(body))
            .send()
            .await;
        match again {
            Err(SdkError::ServiceError(e)) => {
                assert_eq!(e.raw().status().as_u16(), 400);
                assert!(e.err().is_callback_timeout_exception(), "{:?}", e.err());
            }
            other => panic!("a second answer must get CallbackTimeoutException: {other:?}"),
        }
    }
}

// ---- the test -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_executions_sleep_and_take_their_own_callbacks() {
    let n = env_number("DFSM_LOAD_EXECUTIONS").map_or(DEFAULT_EXECUTIONS, |v| v as usize);
    let seed = env_number("DFSM_LOAD_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut rng = Rng(seed);
    let twice = rng.sample(n, n / 10);
    let deadline = tokio::time::Instant::now() + deadline_for(n);
    let (opened_tx, mut opened) = mpsc::unbounded_channel();
    *OPENED.lock().unwrap() = Some(opened_tx);

    let timings = Timings::default();
    let wrap = {
        let timings = timings.clone();
        move |inner| Timed { inner, timings }
    };
    let functions = Functions::<Timed<AwsDurableApi>>::new().workflow::<Nap>("nap");
    let stack = Stack::start_with(functions, StackOptions::wrapped(wrap)).await;
    let client = stack.client();
    let wall = Instant::now();

    // While the load runs, GetDurableExecution keeps answering, for executions started so far.
    let known = Arc::new(Mutex::new(vec![start(&client, 0).await]));
    let probing = Arc::new(AtomicBool::new(true));
    let probes = Arc::new(AtomicU64::new(0));
    let probe = {
        let (client, known) = (client.clone(), known.clone());
        let (probing, probes) = (probing.clone(), probes.clone());
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut k = 0usize;
            while probing.load(Ordering::SeqCst) {
                let arn = {
                    let known = known.lock().unwrap();
                    known[k % known.len()].clone()
                };
                k += 7;
                let asked = Instant::now();
                let got = tokio::time::timeout(
                    PROBE_BOUND,
                    client
                        .get_durable_execution()
                        .durable_execution_arn(&arn)
                        .send(),
                )
                .await;
                let got = match got {
                    Ok(Ok(got)) => got,
                    Ok(Err(e)) => panic!("GetDurableExecution failed: {e:?}"),
                    Err(_) => panic!("GetDurableExecution unanswered for {PROBE_BOUND:?}"),
                };
                assert_eq!(got.durable_execution_arn(), arn);
                slowest = slowest.max(asked.elapsed());
                probes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
            slowest
        })
    };

    // Start the others, at most CLIENT_CONCURRENCY requests at a time.
    let gate = Arc::new(Semaphore::new(CLIENT_CONCURRENCY));
    let mut starts = JoinSet::new();
    for i in 1..n {
        let (client, gate) = (client.clone(), gate.clone());
        starts.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            (start(&client, i).await, i)
        });
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    index.insert(known.lock().unwrap()[0].clone(), 0);
    while let Some(started) = tokio::time::timeout_at(deadline, starts.join_next())
        .await
        .expect("starting the executions took too long")
    {
        let (arn, i) = started.unwrap();
        known.lock().unwrap().push(arn.clone());
        index.insert(arn, i);
    }
    assert_eq!(index.len(), n, "one ARN per execution");

    // Answer each callback as soon as its execution reports it, concurrently.
    let mut expected: HashMap<String, Value> = HashMap::new();
    let mut answers = JoinSet::new();
    while expected.len() < n {
        let (arn, callback_id) = tokio::time::timeout_at(deadline, opened.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} callbacks opened in time", expected.len()))
            .expect("the channel stays open");
        let Some(&i) = index.get(&arn) else {
            panic!("a callback of an unknown execution: {arn}");
        };
        if expected.contains_key(&arn) {
            continue; // A re-run transition reports its callback again.
        }
        let body = json!({ "i": i, "nonce": format!("{:016x}", rng.next()) });
        expected.insert(arn, body.clone());
        let (client, gate, dup) = (client.clone(), gate.clone(), twice.contains(&i));
        answers.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            answer(&client, &callback_id, &body.to_string(), dup).await;
        });
    }
    while let Some(done) = tokio::time::timeout_at(deadline, answers.join_next())
        .await
        .expect("answering the callbacks took too long")
    {
        done.unwrap();
    }

    // Every execution ends SUCCEEDED with its own callback's body.
    for arn in index.keys() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        stack
            .runtime()
            .wait_for_end(arn, left)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let wall = wall.elapsed();
    probing.store(false, Ordering::SeqCst);
    let slowest_probe = probe.await.unwrap();
    assert!(probes.load(Ordering::SeqCst) > 0, "the probe never ran");
    for (arn, body) in &expected {
        let exec = client
            .get_durable_execution()
            .durable_execution_arn(arn)
            .send()
            .await
            .expect("GetDurableExecution");
        assert_eq!(exec.status(), &ExecutionStatus::Succeeded, "{exec:?}");
        let result: Value = serde_json::from_str(exec.result().expect("Result")).unwrap();
        assert_eq!(&result, body, "{arn}");
    }

    let mut samples = timings.latencies();
    let failed = timings.failed();
    samples.sort();
    assert!(samples.len() >= 3 * n, "{} checkpoints", samples.len());
    println!(
        "load: {n} executions, {} checkpoints, p50 {:.1} ms, p99 {:.1} ms, wall {:.1} s",
        samples.len(),
        quantile_ms(&samples, 0.50),
        quantile_ms(&samples, 0.99),
        wall.as_secs_f64(),
    );
    println!(
        "load: seed {seed}, {} callbacks answered twice, {failed} checkpoint calls failed, \
         {} probes, slowest probe {:.1} ms",
        twice.len(),
        probes.load(Ordering::SeqCst),
        slowest_probe.as_secs_f64() * 1000.0,
    );
    *OPENED.lock().unwrap() = None;
    stack.shutdown().await;
}

#[test]
fn quantiles_pick_the_nearest_rank() {
    let ms = |v: u64| Duration::from_millis(v);
    let sorted: Vec<Duration> = (1..=100).map(ms).collect();
    assert_eq!(quantile_ms(&sorted, 0.50), 50.0);
    assert_eq!(quantile_ms(&sorted, 0.99), 99.0);
    assert_eq!(quantile_ms(&[ms(7)], 0.99), 7.0);
    let picked = Rng(42).sample(1000, 100);
    assert_eq!(picked.len(), 100);
    assert!(picked.iter().all(|&i| i < 1000));
}
