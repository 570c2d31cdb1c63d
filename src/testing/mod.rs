//! The in-process test runner: the real service engine on an in-memory store, a virtual
//! clock, and the production executor, so a workflow's unit test is three lines.
//!
//! ```
//! # use durable_fsm::{Ctx, Next, Transition, TransitionError};
//! # #[derive(serde::Serialize, serde::Deserialize)] enum Hello { Start }
//! # impl Transition for Hello { type Input = (); type Output = String;
//! #   fn start(_: ()) -> Self { Hello::Start }
//! #   async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> { Ok(Next::done("hi".into())) } }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use durable_fsm::testing::TestRunner;
//! let outcome = TestRunner::<Hello>::new().run(()).await.unwrap();
//! assert_eq!(outcome.output::<String>().unwrap(), "hi");
//! # });
//! ```
//!
//! Timers and retry delays are skipped by moving the virtual clock to the next deadline;
//! callbacks are answered by the replies registered with [`TestRunner::on_callback`].
//! Transitions outside the workflow's declared [`Graph`](crate::machine::Graph) fail the run
//! (see [`TestRunner::strict_graph`]), and [`explore`] checks the declared graph against the
//! workflow's code.

mod chain;
mod explore;
mod faults;

pub use explore::{Observation, Panic, Report, Samples, explore, sample_callback};
pub use faults::{CORRUPT_TOKEN, Fault, FaultyApi};

use crate::api::{ApiError, DurableApi};
use crate::executor::{self, RunOptions};
use crate::machine::Transition;
use crate::model::*;
use crate::service::{
    Clock, EngineConfig, InvocationOutcome, LocalService, StartExecution, VirtualClock,
};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// How the runner answers a callback.
#[derive(Clone, Debug, PartialEq)]
pub enum CallbackReply {
    /// SendDurableExecutionCallbackSuccess with this body.
    Succeed(String),
    /// SendDurableExecutionCallbackFailure with this error.
    Fail(ErrorObject),
    /// Send nothing: let the callback time out.
    Ignore,
    /// Send a heartbeat, then the inner reply.
    Heartbeat(Box<CallbackReply>),
    /// Wait (virtual time), then the inner reply.
    After(Duration, Box<CallbackReply>),
}

impl CallbackReply {
    /// Succeed with `body`.
    pub fn succeed(body: impl Into<String>) -> Self {
        CallbackReply::Succeed(body.into())
    }

    /// Fail with an error type and message.
    pub fn fail(error_type: &str, message: &str) -> Self {
        CallbackReply::Fail(ErrorObject::new(error_type, message))
    }

    /// This reply, after `delay` of virtual time.
    pub fn after(self, delay: Duration) -> Self {
        CallbackReply::After(delay, Box::new(self))
    }
}

/// Why a test run could not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A service call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The input does not serialize.
    #[error("cannot serialize the input: {0}")]
    Input(String),
    /// The execution waits for something that will never happen (an unanswered callback
    /// without a timeout, for example).
    #[error("the execution is stuck: {0}")]
    Stuck(String),
    /// More invocations than the runner allows.
    #[error("gave up after {0} invocations")]
    TooManyInvocations(u32),
    /// A chain of executions continued as new more often than the runner allows.
    #[error("gave up after {0} executions that continued as new")]
    TooManyExecutions(usize),
}

/// The end of a test run.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    /// The execution ARN.
    pub arn: String,
    /// Final status.
    pub status: ExecutionStatus,
    /// Result JSON, when SUCCEEDED.
    pub result: Option<String>,
    /// Error, when not SUCCEEDED.
    pub error: Option<ErrorObject>,
    /// Every operation, in creation order.
    pub operations: Vec<Operation>,
    /// The whole history.
    pub events: Vec<Event>,
    /// Handler invocations made.
    pub invocations: u32,
    /// Transitions whose code ran, over all invocations.
    pub transitions_run: u64,
    /// Transitions run by the last invocation.
    pub last_invocation_transitions: u64,
    /// Checkpoint calls made, over all invocations.
    pub checkpoint_calls: u64,
    /// GetDurableExecutionState calls (state pages beyond the invocation input).
    pub state_reads: u64,
    /// Virtual time from start to end.
    pub elapsed: Duration,
}

impl TestOutcome {
    /// The result, deserialized.
    pub fn output<T: DeserializeOwned>(&self) -> Result<T, String> {
        match (&self.status, &self.result) {
            (ExecutionStatus::Succeeded, Some(r)) => {
                serde_json::from_str(r).map_err(|e| format!("result {r} does not deserialize: {e}"))
            }
            _ => Err(format!(
                "execution ended {} with {:?}",
                self.status, self.error
            )),
        }
    }

    /// The history as a table.
    pub fn history_table(&self) -> String {
        crate::display::history_table(&self.events, 160)
    }

    /// Events of one type.
    pub fn events_of(&self, t: EventType) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.event_type == t)
    }
}

