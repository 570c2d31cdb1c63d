//! Functions that run inside this process: durable workflows (a [`Transition`] type run by
//! the executor against the service itself) and plain async handlers (targets of chained
//! invokes and of a plain Lambda Invoke).

use crate::executor::{self, InvocationError};
use crate::machine::Transition;
use crate::model::{DurableConfig, ErrorObject, InvocationInput, InvocationOutput};
use crate::service::{FunctionConfig, LocalService};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future, so registered functions are object-safe.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One handler invocation of a durable function against a service.
pub(crate) trait DurableFunction: Send + Sync {
    fn invoke(
        &self,
        service: LocalService,
        input: InvocationInput,
    ) -> BoxFuture<Result<InvocationOutput, InvocationError>>;
}

struct Workflow<W>(PhantomData<fn() -> W>);

impl<W: Transition> DurableFunction for Workflow<W> {
    fn invoke(
        &self,
        service: LocalService,
        input: InvocationInput,
    ) -> BoxFuture<Result<InvocationOutput, InvocationError>> {
        Box::pin(async move { executor::run::<W, LocalService>(&service, input).await })
    }
}

/// A plain function: JSON event in, JSON result or error out.
pub(crate) type PlainFunction =
    Arc<dyn Fn(Value) -> BoxFuture<Result<Value, ErrorObject>> + Send + Sync>;

/// A registered function.
#[derive(Clone)]
pub(crate) enum Registered {
    /// A durable workflow, with the configuration the engine gets for it.
    Durable(Arc<dyn DurableFunction>, FunctionConfig),
    /// A plain handler.
    Plain(PlainFunction),
}

/// The functions that run in this process, by bare function name.
///
/// ```
/// # use durable_fsm::{Ctx, Next, Transition, TransitionError};
/// # #[derive(serde::Serialize, serde::Deserialize)] enum Hello { Start }
/// # impl Transition for Hello { type Input = (); type Output = String;
/// #   fn start(_: ()) -> Self { Hello::Start }
/// #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> { Ok(Next::done("hi".into())) } }
/// use durable_fsm::service::runtime::Registry;
///
/// let mut registry = Registry::new();
/// registry
///     .register::<Hello>("hello")
///     .register_plain("double", |v: serde_json::Value| async move {
///         Ok(serde_json::json!(v.as_i64().unwrap_or(0) * 2))
///     });
/// assert!(registry.is_durable("hello") && registry.is_plain("double"));
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    functions: BTreeMap<String, Registered>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, r) in &self.functions {
            m.entry(
                name,
                &match r {
                    Registered::Durable(..) => "durable",
                    Registered::Plain(_) => "plain",
                },
            );
        }
        m.finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers workflow `W` as the durable function `name` (no execution timeout): its
    /// invocations run [`executor::run`] against the service itself, and chained invokes of
    /// `name` start child executions of it.
    pub fn register<W: Transition>(&mut self, name: impl Into<String>) -> &mut Self {
        let config = FunctionConfig {
            durable: Some(DurableConfig::default()),
        };
        self.register_with::<W>(name, config)
    }

    /// Registers workflow `W` as the durable function `name` with a configuration (execution
    /// timeout, retention). A config without `durable` is made durable with defaults.
    pub fn register_with<W: Transition>(
        &mut self,
        name: impl Into<String>,
        mut config: FunctionConfig,
    ) -> &mut Self {
        config.durable.get_or_insert_with(DurableConfig::default);
        let f: Arc<dyn DurableFunction> = Arc::new(Workflow::<W>(PhantomData));
        self.functions
            .insert(name.into(), Registered::Durable(f, config));
        self
    }

    /// Registers a plain (non-durable) function: `handler` gets the event as JSON and returns
    /// the result, or an error reported as a function error.
    pub fn register_plain<F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ErrorObject>> + Send + 'static,
    {
        let f: PlainFunction = Arc::new(move |v| Box::pin(handler(v)));
        self.functions.insert(name.into(), Registered::Plain(f));
        self
    }

    /// Whether `name` is a registered durable workflow.
    pub fn is_durable(&self, name: &str) -> bool {
        matches!(self.functions.get(name), Some(Registered::Durable(..)))
    }

    /// Whether `name` is a registered plain function.
    pub fn is_plain(&self, name: &str) -> bool {
        matches!(self.functions.get(name), Some(Registered::Plain(_)))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Registered> {
        self.functions.get(name)
    }

    /// The engine configuration of every registered function.
    pub(crate) fn function_configs(&self) -> impl Iterator<Item = (&str, FunctionConfig)> {
        self.functions.iter().map(|(name, r)| {
            let config = match r {
                Registered::Durable(_, c) => c.clone(),
                Registered::Plain(_) => FunctionConfig::plain(),
            };
            (name.as_str(), config)
        })
    }
}
