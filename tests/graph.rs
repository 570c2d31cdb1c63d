//! Declared graphs through the public API: the executor's check of every transition (strict
//! under the test runner, a warning in production), and what `explore` reports about a
//! workflow whose graph and code disagree.

use durable_fsm::executor::{INVALID_GRAPH, UNDECLARED_TRANSITION};
use durable_fsm::machine::{Edge, EdgeKind, Graph};
use durable_fsm::model::ExecutionStatus;
use durable_fsm::testing::{Samples, TestRunner, explore};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------- the executor's check

/// Locking the door is not in its graph: `Closed → Locked` and `Locked → done` are undeclared.
#[derive(Serialize, Deserialize)]
enum Door {
    Closed { lock: bool },
    Open,
    Locked,
}

impl Transition for Door {
    type Input = bool;
    type Output = String;
    fn start(lock: bool) -> Self {
        Door::Closed { lock }
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Door::Closed { lock: true } => Next::to(Door::Locked),
            Door::Closed { lock: false } => Next::to(Door::Open),
            Door::Open => Next::done("open".into()),
            Door::Locked => Next::done("locked".into()),
        })
    }
    fn graph() -> Option<Graph> {
        Some(Graph::new("Closed").edge("Closed", "Open").done("Open"))
    }
}

#[tokio::test]
async fn declared_transitions_pass_the_strict_check() {
    let out = TestRunner::<Door>::new().run(false).await.unwrap();
    assert_eq!(out.output::<String>().unwrap(), "open");
}

#[tokio::test]
async fn the_test_runner_fails_an_undeclared_transition() {
    let out = TestRunner::<Door>::new().run(true).await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error_type.as_deref(), Some(UNDECLARED_TRANSITION));
    assert_eq!(
        error.error_message.as_deref(),
        Some(
            "`Closed` → `Locked` (to) is not declared in the graph of Door (declared: \
             Closed → Open); declare it with .edge(\"Closed\", \"Locked\") or fix the transition"
        )
    );
    // It failed the transition that took the edge: nothing after it ran.
    assert_eq!(out.transitions_run, 1);
}

/// Warnings (level WARN) logged on this thread, as `code: message`.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() != tracing::Level::WARN {
            return;
        }
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push_str(&format!("{}={value} ", field.name()));
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        if let Ok(mut all) = self.0.lock() {
            all.push(fields.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `run` on a current-thread runtime with `warnings` as the subscriber.
fn with_warnings<T>(warnings: &Warnings, run: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(warnings.clone(), || runtime.block_on(run))
}

#[test]
fn production_logs_an_undeclared_transition_once_per_invocation_and_carries_on() {
    let warnings = Warnings::default();
    let out = with_warnings(&warnings, async {
        TestRunner::<Door>::new()
            .strict_graph(false)
            .run(true)
            .await
            .unwrap()
    });
    assert_eq!(out.output::<String>().unwrap(), "locked");
    // Two undeclared edges in one invocation, one warning.
    assert_eq!(out.invocations, 1);
    let logged = warnings.0.lock().unwrap().clone();
    let undeclared: Vec<&String> = logged
        .iter()
        .filter(|w| w.contains(UNDECLARED_TRANSITION))
        .collect();
    assert_eq!(undeclared.len(), 1, "{logged:?}");
    assert!(
        undeclared[0].contains("`Closed` → `Locked` (to) is not declared"),
        "{logged:?}"
    );
}

/// Its graph names a state it does not have.
#[derive(Serialize, Deserialize)]
enum Typo {
    Start,
}

impl Transition for Typo {
    type Input = ();
    type Output = ();
    fn start(_: ()) -> Self {
        Typo::Start
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(Next::done(()))
    }
    fn graph() -> Option<Graph> {
        Some(Graph::new("Start").edge("Start", "Strat"))
    }
}

#[tokio::test]
async fn an_invalid_graph_fails_under_the_test_runner_only() {
    let out = TestRunner::<Typo>::new().run(()).await.unwrap();
    let error = out.error.unwrap();
    assert_eq!(error.error_type.as_deref(), Some(INVALID_GRAPH));
    assert_eq!(
        error.error_message.as_deref(),
        Some(
            "the declared graph of Typo is not valid: GraphUnknownState: the graph of Typo \
             names `Strat`, which is not one of its states (Start)"
        )
    );
    let out = TestRunner::<Typo>::new()
        .strict_graph(false)
        .run(())
        .await
        .unwrap();
    assert_eq!(out.status, ExecutionStatus::Succeeded);
}

// ---------------------------------------------------------------- explore

/// A workflow whose graph and code disagree in every way `explore` looks for.
#[derive(Serialize, Deserialize)]
enum Broken {
    Start(u32),
    Spin,
    Orphan,
    Crash,
    Ghost,
}

impl Transition for Broken {
    type Input = u32;
    type Output = ();
    fn start(n: u32) -> Self {
        Broken::Start(n)
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Broken::Start(n) if n > 10 => Next::to(Broken::Crash),
            Broken::Start(_) => Next::to(Broken::Spin),
            Broken::Spin => Next::poll(Duration::from_secs(1), Broken::Spin),
            Broken::Orphan => Next::done(()),
            Broken::Crash => panic!("crashed on purpose"),
            Broken::Ghost => Next::done(()),
        })
    }
    fn graph() -> Option<Graph> {
        Some(
            Graph::new("Start")
                .edge("Start", "Spin")
                .edge("Start", "Crash")
                .poll("Spin", "Spin")
                .done("Orphan")
                .fail("Crash"),
        )
    }
}

