//! Workflow graphs as Mermaid (`stateDiagram-v2`) and Graphviz DOT, with an execution's
//! [`Trace`] drawn over them: visited states and their visit counts, the current state, how it
//! ended, and how often each edge was taken.
//!
//! ```
//! use durable_fsm::display::graph::{GraphFormat, mermaid, render};
//! use durable_fsm::machine::Graph;
//!
//! let graph = Graph::new("Closed").edge("Closed", "Open").done("Open");
//! assert_eq!(
//!     mermaid(&graph),
//!     "stateDiagram-v2\n    [*] --> Closed\n    Closed --> Open\n    Open --> [*]: done\n"
//! );
//! assert!(render(Some(&graph), None, GraphFormat::Dot).starts_with("digraph workflow {"));
//! ```

use super::trace::Trace;
use crate::machine::{Edge, EdgeKind, Graph};
use crate::model::{Event, ExecutionStatus};
use std::fmt::Write as _;

/// The drawing languages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphFormat {
    /// Mermaid `stateDiagram-v2` (renders on GitHub, in mdBook with mermaid, in mermaid.live).
    #[default]
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Draws a declared graph as Mermaid.
pub fn mermaid(graph: &Graph) -> String {
    render(Some(graph), None, GraphFormat::Mermaid)
}

/// Draws a declared graph as Graphviz DOT.
pub fn dot(graph: &Graph) -> String {
    render(Some(graph), None, GraphFormat::Dot)
}

/// Draws an execution's path over the workflow's declared graph, or over the path alone when
/// there is none, from the execution's history events.
pub fn render_events(graph: Option<&Graph>, events: &[Event], format: GraphFormat) -> String {
    render(graph, Some(&Trace::from_events(events)), format)
}

/// Draws `graph` with `trace` over it. Without a graph, the trace's own path is drawn; edges
/// the trace took that the graph does not declare are drawn as `undeclared`.
pub fn render(graph: Option<&Graph>, trace: Option<&Trace>, format: GraphFormat) -> String {
    let observed = trace.and_then(Trace::to_graph);
    let picture = Picture::new(graph.or(observed.as_ref()), trace);
    match format {
        GraphFormat::Mermaid => picture.mermaid(),
        GraphFormat::Dot => picture.dot(),
    }
}

/// How a state is highlighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Visited,
    Current,
    Succeeded,
    Failed,
}

impl Class {
    const ALL: [Class; 4] = [
        Class::Visited,
        Class::Current,
        Class::Succeeded,
        Class::Failed,
    ];

    fn name(self) -> &'static str {
        match self {
            Class::Visited => "visited",
            Class::Current => "current",
            Class::Succeeded => "succeeded",
            Class::Failed => "failed",
        }
    }

    /// (fill, stroke, stroke width)
    fn colors(self) -> (&'static str, &'static str, u8) {
        match self {
            Class::Visited => ("#dbeafe", "#1d4ed8", 1),
            Class::Current => ("#fef3c7", "#d97706", 3),
            Class::Succeeded => ("#dcfce7", "#15803d", 3),
            Class::Failed => ("#fee2e2", "#b91c1c", 3),
        }
    }
}

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// No trace.
    Plain,
    /// The execution took it.
    Taken,
    /// Declared, not taken.
    NotTaken,
    /// Taken, not declared.
    Undeclared,
}

struct Node {
    name: String,
    label: String,
    class: Option<Class>,
}

/// `None` is the start (as a source) or the end (as a target).
struct Line {
    from: Option<usize>,
    to: Option<usize>,
    label: String,
    style: Style,
}

struct Picture {
    nodes: Vec<Node>,
    lines: Vec<Line>,
}

