//! Exhaustive checking of a workflow against its declared [`Graph`]: run the real `next` of
//! sample states under every supplied callback outcome, and compare the edges taken with the
//! declared ones.

use crate::api::ApiError;
use crate::executor::RunOptions;
use crate::machine::TokenState;
use crate::machine::codec::Codec;
use crate::machine::graph::{Edge, Graph, GraphError, edge_taken, type_name};
use crate::machine::ids::{hash_id, step_id};
use crate::machine::{
    BoxFuture, Callback, CallbackOutcome, Ctx, CtxBackend, CtxError, Transition, variant_names,
};
use crate::model::*;
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// How long one transition may run before it is reported as stuck.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// What [`explore`] runs: sample states, and the outcomes the callbacks they await resolve to.
pub struct Samples<W> {
    states: Vec<W>,
    outcomes: Vec<CallbackOutcome>,
}

impl<W: Transition> Samples<W> {
    /// Representative values of the states, ideally one or more per variant (and one per
    /// branch of a variant's code: a small and a large amount, say).
    pub fn new(states: impl IntoIterator<Item = W>) -> Self {
        Samples {
            states: states.into_iter().collect(),
            outcomes: Vec::new(),
        }
    }

    /// A callback completed successfully with `body`.
    pub fn callback_success(self, body: impl Into<String>) -> Self {
        self.callback_outcome(CallbackOutcome::Succeeded(body.into()))
    }

    /// A callback completed with an error.
    pub fn callback_failure(self, error_type: &str, message: &str) -> Self {
        self.callback_outcome(CallbackOutcome::Failed(ErrorObject::new(
            error_type, message,
        )))
    }

    /// A callback timed out (`Callback.Timeout`).
    pub fn callback_timeout(self) -> Self {
        self.callback_outcome(CallbackOutcome::TimedOut(ErrorObject::new(
            "Callback.Timeout",
            "the callback timed out",
        )))
    }

    /// Any callback outcome.
    pub fn callback_outcome(mut self, outcome: CallbackOutcome) -> Self {
        self.outcomes.push(outcome);
        self
    }
}

/// A [`Callback`] to put in a sample state: [`explore`] resolves every callback a state awaits
/// to the sample outcomes, whatever its id.
pub fn sample_callback(name: &str) -> Callback {
    let id = hash_id(&format!("sample-callback-{name}"));
    let short: String = id.chars().take(16).collect();
    Callback::sample(id, format!("sample-{short}"))
}

/// An edge taken by a sample, and under which callback outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observation {
    /// The edge.
    pub edge: Edge,
    /// The index of the sample state in [`Samples::new`]'s list.
    pub sample: usize,
    /// The callback outcome the run resolved callbacks to, when not the first run.
    pub outcome: Option<String>,
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (sample {}", self.edge, self.sample)?;
        if let Some(outcome) = &self.outcome {
            write!(f, ", callback {outcome}")?;
        }
        f.write_str(")")
    }
}

/// A transition that panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Panic {
    /// The state whose transition panicked.
    pub state: String,
    /// The index of the sample state.
    pub sample: usize,
    /// The callback outcome of the run, when not the first run.
    pub outcome: Option<String>,
    /// The panic message.
    pub message: String,
}

/// What [`explore`] found. [`is_ok`](Report::is_ok) when every list of problems is empty.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// The workflow type.
    pub workflow: String,
    /// The declared graph, if any.
    pub graph: Option<Graph>,
    /// Why the declared graph is not usable, or `None`.
    pub graph_error: Option<GraphError>,
    /// Declared states not reachable from the start state by the declared edges.
    pub unreachable: Vec<String>,
    /// Declared states from which no `done` or `fail` edge is reachable.
    pub cannot_finish: Vec<String>,
    /// Variants of the workflow enum the graph does not mention.
    pub missing_states: Vec<String>,
    /// Declared states with no sample.
    pub unsampled: Vec<String>,
    /// Edges taken by samples but not declared (the first observation of each).
    pub undeclared: Vec<Observation>,
    /// Declared edges no sample took.
    pub unobserved: Vec<Edge>,
    /// Transitions that panicked.
    pub panics: Vec<Panic>,
    /// Anything else that went wrong: a graph not declared, a sample that does not round-trip
    /// through the workflow's codec, a transition that did not finish.
    pub errors: Vec<String>,
    /// Every edge taken, by sample and outcome.
    pub observed: Vec<Observation>,
    /// Transitions run.
    pub runs: usize,
}

