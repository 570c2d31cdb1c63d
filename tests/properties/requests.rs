//! Random checkpoint requests for the engine property: what the generator draws ([`Cmd`],
//! [`Intent`], [`Fault`]) and how a draw becomes concrete updates against the operations that
//! exist when it is sent ([`resolve`]).
//!
//! A request without a fault is legal by construction (operations.md §2): its intents pick
//! operations in a status the action is allowed from, or create new ones. A fault adds one
//! update (or a token or ARN) that the legality rules reject whatever else the request holds.

use durable_fsm::model::{OperationAction as A, OperationStatus as S, OperationType as T, *};
use proptest::option::of as opt;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::HashSet;

/// Names given to new operations (`None` = no name).
const NAMES: [Option<&str>; 4] = [None, Some("alpha"), Some("beta"), Some("gamma ray")];
/// The plain function chained invokes call; its outcome comes from [`Cmd::FinishInvoke`].
pub const PLAIN_FUNCTION: &str = "plain";
/// A function the engine does not know: the CHAINED_INVOKE fails at once.
pub const MISSING_FUNCTION: &str = "missing";

/// One step of a random run.
#[derive(Clone, Debug)]
pub enum Cmd {
    /// A checkpoint request.
    Checkpoint(Request),
    /// The last accepted request again, same ClientToken and CheckpointToken.
    RetryLast,
    /// Move the clock by this many seconds, then `fire_due`.
    Advance(u8),
    /// End the invocation in flight (PENDING output, or an invocation error), `fire_due`.
    Reinvoke { pending: bool },
    /// Answer a CALLBACK operation through the callback API.
    Answer(Index, Answer),
    /// Complete a CHAINED_INVOKE of the plain function, with a result or an error.
    FinishInvoke(Index, bool),
    /// StopDurableExecution.
    Stop,
}

/// A callback API call.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Succeed,
    Fail,
    Heartbeat,
}

/// A checkpoint request as drawn.
#[derive(Clone, Debug)]
pub struct Request {
    pub intents: Vec<Intent>,
    pub fault: Option<Fault>,
    /// Where the fault's update goes among the legal ones.
    pub fault_at: Index,
    pub client_token: bool,
}

/// Where a new operation goes and what it is called.
#[derive(Clone, Debug)]
pub struct Place {
    /// A CONTEXT to nest in (existing or started earlier in the request), if there is one.
    parent: Option<Index>,
    name: Index,
    /// Updates of an existing operation repeat its Name/SubType/ParentId (else omit them).
    full: bool,
}

/// How a STEP update finds its operation.
#[derive(Clone, Debug)]
pub enum StepTarget {
    /// A new id, closed without a START ("—" in the table).
    New,
    /// A new id, START and the close in the same request.
    StartedHere,
    /// A STARTED or READY step.
    Existing(Index),
}

/// How a STEP closes.
#[derive(Clone, Debug)]
pub enum Close {
    Succeed,
    Fail,
    Retry { delay: u8, with_error: bool },
}

/// How a CONTEXT closes.
#[derive(Clone, Debug)]
pub enum CtxClose {
    Succeed { replay_children: Option<bool> },
    Fail,
}

/// One legal update (or two, for START plus a close).
#[derive(Clone, Debug)]
pub enum Intent {
    /// START a new step, or re-START a READY one.
    StepStart {
        ready: Option<Index>,
        place: Place,
    },
    StepClose {
        target: StepTarget,
        close: Close,
        place: Place,
    },
    WaitStart {
        secs: u8,
        place: Place,
    },
    /// CANCEL a STARTED wait (else START a new one).
    WaitCancel {
        pick: Index,
        place: Place,
    },
    CallbackStart {
        timeout: u8,
        heartbeat: u8,
        place: Place,
    },
    ContextStart {
        close: Option<CtxClose>,
        place: Place,
    },
    /// Close a STARTED context (else close a new id directly).
    ContextClose {
        pick: Index,
        close: CtxClose,
        place: Place,
    },
    ChainedInvoke {
        known: bool,
        place: Place,
    },
    /// EXECUTION SUCCEED/FAIL, moved to the end of the request.
    EndExecution {
        succeed: bool,
    },
}

/// Which recorded field an inconsistent update contradicts.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    Type,
    SubType,
    Name,
    Parent,
}