impl Picture {
    fn new(graph: Option<&Graph>, trace: Option<&Trace>) -> Picture {
        let mut p = Picture {
            nodes: Vec::new(),
            lines: Vec::new(),
        };
        let declared = |e: &Edge| graph.is_some_and(|g| g.allows(e));
        if let Some(g) = graph {
            for state in g.states() {
                p.node(state);
            }
        }
        let count_label = |n: u64| {
            if n > 0 {
                format!("×{n}")
            } else {
                String::new()
            }
        };
        let style = |n: u64| match (trace, n) {
            (None, _) => Style::Plain,
            (Some(_), 0) => Style::NotTaken,
            _ => Style::Taken,
        };
        if let Some(start) = graph.map(Graph::start).filter(|s| !s.is_empty()) {
            let n = u64::from(trace.and_then(|t| t.start.as_deref()) == Some(start));
            let to = p.node(start);
            p.lines.push(Line {
                from: None,
                to: Some(to),
                label: count_label(n),
                style: style(n),
            });
        }
        if let Some(start) = trace.and_then(|t| t.start.as_deref())
            && graph.is_some_and(|g| g.start() != start)
        {
            let to = p.node(start);
            p.lines.push(Line {
                from: None,
                to: Some(to),
                label: "×1 undeclared".into(),
                style: Style::Undeclared,
            });
        }
        for e in graph.map(Graph::edges).unwrap_or_default() {
            let n = trace.map_or(0, |t| t.count(e));
            p.edge(e, n, style(n));
        }
        for c in trace.map(|t| t.edges.as_slice()).unwrap_or_default() {
            if !declared(&c.edge) {
                p.edge(&c.edge, c.count, Style::Undeclared);
            }
        }
        if let Some(t) = trace {
            p.overlay(t);
        }
        p
    }

