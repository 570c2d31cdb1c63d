//! Declared edges: the states of a workflow, its start state and the transitions each state
//! may take, written with a small builder instead of a proc-macro.
//!
//! A workflow declares its graph with [`Transition::graph`]. The executor checks every
//! transition against it (an error under the test runner, a warning in production),
//! [`display::graph`](crate::display::graph) draws it, and `testing::explore` checks it
//! against the workflow's real code.

use super::name::variant_names;
use super::{Next, Terminal, Transition, TransitionError};
use crate::machine::{CtxError, Suspend};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;

/// What kind of transition an edge is: the [`Next`] command it stands for, or an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EdgeKind {
    /// `Next::to`: go to the next state now.
    To,
    /// `Next::sleep`: a durable timer, then the next state.
    Sleep,
    /// `Next::poll`: run the transition again later from the (updated) state.
    Poll,
    /// The transition returned a retryable error: it runs again per the state's retry
    /// strategy, and fails the execution when the strategy gives up.
    Retry,
    /// `Next::done`: the execution succeeded.
    Done,
    /// `Next::fail`, or a [`Terminal`] error: the execution failed.
    Fail,
    /// `Next::continue_as_new`: this execution ends and a fresh one starts in the next state.
    Continue,
}

impl EdgeKind {
    /// The kind's name, as drawn on edges: `to`, `sleep`, `poll`, `retry`, `done`, `fail`,
    /// `continue`.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::To => "to",
            EdgeKind::Sleep => "sleep",
            EdgeKind::Poll => "poll",
            EdgeKind::Retry => "retry",
            EdgeKind::Done => "done",
            EdgeKind::Fail => "fail",
            EdgeKind::Continue => "continue",
        }
    }

    /// Whether the edge ends the execution (`done` or `fail`).
    pub fn is_terminal(self) -> bool {
        matches!(self, EdgeKind::Done | EdgeKind::Fail)
    }

    /// Whether the edge names the state it goes to (`to`, `sleep`, `poll`, `continue`).
    pub fn has_target(self) -> bool {
        matches!(
            self,
            EdgeKind::To | EdgeKind::Sleep | EdgeKind::Poll | EdgeKind::Continue
        )
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One transition a state may take: from a state, of a kind, to a state (for `to`, `sleep`
/// and `poll`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Edge {
    /// The state whose transition this is.
    pub from: String,
    /// What the transition does.
    pub kind: EdgeKind,
    /// The next state, for `to`, `sleep`, `poll` and `continue`; `None` otherwise.
    pub to: Option<String>,
}

impl Edge {
    /// An edge; `to` is dropped for kinds that name no next state.
    pub fn new(from: impl Into<String>, kind: EdgeKind, to: Option<&str>) -> Self {
        Edge {
            from: from.into(),
            kind,
            to: to.filter(|_| kind.has_target()).map(str::to_string),
        }
    }

    /// The state the execution is in after this edge: `to`, the source for a retry, none
    /// for `done` and `fail`.
    pub fn target(&self) -> Option<&str> {
        match self.kind {
            EdgeKind::Retry => Some(&self.from),
            _ => self.to.as_deref(),
        }
    }

    /// The builder call that declares this edge, e.g. `.sleep("Approved", "Payout")`.
    pub fn builder_call(&self) -> String {
        let method = match self.kind {
            EdgeKind::To => "edge",
            EdgeKind::Continue => "continue_as_new",
            other => other.as_str(),
        };
        match &self.to {
            Some(to) => format!(".{method}(\"{}\", \"{to}\")", self.from),
            None => format!(".{method}(\"{}\")", self.from),
        }
    }
}

/// `Submitted → AwaitingManager`, `Approved → Payout (sleep)`, `Payout → done`.
impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.to, self.kind) {
            (Some(to), EdgeKind::To) => write!(f, "{} → {to}", self.from),
            (Some(to), kind) => write!(f, "{} → {to} ({kind})", self.from),
            (None, kind) => write!(f, "{} → {kind}", self.from),
        }
    }
}