/// What makes a request illegal.
#[derive(Clone, Debug)]
pub enum Fault {
    StaleToken(Index),
    MadeUpToken,
    UnknownArn,
    WrongStatus(Index),
    Inconsistent(Index, Field),
    UnknownParent,
    ParentNotContext(Index),
    DuplicateId(u8),
    ActionNotAllowed(u8),
    ExecutionNotLast,
    TwoExecutions,
    StepFieldRule(Index, u8),
    ContextSucceedWithError,
    ChainedWithoutOptions,
    BadShape(u8),
    HugeError,
}

// ---- strategies ---------------------------------------------------------------------------

fn place() -> impl Strategy<Value = Place> {
    (opt(any::<Index>()), any::<Index>(), any::<bool>()).prop_map(|(parent, name, full)| Place {
        parent,
        name,
        full,
    })
}

fn close() -> impl Strategy<Value = Close> {
    prop_oneof![
        Just(Close::Succeed),
        Just(Close::Fail),
        (0u8..5, any::<bool>()).prop_map(|(delay, with_error)| Close::Retry { delay, with_error }),
    ]
}

fn ctx_close() -> impl Strategy<Value = CtxClose> {
    prop_oneof![
        opt(any::<bool>()).prop_map(|replay_children| CtxClose::Succeed { replay_children }),
        Just(CtxClose::Fail),
    ]
}

fn intent() -> impl Strategy<Value = Intent> {
    let target = prop_oneof![
        1 => Just(StepTarget::New),
        1 => Just(StepTarget::StartedHere),
        2 => any::<Index>().prop_map(StepTarget::Existing),
    ];
    prop_oneof![
        6 => (opt(any::<Index>()), place()).prop_map(|(ready, place)| Intent::StepStart { ready, place }),
        8 => (target, close(), place())
            .prop_map(|(target, close, place)| Intent::StepClose { target, close, place }),
        4 => (0u8..6, place()).prop_map(|(secs, place)| Intent::WaitStart { secs, place }),
        2 => (any::<Index>(), place()).prop_map(|(pick, place)| Intent::WaitCancel { pick, place }),
        4 => (0u8..6, 0u8..6, place()).prop_map(|(timeout, heartbeat, place)| {
            Intent::CallbackStart { timeout, heartbeat, place }
        }),
        4 => (opt(ctx_close()), place())
            .prop_map(|(close, place)| Intent::ContextStart { close, place }),
        4 => (any::<Index>(), ctx_close(), place())
            .prop_map(|(pick, close, place)| Intent::ContextClose { pick, close, place }),
        2 => (any::<bool>(), place()).prop_map(|(known, place)| Intent::ChainedInvoke { known, place }),
        1 => any::<bool>().prop_map(|succeed| Intent::EndExecution { succeed }),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        1 => any::<Index>().prop_map(Fault::StaleToken),
        1 => Just(Fault::MadeUpToken),
        1 => Just(Fault::UnknownArn),
        3 => any::<Index>().prop_map(Fault::WrongStatus),
        3 => (any::<Index>(), prop_oneof![
            Just(Field::Type),
            Just(Field::SubType),
            Just(Field::Name),
            Just(Field::Parent),
        ])
            .prop_map(|(i, f)| Fault::Inconsistent(i, f)),
        1 => Just(Fault::UnknownParent),
        1 => any::<Index>().prop_map(Fault::ParentNotContext),
        1 => any::<u8>().prop_map(Fault::DuplicateId),
        1 => any::<u8>().prop_map(Fault::ActionNotAllowed),
        1 => Just(Fault::ExecutionNotLast),
        1 => Just(Fault::TwoExecutions),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, k)| Fault::StepFieldRule(i, k)),
        1 => Just(Fault::ContextSucceedWithError),
        1 => Just(Fault::ChainedWithoutOptions),
        1 => any::<u8>().prop_map(Fault::BadShape),
        1 => Just(Fault::HugeError),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        proptest::collection::vec(intent(), 0..4),
        proptest::option::weighted(0.3, fault()),
        any::<Index>(),
        any::<bool>(),
    )
        .prop_map(|(intents, fault, fault_at, client_token)| Request {
            intents,
            fault,
            fault_at,
            client_token,
        })
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let answer = prop_oneof![
        Just(Answer::Succeed),
        Just(Answer::Fail),
        Just(Answer::Heartbeat),
    ];
    prop_oneof![
        36 => request().prop_map(Cmd::Checkpoint),
        3 => Just(Cmd::RetryLast),
        9 => (0u8..8).prop_map(Cmd::Advance),
        3 => any::<bool>().prop_map(|pending| Cmd::Reinvoke { pending }),
        6 => (any::<Index>(), answer).prop_map(|(i, a)| Cmd::Answer(i, a)),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(i, ok)| Cmd::FinishInvoke(i, ok)),
        1 => Just(Cmd::Stop),
    ]
}