    fn node(&mut self, name: &str) -> usize {
        match self.nodes.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                self.nodes.push(Node {
                    name: name.to_string(),
                    label: name.to_string(),
                    class: None,
                });
                self.nodes.len() - 1
            }
        }
    }

    fn edge(&mut self, e: &Edge, count: u64, style: Style) {
        let from = Some(self.node(&e.from));
        let to = match e.kind {
            EdgeKind::Done | EdgeKind::Fail => None,
            _ => match e.target() {
                Some(t) => Some(self.node(t)),
                None => return,
            },
        };
        let mut parts: Vec<String> = Vec::new();
        if e.kind != EdgeKind::To {
            parts.push(e.kind.as_str().into());
        }
        if count > 0 {
            parts.push(format!("×{count}"));
        }
        if style == Style::Undeclared {
            parts.push("undeclared".into());
        }
        self.lines.push(Line {
            from,
            to,
            label: parts.join(" "),
            style,
        });
    }

    /// Visit counts and highlights; an end line for an execution that ended without a
    /// `done` or `fail` transition (timed out, stopped).
    fn overlay(&mut self, t: &Trace) {
        for (name, n) in &t.visits {
            let i = self.node(name);
            self.nodes[i].label = format!("{name} ×{n}");
            self.nodes[i].class = Some(Class::Visited);
        }
        let Some(current) = &t.current else { return };
        let i = self.node(current);
        self.nodes[i].class = Some(match t.status {
            ExecutionStatus::Running => Class::Current,
            ExecutionStatus::Succeeded => Class::Succeeded,
            _ => Class::Failed,
        });
        // `done` and `fail` are taken once at most: the one that ended the execution.
        let finished_by_transition = t
            .edges
            .iter()
            .any(|c| c.edge.from == *current && c.edge.kind.is_terminal());
        if t.status != ExecutionStatus::Running && !finished_by_transition {
            let status = t.status.as_str().to_ascii_lowercase().replace('_', " ");
            self.lines.push(Line {
                from: Some(i),
                to: None,
                label: status,
                style: Style::Taken,
            });
        }
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        let ids: Vec<String> = (0..self.nodes.len()).map(|i| self.mermaid_id(i)).collect();
        for class in Class::ALL {
            if self.nodes.iter().any(|n| n.class == Some(class)) {
                let (fill, stroke, width) = class.colors();
                let _ = writeln!(
                    out,
                    "    classDef {} fill:{fill},stroke:{stroke},stroke-width:{width}px",
                    class.name()
                );
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.label != ids[i] {
                let label = node.label.replace('"', "#quot;");
                let _ = writeln!(out, "    state \"{label}\" as {}", ids[i]);
            } else if !self
                .lines
                .iter()
                .any(|l| l.from == Some(i) || l.to == Some(i))
            {
                let _ = writeln!(out, "    {}", ids[i]);
            }
        }
        for line in &self.lines {
            let end = |n: Option<usize>| n.map_or("[*]", |i| ids[i].as_str());
            let _ = write!(out, "    {} --> {}", end(line.from), end(line.to));
            if !line.label.is_empty() {
                let _ = write!(out, ": {}", line.label.replace(['\n', ':'], " "));
            }
            out.push('\n');
        }
        for class in Class::ALL {
            let members: Vec<&str> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].class == Some(class))
                .map(|i| ids[i].as_str())
                .collect();
            if !members.is_empty() {
                let _ = writeln!(out, "    class {} {}", members.join(","), class.name());
            }
        }
        out
    }

    /// The state's name when Mermaid takes it as an id, else `s<index>`.
    fn mermaid_id(&self, i: usize) -> String {
        const KEYWORDS: [&str; 9] = [
            "state",
            "note",
            "end",
            "direction",
            "class",
            "classDef",
            "style",
            "click",
            "as",
        ];
        let name = &self.nodes[i].name;
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !KEYWORDS.contains(&name.as_str());
        if plain { name.clone() } else { format!("s{i}") }
    }

    fn dot(&self) -> String {
        let mut out = String::from(
            "digraph workflow {\n    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n    \
             edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        if self.lines.iter().any(|l| l.from.is_none()) {
            out.push_str("    \"[start]\" [shape=point, width=0.15];\n");
        }
        if self.lines.iter().any(|l| l.to.is_none()) {
            out.push_str(
                "    \"[end]\" [shape=doublecircle, label=\"\", width=0.1, style=filled, \
                 fillcolor=black];\n",
            );
        }
        for node in &self.nodes {
            let mut attrs = Vec::new();
            if node.label != node.name {
                attrs.push(format!("label={}", q(&node.label)));
            }
            if let Some(class) = node.class {
                let (fill, stroke, width) = class.colors();
                attrs.push(format!(
                    "style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{stroke}\""
                ));
                if width > 1 {
                    attrs.push(format!("penwidth={width}"));
                }
            }
            let _ = write!(out, "    {}", q(&node.name));
            if !attrs.is_empty() {
                let _ = write!(out, " [{}]", attrs.join(", "));
            }
            out.push_str(";\n");
        }
        for line in &self.lines {
            let from = line
                .from
                .map_or("\"[start]\"".into(), |i| q(&self.nodes[i].name));
            let to = line
                .to
                .map_or("\"[end]\"".into(), |i| q(&self.nodes[i].name));
            let mut attrs = Vec::new();
            if !line.label.is_empty() {
                attrs.push(format!("label={}", q(&line.label)));
            }
            match line.style {
                Style::Plain => {}
                Style::Taken => attrs.push("penwidth=2".into()),
                Style::NotTaken => {
                    attrs.push("color=\"#9ca3af\", fontcolor=\"#9ca3af\", style=dashed".into())
                }
                Style::Undeclared => {
                    attrs.push("color=\"#b91c1c\", fontcolor=\"#b91c1c\", penwidth=2".into())
                }
            }
            let _ = write!(out, "    {from} -> {to}");
            if !attrs.is_empty() {
                let _ = write!(out, " [{}]", attrs.join(", "));
            }
            out.push_str(";\n");
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::trace::tests::{History, approved};
    use crate::model::EventType;

    fn approval() -> Graph {
        Graph::new("Submitted")
            .edge("Submitted", "Approved")
            .edge("Submitted", "AwaitingManager")
            .edge("AwaitingManager", "Approved")
            .edge("AwaitingManager", "Rejected")
            .retry("AwaitingManager")
            .sleep("Approved", "Payout")
            .done("Payout")
            .done("Rejected")
    }

    #[test]
    fn declared_graph_as_mermaid() {
        assert_eq!(
            mermaid(&approval()),
            "stateDiagram-v2
    [*] --> Submitted
    Submitted --> Approved
    Submitted --> AwaitingManager
    AwaitingManager --> Approved
    AwaitingManager --> Rejected
    AwaitingManager --> AwaitingManager: retry
    Approved --> Payout: sleep
    Payout --> [*]: done
    Rejected --> [*]: done
"
        );
    }

    #[test]
    fn declared_graph_as_dot() {
        let g = Graph::new("Check")
            .poll("Check", "Check")
            .edge("Check", "Ready")
            .done("Ready")
            .fail("Check");
        assert_eq!(
            dot(&g),
            r#"digraph workflow {
    node [shape=box, style=rounded, fontname="Helvetica"];
    edge [fontname="Helvetica", fontsize=10];
    "[start]" [shape=point, width=0.15];
    "[end]" [shape=doublecircle, label="", width=0.1, style=filled, fillcolor=black];
    "Check";
    "Ready";
    "[start]" -> "Check";
    "Check" -> "Check" [label="poll"];
    "Check" -> "Ready";
    "Ready" -> "[end]" [label="done"];
    "Check" -> "[end]" [label="fail"];
}
"#
        );
    }

    #[test]
    fn execution_over_the_declared_graph_as_mermaid() {
        let text = render_events(Some(&approval()), &approved(), GraphFormat::Mermaid);
        assert_eq!(
            text,
            "stateDiagram-v2
    classDef visited fill:#dbeafe,stroke:#1d4ed8,stroke-width:1px
    classDef succeeded fill:#dcfce7,stroke:#15803d,stroke-width:3px
    state \"Submitted ×1\" as Submitted
    state \"Approved ×1\" as Approved
    state \"AwaitingManager ×1\" as AwaitingManager
    state \"Payout ×1\" as Payout
    [*] --> Submitted: ×1
    Submitted --> Approved
    Submitted --> AwaitingManager: ×1
    AwaitingManager --> Approved: ×1
    AwaitingManager --> Rejected
    AwaitingManager --> AwaitingManager: retry
    Approved --> Payout: sleep ×1
    Payout --> [*]: done ×1
    Rejected --> [*]: done
    class Submitted,Approved,AwaitingManager visited
    class Payout succeeded
"
        );
    }

    #[test]
    fn running_execution_without_a_graph_as_dot() {
        let events = History::new()
            .ok("Check", r#"{"Check":{"tries":1}}"#, Some(5))
            .ok("Check", r#"{"Check":{"tries":2}}"#, Some(5))
            .ok("Check", r#""Ready""#, None)
            .ok("Ready", r#"{"Odd":1}"#, None)
            .events;
        assert_eq!(
            render_events(None, &events, GraphFormat::Dot),
            r##"digraph workflow {
    node [shape=box, style=rounded, fontname="Helvetica"];
    edge [fontname="Helvetica", fontsize=10];
    "[start]" [shape=point, width=0.15];
    "Check" [label="Check ×3", style="rounded,filled", fillcolor="#dbeafe", color="#1d4ed8"];
    "Ready" [label="Ready ×1", style="rounded,filled", fillcolor="#dbeafe", color="#1d4ed8"];
    "Odd" [label="Odd ×1", style="rounded,filled", fillcolor="#fef3c7", color="#d97706", penwidth=3];
    "[start]" -> "Check" [label="×1", penwidth=2];
    "Check" -> "Check" [label="poll ×2", penwidth=2];
    "Check" -> "Ready" [label="×1", penwidth=2];
    "Ready" -> "Odd" [label="×1", penwidth=2];
}
"##
        );
    }

    #[test]
    fn undeclared_edges_and_timeouts_stand_out() {
        let events = History::new()
            .ok("Submitted", r#"{"Rejected":{}}"#, None)
            .end(EventType::ExecutionTimedOut)
            .events;
        let text = render_events(Some(&approval()), &events, GraphFormat::Mermaid);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.contains(&"    Submitted --> Rejected: ×1 undeclared"),
            "{text}"
        );
        assert!(lines.contains(&"    Rejected --> [*]: timed out"), "{text}");
        assert!(lines.contains(&"    class Rejected failed"), "{text}");
        let dot = render_events(Some(&approval()), &events, GraphFormat::Dot);
        assert!(
            dot.contains(
                r##""Submitted" -> "Rejected" [label="×1 undeclared", color="#b91c1c", fontcolor="#b91c1c", penwidth=2];"##
            ),
            "{dot}"
        );
        assert!(
            dot.contains(r##""Submitted" -> "Approved" [color="#9ca3af", fontcolor="#9ca3af", style=dashed];"##),
            "{dot}"
        );
    }

    #[test]
    fn odd_names_get_ids_and_empty_histories_draw_nothing() {
        let g = Graph::new("end")
            .edge("end", "two words")
            .custom_names()
            .state("Alone");
        assert_eq!(
            mermaid(&g),
            "stateDiagram-v2
    state \"end\" as s0
    state \"two words\" as s1
    Alone
    [*] --> s0
    s0 --> s1
"
        );
        assert_eq!(
            render(None, None, GraphFormat::Mermaid),
            "stateDiagram-v2\n"
        );
        assert_eq!(
            render_events(None, &[], GraphFormat::Dot),
            "digraph workflow {\n    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n    \
             edge [fontname=\"Helvetica\", fontsize=10];\n}\n"
        );
    }
}
