//! `graph`: the path a durable execution took, drawn from its history as Mermaid or DOT.
//!
//! A remote workflow's declared graph is not known here, so the picture is the observed path:
//! the states visited with visit counts, the edges taken with counts, the current state of a
//! running execution and how an ended one ended.

use super::args::ClientArgs;
use super::client::Client;
use super::{CliError, emit};
use crate::api::DurableApi;
use crate::display::graph::{GraphFormat, render};
use crate::display::trace::Trace;
use crate::model::{Event, GetDurableExecutionHistoryRequest};
use clap::{Args, ValueEnum};

/// Largest page the durable API hands out.
const MAX_PAGE: u32 = 1000;

/// Options of `graph`.
#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// The durable execution ARN
    #[arg(value_name = "ARN")]
    pub arn: String,
    /// Drawing language: mermaid (stateDiagram-v2) or dot (Graphviz)
    #[arg(long, value_enum, value_name = "F", default_value_t = Format::Mermaid)]
    pub format: Format,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The drawing languages of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Mermaid stateDiagram-v2
    Mermaid,
    /// Graphviz DOT
    Dot,
}

impl From<Format> for GraphFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Mermaid => GraphFormat::Mermaid,
            Format::Dot => GraphFormat::Dot,
        }
    }
}

/// `graph`: pages through the whole history, then draws it (or prints the trace as JSON).
pub async fn graph(args: GraphArgs) -> Result<(), CliError> {
    let client = Client::connect(&args.client).await?;
    let events = history(&client, &args.arn).await?;
    let trace = Trace::from_events(&events);
    if args.client.json {
        let text = serde_json::to_string_pretty(&trace)
            .map_err(|e| CliError::Failed(format!("cannot encode the trace as JSON: {e}")))?;
        return emit(&format!("{text}\n"));
    }
    emit(&draw(&trace, args.format))
}

/// The observed path of `trace` in `format`.
pub fn draw(trace: &Trace, format: Format) -> String {
    render(None, Some(trace), format.into())
}

/// Every event of the execution, oldest first, with payloads (they name the next states).
pub(crate) async fn history(client: &Client, arn: &str) -> Result<Vec<Event>, CliError> {
    let mut events = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let req = GetDurableExecutionHistoryRequest {
            durable_execution_arn: arn.to_string(),
            include_execution_data: Some(true),
            max_items: Some(MAX_PAGE),
            marker: marker.clone(),
            reverse_order: None,
        };
        let page = client
            .api
            .get_history(req)
            .await
            .map_err(|e| client.fail(e))?;
        let got = page.events.len();
        events.extend(page.events);
        let next = page.next_marker.filter(|m| !m.is_empty());
        // A marker that does not move, or an empty page, would page forever.
        let stuck = got == 0 || next == marker;
        marker = next;
        if marker.is_none() || stuck {
            return Ok(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::{Cli, Command};
    use super::*;
    use crate::display::trace::tests::approved;
    use clap::Parser;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("durable-fsm").chain(args.iter().copied()))
    }

    #[test]
    fn graph_takes_an_arn_and_a_format() {
        let Command::Graph(g) = parse(&["graph", "arn:x"]).unwrap().command else {
            panic!("not graph")
        };
        assert_eq!((g.arn.as_str(), g.format), ("arn:x", Format::Mermaid));
        assert!(!g.client.aws && !g.client.json);
        let Command::Graph(g) = parse(&["graph", "arn:x", "--format", "dot", "--aws"])
            .unwrap()
            .command
        else {
            panic!("not graph")
        };
        assert_eq!(g.format, Format::Dot);
        assert!(g.client.aws);
        assert_eq!(
            parse(&["graph", "arn:x", "--format", "png"])
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            parse(&["graph"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn draws_the_observed_path_with_counts() {
        let trace = Trace::from_events(&approved());
        assert_eq!(
            draw(&trace, Format::Mermaid),
            "stateDiagram-v2
    classDef visited fill:#dbeafe,stroke:#1d4ed8,stroke-width:1px
    classDef succeeded fill:#dcfce7,stroke:#15803d,stroke-width:3px
    state \"Submitted ×1\" as Submitted
    state \"AwaitingManager ×1\" as AwaitingManager
    state \"Approved ×1\" as Approved
    state \"Payout ×1\" as Payout
    [*] --> Submitted: ×1
    Submitted --> AwaitingManager: ×1
    AwaitingManager --> Approved: ×1
    Approved --> Payout: sleep ×1
    Payout --> [*]: done ×1
    class Submitted,AwaitingManager,Approved visited
    class Payout succeeded
"
        );
        let dot = draw(&trace, Format::Dot);
        assert!(dot.starts_with("digraph workflow {\n"), "{dot}");
        assert!(
            dot.contains("    \"Approved\" -> \"Payout\" [label=\"sleep ×1\", penwidth=2];\n"),
            "{dot}"
        );
    }
}
