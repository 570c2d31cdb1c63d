//! How a drawn request becomes concrete updates against the operations that exist when it is
//! sent.
//!
//! A request without a fault is legal by construction (operations.md §2): its intents pick
//! operations in a status the action is allowed from, or create new ones. A fault adds
//! updates (or spoils the token or ARN) that the legality rules reject whatever else the
//! request holds.

use crate::requests::*;
use durable_fsm::model::{OperationAction as A, OperationStatus as S, OperationType as T, *};
use proptest::sample::Index;
use std::collections::HashSet;

/// Names given to new operations (`None` = no name).
const NAMES: [Option<&str>; 4] = [None, Some("alpha"), Some("beta"), Some("gamma ray")];

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