impl Report {
    /// Whether nothing is wrong: every declared state is reachable and can finish, every
    /// state has a sample, every edge taken is declared and every declared edge was taken.
    pub fn is_ok(&self) -> bool {
        self.problem_count() == 0
    }

    /// The number of problems listed.
    pub fn problem_count(&self) -> usize {
        usize::from(self.graph_error.is_some())
            + self.unreachable.len()
            + self.cannot_finish.len()
            + self.missing_states.len()
            + self.unsampled.len()
            + self.undeclared.len()
            + self.unobserved.len()
            + self.panics.len()
            + self.errors.len()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let distinct: BTreeSet<&Edge> = self.observed.iter().map(|o| &o.edge).collect();
        write!(
            f,
            "explore {}: {} runs, {} distinct edges taken",
            self.workflow,
            self.runs,
            distinct.len()
        )?;
        if self.is_ok() {
            let start = self.graph.as_ref().map_or("", Graph::start);
            return writeln!(
                f,
                ": ok\n  every state is reachable from `{start}` and can finish; \
                 every declared edge was taken, and only those"
            );
        }
        writeln!(f, ": {} problems", self.problem_count())?;
        if let Some(e) = &self.graph_error {
            writeln!(f, "  invalid graph: {e}")?;
        }
        let names = |v: &[String]| v.join(", ");
        let start = self.graph.as_ref().map_or("", Graph::start);
        if !self.unreachable.is_empty() {
            writeln!(
                f,
                "  not reachable from `{start}`: {}",
                names(&self.unreachable)
            )?;
        }
        if !self.cannot_finish.is_empty() {
            writeln!(
                f,
                "  cannot reach done or fail: {}",
                names(&self.cannot_finish)
            )?;
        }
        if !self.missing_states.is_empty() {
            writeln!(f, "  not in the graph: {}", names(&self.missing_states))?;
        }
        if !self.unsampled.is_empty() {
            writeln!(f, "  no sample of: {}", names(&self.unsampled))?;
        }
        for o in &self.undeclared {
            writeln!(
                f,
                "  taken but not declared: {o}; declare it with {}",
                o.edge.builder_call()
            )?;
        }
        for e in &self.unobserved {
            writeln!(f, "  declared but never taken: {e}")?;
        }
        for p in &self.panics {
            write!(f, "  panicked in {} (sample {}", p.state, p.sample)?;
            if let Some(outcome) = &p.outcome {
                write!(f, ", callback {outcome}")?;
            }
            writeln!(f, "): {}", p.message)?;
        }
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Checks workflow `W` against its declared [`Graph`] by running its real transitions.
///
/// Each sample state runs once with every callback still open (awaiting one suspends), and,
/// when it created or awaited a callback, once more per supplied callback outcome with every
/// callback resolved to it. The edges taken are compared with the declared ones; panics are
/// caught and reported. The transitions run for real: side effects in them happen.
///
/// Runs on a thread of its own, so it can be called from a plain `#[test]` or from inside a
/// Tokio runtime alike.
///
/// ```
/// use durable_fsm::machine::{Callback, CallbackConfig, CallbackOutcome, Graph};
/// use durable_fsm::testing::{Samples, explore, sample_callback};
/// use durable_fsm::{Ctx, Next, Transition, TransitionError};
/// use std::time::Duration;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// enum Review { Ask, Wait(Callback), Accepted, Refused }
///
/// impl Transition for Review {
///     type Input = ();
///     type Output = bool;
///     fn start(_: ()) -> Self { Review::Ask }
///     async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
///         Ok(match self {
///             Review::Ask => {
///                 let cb = ctx.callback("review", CallbackConfig::timeout(Duration::from_secs(60))).await?;
///                 Next::to(Review::Wait(cb))
///             }
///             Review::Wait(cb) => match ctx.callback_outcome(&cb)? {
///                 CallbackOutcome::Succeeded(_) => Next::to(Review::Accepted),
///                 _ => Next::to(Review::Refused),
///             },
///             Review::Accepted => Next::done(true),
///             Review::Refused => Next::done(false),
///         })
///     }
///     fn graph() -> Option<Graph> {
///         Some(Graph::new("Ask").edge("Ask", "Wait").edge("Wait", "Accepted")
///             .edge("Wait", "Refused").done("Accepted").done("Refused"))
///     }
/// }
///
/// let samples = Samples::new([
///     Review::Ask,
///     Review::Wait(sample_callback("review")),
///     Review::Accepted,
///     Review::Refused,
/// ])
/// .callback_success("{}")
/// .callback_timeout();
/// let report = explore(samples);
/// assert!(report.is_ok(), "{report}");
/// ```
pub fn explore<W: Transition>(samples: Samples<W>) -> Report {
    let joined = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("durable-fsm-explore".into())
            .spawn_scoped(scope, move || explore_here(samples))
            .map(|handle| handle.join())
    });
    match joined {
        Ok(Ok(report)) => report,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => Report {
            workflow: type_name::<W>().to_string(),
            errors: vec![format!("cannot start the exploring thread: {e}")],
            ..Report::default()
        },
    }
}