/// A run: the execution's timeout (seconds, if any) and 1 to 40 steps.
pub fn run() -> impl Strategy<Value = (Option<i64>, Vec<Cmd>)> {
    (
        proptest::option::of(20..120i64),
        proptest::collection::vec(cmd(), 1..40),
    )
}

// ---- resolution ---------------------------------------------------------------------------

fn sub_type(t: T) -> &'static str {
    match t {
        T::Step => "Step",
        T::Wait => "Wait",
        T::Callback => "Callback",
        T::Context => "RunInChildContext",
        T::ChainedInvoke => "ChainedInvoke",
        T::Execution => "Execution",
    }
}

fn execution_update(succeed: bool) -> OperationUpdate {
    let (action, payload, error) = if succeed {
        (A::Succeed, Some("\"done\"".to_string()), None)
    } else {
        (A::Fail, None, Some(ErrorObject::new("Fatal", "gave up")))
    };
    let mut u = OperationUpdate::new("execution-result-1", T::Execution, action);
    u.payload = payload;
    u.error = error;
    u
}

fn close_step(u: &mut OperationUpdate, close: &Close) {
    match close {
        Close::Succeed => {
            u.action = A::Succeed;
            u.payload = Some("\"ok\"".into());
        }
        Close::Fail => {
            u.action = A::Fail;
            u.error = Some(ErrorObject::new("Boom", "the step failed"));
        }
        Close::Retry { delay, with_error } => {
            u.action = A::Retry;
            u.step_options = Some(StepOptions {
                next_attempt_delay_seconds: Some(i64::from(*delay)),
            });
            if *with_error {
                u.error = Some(ErrorObject::new("Flaky", "try again"));
            } else {
                u.payload = Some(format!("{{\"poll\":{delay}}}"));
            }
        }
    }
}

fn close_context(u: &mut OperationUpdate, close: &CtxClose) {
    match close {
        CtxClose::Succeed { replay_children } => {
            u.action = A::Succeed;
            u.payload = Some("{\"sum\":3}".into());
            u.context_options = replay_children.map(|r| ContextOptions {
                replay_children: Some(r),
            });
        }
        CtxClose::Fail => {
            u.action = A::Fail;
            u.error = Some(ErrorObject::new("ChildError", "a child failed"));
        }
    }
}

/// Builds updates against the operations as they were before the request.
struct Resolver<'a> {
    ops: &'a [Operation],
    /// Ids already in the request: an existing operation is updated once per request.
    touched: HashSet<String>,
    new_contexts: Vec<String>,
    fresh: &'a mut u32,
}

