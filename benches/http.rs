//! The local durable service over HTTP, as `durable-fsm serve` runs it (SQLite file, WAL,
//! `synchronous=FULL`, group commit), next to AWS's emulator dex-local-runner in the same run:
//!
//! * `http/100 concurrent executions`: aggregate checkpoints per second, 100 executions each
//!   sending CheckpointDurableExecution over its own kept-alive HTTP/1.1 connection;
//! * `http/lambda invoke`: one execution of N sequential transitions started by a Lambda Invoke
//!   on the service, which invokes a function host over HTTP (the way `durable-fsm serve
//!   --lambda-endpoint` drives `cargo lambda watch`); the host's executor checkpoints back
//!   through aws-sdk-lambda; per-transition time;
//! * `dex-local-runner/steps`: the same workload on dex-local-runner (in memory) driving a
//!   Python durable function of N sequential steps (`benches/dex/steps.py`) over HTTP;
//!   per-step time. Skipped, with a note, when its virtual environment is absent.
//!
//! ```text
//! cargo bench --all-features --bench http
//! ```
//!
//! The emulator comes from the virtual environment `target/interop-venv` that
//! `cargo test --all-features --test interop` creates; by hand:
//!
//! ```text
//! python3 -m venv target/interop-venv
//! target/interop-venv/bin/pip install aws-durable-execution-sdk-python-testing==1.4.0
//! ```
//!
//! Figures are recorded in book/src/performance.md.

use axum::Router;
use axum::body::Bytes as AxumBytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use durable_fsm::aws::AwsDurableApi;
use durable_fsm::machine::ids::step_id;
use durable_fsm::model::*;
use durable_fsm::server::{self, ServerConfig};
use durable_fsm::service::runtime::{Invokers, Registry, Runtime, RuntimeHandle};
use durable_fsm::service::{EngineConfig, LocalService, StartExecution, SystemClock};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime as Tokio;
use tokio::sync::oneshot;

/// Concurrent executions of the throughput benchmark.
const EXECUTIONS: usize = 100;
/// Checkpoints each execution sends per iteration, one after the other.
const CHECKPOINTS_PER_LANE: u64 = 10;
/// Transitions of the sequential workload compared with dex-local-runner.
const STEPS: u64 = 100;
/// How often the emulator is asked whether its execution ended.
const DEX_POLL: Duration = Duration::from_millis(10);

fn data_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-http");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn tokio() -> Tokio {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// N trivial transitions: each one checkpoint (START and SUCCEED of its STEP).
#[derive(Serialize, Deserialize)]
enum Count {
    Step { n: u64, to: u64 },
}

impl Transition for Count {
    type Input = u64;
    type Output = u64;
    fn start(to: u64) -> Self {
        Count::Step { n: 0, to }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        let Count::Step { n, to } = self;
        Ok(if n + 1 >= to {
            Next::done(n + 1)
        } else {
            Next::to(Count::Step { n: n + 1, to })
        })
    }
}

// ---- HTTP client --------------------------------------------------------------------------