/// Why a declared graph is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// `Graph::new` was given an empty start state.
    #[error(
        "GraphNoStart: the graph has no start state: pass Graph::new the name of the state Transition::start returns"
    )]
    NoStart,
    /// An edge names a state with an empty name.
    #[error("GraphEmptyName: the edge {edge} names a state with an empty name")]
    EmptyName {
        /// The edge, as its builder call.
        edge: String,
    },
    /// The graph names a state that is not a variant of the workflow enum.
    #[error(
        "GraphUnknownState: the graph of {workflow} names `{name}`, which is not one of its states ({})",
        known.join(", ")
    )]
    UnknownState {
        /// The unknown name.
        name: String,
        /// The workflow type.
        workflow: String,
        /// The workflow's states.
        known: Vec<String>,
    },
}

impl GraphError {
    /// A stable code for logs and `ErrorType`.
    pub fn code(&self) -> &'static str {
        match self {
            GraphError::NoStart => "GraphNoStart",
            GraphError::EmptyName { .. } => "GraphEmptyName",
            GraphError::UnknownState { .. } => "GraphUnknownState",
        }
    }
}

/// The states of a workflow, its start state, and the transitions each state may take.
///
/// Names are the states' names as [`Transition::name`] returns them (the enum variant names by
/// default). Every name used in an edge is a state of the graph.
///
/// ```
/// use durable_fsm::machine::Graph;
///
/// let graph = Graph::new("Submitted")
///     .edge("Submitted", "Approved")
///     .edge("Submitted", "AwaitingManager")
///     .edge("AwaitingManager", "Approved")
///     .edge("AwaitingManager", "Rejected")
///     .sleep("Approved", "Payout")
///     .done("Payout")
///     .done("Rejected");
/// assert!(graph.validate().is_ok());
/// assert_eq!(graph.states().len(), 5);
/// let mermaid = durable_fsm::display::graph::mermaid(&graph);
/// assert!(mermaid.contains("Approved --> Payout: sleep"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    start: String,
    states: Vec<String>,
    edges: Vec<Edge>,
    custom_names: bool,
}

impl Graph {
    /// A graph whose execution starts in `start` (the state [`Transition::start`] returns).
    pub fn new(start: impl Into<String>) -> Self {
        let start = start.into();
        Graph {
            states: vec![start.clone()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
            start,
            edges: Vec::new(),
            custom_names: false,
        }
    }

    /// Declares a state (states named by edges are declared already).
    pub fn state(mut self, name: impl Into<String>) -> Self {
        self.add_state(name.into());
        self
    }

    /// `from` may go to `to` now (`Next::to`).
    pub fn edge(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::To, Some(to.into()))
    }

