//! Workflows as state machines: the [`Transition`] trait, the [`Next`] commands, the [`Ctx`]
//! handle, retry strategies, codecs and operation ids.

pub mod codec;
mod ctx;
mod error;
pub mod evolve;
pub mod graph;
pub mod ids;
mod name;
mod next;
pub mod ops;
pub mod retry;

pub(crate) use ctx::{BoxFuture, CtxBackend, TokenState, whole_seconds};
pub use ctx::{Callback, CallbackConfig, CallbackOutcome, Ctx};
pub use error::{CtxError, StepError, Suspend, Terminal, TransitionError};
pub(crate) use error::{ErrorClass, StepInterrupted};
pub use graph::{Edge, EdgeKind, Graph, GraphError};
pub use name::{variant_name, variant_names};
pub use next::Next;
pub use retry::RetryStrategy;

use codec::{Codec, CodecError, JsonCodec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// A workflow: an enum whose variants are its states.
///
/// `next` runs the code of one state and returns what comes next. After each transition the
/// executor checkpoints the new state; a later invocation resumes from the newest checkpointed
/// state without re-running anything before it. Only a transition that was cut short (a crash,
/// a timeout, a suspension inside it) runs again, so side effects inside one transition are
/// at-least-once.
///
/// ```
/// use durable_fsm::{Ctx, Next, Transition, TransitionError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// enum Greeting { Start { name: String }, Greeted(String) }
///
/// impl Transition for Greeting {
///     type Input = String;
///     type Output = String;
///     fn start(name: String) -> Self { Greeting::Start { name } }
///     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
///         Ok(match self {
///             Greeting::Start { name } => Next::to(Greeting::Greeted(format!("Hello, {name}!"))),
///             Greeting::Greeted(text) => Next::done(text),
///         })
///     }
/// }
/// ```
pub trait Transition: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// The execution input (the JSON payload the execution was started with).
    type Input: DeserializeOwned + Send;
    /// The execution result.
    type Output: Serialize + Send;

    /// The first state, built from the execution input.
    fn start(input: Self::Input) -> Self;

    /// Runs this state and returns what comes next.
    fn next(
        self,
        ctx: &mut Ctx<'_>,
    ) -> impl Future<Output = Result<Next<Self>, TransitionError>> + Send;

    /// The state's name, recorded as the Name of its transition's STEP operation.
    /// Defaults to the enum variant's name.
    fn name(&self) -> &'static str {
        variant_name(self)
    }

    /// How errors returned by this state's transition are retried. Defaults to AWS's default
    /// step policy (6 attempts, 5 s doubling to 60 s, full jitter).
    fn retry_strategy(&self) -> RetryStrategy {
        RetryStrategy::default()
    }

    /// Whether this state's transition may run more than once. Defaults to at-least-once: a
    /// transition cut short (a crash, a timeout) runs again. With
    /// [`StepSemantics::AtMostOnce`](ops::StepSemantics::AtMostOnce) the transition's start is
    /// checkpointed before its code runs, and a transition found started but unfinished is
    /// not run again: it fails with `StepInterrupted`, which its retry strategy may retry.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::{RetryStrategy, ops::StepSemantics}};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Payout { Send, Sent }
    /// # impl Transition for Payout { type Input = (); type Output = ();
    /// #   fn start(_: ()) -> Self { Payout::Send }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       Ok(match self { Payout::Send => Next::to(Payout::Sent), Payout::Sent => Next::done(()) }) }
    /// // Never send a payout twice: a payout interrupted mid-way fails for a human to check.
    /// fn semantics(&self) -> StepSemantics {
    ///     match self {
    ///         Payout::Send => StepSemantics::AtMostOnce,
    ///         Payout::Sent => StepSemantics::AtLeastOnce,
    ///     }
    /// }
    /// fn retry_strategy(&self) -> RetryStrategy {
    ///     RetryStrategy::none()
    /// }
    /// # }
    /// ```
    fn semantics(&self) -> ops::StepSemantics {
        ops::StepSemantics::AtLeastOnce
    }

    /// The states, the start state and the transitions each state may take, for pictures
    /// ([`display::graph`](crate::display::graph)) and checks: the executor checks every
    /// transition against it (an `UndeclaredTransition` error under the test runner, a
    /// warning in production) and `testing::explore` walks it. Defaults to none.
    ///
    /// ```
    /// # use durable_fsm::{Ctx, Next, Transition, TransitionError, machine::Graph};
    /// # #[derive(serde::Serialize, serde::Deserialize)] enum Door { Closed, Open }
    /// # impl Transition for Door { type Input = (); type Output = ();
    /// #   fn start(_: ()) -> Self { Door::Closed }
    /// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
    /// #       Ok(match self { Door::Closed => Next::to(Door::Open), Door::Open => Next::done(()) }) }
    /// fn graph() -> Option<Graph> {
    ///     Some(Graph::new("Closed").edge("Closed", "Open").done("Open"))
    /// }
    /// # }
    /// ```
    fn graph() -> Option<Graph> {
        None
    }

    /// The codec for this workflow's states in checkpoints. Defaults to JSON.
    fn codec() -> StateCodec {
        StateCodec::Json
    }

    /// Turns a checkpointed state that no longer decodes into `Self` (it was stored by an
    /// earlier version of the workflow) into a state of this version. Called only when
    /// decoding fails; an error stops the invocation with a `StateDecodeError` that names the
    /// stored variant. Defaults to no migration. See [`evolve`] for the pattern.
    fn migrate(stored: evolve::StoredState) -> Result<Self, evolve::MigrateError> {
        let _ = stored;
        Err(evolve::MigrateError::not_implemented())
    }
}

/// The codec a workflow's states are stored with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateCodec {
    /// Readable JSON (default).
    #[default]
    Json,
    /// Compact postcard bytes, base64 in a JSON string.
    #[cfg(feature = "postcard")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postcard")))]
    Postcard,
}

impl Codec for StateCodec {
    fn encode<T: Serialize>(&self, value: &T) -> Result<serde_json::Value, CodecError> {
        match self {
            StateCodec::Json => JsonCodec.encode(value),
            #[cfg(feature = "postcard")]
            StateCodec::Postcard => codec::PostcardCodec.encode(value),
        }
    }

    fn decode<T: DeserializeOwned>(&self, value: serde_json::Value) -> Result<T, CodecError> {
        match self {
            StateCodec::Json => JsonCodec.decode(value),
            #[cfg(feature = "postcard")]
            StateCodec::Postcard => codec::PostcardCodec.decode(value),
        }
    }

    fn encode_to_string<T: Serialize>(&self, value: &T) -> Result<String, CodecError> {
        match self {
            StateCodec::Json => JsonCodec.encode_to_string(value),
            #[cfg(feature = "postcard")]
            StateCodec::Postcard => codec::PostcardCodec.encode_to_string(value),
        }
    }

    fn decode_from_str<T: DeserializeOwned>(&self, payload: &str) -> Result<T, CodecError> {
        match self {
            StateCodec::Json => JsonCodec.decode_from_str(payload),
            #[cfg(feature = "postcard")]
            StateCodec::Postcard => codec::PostcardCodec.decode_from_str(payload),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            StateCodec::Json => JsonCodec.name(),
            #[cfg(feature = "postcard")]
            StateCodec::Postcard => codec::PostcardCodec.name(),
        }
    }
}