fn explore_here<W: Transition>(samples: Samples<W>) -> Report {
    let mut report = Report {
        workflow: type_name::<W>().to_string(),
        ..Report::default()
    };
    let Some(graph) = W::graph() else {
        report.errors.push(format!(
            "{} declares no graph: implement Transition::graph",
            report.workflow
        ));
        return report;
    };
    report.graph_error = graph.validate_for::<W>().err();
    let variants = variant_names::<W>().filter(|_| !graph.uses_custom_names());
    check_declaration(&graph, variants, &mut report);

    let codec = W::codec();
    let mut sampled = BTreeSet::new();
    for (index, state) in samples.states.iter().enumerate() {
        let name = state.name().to_string();
        let encoded = match codec.encode_to_string(state) {
            Ok(text) => text,
            Err(e) => {
                report
                    .errors
                    .push(format!("sample {index} (`{name}`) does not encode: {e}"));
                continue;
            }
        };
        sampled.insert(name.clone());
        let modes = std::iter::once(None).chain(samples.outcomes.iter().map(Some));
        for outcome in modes {
            let copy: W = match codec.decode_from_str(&encoded) {
                Ok(copy) => copy,
                Err(e) => {
                    report.errors.push(format!(
                        "sample {index} (`{name}`) does not round-trip through the {} codec: {e}",
                        codec.name()
                    ));
                    break;
                }
            };
            let label = outcome.map(describe);
            report.runs += 1;
            let run = run_once(copy, outcome);
            match run.result {
                Ok(Some(edge)) => {
                    let observation = Observation {
                        edge,
                        sample: index,
                        outcome: label,
                    };
                    if !report.observed.contains(&observation) {
                        report.observed.push(observation);
                    }
                }
                Ok(None) => {}
                Err(RunError::Panic(message)) => report.panics.push(Panic {
                    state: name.clone(),
                    sample: index,
                    outcome: label,
                    message,
                }),
                Err(RunError::Other(e)) => report
                    .errors
                    .push(format!("sample {index} (`{name}`): {e}")),
            }
            // A state that neither creates nor awaits a callback does the same under every
            // outcome.
            if outcome.is_none() && !run.touched_callbacks {
                break;
            }
        }
    }

    let mut reported = BTreeSet::new();
    for o in &report.observed {
        if !graph.allows(&o.edge) && reported.insert(o.edge.clone()) {
            report.undeclared.push(o.clone());
        }
    }
    let taken: BTreeSet<&Edge> = report.observed.iter().map(|o| &o.edge).collect();
    report.unobserved = graph
        .edges()
        .iter()
        .filter(|e| !taken.contains(e))
        .cloned()
        .collect();
    report.unsampled = graph
        .states()
        .iter()
        .filter(|s| !sampled.contains(*s))
        .cloned()
        .collect();
    report.graph = Some(graph);
    report
}

/// The checks of the declaration alone: reachability, finishing, missing variants.
fn check_declaration(
    graph: &Graph,
    variants: Option<&'static [&'static str]>,
    report: &mut Report,
) {
    let reachable = graph.reachable();
    let finishing = graph.can_finish();
    for state in graph.states() {
        if !reachable.contains(state.as_str()) {
            report.unreachable.push(state.clone());
        }
        if !finishing.contains(state.as_str()) {
            report.cannot_finish.push(state.clone());
        }
    }
    report.missing_states = variants
        .unwrap_or_default()
        .iter()
        .filter(|v| !graph.has_state(v))
        .map(|v| v.to_string())
        .collect();
}

/// `succeeded {"approved":true}`, `failed Denied: no`, `timed out`.
fn describe(outcome: &CallbackOutcome) -> String {
    match outcome {
        CallbackOutcome::Succeeded(body) => format!("succeeded {body}"),
        CallbackOutcome::Failed(e) => format!("failed {e}"),
        CallbackOutcome::TimedOut(_) => "timed out".into(),
    }
}

enum RunError {
    Panic(String),
    Other(String),
}

struct Run {
    result: Result<Option<Edge>, RunError>,
    touched_callbacks: bool,
}