    /// `from` may sleep durably, then go to `to` (`Next::sleep`).
    pub fn sleep(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Sleep, Some(to.into()))
    }

    /// `from` may poll: run again later from `to`, usually `from` itself (`Next::poll`).
    pub fn poll(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Poll, Some(to.into()))
    }

    /// `from` may continue as new: end the execution and start a fresh one in `to`
    /// (`Next::continue_as_new`).
    pub fn continue_as_new(self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Continue, Some(to.into()))
    }

    /// `from` may return a retryable error (retried, and failing the execution when the
    /// retry strategy gives up).
    pub fn retry(self, from: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Retry, None)
    }

    /// `from` may end the execution successfully (`Next::done`).
    pub fn done(self, from: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Done, None)
    }

    /// `from` may end the execution with an error (`Next::fail` or a [`Terminal`] error).
    pub fn fail(self, from: impl Into<String>) -> Self {
        self.with(from.into(), EdgeKind::Fail, None)
    }

    /// The names are not the enum's variant names (the workflow overrides
    /// [`Transition::name`]): do not check them against the variants.
    pub fn custom_names(mut self) -> Self {
        self.custom_names = true;
        self
    }

    /// Whether [`custom_names`](Self::custom_names) was called.
    pub fn uses_custom_names(&self) -> bool {
        self.custom_names
    }

    fn with(mut self, from: String, kind: EdgeKind, to: Option<String>) -> Self {
        self.add_state(from.clone());
        if let Some(to) = &to {
            self.add_state(to.clone());
        }
        let edge = Edge { from, kind, to };
        if !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
        self
    }

    fn add_state(&mut self, name: String) {
        if !self.states.contains(&name) {
            self.states.push(name);
        }
    }

    /// The start state.
    pub fn start(&self) -> &str {
        &self.start
    }

    /// Every state, the start state first, then in the order they were declared.
    pub fn states(&self) -> &[String] {
        &self.states
    }

    /// Every edge, in the order they were declared.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edges leaving `state`.
    pub fn edges_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.from == state)
    }

    /// Whether `name` is a state of the graph.
    pub fn has_state(&self, name: &str) -> bool {
        self.states.iter().any(|s| s == name)
    }

    /// Whether `edge` is declared.
    pub fn allows(&self, edge: &Edge) -> bool {
        self.edges.contains(edge)
    }

    /// Checks the declaration on its own: a start state, and no empty names.
    pub fn validate(&self) -> Result<(), GraphError> {
        if self.start.is_empty() {
            return Err(GraphError::NoStart);
        }
        match self
            .edges
            .iter()
            .find(|e| e.from.is_empty() || e.to.as_deref() == Some(""))
        {
            Some(e) => Err(GraphError::EmptyName {
                edge: e.builder_call(),
            }),
            None => Ok(()),
        }
    }

    /// Checks the declaration against workflow `W`: [`validate`](Self::validate), and every
    /// name is a variant of `W` (read through serde: externally tagged enums, the default;
    /// skipped when the variants cannot be read or after [`custom_names`](Self::custom_names)).
    pub fn validate_for<W: Transition>(&self) -> Result<(), GraphError> {
        self.validate()?;
        if self.custom_names {
            return Ok(());
        }
        let Some(known) = variant_names::<W>() else {
            return Ok(());
        };
        match self.states.iter().find(|s| !known.contains(&s.as_str())) {
            Some(name) => Err(GraphError::UnknownState {
                name: name.clone(),
                workflow: type_name::<W>().to_string(),
                known: known.iter().map(|s| s.to_string()).collect(),
            }),
            None => Ok(()),
        }
    }

    /// The states reachable from the start state by the declared edges, the start included.
    pub fn reachable(&self) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([self.start.as_str()]);
        while let Some(state) = queue.pop_front() {
            if !seen.insert(state) {
                continue;
            }
            queue.extend(self.edges_from(state).filter_map(Edge::target));
        }
        seen.retain(|s| self.has_state(s));
        seen
    }

    /// The states from which a `done` or `fail` edge can be reached by the declared edges.
    pub fn can_finish(&self) -> BTreeSet<&str> {
        let mut finishing: BTreeSet<&str> = self
            .edges
            .iter()
            .filter(|e| e.kind.is_terminal())
            .map(|e| e.from.as_str())
            .collect();
        loop {
            let before = finishing.len();
            for e in &self.edges {
                if e.target().is_some_and(|t| finishing.contains(t)) {
                    finishing.insert(e.from.as_str());
                }
            }
            if finishing.len() == before {
                return finishing;
            }
        }
    }
}

/// The edge a transition took, given what its `next` returned: `None` for a suspension or a
/// failed durable API call (neither is a transition of the workflow).
pub(crate) fn edge_taken<W: Transition>(
    from: &str,
    result: &Result<Next<W>, TransitionError>,
) -> Option<Edge> {
    let (kind, to) = match result {
        Ok(Next::To(s)) => (EdgeKind::To, Some(s.name())),
        Ok(Next::Sleep(_, s)) => (EdgeKind::Sleep, Some(s.name())),
        Ok(Next::Poll(_, s)) => (EdgeKind::Poll, Some(s.name())),
        Ok(Next::Done(_)) => (EdgeKind::Done, None),
        Ok(Next::Fail(_)) => (EdgeKind::Fail, None),
        Ok(Next::ContinueAsNew(s)) => (EdgeKind::Continue, Some(s.name())),
        Err(e) => {
            let inner = e.get_ref();
            if inner.is::<Suspend>() || inner.is::<CtxError>() {
                return None;
            }
            if let Some(step) = inner.downcast_ref::<crate::machine::StepError>() {
                // A failed operation fails the execution; the others end the invocation.
                return match step {
                    crate::machine::StepError::Failed(_) => {
                        Some(Edge::new(from, EdgeKind::Fail, None))
                    }
                    _ => None,
                };
            }
            if inner.is::<Terminal>() {
                (EdgeKind::Fail, None)
            } else {
                (EdgeKind::Retry, None)
            }
        }
    };
    Some(Edge::new(from, kind, to))
}

