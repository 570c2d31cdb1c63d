//! Checking each transition against the workflow's declared graph
//! ([`Transition::graph`](crate::Transition::graph)).

use crate::machine::graph::{Edge, Graph, GraphError, edge_taken, type_name};
use crate::machine::{Next, Terminal, Transition, TransitionError};

/// `ErrorType` of a transition that took an edge its workflow's graph does not declare.
pub const UNDECLARED_TRANSITION: &str = "UndeclaredTransition";
/// `ErrorType` of a transition of a workflow whose declared graph is not valid.
pub const INVALID_GRAPH: &str = "InvalidGraph";

/// The declared graph of one invocation's workflow, read once, and whether it complained yet.
pub(crate) struct GraphCheck {
    graph: Option<Result<Graph, GraphError>>,
    strict: bool,
    warned: bool,
}

impl GraphCheck {
    /// Reads and validates `W`'s graph. `strict`: an undeclared edge fails the transition;
    /// otherwise it is logged, once per invocation.
    pub(crate) fn new<W: Transition>(strict: bool) -> Self {
        GraphCheck {
            graph: W::graph().map(|g| g.validate_for::<W>().map(|()| g)),
            strict,
            warned: false,
        }
    }

    /// Passes `result` through, or (strict) replaces it with a [`Terminal`] error when the
    /// edge it takes from state `from` is not declared.
    pub(crate) fn check<W: Transition>(
        &mut self,
        from: &str,
        result: Result<Next<W>, TransitionError>,
    ) -> Result<Next<W>, TransitionError> {
        let Some(graph) = &self.graph else {
            return result;
        };
        let Some(edge) = edge_taken(from, &result) else {
            return result;
        };
        let problem = match graph {
            Ok(graph) if graph.allows(&edge) => return result,
            Ok(graph) => Terminal::new(UNDECLARED_TRANSITION, undeclared::<W>(graph, &edge)),
            Err(e) => Terminal::new(
                INVALID_GRAPH,
                format!(
                    "the declared graph of {} is not valid: {e}",
                    type_name::<W>()
                ),
            ),
        };
        if self.strict {
            return Err(problem.into());
        }
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                code = problem.0.error_type.as_deref().unwrap_or_default(),
                "{}",
                problem.0.error_message.as_deref().unwrap_or_default()
            );
        }
        result
    }
}

/// What was taken, what is declared instead, and how to declare it.
fn undeclared<W>(graph: &Graph, edge: &Edge) -> String {
    let taken = match (&edge.to, edge.kind.has_target()) {
        (Some(to), true) => format!("`{}` → `{to}` ({})", edge.from, edge.kind),
        _ => format!("`{}` → {}", edge.from, edge.kind),
    };
    let declared: Vec<String> = graph
        .edges_from(&edge.from)
        .map(ToString::to_string)
        .collect();
    let declared = if declared.is_empty() && !graph.has_state(&edge.from) {
        format!("`{}` is not a state of the graph", edge.from)
    } else if declared.is_empty() {
        format!("no edges are declared from `{}`", edge.from)
    } else {
        format!("declared: {}", declared.join(", "))
    };
    format!(
        "{taken} is not declared in the graph of {} ({declared}); declare it with {} or fix the transition",
        type_name::<W>(),
        edge.builder_call()
    )
}
