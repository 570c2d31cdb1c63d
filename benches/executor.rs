//! The executor in process: time per transition for N sequential transitions, and the cost of
//! the last invocation of a workflow (N transitions, a timer, one more transition) against N.
//!
//! `cargo bench --bench executor`. Figures are recorded in book/src/performance.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use durable_fsm::executor::{self, RunOptions};
use durable_fsm::model::*;
use durable_fsm::service::{
    Clock, EngineConfig, InvocationOutcome, LocalService, StartExecution, VirtualClock,
};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
enum Count {
    Step { n: u64, to: u64 },
    Last { n: u64 },
}

impl Transition for Count {
    type Input = u64;
    type Output = u64;
    fn start(to: u64) -> Self {
        Count::Step { n: 0, to }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Count::Step { n, to } if n + 1 >= to => {
                Next::sleep(Duration::from_secs(1), Count::Last { n: n + 1 })
            }
            Count::Step { n, to } => Next::to(Count::Step { n: n + 1, to }),
            Count::Last { n } => Next::done(n),
        })
    }
}

struct Fixture {
    service: LocalService,
    clock: VirtualClock,
    arn: String,
}

/// An execution of `n` transitions that is sleeping before its last one.
fn sleeping_after(n: u64, rt: &tokio::runtime::Runtime) -> Fixture {
    let clock = VirtualClock::new(Timestamp::from_secs(1_800_000_000));
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let service = LocalService::in_memory(EngineConfig::default(), c);
    let arn = service
        .with_engine(|e| e.start_execution(StartExecution::new("count", n.to_string())))
        .expect("engine")
        .expect("start")
        .arn;
    invoke(&service, &arn, rt);
    Fixture {
        service,
        clock,
        arn,
    }
}

/// Runs one invocation; returns (its duration, transitions it ran, operations it loaded).
fn invoke(
    service: &LocalService,
    arn: &str,
    rt: &tokio::runtime::Runtime,
) -> (Duration, u64, usize) {
    let input = service
        .with_engine(|e| e.begin_invocation(arn))
        .expect("engine")
        .expect("begin")
        .expect("runnable");
    let token = input.checkpoint_token.clone();
    let started = Instant::now();
    let (output, stats) = rt
        .block_on(executor::run_with::<Count, _>(
            service,
            input,
            &RunOptions::default(),
        ))
        .expect("invocation");
    let took = started.elapsed();
    service
        .with_engine(|e| {
            e.complete_invocation(
                arn,
                &token,
                InvocationOutcome::Output(output),
                "bench".into(),
                Timestamp::now(),
            )
        })
        .expect("engine")
        .expect("complete");
    (took, stats.transitions_run, stats.operations_loaded)
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let mut g = c.benchmark_group("in-process/sequential transitions");
    g.sample_size(10);
    for n in [100u64, 1_000, 10_000] {
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    sleeping_after(n, &rt);
                    total += started.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

fn resume(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let mut g = c.benchmark_group("in-process/resume after N transitions");
    g.sample_size(10);
    for n in [10u64, 100, 1_000, 10_000] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let f = sleeping_after(n, &rt);
                    f.clock.advance(Duration::from_secs(2));
                    f.service.with_engine(|e| e.fire_due()).expect("engine");
                    let (took, ran, loaded) = invoke(&f.service, &f.arn, &rt);
                    assert_eq!(ran, 1, "the resume runs only the last transition");
                    assert!(loaded as u64 > n, "it loaded every operation");
                    total += took;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, resume);
criterion_main!(benches);