type Conn = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Conn {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (conn, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(driver);
    conn
}

/// Sends one request; the status and the body.
async fn send(conn: &mut Conn, method: &str, path: &str, body: Vec<u8>) -> (u16, Bytes) {
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    conn.ready().await.expect("connection ready");
    let resp = conn.send_request(request).await.expect("response");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

/// One request on a fresh connection (for servers that close after each response).
async fn send_once(addr: SocketAddr, method: &str, path: &str, body: Vec<u8>) -> (u16, Bytes) {
    send(&mut connect(addr).await, method, path, body).await
}

/// A path label as AWS's clients send it.
fn label(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- the service, as `durable-fsm serve` runs it -------------------------------------------

struct Stack {
    runtime: RuntimeHandle,
    addr: SocketAddr,
    stops: Vec<oneshot::Sender<()>>,
}

/// What the function host answers for one handler invocation.
async fn invoke_count(State(api): State<AwsDurableApi>, body: AxumBytes) -> Response {
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match durable_fsm::lambda::handle::<Count, _>(&api, event).await {
        Ok(output) => (StatusCode::OK, output.to_string()).into_response(),
        Err(failure) => (
            StatusCode::OK,
            [("x-amz-function-error", "Unhandled")],
            serde_json::json!({ "errorType": failure.code(), "errorMessage": failure.to_string() })
                .to_string(),
        )
            .into_response(),
    }
}

/// The service on a SQLite file, its runtime and HTTP server; with a function host serving
/// `count` over HTTP (its executor talks back through aws-sdk-lambda) when `host` is set.
async fn start_stack(db: &str, host: bool) -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let mut stops = Vec::new();
    let config = EngineConfig::default();
    let mut invokers = Invokers::new(Registry::new());
    if host {
        let host_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let host_addr = host_listener.local_addr().expect("address");
        invokers = invokers.with_lambda_endpoint(format!("http://{host_addr}"));
        let api = AwsDurableApi::with_endpoint(format!("http://{addr}"), config.region.clone());
        let app = Router::new()
            .route(
                "/2015-03-31/functions/count/invocations",
                post(invoke_count),
            )
            .with_state(api);
        let (stop, stopped) = oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(async move {
            axum::serve(host_listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
    }
    let service = LocalService::open(&data_dir(db), config).expect("open the service");
    let runtime = Runtime::start(service, invokers, Arc::new(SystemClock));
    let (stop, stopped) = oneshot::channel::<()>();
    stops.push(stop);
    tokio::spawn(server::serve(
        runtime.clone(),
        listener,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    Stack {
        runtime,
        addr,
        stops,
    }
}

impl Stack {
    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        self.runtime.shutdown().await;
    }
}

/// START and SUCCEED of transition `n`, as the executor sends it.
fn transition_body(token: &str, n: u64) -> Vec<u8> {
    let id = step_id(None, n);
    let mut start = OperationUpdate::new(&id, OperationType::Step, OperationAction::Start);
    start.sub_type = Some("Transition".into());
    start.name = Some("Count".into());
    let mut succeed = start.clone();
    succeed.action = OperationAction::Succeed;
    succeed.payload = Some(format!("{{\"Count\":{{\"n\":{n}}}}}"));
    serde_json::to_vec(&CheckpointDurableExecutionRequest {
        durable_execution_arn: String::new(),
        checkpoint_token: token.to_string(),
        updates: Some(vec![start, succeed]),
        client_token: None,
    })
    .expect("encode")
}

/// One execution sending checkpoints over its own connection.
struct Lane {
    conn: Conn,
    path: String,
    token: String,
    n: u64,
}

fn hundred_executions(c: &mut Criterion) {
    let rt = tokio();
    let (stack, mut lanes) = rt.block_on(async {
        let stack = start_stack("hundred.db", false).await;
        let service = stack.runtime.service().clone();
        // Started with their invocations begun in one engine call, so the runtime never
        // tries to invoke them: the benchmark plays the function.
        let started = service
            .with_engine(|e| {
                (0..EXECUTIONS)
                    .map(|i| {
                        let arn = e
                            .start_execution(
                                StartExecution::new("bench", "{}").named(format!("e{i}")),
                            )
                            .expect("start")
                            .arn;
                        let token = e
                            .begin_invocation(&arn)
                            .expect("begin")
                            .expect("an invocation")
                            .checkpoint_token;
                        (arn, token)
                    })
                    .collect::<Vec<_>>()
            })
            .expect("engine");
        service.sync().await.expect("durable");
        let mut lanes = Vec::new();
        for (arn, token) in started {
            lanes.push(Lane {
                conn: connect(stack.addr).await,
                path: format!("/2025-12-01/durable-executions/{}/checkpoint", label(&arn)),
                token,
                n: 0,
            });
        }
        (stack, lanes)
    });
    let service = stack.runtime.service().clone();
    let before = service.commit_stats().expect("group commit");

    let mut g = c.benchmark_group("http/100 concurrent executions");
    g.throughput(Throughput::Elements(
        EXECUTIONS as u64 * CHECKPOINTS_PER_LANE,
    ));
    g.sample_size(20);
    g.bench_function("checkpoints, sqlite, group commit", |b| {
        b.iter(|| {
            let taken = std::mem::take(&mut lanes);
            lanes = rt.block_on(async {
                let tasks: Vec<_> = taken
                    .into_iter()
                    .map(|mut lane| {
                        tokio::spawn(async move {
                            for _ in 0..CHECKPOINTS_PER_LANE {
                                lane.n += 1;
                                let body = transition_body(&lane.token, lane.n);
                                let (status, resp) =
                                    send(&mut lane.conn, "POST", &lane.path, body).await;
                                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
                                let resp: CheckpointDurableExecutionResponse =
                                    serde_json::from_slice(&resp).expect("checkpoint response");
                                lane.token = resp.checkpoint_token.expect("token");
                            }
                            lane
                        })
                    })
                    .collect();
                let mut out = Vec::with_capacity(EXECUTIONS);
                for t in tasks {
                    out.push(t.await.expect("task"));
                }
                out
            });
        })
    });
    g.finish();
    let after = service.commit_stats().expect("group commit");
    let groups = after.groups - before.groups;
    if groups > 0 {
        println!(
            "http/100 concurrent executions: {} batches in {groups} commits, {:.1} per commit",
            after.queued - before.queued,
            (after.queued - before.queued) as f64 / groups as f64
        );
    }
    drop(lanes);
    rt.block_on(stack.stop());
}

/// Runs one execution of `n` transitions through a Lambda Invoke (RequestResponse).
async fn invoke_once(addr: SocketAddr, n: u64) {
    let (status, body) = send_once(
        addr,
        "POST",
        "/2015-03-31/functions/count/invocations",
        n.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        body.as_ref(),
        n.to_string().as_bytes(),
        "the execution's result"
    );
}

fn lambda_invoke(c: &mut Criterion) {
    let rt = tokio();
    let stack = rt.block_on(start_stack("invoke.db", true));
    let mut g = c.benchmark_group("http/lambda invoke, sequential transitions");
    g.sample_size(10);
    for n in [10, STEPS, 1000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| rt.block_on(invoke_once(stack.addr, n)))
        });
    }
    g.finish();
    rt.block_on(stack.stop());
}

// ---- dex-local-runner ---------------------------------------------------------------------

/// `<target>/interop-venv`, where the interop tests install dex-local-runner.
fn venv() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("interop-venv")
}

/// A process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(program: PathBuf, args: &[String], emulator: u16) -> Proc {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "dummy")
        .env("AWS_SECRET_ACCESS_KEY", "dummy")
        .env("AWS_REGION", "us-west-2")
        .env("AWS_DEFAULT_REGION", "us-west-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{emulator}"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_DEX_STORE_TYPE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Proc(cmd.spawn().expect("spawn"))
}

/// Starts the emulator and the Python function host; `None` with a note if absent.
fn start_dex(rt: &Tokio) -> Option<(SocketAddr, Proc, Proc)> {
    let bin = venv().join("bin");
    let dex = bin.join("dex-local-runner");
    if !dex.exists() {
        println!(
            "dex-local-runner: skipped, {} is missing; create it with \
             `python3 -m venv target/interop-venv && target/interop-venv/bin/pip install \
             aws-durable-execution-sdk-python-testing==1.4.0`",
            dex.display()
        );
        return None;
    }
    let (port, host_port) = (free_port(), free_port());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/dex/steps.py");
    let host = spawn(
        bin.join("python"),
        &[script.display().to_string(), host_port.to_string()],
        port,
    );
    let args = [
        "start-server",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--lambda-endpoint",
        &format!("http://127.0.0.1:{host_port}"),
        "--log-level",
        "WARNING",
    ]
    .map(String::from);
    let emulator = spawn(dex, &args, port);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let host_addr: SocketAddr = ([127, 0, 0, 1], host_port).into();
    let ready = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let host_up = TcpStream::connect(host_addr).await.is_ok();
            if host_up
                && TcpStream::connect(addr).await.is_ok()
                && send_once(addr, "GET", "/health", Vec::new()).await.0 == 200
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    if !ready {
        println!("dex-local-runner: skipped, it did not start within 60 s");
        return None;
    }
    Some((addr, emulator, host))
}

/// Runs one execution of `n` steps on the emulator and waits for its end.
async fn dex_once(addr: SocketAddr, n: u64, name: &str) {
    let start = serde_json::json!({
        "AccountId": "123456789012",
        "FunctionName": "steps",
        "FunctionQualifier": "$LATEST",
        "ExecutionName": name,
        "ExecutionTimeoutSeconds": 0,
        "ExecutionRetentionPeriodDays": 1,
        "Input": n.to_string(),
    });
    let (status, body) = send_once(
        addr,
        "POST",
        "/start-durable-execution",
        start.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let started: Value = serde_json::from_slice(&body).expect("start response");
    let arn = started["ExecutionArn"]
        .as_str()
        .expect("an ARN")
        .to_string();
    let path = format!("/2025-12-01/durable-executions/{}", label(&arn));
    loop {
        tokio::time::sleep(DEX_POLL).await;
        let (status, body) = send_once(addr, "GET", &path, Vec::new()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let exec: Value = serde_json::from_slice(&body).expect("execution");
        match exec["Status"].as_str() {
            Some("SUCCEEDED") => {
                assert_eq!(exec["Result"].as_str(), Some(n.to_string().as_str()));
                return;
            }
            Some("RUNNING") => {}
            other => panic!("the emulator's execution ended {other:?}: {exec}"),
        }
    }
}

fn dex_local_runner(c: &mut Criterion) {
    let rt = tokio();
    let Some((addr, _emulator, _host)) = start_dex(&rt) else {
        return;
    };
    let mut g = c.benchmark_group("dex-local-runner/sequential steps");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(STEPS));
    let mut i = 0u64;
    g.bench_with_input(BenchmarkId::from_parameter(STEPS), &STEPS, |b, &n| {
        b.iter(|| {
            i += 1;
            rt.block_on(dex_once(addr, n, &format!("bench-{i}")))
        })
    });
    g.finish();
}

criterion_group!(benches, hundred_executions, lambda_invoke, dex_local_runner);
criterion_main!(benches);