#[test]
fn explore_reports_where_graph_and_code_disagree() {
    let report = explore(Samples::new([
        Broken::Start(1),
        Broken::Start(11),
        Broken::Spin,
        Broken::Crash,
    ]));
    assert!(!report.is_ok());
    assert_eq!(report.unreachable, ["Orphan"]);
    assert_eq!(report.cannot_finish, ["Spin"]);
    assert_eq!(report.missing_states, ["Ghost"]);
    assert_eq!(report.unsampled, ["Orphan"]);
    assert_eq!(
        report.unobserved,
        [
            Edge::new("Orphan", EdgeKind::Done, None),
            Edge::new("Crash", EdgeKind::Fail, None)
        ]
    );
    assert!(report.undeclared.is_empty());
    assert_eq!(report.panics.len(), 1);
    assert_eq!(report.panics[0].state, "Crash");
    assert_eq!(report.panics[0].message, "crashed on purpose");
    assert_eq!(report.runs, 4);
    assert_eq!(
        report.to_string(),
        "explore Broken: 4 runs, 3 distinct edges taken: 7 problems
  not reachable from `Start`: Orphan
  cannot reach done or fail: Spin
  not in the graph: Ghost
  no sample of: Orphan
  declared but never taken: Orphan → done
  declared but never taken: Crash → fail
  panicked in Crash (sample 3): crashed on purpose
"
    );
}

/// A graph missing an edge the code takes.
#[derive(Serialize, Deserialize)]
enum Short {
    A,
    B,
}

impl Transition for Short {
    type Input = ();
    type Output = ();
    fn start(_: ()) -> Self {
        Short::A
    }
    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Short::A => Next::sleep(Duration::from_secs(5), Short::B),
            Short::B => Next::done(()),
        })
    }
    fn graph() -> Option<Graph> {
        Some(Graph::new("A").edge("A", "B").done("B"))
    }
}

#[tokio::test]
async fn explore_reports_undeclared_edges_and_runs_inside_a_runtime() {
    let report = explore(Samples::new([Short::A, Short::B]));
    assert_eq!(report.undeclared.len(), 1);
    assert_eq!(report.undeclared[0].to_string(), "A → B (sleep) (sample 0)");
    assert_eq!(report.unobserved, [Edge::new("A", EdgeKind::To, Some("B"))]);
    assert!(
        report
            .to_string()
            .contains("  taken but not declared: A → B (sleep) (sample 0); declare it with .sleep(\"A\", \"B\")\n"),
        "{report}"
    );
}

#[test]
fn explore_needs_a_graph() {
    #[derive(Serialize, Deserialize)]
    enum Bare {
        Only,
    }
    impl Transition for Bare {
        type Input = ();
        type Output = ();
        fn start(_: ()) -> Self {
            Bare::Only
        }
        async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(Next::done(()))
        }
    }
    let report = explore(Samples::new([Bare::Only]));
    assert!(!report.is_ok());
    assert_eq!(
        report.errors,
        ["Bare declares no graph: implement Transition::graph"]
    );
}
