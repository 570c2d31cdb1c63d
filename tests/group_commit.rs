//! Group commit of the local durable service on a SQLite file, end to end: many concurrent
//! checkpoint chains over the HTTP API are all on disk after a reopen, and a store that fails
//! to commit answers every caller of the failed group with an error while the engine stays
//! equal to the store.

#![cfg(feature = "server")]

use bytes::Bytes;
use durable_fsm::api::{DurableApi, ErrorCode};
use durable_fsm::machine::ids::step_id;
use durable_fsm::model::*;
use durable_fsm::server::{self, ServerConfig};
use durable_fsm::service::runtime::{Invokers, Runtime};
use durable_fsm::service::{
    Engine, EngineConfig, LocalService, SqliteStore, StartExecution, Store, StoreError,
    StoredExecution, SystemClock, WriteBatch,
};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn db(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("group-commit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{tag}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// START and SUCCEED of transition `n`.
fn transition(token: &str, n: u64) -> CheckpointDurableExecutionRequest {
    let id = step_id(None, n);
    let mut start = OperationUpdate::new(&id, OperationType::Step, OperationAction::Start);
    start.sub_type = Some("Transition".into());
    let mut succeed = start.clone();
    succeed.action = OperationAction::Succeed;
    succeed.payload = Some(format!("{{\"n\":{n}}}"));
    CheckpointDurableExecutionRequest {
        durable_execution_arn: String::new(),
        checkpoint_token: token.into(),
        updates: Some(vec![start, succeed]),
        client_token: None,
    }
}

/// Starts `n` executions with their invocations begun, in one engine call, so a runtime
/// never sees them runnable: (arn, token) each.
async fn running(service: &LocalService, n: usize) -> Vec<(String, String)> {
    let lanes = service
        .with_engine(|e| {
            (0..n)
                .map(|i| {
                    let arn = e
                        .start_execution(StartExecution::new("fn", "{}").named(format!("e{i}")))
                        .unwrap()
                        .arn;
                    let token = e.begin_invocation(&arn).unwrap().unwrap().checkpoint_token;
                    (arn, token)
                })
                .collect()
        })
        .unwrap();
    service.sync().await.unwrap();
    lanes
}

fn operations(service: &LocalService, arns: &[String]) -> Vec<Vec<Operation>> {
    let engine = service.lock().unwrap();
    arns.iter().map(|a| engine.operations(a).unwrap()).collect()
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

/// POSTs a checkpoint on a kept-alive connection; the status and the body.
async fn post_checkpoint(
    conn: &mut SendRequest<Full<Bytes>>,
    arn: &str,
    req: &CheckpointDurableExecutionRequest,
) -> (u16, Vec<u8>) {
    let body = serde_json::to_vec(req).unwrap();
    let request = hyper::Request::post(format!(
        "/2025-12-01/durable-executions/{}/checkpoint",
        label(arn)
    ))
    .header("host", "localhost")
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from(body)))
    .unwrap();
    conn.ready().await.unwrap();
    let resp = conn.send_request(request).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkpoints_over_http_are_all_on_disk_after_reopen() {
    const EXECUTIONS: usize = 40;
    const STEPS: u64 = 15;
    let path = db("http");
    let service = LocalService::open(&path, EngineConfig::default()).unwrap();
    let runtime = Runtime::start(service.clone(), Invokers::default(), Arc::new(SystemClock));
    let lanes = running(&service, EXECUTIONS).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        runtime.clone(),
        listener,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));

    let tasks: Vec<_> = lanes
        .iter()
        .cloned()
        .map(|(arn, mut token)| {
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (mut conn, driver) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(driver);
                for n in 1..=STEPS {
                    let (status, body) =
                        post_checkpoint(&mut conn, &arn, &transition(&token, n)).await;
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                    let resp: CheckpointDurableExecutionResponse =
                        serde_json::from_slice(&body).unwrap();
                    token = resp.checkpoint_token.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let arns: Vec<String> = lanes.into_iter().map(|(a, _)| a).collect();
    let before = operations(&service, &arns);
    for ops in &before {
        assert_eq!(ops.len(), 1 + STEPS as usize);
    }
    let stats = service.commit_stats().unwrap();
    assert_eq!(stats.resolved, stats.queued);
    assert!(stats.groups <= stats.queued);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    runtime.shutdown().await;
    drop(runtime);
    drop(service);

    // Every acknowledged checkpoint is in the file.
    let reopened = LocalService::open(&path, EngineConfig::default()).unwrap();
    assert_eq!(operations(&reopened, &arns), before);
}

/// A SQLite store that fails every group commit while `failing` is set.
struct Flaky {
    inner: SqliteStore,
    failing: Arc<AtomicBool>,
}

impl Store for Flaky {
    fn commit(&mut self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.commit_group(std::slice::from_ref(batch))
    }

    fn commit_group(&mut self, batches: &[WriteBatch]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("disk unplugged".into()));
        }
        self.inner.commit_group(batches)
    }

    fn load(&mut self) -> Result<Vec<StoredExecution>, StoreError> {
        self.inner.load()
    }
}

fn flaky(path: &Path, failing: &Arc<AtomicBool>) -> LocalService {
    let store = Flaky {
        inner: SqliteStore::open(path).unwrap(),
        failing: failing.clone(),
    };
    let engine = Engine::open(
        EngineConfig::default(),
        Arc::new(SystemClock),
        Box::new(store),
    )
    .unwrap();
    LocalService::new(engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commits_answer_every_caller_with_an_error_and_lose_nothing_acknowledged() {
    const EXECUTIONS: usize = 12;
    let path = db("flaky");
    let failing = Arc::new(AtomicBool::new(false));
    let service = flaky(&path, &failing);
    let lanes = running(&service, EXECUTIONS).await;
    let arns: Vec<String> = lanes.iter().map(|(a, _)| a.clone()).collect();

    // One acknowledged transition each.
    let mut tokens = Vec::new();
    for (arn, token) in &lanes {
        let mut req = transition(token, 1);
        req.durable_execution_arn = arn.clone();
        tokens.push(
            service
                .checkpoint(req)
                .await
                .unwrap()
                .checkpoint_token
                .unwrap(),
        );
    }
    let acknowledged = operations(&service, &arns);

    // The disk fails: every concurrent caller gets a ServiceException, whatever group its
    // batch landed in, and the engine drops back to what is on disk.
    failing.store(true, Ordering::SeqCst);
    let tasks: Vec<_> = arns
        .iter()
        .zip(&tokens)
        .map(|(arn, token)| {
            let service = service.clone();
            let mut req = transition(token, 2);
            req.durable_execution_arn = arn.clone();
            tokio::spawn(async move { service.checkpoint(req).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().expect_err("nothing was committed");
        assert_eq!(err.code, ErrorCode::Service);
        assert!(err.message.contains("disk unplugged"), "{}", err.message);
    }
    assert_eq!(operations(&service, &arns), acknowledged);
    assert!(service.commit_stats().unwrap().failed_groups >= 1);

    // The disk is back: the same tokens are still current, and the retries commit.
    failing.store(false, Ordering::SeqCst);
    for (arn, token) in arns.iter().zip(&tokens) {
        let mut req = transition(token, 2);
        req.durable_execution_arn = arn.clone();
        service.checkpoint(req).await.unwrap();
    }
    let after = operations(&service, &arns);
    assert!(after.iter().all(|ops| ops.len() == 3));
    drop(service);

    let reopened = flaky(&path, &Arc::new(AtomicBool::new(false)));
    assert_eq!(operations(&reopened, &arns), after);
}