/// Drives one workflow to its end in process, on virtual time.
pub struct TestRunner<W> {
    service: LocalService,
    clock: VirtualClock,
    replies: Vec<(String, CallbackReply)>,
    faults: Vec<(u64, Fault)>,
    start_faults: Vec<(u64, Fault)>,
    max_invocations: u32,
    execution_name: Option<String>,
    timeout_seconds: Option<i64>,
    max_transitions: Option<u64>,
    strict_graph: bool,
    invoke_handlers: Vec<(String, InvokeHandler)>,
    _workflow: PhantomData<fn() -> W>,
}

/// A plain function the runner answers chained invokes with: input JSON in, result JSON or
/// error out.
type InvokeHandler = Arc<dyn Fn(&str) -> Result<String, ErrorObject> + Send + Sync>;

impl<W: Transition> Default for TestRunner<W> {
    fn default() -> Self {
        Self::new()
    }
}

/// The function name executions of `W` are started under.
pub fn function_name<W>() -> String {
    let full = std::any::type_name::<W>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

impl<W: Transition> TestRunner<W> {
    /// A runner on a fresh in-memory service whose clock starts at the current time.
    pub fn new() -> Self {
        let clock = VirtualClock::new(Timestamp::now());
        let arc: Arc<dyn Clock> = Arc::new(clock.clone());
        TestRunner {
            service: LocalService::in_memory(EngineConfig::default(), arc),
            clock,
            replies: Vec::new(),
            faults: Vec::new(),
            start_faults: Vec::new(),
            max_invocations: 10_000,
            execution_name: None,
            timeout_seconds: None,
            max_transitions: None,
            strict_graph: true,
            invoke_handlers: Vec::new(),
            _workflow: PhantomData,
        }
    }

    /// Answers callbacks named `name` (`"*"` for any) with `reply`, in registration order:
    /// each reply is used once.
    pub fn on_callback(mut self, name: &str, reply: CallbackReply) -> Self {
        self.replies.push((name.to_string(), reply));
        self
    }

    /// Answers chained invokes ([`Ctx::invoke`](crate::Ctx::invoke)) of `function_name`
    /// with `handler` (input JSON in; result JSON, or the target's error, out), as a plain
    /// Lambda function would. Invokes of functions without a handler fail with
    /// `ResourceNotFoundException`, as on AWS.
    pub fn on_invoke(
        mut self,
        function_name: &str,
        handler: impl Fn(&str) -> Result<String, ErrorObject> + Send + Sync + 'static,
    ) -> Self {
        if let Err(e) = self.service.with_engine(|e| {
            e.register_function(function_name, crate::service::FunctionConfig::plain())
        }) {
            tracing::warn!(error = %e, function_name, "cannot register the invoke target");
        }
        self.invoke_handlers
            .push((function_name.to_string(), Arc::new(handler)));
        self
    }

    /// Injects `fault` into the `n`th checkpoint call (1-based, over the whole run).
    pub fn fail_checkpoint(mut self, n: u64, fault: Fault) -> Self {
        self.faults.push((n, fault));
        self
    }

    /// Gives up after this many invocations (default 10,000).
    pub fn max_invocations(mut self, n: u32) -> Self {
        self.max_invocations = n;
        self
    }

    /// Ends each invocation after `n` transitions, as a handler near its deadline would
    /// (the executor yields with a one-second timer).
    pub fn max_transitions_per_invocation(mut self, n: u64) -> Self {
        self.max_transitions = Some(n);
        self
    }

    /// Whether a transition outside the workflow's declared
    /// [`Graph`](crate::machine::Graph) fails the execution with an `UndeclaredTransition`
    /// error (the default here) or only logs a warning, as in production.
    pub fn strict_graph(mut self, strict: bool) -> Self {
        self.strict_graph = strict;
        self
    }

    /// Names the execution.
    pub fn named(mut self, name: &str) -> Self {
        self.execution_name = Some(name.to_string());
        self
    }

    /// Sets the execution timeout.
    pub fn timeout(mut self, seconds: i64) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// The service the runner drives (for inspecting it, or sending callbacks yourself).
    pub fn service(&self) -> &LocalService {
        &self.service
    }

    /// The virtual clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// Starts an execution with `input` and drives it until it ends.
    pub async fn run(&self, input: impl serde::Serialize) -> Result<TestOutcome, TestError> {
        let input = serde_json::to_string(&input).map_err(|e| TestError::Input(e.to_string()))?;
        let mut start = StartExecution::new(function_name::<W>(), input);
        start.execution_name = self.execution_name.clone();
        start.execution_timeout_seconds = self.timeout_seconds;
        let started = self.service.with_engine(|e| e.start_execution(start))??;
        self.drive(&started.arn).await
    }

    /// Drives an existing execution until it ends.
    pub async fn drive(&self, arn: &str) -> Result<TestOutcome, TestError> {
        let began = self.clock.now();
        let mut api = FaultyApi::new(self.service.clone());
        for (n, f) in &self.faults {
            api = api.fail_checkpoint(*n, *f);
        }
        for (n, f) in &self.start_faults {
            api = api.fail_start(*n, *f);
        }
        let mut replies = self.replies.clone();
        let mut answered: HashSet<String> = HashSet::new();
        let mut scheduled: Vec<(Timestamp, String, CallbackReply)> = Vec::new();
        let (mut invocations, mut transitions, mut last_transitions) = (0u32, 0u64, 0u64);
        loop {
            self.service.with_engine(|e| e.fire_due())?;
            let invokes = self.service.with_engine(|e| e.take_plain_invokes())?;
            for invoke in invokes {
                let handler = self
                    .invoke_handlers
                    .iter()
                    .find(|(name, _)| *name == invoke.function_name)
                    .map(|(_, h)| Arc::clone(h));
                let outcome = match handler {
                    Some(h) => h(invoke.payload.as_deref().unwrap_or("null")),
                    None => Err(ErrorObject::new(
                        "ResourceNotFoundException",
                        format!("Function not found: {}.", invoke.function_name),
                    )),
                };
                self.service.with_engine(|e| {
                    e.complete_plain_invoke(&invoke.parent_arn, &invoke.op_id, outcome)
                })??;
            }
            // Deliver due replies.
            let now = self.clock.now();
            let (due, later): (Vec<_>, Vec<_>) =
                scheduled.into_iter().partition(|(t, _, _)| *t <= now);
            scheduled = later;
            for (_, id, reply) in due {
                self.deliver(&api, &id, reply, &mut scheduled).await?;
            }
            let status = self.service.lock()?.get_execution(arn, false)?.status;
            if status.is_terminal() {
                break;
            }
            if let Some(input) = self.service.with_engine(|e| e.begin_invocation(arn))?? {
                invocations += 1;
                if invocations > self.max_invocations {
                    return Err(TestError::TooManyInvocations(self.max_invocations));
                }
                let token = input.checkpoint_token.clone();
                let at = self.clock.now();
                let options = RunOptions {
                    now: Some(at),
                    max_transitions: self.max_transitions,
                    strict_graph: self.strict_graph,
                };
                let outcome = match executor::run_with::<W, _>(&api, input, &options).await {
                    Ok((output, stats)) => {
                        transitions += stats.transitions_run;
                        last_transitions = stats.transitions_run;
                        InvocationOutcome::Output(output)
                    }
                    Err(e) => InvocationOutcome::Error(e.to_error_object()),
                };
                let request_id = format!("test-{invocations}");
                self.service.with_engine(|e| {
                    e.complete_invocation(arn, &token, outcome, request_id, at)
                })??;
                // New callbacks get their replies.
                for (name, id) in self.service.lock()?.open_callbacks(arn)? {
                    if !answered.insert(id.clone()) {
                        continue;
                    }
                    if let Some(pos) = replies.iter().position(|(n, _)| n == &name || n == "*") {
                        let (_, reply) = replies.remove(pos);
                        scheduled.push((self.clock.now(), id, reply));
                    }
                }
                continue;
            }
            if scheduled.iter().any(|(t, _, _)| *t <= self.clock.now()) {
                continue;
            }
            let next_reply = scheduled.iter().map(|(t, _, _)| *t).min();
            let next_due = self.service.lock()?.next_due();
            match [next_due, next_reply].into_iter().flatten().min() {
                Some(t) => {
                    if t > self.clock.now() {
                        self.clock.set(t);
                    } else if self.service.lock()?.runnable().is_empty() {
                        // Due now but nothing became runnable: nudge time forward.
                        self.clock.advance(Duration::from_millis(1));
                    }
                }
                None => {
                    let open = self.service.lock()?.open_callbacks(arn)?;
                    return Err(TestError::Stuck(format!(
                        "nothing is scheduled; open callbacks without a reply: {:?}",
                        open.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                    )));
                }
            }
        }
        let engine = self.service.lock()?;
        let exec = engine.get_execution(arn, true)?;
        Ok(TestOutcome {
            arn: arn.to_string(),
            status: exec.status,
            result: exec.result,
            error: exec.error,
            operations: engine.operations(arn)?,
            events: engine.events(arn)?,
            invocations,
            transitions_run: transitions,
            last_invocation_transitions: last_transitions,
            checkpoint_calls: api.checkpoint_calls(),
            state_reads: api.state_reads(),
            elapsed: self.clock.now().since(began),
        })
    }

    async fn deliver(
        &self,
        api: &FaultyApi<LocalService>,
        callback_id: &str,
        reply: CallbackReply,
        scheduled: &mut Vec<(Timestamp, String, CallbackReply)>,
    ) -> Result<(), TestError> {
        match reply {
            CallbackReply::Succeed(body) => {
                api.send_callback_success(callback_id, body.into_bytes())
                    .await?
            }
            CallbackReply::Fail(error) => api.send_callback_failure(callback_id, error).await?,
            CallbackReply::Ignore => {}
            CallbackReply::Heartbeat(then) => {
                api.send_callback_heartbeat(callback_id).await?;
                scheduled.push((self.clock.now(), callback_id.to_string(), *then));
            }
            CallbackReply::After(delay, then) => {
                scheduled.push((self.clock.now().add(delay), callback_id.to_string(), *then));
            }
        }
        Ok(())
    }
}