impl Resolver<'_> {
    fn fresh_id(&mut self, prefix: &str) -> String {
        *self.fresh += 1;
        format!("{prefix}-{}", self.fresh)
    }

    /// An existing operation (not the EXECUTION, not yet in the request) matching `pred`.
    fn pick(&self, pick: &Index, pred: impl Fn(&Operation) -> bool) -> Option<Operation> {
        let found: Vec<&Operation> = self
            .ops
            .iter()
            .filter(|o| o.op_type != T::Execution && !self.touched.contains(&o.id) && pred(o))
            .collect();
        (!found.is_empty()).then(|| (*pick.get(&found)).clone())
    }

    fn parent(&self, place: &Place) -> Option<String> {
        let mut contexts: Vec<&str> = self
            .ops
            .iter()
            .filter(|o| o.op_type == T::Context)
            .map(|o| o.id.as_str())
            .collect();
        contexts.extend(self.new_contexts.iter().map(String::as_str));
        match &place.parent {
            Some(i) if !contexts.is_empty() => Some(i.get(&contexts).to_string()),
            _ => None,
        }
    }

    /// An update creating a new operation.
    fn create(&mut self, t: T, action: A, place: &Place) -> OperationUpdate {
        let id = self.fresh_id("op");
        let mut u = OperationUpdate::new(id.clone(), t, action);
        u.parent_id = self.parent(place);
        u.name = place.name.get(&NAMES).map(str::to_string);
        u.sub_type = Some(sub_type(t).into());
        if t == T::Context && action == A::Start {
            self.new_contexts.push(id.clone());
        }
        self.touched.insert(id);
        u
    }

    /// An update of an existing operation.
    fn update(&mut self, op: &Operation, action: A, full: bool) -> OperationUpdate {
        let mut u = OperationUpdate::new(op.id.clone(), op.op_type, action);
        if full {
            u.parent_id = op.parent_id.clone();
            u.name = op.name.clone();
            u.sub_type = op.sub_type.clone();
        }
        self.touched.insert(op.id.clone());
        u
    }

    fn intent(&mut self, intent: &Intent, out: &mut Vec<OperationUpdate>) {
        match intent {
            Intent::StepStart { ready, place } => {
                let op = ready
                    .as_ref()
                    .and_then(|i| self.pick(i, |o| o.op_type == T::Step && o.status == S::Ready));
                out.push(match op {
                    Some(op) => self.update(&op, A::Start, place.full),
                    None => self.create(T::Step, A::Start, place),
                });
            }
            Intent::StepClose {
                target,
                close,
                place,
            } => {
                let existing = match target {
                    StepTarget::Existing(i) => self.pick(i, |o| {
                        o.op_type == T::Step && matches!(o.status, S::Started | S::Ready)
                    }),
                    _ => None,
                };
                let mut u = match (existing, target) {
                    (Some(op), _) => self.update(&op, A::Succeed, place.full),
                    (None, StepTarget::StartedHere) => {
                        let start = self.create(T::Step, A::Start, place);
                        let mut u = start.clone();
                        if !place.full {
                            (u.parent_id, u.name, u.sub_type) = (None, None, None);
                        }
                        out.push(start);
                        u
                    }
                    (None, _) => self.create(T::Step, A::Succeed, place),
                };
                close_step(&mut u, close);
                out.push(u);
            }
            Intent::WaitStart { secs, place } => {
                let mut u = self.create(T::Wait, A::Start, place);
                u.wait_options = Some(WaitOptions {
                    wait_seconds: Some(i64::from(*secs)),
                });
                out.push(u);
            }
            Intent::WaitCancel { pick, place } => {
                match self.pick(pick, |o| o.op_type == T::Wait && o.status == S::Started) {
                    Some(op) => {
                        let mut u = self.update(&op, A::Cancel, place.full);
                        if place.full {
                            u.error = Some(ErrorObject::message("no longer needed"));
                        }
                        out.push(u);
                    }
                    None => self.intent(
                        &Intent::WaitStart {
                            secs: 1,
                            place: place.clone(),
                        },
                        out,
                    ),
                }
            }
            Intent::CallbackStart {
                timeout,
                heartbeat,
                place,
            } => {
                let mut u = self.create(T::Callback, A::Start, place);
                u.callback_options = Some(CallbackOptions {
                    timeout_seconds: Some(i64::from(*timeout)),
                    heartbeat_timeout_seconds: (*heartbeat > 0).then_some(i64::from(*heartbeat)),
                });
                out.push(u);
            }
            Intent::ContextStart { close, place } => {
                let start = self.create(T::Context, A::Start, place);
                let mut closing = start.clone();
                out.push(start);
                if let Some(close) = close {
                    close_context(&mut closing, close);
                    out.push(closing);
                }
            }
            Intent::ContextClose { pick, close, place } => {
                let mut u =
                    match self.pick(pick, |o| o.op_type == T::Context && o.status == S::Started) {
                        Some(op) => self.update(&op, A::Succeed, place.full),
                        None => self.create(T::Context, A::Succeed, place),
                    };
                close_context(&mut u, close);
                out.push(u);
            }
            Intent::ChainedInvoke { known, place } => {
                let mut u = self.create(T::ChainedInvoke, A::Start, place);
                u.payload = Some("{\"x\":1}".into());
                u.chained_invoke_options = Some(ChainedInvokeOptions {
                    function_name: if *known {
                        PLAIN_FUNCTION
                    } else {
                        MISSING_FUNCTION
                    }
                    .into(),
                    ..Default::default()
                });
                out.push(u);
            }
            Intent::EndExecution { .. } => {}
        }
    }

    /// Updates that make any request illegal, or `None` for the token and ARN faults.
    fn fault(&mut self, fault: &Fault) -> Option<Vec<OperationUpdate>> {
        let ghost = |r: &mut Self| r.fresh_id("ghost");
        let new_step = |r: &mut Self, parent: Option<String>| {
            let mut u = OperationUpdate::new(r.fresh_id("op"), T::Step, A::Start);
            u.parent_id = parent;
            u
        };
        Some(match fault {
            Fault::StaleToken(_) | Fault::MadeUpToken | Fault::UnknownArn => return None,
            Fault::WrongStatus(i) => {
                // START of anything that exists is refused, except of a READY step; closing
                // a completed CONTEXT is refused too.
                let op = self.pick_any(i, |o| !(o.op_type == T::Step && o.status == S::Ready));
                match op {
                    Some(op) if op.op_type == T::Context && op.status.is_terminal() => {
                        vec![OperationUpdate::new(op.id, T::Context, A::Succeed)]
                    }
                    Some(op) => {
                        let mut u = OperationUpdate::new(op.id, op.op_type, A::Start);
                        u.chained_invoke_options =
                            (op.op_type == T::ChainedInvoke).then(|| ChainedInvokeOptions {
                                function_name: PLAIN_FUNCTION.into(),
                                ..Default::default()
                            });
                        vec![u]
                    }
                    None => vec![OperationUpdate::new(ghost(self), T::Wait, A::Cancel)],
                }
            }
            Fault::Inconsistent(i, field) => {
                let Some(op) = self.pick_any(i, |_| true) else {
                    return self.fault(&Fault::UnknownParent);
                };
                let mut u = OperationUpdate::new(op.id.clone(), op.op_type, A::Start);
                match field {
                    Field::Type => {
                        u.op_type = if op.op_type == T::Wait {
                            T::Step
                        } else {
                            T::Wait
                        }
                    }
                    Field::SubType => u.sub_type = Some("Unheard-of".into()),
                    Field::Name => u.name = Some("never used".into()),
                    Field::Parent => {
                        let other = self.ops.iter().find(|o| {
                            o.op_type == T::Context && Some(&o.id) != op.parent_id.as_ref()
                        });
                        u.parent_id = Some(match other {
                            Some(ctx) => ctx.id.clone(),
                            None => ghost(self),
                        });
                    }
                }
                vec![u]
            }
            Fault::UnknownParent => {
                let parent = ghost(self);
                vec![new_step(self, Some(parent))]
            }
            Fault::ParentNotContext(i) => {
                let others: Vec<&Operation> = self
                    .ops
                    .iter()
                    .filter(|o| o.op_type != T::Context)
                    .collect();
                let parent = match others.get(i.index(others.len().max(1))) {
                    Some(o) => o.id.clone(),
                    None => ghost(self),
                };
                vec![new_step(self, Some(parent))]
            }
            Fault::DuplicateId(k) => {
                let id = ghost(self);
                let twice = |t: T, a: A, b: A| {
                    vec![
                        OperationUpdate::new(id.clone(), t, a),
                        OperationUpdate::new(id.clone(), t, b),
                    ]
                };
                match k % 5 {
                    0 => twice(T::Wait, A::Start, A::Start),
                    1 => twice(T::Callback, A::Start, A::Start),
                    2 => twice(T::Step, A::Succeed, A::Succeed),
                    3 => twice(T::Context, A::Start, A::Start),
                    _ => {
                        let mut v = twice(T::Step, A::Start, A::Succeed);
                        v.push(OperationUpdate::new(id.clone(), T::Step, A::Fail));
                        v
                    }
                }
            }
            Fault::ActionNotAllowed(k) => {
                const PAIRS: [(T, A); 11] = [
                    (T::Step, A::Cancel),
                    (T::Context, A::Retry),
                    (T::Context, A::Cancel),
                    (T::Wait, A::Succeed),
                    (T::Wait, A::Fail),
                    (T::Wait, A::Retry),
                    (T::Callback, A::Succeed),
                    (T::Callback, A::Cancel),
                    (T::ChainedInvoke, A::Succeed),
                    (T::ChainedInvoke, A::Retry),
                    (T::Execution, A::Start),
                ];
                let (t, a) = PAIRS[usize::from(*k) % PAIRS.len()];
                vec![OperationUpdate::new(ghost(self), t, a)]
            }
            Fault::ExecutionNotLast => vec![execution_update(true), new_step(self, None)],
            Fault::TwoExecutions => vec![execution_update(true), execution_update(false)],
            Fault::StepFieldRule(i, k) => {
                let Some(op) = self.pick_any(i, |o| {
                    o.op_type == T::Step && matches!(o.status, S::Started | S::Ready)
                }) else {
                    return self.fault(&Fault::ContextSucceedWithError);
                };
                let mut u = OperationUpdate::new(op.id, T::Step, A::Succeed);
                let error = Some(ErrorObject::new("Oops", "x"));
                match k % 4 {
                    0 => u.error = error,
                    1 => (u.action, u.payload) = (A::Fail, Some("\"x\"".into())),
                    2 => u.action = A::Retry,
                    _ => {
                        u.action = A::Retry;
                        u.step_options = Some(StepOptions {
                            next_attempt_delay_seconds: Some(1),
                        });
                        (u.payload, u.error) = (Some("\"x\"".into()), error);
                    }
                }
                vec![u]
            }
            Fault::ContextSucceedWithError => {
                let mut u = OperationUpdate::new(ghost(self), T::Context, A::Succeed);
                u.error = Some(ErrorObject::new("Oops", "x"));
                vec![u]
            }
            Fault::ChainedWithoutOptions => {
                vec![OperationUpdate::new(
                    ghost(self),
                    T::ChainedInvoke,
                    A::Start,
                )]
            }
            Fault::BadShape(k) => {
                let mut u = new_step(self, None);
                match k % 5 {
                    0 => u.id = "has space".into(),
                    1 => u.id = "x".repeat(65),
                    2 => u.sub_type = Some("Not/Valid".into()),
                    3 => u.name = Some("tab\tname".into()),
                    _ => {
                        u.op_type = T::ChainedInvoke;
                        u.chained_invoke_options = Some(ChainedInvokeOptions {
                            function_name: PLAIN_FUNCTION.into(),
                            tenant_id: Some("bad\ttenant".into()),
                            ..Default::default()
                        });
                    }
                }
                vec![u]
            }
            Fault::HugeError => {
                let mut u = OperationUpdate::new(ghost(self), T::Step, A::Fail);
                u.error = Some(ErrorObject::message("x".repeat(40_000)));
                vec![u]
            }
        })
    }

    /// Like [`Self::pick`], but the operation may already be in the request.
    fn pick_any(&self, pick: &Index, pred: impl Fn(&Operation) -> bool) -> Option<Operation> {
        let found: Vec<&Operation> = self
            .ops
            .iter()
            .filter(|o| o.op_type != T::Execution && pred(o))
            .collect();
        (!found.is_empty()).then(|| (*pick.get(&found)).clone())
    }
}

