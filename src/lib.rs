//! durable-fsm: AWS Lambda durable functions as explicit, resumable enum state machines.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod api;
#[cfg(feature = "aws")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws")))]
pub mod aws;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
pub mod display;
pub mod executor;
pub mod failpoint;
#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub mod lambda;
pub mod machine;
pub mod model;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub mod service;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use api::{ApiError, DurableApi, ErrorCode};
pub use machine::{Ctx, Next, Transition, TransitionError};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The book's chapters (book/src): their Rust code blocks compile and run as doctests
/// (`cargo test --all-features --doc`). A new chapter gets one item here.
#[cfg(doctest)]
mod book {
    #[doc = include_str!("../book/src/introduction.md")]
    struct Introduction;
    #[doc = include_str!("../book/src/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../book/src/concepts.md")]
    struct Concepts;
    #[doc = include_str!("../book/src/commands.md")]
    struct Commands;
    #[doc = include_str!("../book/src/operations.md")]
    struct Operations;
    #[doc = include_str!("../book/src/testing.md")]
    struct Testing;
    #[doc = include_str!("../book/src/graphs.md")]
    struct Graphs;
    #[doc = include_str!("../book/src/continue-as-new.md")]
    struct ContinueAsNew;
    #[doc = include_str!("../book/src/evolution.md")]
    struct Evolution;
    #[doc = include_str!("../book/src/examples.md")]
    struct Examples;
    #[doc = include_str!("../book/src/local-service.md")]
    struct LocalService;
    #[doc = include_str!("../book/src/deploying.md")]
    struct Deploying;
    #[doc = include_str!("../book/src/interop.md")]
    struct Interop;
    #[doc = include_str!("../book/src/performance.md")]
    struct Performance;
    #[doc = include_str!("../book/src/reliability.md")]
    struct Reliability;
    #[doc = include_str!("../book/src/comparison.md")]
    struct Comparison;
    #[doc = include_str!("../book/src/glossary.md")]
    struct Glossary;
}
