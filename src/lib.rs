//! durable-fsm: AWS Lambda durable functions as explicit, resumable enum state machines.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod api;
pub mod executor;
pub mod machine;
pub mod model;
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub mod service;

pub use api::{ApiError, DurableApi, ErrorCode};
pub use machine::{Ctx, Next, Transition, TransitionError};