/// The short name of a type: `Approval` for `my_crate::workflow::Approval<T>`.
pub(crate) fn type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ctx;

    #[derive(Serialize, Deserialize)]
    enum Order {
        New,
        Paid(u32),
        #[serde(rename = "Shipped")]
        Sent {
            to: String,
        },
    }

    impl Transition for Order {
        type Input = ();
        type Output = ();
        fn start(_: ()) -> Self {
            Order::New
        }
        async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(Next::done(()))
        }
    }

    fn order_graph() -> Graph {
        Graph::new("New")
            .edge("New", "Paid")
            .poll("Paid", "Paid")
            .sleep("Paid", "Shipped")
            .retry("Paid")
            .done("Shipped")
            .fail("New")
    }

    #[test]
    fn builder_collects_states_and_deduplicates_edges() {
        let g = order_graph().edge("New", "Paid").state("Paid");
        assert_eq!(g.start(), "New");
        assert_eq!(g.states(), ["New", "Paid", "Shipped"]);
        assert_eq!(g.edges().len(), 6);
        assert_eq!(
            g.edges_from("Paid")
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "Paid → Paid (poll)",
                "Paid → Shipped (sleep)",
                "Paid → retry"
            ]
        );
        assert!(g.allows(&Edge::new("Paid", EdgeKind::Sleep, Some("Shipped"))));
        assert!(!g.allows(&Edge::new("Paid", EdgeKind::To, Some("Shipped"))));
        assert!(g.allows(&Edge::new("New", EdgeKind::Fail, Some("ignored"))));
        assert_eq!(
            Edge::new("Paid", EdgeKind::Sleep, Some("Shipped")).builder_call(),
            ".sleep(\"Paid\", \"Shipped\")"
        );
        assert_eq!(
            Edge::new("New", EdgeKind::To, Some("Paid")).builder_call(),
            ".edge(\"New\", \"Paid\")"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(order_graph().validate_for::<Order>(), Ok(()));
        assert_eq!(Graph::new("").validate(), Err(GraphError::NoStart));
        let err = Graph::new("New").edge("New", "").validate().unwrap_err();
        assert_eq!(err.code(), "GraphEmptyName");
        assert!(err.to_string().contains(".edge(\"New\", \"\")"), "{err}");
        let err = order_graph()
            .edge("Paid", "Sent")
            .validate_for::<Order>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GraphUnknownState: the graph of Order names `Sent`, which is not one of its \
             states (New, Paid, Shipped)"
        );
        assert_eq!(
            Graph::new("Start").custom_names().validate_for::<Order>(),
            Ok(())
        );
    }

    #[test]
    fn variants_are_read_through_serde() {
        assert_eq!(
            variant_names::<Order>(),
            Some(&["New", "Paid", "Shipped"][..])
        );
        assert_eq!(variant_names::<u32>(), None);
        assert_eq!(variant_names::<String>(), None);
    }

    #[test]
    fn reachability_and_finishing() {
        let g = order_graph().edge("Lost", "Lost").edge("Loop", "New");
        assert_eq!(
            g.reachable().into_iter().collect::<Vec<_>>(),
            ["New", "Paid", "Shipped"]
        );
        assert_eq!(
            g.can_finish().into_iter().collect::<Vec<_>>(),
            ["Loop", "New", "Paid", "Shipped"]
        );
    }

    #[test]
    fn taken_edges_follow_the_command_or_the_error() {
        let taken = |r: Result<Next<Order>, TransitionError>| edge_taken("New", &r);
        assert_eq!(
            taken(Ok(Next::to(Order::Paid(1)))),
            Some(Edge::new("New", EdgeKind::To, Some("Paid")))
        );
        assert_eq!(
            taken(Ok(Next::sleep(
                std::time::Duration::from_secs(1),
                Order::Sent { to: "x".into() }
            ))),
            Some(Edge::new("New", EdgeKind::Sleep, Some("Shipped")))
        );
        assert_eq!(
            taken(Ok(Next::done(()))).map(|e| e.kind),
            Some(EdgeKind::Done)
        );
        assert_eq!(
            taken(Err(Terminal::new("No", "no").into())).map(|e| e.kind),
            Some(EdgeKind::Fail)
        );
        assert_eq!(
            taken(Err("flaky".into())).map(|e| e.kind),
            Some(EdgeKind::Retry)
        );
        assert_eq!(taken(Err(Suspend.into())), None);
    }
}