/// A request made concrete: its updates, and how the token or ARN is spoiled, if it is.
pub struct Resolved {
    pub updates: Vec<OperationUpdate>,
    pub faulty: bool,
    pub token_fault: Option<Fault>,
}

/// Turns a drawn request into updates against `ops` (the operations before the request);
/// `fresh` numbers new operation ids across the whole run.
pub fn resolve(req: &Request, ops: &[Operation], fresh: &mut u32) -> Resolved {
    let mut r = Resolver {
        ops,
        touched: HashSet::new(),
        new_contexts: Vec::new(),
        fresh,
    };
    let mut updates = Vec::new();
    for intent in &req.intents {
        r.intent(intent, &mut updates);
    }
    let end = req.intents.iter().find_map(|i| match i {
        Intent::EndExecution { succeed } => Some(*succeed),
        _ => None,
    });
    if let Some(succeed) = end {
        updates.push(execution_update(succeed));
    }
    let mut token_fault = None;
    if let Some(fault) = &req.fault {
        match r.fault(fault) {
            Some(bad) => {
                let at = req.fault_at.index(updates.len() + 1);
                updates.splice(at..at, bad);
            }
            None => token_fault = Some(fault.clone()),
        }
    }
    Resolved {
        updates,
        faulty: req.fault.is_some(),
        token_fault,
    }
}
