//! Checkpoints per second through the local service's engine and SQLite store, next to the
//! cost of one fdatasync on the same disk. The 100 concurrent executions go through
//! `LocalService`, which group-commits: one SQLite transaction for the checkpoints of many.
//!
//! `cargo bench --bench store`. Figures are recorded in book/src/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use durable_fsm::DurableApi;
use durable_fsm::machine::ids::step_id;
use durable_fsm::model::*;
use durable_fsm::service::{
    Clock, Engine, EngineConfig, LocalService, SqliteStore, StartExecution, Store, SystemClock,
};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

fn data_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-store");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn transition(token: &str, arn: &str, n: u64) -> CheckpointDurableExecutionRequest {
    let id = step_id(None, n);
    let mut start = OperationUpdate::new(&id, OperationType::Step, OperationAction::Start);
    start.sub_type = Some("Transition".into());
    start.name = Some("Count".into());
    let mut succeed = start.clone();
    succeed.action = OperationAction::Succeed;
    succeed.payload = Some(format!("{{\"Count\":{{\"n\":{n}}}}}"));
    CheckpointDurableExecutionRequest {
        durable_execution_arn: arn.to_string(),
        checkpoint_token: token.to_string(),
        updates: Some(vec![start, succeed]),
        client_token: None,
    }
}

fn engine_with(store: Box<dyn Store>) -> Engine {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match Engine::open(EngineConfig::default(), clock, store) {
        Ok(e) => e,
        Err(e) => panic!("cannot open the engine: {e}"),
    }
}

/// Starts an execution and begins its invocation; returns (arn, token).
fn running(engine: &mut Engine, name: &str) -> (String, String) {
    let arn = engine
        .start_execution(StartExecution::new("bench", "{}").named(name))
        .expect("start")
        .arn;
    let token = engine
        .begin_invocation(&arn)
        .expect("begin")
        .expect("needs an invocation")
        .checkpoint_token;
    (arn, token)
}

fn disk(c: &mut Criterion) {
    let mut g = c.benchmark_group("disk");
    let path = data_dir("fsync.bin");
    let mut file = std::fs::File::create(&path).expect("create");
    let block = vec![7u8; 4096];
    g.bench_function("write 4 KiB + fdatasync", |b| {
        b.iter(|| {
            file.write_all(&block).expect("write");
            file.sync_data().expect("fdatasync");
        })
    });
    g.finish();
}

fn one_execution(c: &mut Criterion) {
    let mut g = c.benchmark_group("checkpoint/one execution");
    g.throughput(Throughput::Elements(1));
    for (label, store) in [("memory", None), ("sqlite", Some(data_dir("one.db")))] {
        let store: Box<dyn Store> = match &store {
            Some(path) => Box::new(SqliteStore::open(path).expect("open store")),
            None => Box::new(durable_fsm::service::MemStore),
        };
        let mut engine = engine_with(store);
        let (arn, mut token) = running(&mut engine, "one");
        let mut n = 0u64;
        g.bench_function(label, |b| {
            b.iter(|| {
                n += 1;
                let resp = engine
                    .checkpoint(transition(&token, &arn, n))
                    .expect("checkpoint");
                token = resp.checkpoint_token.expect("token");
            })
        });
    }
    g.finish();
}

fn hundred_executions(c: &mut Criterion) {
    const EXECUTIONS: usize = 100;
    let mut g = c.benchmark_group("checkpoint/100 concurrent executions");
    g.throughput(Throughput::Elements(EXECUTIONS as u64));
    g.sample_size(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let path = data_dir("hundred.db");
    let mut engine = engine_with(Box::new(SqliteStore::open(&path).expect("open store")));
    let mut lanes: Vec<(String, String, u64)> = (0..EXECUTIONS)
        .map(|i| {
            let (arn, token) = running(&mut engine, &format!("e{i}"));
            (arn, token, 0)
        })
        .collect();
    let service = LocalService::new(engine);
    let before = service.commit_stats().expect("group commit");
    g.bench_function("sqlite, group commit", |b| {
        b.iter(|| {
            let taken = std::mem::take(&mut lanes);
            lanes = rt.block_on(async {
                let tasks: Vec<_> = taken
                    .into_iter()
                    .map(|(arn, token, n)| {
                        let service = service.clone();
                        tokio::spawn(async move {
                            let resp = service
                                .checkpoint(transition(&token, &arn, n + 1))
                                .await
                                .expect("checkpoint");
                            (arn, resp.checkpoint_token.expect("token"), n + 1)
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
            "checkpoint/100 concurrent executions: {} batches in {groups} commits, {:.1} per commit",
            after.queued - before.queued,
            (after.queued - before.queued) as f64 / groups as f64
        );
    }
}

criterion_group!(benches, disk, one_execution, hundred_executions);
criterion_main!(benches);