/// Runs `state`'s transition once, callbacks open (`None`) or resolved to `outcome`.
fn run_once<W: Transition>(state: W, outcome: Option<&CallbackOutcome>) -> Run {
    let mut backend = Backend::new(outcome);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Run {
                result: Err(RunError::Other(format!(
                    "cannot start a Tokio runtime: {e}"
                ))),
                touched_callbacks: false,
            };
        }
    };
    let id = step_id(None, 1);
    let name = state.name();
    let ran = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            let mut ctx = Ctx::new(&mut backend, &id, None, 1, Timestamp::now());
            tokio::time::timeout(RUN_TIMEOUT, state.next(&mut ctx))
                .await
                .map(|result| edge_taken(name, &result))
        })
    }));
    let result = match ran {
        Ok(Ok(edge)) => Ok(edge),
        Ok(Err(_)) => Err(RunError::Other(format!(
            "the transition did not finish within {} s",
            RUN_TIMEOUT.as_secs()
        ))),
        Err(panic) => Err(RunError::Panic(panic_message(panic.as_ref()))),
    };
    Run {
        result,
        touched_callbacks: backend.touched.get(),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".into()
    }
}

/// The operations a transition sees: none (fresh) with callbacks it creates left open, or
/// every operation a callback completed with one outcome.
struct Backend {
    resolved: Option<Operation>,
    created: HashMap<String, Operation>,
    touched: Cell<bool>,
    options: RunOptions,
    now: Timestamp,
}

impl Backend {
    fn new(outcome: Option<&CallbackOutcome>) -> Self {
        let resolved = outcome.map(|outcome| {
            let (status, result, error) = match outcome.clone() {
                CallbackOutcome::Succeeded(body) => (OperationStatus::Succeeded, Some(body), None),
                CallbackOutcome::Failed(e) => (OperationStatus::Failed, None, Some(e)),
                CallbackOutcome::TimedOut(e) => (OperationStatus::TimedOut, None, Some(e)),
            };
            let mut op = Operation::new(
                "resolved",
                OperationType::Callback,
                status,
                Timestamp::now(),
            );
            op.callback_details = Some(CallbackDetails {
                callback_id: Some("explore-resolved-callback".into()),
                result,
                error,
            });
            op
        });
        Backend {
            resolved,
            created: HashMap::new(),
            touched: Cell::new(false),
            options: RunOptions::default(),
            now: Timestamp::now(),
        }
    }
}

impl CtxBackend for Backend {
    fn execution_arn(&self) -> &str {
        "arn:aws:lambda:us-east-1:123456789012:function:explore:$LATEST/durable-execution/explore/explore"
    }

    fn operation(&self, id: &str) -> Option<&Operation> {
        self.touched.set(true);
        self.resolved.as_ref().or_else(|| self.created.get(id))
    }

    fn checkpoint(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), CtxError>> {
        self.record(updates);
        Box::pin(async { Ok(()) })
    }

    fn children(&self, parent: Option<&str>) -> Vec<&Operation> {
        self.created
            .values()
            .filter(|op| op.parent_id.as_deref() == parent)
            .collect()
    }

    fn defer(&mut self, updates: Vec<OperationUpdate>) {
        self.record(updates);
    }

    fn has_deferred(&self) -> bool {
        false
    }

    fn send(&mut self, updates: Vec<OperationUpdate>) -> BoxFuture<'_, Result<(), ApiError>> {
        self.record(updates);
        Box::pin(async { Ok(()) })
    }

    fn token_state(&self) -> TokenState {
        TokenState::Live
    }

    fn run_options(&self) -> &RunOptions {
        &self.options
    }

    fn now(&self) -> Timestamp {
        self.now
    }

    fn count_transition(&mut self) {}
}

impl Backend {
    /// Records what a transition created: operations appear started (callbacks open).
    fn record(&mut self, updates: Vec<OperationUpdate>) {
        for u in updates {
            if self.created.contains_key(&u.id) {
                continue;
            }
            let mut op = Operation::new(
                u.id.clone(),
                u.op_type,
                OperationStatus::Started,
                Timestamp::now(),
            );
            op.name = u.name;
            if u.op_type == OperationType::Callback {
                op.callback_details = Some(CallbackDetails {
                    callback_id: Some(format!(
                        "explore-{}",
                        u.id.chars().take(16).collect::<String>()
                    )),
                    ..Default::default()
                });
            }
            op.parent_id = u.parent_id;
            self.created.insert(u.id, op);
        }
    }
}
