//! Bounded resume: the top-level machine's transitions are grouped into epochs, CONTEXT
//! operations (SubType `Epoch`) that are closed with the state reached, without
//! ReplayChildren, so the service stops sending what they contain.
//!
//! The top level holds the first [`EPOCH_SIZE`] transitions, then up to `EPOCH_SIZE` epochs of
//! level 1 (each `EPOCH_SIZE` transitions), then up to `EPOCH_SIZE` epochs of level 2 (each
//! `EPOCH_SIZE` closed level-1 epochs), and so on: after N transitions an invocation sees
//! O(EPOCH_SIZE · log N) operations, not O(N). Short workflows never open an epoch, so their
//! histories look like any other SDK's.
//!
//! An epoch is closed only when nothing inside it is still open (a callback created by its
//! last transition and awaited by the next state, say); until then it takes more
//! transitions.

use super::InvocationError;
use super::resume::{Resume, decode_state, find_resume_point};
use crate::machine::ids::{hash_id, step_id};
use crate::machine::{CtxBackend, Transition};
use crate::model::*;

/// Transitions per level-1 epoch, and epochs per epoch of the next level.
pub const EPOCH_SIZE: u64 = 16;
/// SubType of an epoch's CONTEXT operation.
pub const EPOCH_SUBTYPE: &str = "Epoch";
/// The key of an epoch's result.
const EPOCH_KEY: &str = "$epoch";

/// An open epoch.
#[derive(Clone, Debug)]
struct Frame {
    id: String,
    level: u32,
    /// Transitions in it (level 1).
    transitions: u64,
    /// Closed epochs in it (level ≥ 2).
    closed: u64,
}

/// Where the top-level machine's transitions go: which epochs are open and how full.
#[derive(Clone, Debug, Default)]
pub(crate) struct Epochs {
    size: u64,
    top_transitions: u64,
    /// Closed top-level epochs per level (index 0 = level 1).
    top_closed: Vec<u64>,
    frames: Vec<Frame>,
    /// The next placement re-runs the in-flight transition (no new slot).
    in_flight: bool,
}

/// Where transitions of a machine are recorded.
pub(crate) enum Placement {
    /// All in one scope (a child machine's CONTEXT, or the top level without epochs).
    Fixed { parent: Option<String>, index: u64 },
    /// The top-level machine, in epochs.
    Epochs(Epochs),
}

/// A transition's slot: its scope, its index there, and the epochs to open first.
pub(crate) struct Slot {
    pub parent: Option<String>,
    pub index: u64,
    pub opens: Vec<OperationUpdate>,
}

impl Placement {
    /// The slot of the next transition. `in_flight`: it re-runs the transition found in
    /// flight on resume.
    pub(crate) fn next(&mut self) -> Slot {
        match self {
            Placement::Fixed { parent, index } => Slot {
                parent: parent.clone(),
                index: *index,
                opens: Vec::new(),
            },
            Placement::Epochs(e) => e.next(),
        }
    }

    /// After the transition in `slot` succeeded with the encoded state `payload`: the epochs
    /// it fills up, closed (updates to send with its own).
    pub(crate) fn after(
        &mut self,
        b: &dyn CtxBackend,
        transition_id: &str,
        payload: &str,
    ) -> Vec<OperationUpdate> {
        match self {
            Placement::Fixed { index, .. } => {
                *index += 1;
                Vec::new()
            }
            Placement::Epochs(e) => e.close_full(b, transition_id, payload),
        }
    }

    /// The innermost open scope (for a sleep's timer or a yield).
    pub(crate) fn open_scope(&self) -> Option<String> {
        match self {
            Placement::Fixed { parent, .. } => parent.clone(),
            Placement::Epochs(e) => e.frames.last().map(|f| f.id.clone()),
        }
    }
}

fn level_of(op: &Operation) -> u32 {
    op.name
        .as_deref()
        .and_then(|n| n.strip_prefix("epoch-L"))
        .and_then(|l| l.parse().ok())
        .unwrap_or(1)
}

fn is_epoch(op: &Operation) -> bool {
    op.op_type == OperationType::Context && op.sub_type.as_deref() == Some(EPOCH_SUBTYPE)
}

fn is_transition(op: &Operation) -> bool {
    op.op_type == OperationType::Step && op.sub_type.as_deref() == Some(super::TRANSITION_SUBTYPE)
}

fn epoch_update(
    id: &str,
    parent: Option<&str>,
    level: u32,
    action: OperationAction,
) -> OperationUpdate {
    let mut u = OperationUpdate::new(id, OperationType::Context, action);
    u.parent_id = parent.map(str::to_string);
    u.sub_type = Some(EPOCH_SUBTYPE.to_string());
    u.name = Some(format!("epoch-L{level}"));
    u
}

impl Epochs {
    fn next(&mut self) -> Slot {
        if std::mem::take(&mut self.in_flight) {
            return match self.frames.last() {
                Some(f) => Slot {
                    parent: Some(f.id.clone()),
                    index: f.transitions,
                    opens: Vec::new(),
                },
                None => Slot {
                    parent: None,
                    index: self.top_transitions,
                    opens: Vec::new(),
                },
            };
        }
        let mut opens = Vec::new();
        loop {
            match self.frames.last_mut() {
                None => {
                    if self.top_transitions < self.size {
                        self.top_transitions += 1;
                        return Slot {
                            parent: None,
                            index: self.top_transitions,
                            opens,
                        };
                    }
                    // The lowest level that still has room at the top.
                    let mut level = 1usize;
                    while self
                        .top_closed
                        .get(level - 1)
                        .is_some_and(|n| *n >= self.size)
                    {
                        level += 1;
                    }
                    if self.top_closed.len() < level {
                        self.top_closed.resize(level, 0);
                    }
                    let n = self.top_closed[level - 1] + 1;
                    let id = hash_id(&format!("epoch-L{level}-{n}"));
                    let level = u32::try_from(level).unwrap_or(u32::MAX);
                    opens.push(epoch_update(&id, None, level, OperationAction::Start));
                    self.frames.push(Frame {
                        id,
                        level,
                        transitions: 0,
                        closed: 0,
                    });
                }
                Some(f) if f.level <= 1 => {
                    f.transitions += 1;
                    return Slot {
                        parent: Some(f.id.clone()),
                        index: f.transitions,
                        opens,
                    };
                }
                Some(f) => {
                    let id = hash_id(&format!("{}-e{}", f.id, f.closed + 1));
                    let (parent, level) = (f.id.clone(), f.level - 1);
                    opens.push(epoch_update(
                        &id,
                        Some(&parent),
                        level,
                        OperationAction::Start,
                    ));
                    self.frames.push(Frame {
                        id,
                        level,
                        transitions: 0,
                        closed: 0,
                    });
                }
            }
        }
    }

    fn close_full(
        &mut self,
        b: &dyn CtxBackend,
        transition_id: &str,
        payload: &str,
    ) -> Vec<OperationUpdate> {
        let mut closes = Vec::new();
        while let Some(f) = self.frames.last() {
            let full = if f.level <= 1 {
                f.transitions >= self.size
            } else {
                f.closed >= self.size
            };
            if !full || has_open_operations(b, &f.id) {
                break;
            }
            let parent = self
                .frames
                .len()
                .checked_sub(2)
                .map(|i| self.frames[i].id.clone());
            let mut u = epoch_update(&f.id, parent.as_deref(), f.level, OperationAction::Succeed);
            u.payload = Some(
                serde_json::json!({ EPOCH_KEY: { "s": payload, "t": transition_id } }).to_string(),
            );
            u.context_options = Some(ContextOptions {
                replay_children: Some(false),
            });
            closes.push(u);
            let level = f.level;
            self.frames.pop();
            match self.frames.last_mut() {
                Some(parent) => parent.closed += 1,
                None => {
                    let i = usize::try_from(level.max(1) - 1).unwrap_or(usize::MAX);
                    if self.top_closed.len() <= i {
                        self.top_closed.resize(i + 1, 0);
                    }
                    self.top_closed[i] += 1;
                }
            }
        }
        closes
    }
}

/// Whether an epoch holds an operation that is still open (apart from its transitions and
/// epochs, which are closed by the time it is full).
fn has_open_operations(b: &dyn CtxBackend, epoch: &str) -> bool {
    b.children(Some(epoch)).into_iter().any(|op| {
        !is_transition(op)
            && !is_epoch(op)
            && !matches!(
                op.status,
                OperationStatus::Succeeded
                    | OperationStatus::Failed
                    | OperationStatus::Cancelled
                    | OperationStatus::TimedOut
                    | OperationStatus::Stopped
            )
    })
}

/// The state stored in a closed epoch, and its last transition's id.
fn epoch_result(op: &Operation) -> Option<(String, String)> {
    let text = op.context_details.as_ref()?.result.as_deref()?;
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let inner = value.get(EPOCH_KEY)?;
    Some((
        inner.get("s")?.as_str()?.to_string(),
        inner.get("t")?.as_str()?.to_string(),
    ))
}

/// Where the top-level machine continues, walking down the open epochs; `start` builds the
/// first state.
pub(crate) fn find_top<W: Transition>(
    b: &dyn CtxBackend,
    size: u64,
    start: impl FnOnce() -> Result<W, ErrorObject>,
) -> Result<(Resume<W>, Placement), InvocationError> {
    let size = size.max(2);
    let mut epochs = Epochs {
        size,
        ..Default::default()
    };
    let mut scope: Option<String> = None;
    // The state before the first transition of the current scope, if not the start state.
    let mut before: Option<(String, Operation)> = None;
    loop {
        let kids: Vec<&Operation> = b
            .children(scope.as_deref())
            .into_iter()
            .filter(|op| is_transition(op) || is_epoch(op))
            .collect();
        let transitions = kids.iter().filter(|op| is_transition(op)).count() as u64;
        let closed = kids
            .iter()
            .filter(|op| is_epoch(op) && op.status == OperationStatus::Succeeded)
            .collect::<Vec<_>>();
        match epochs.frames.last_mut() {
            None => {
                epochs.top_transitions = transitions;
                for op in &closed {
                    let i = usize::try_from(level_of(op).max(1) - 1).unwrap_or(0);
                    if epochs.top_closed.len() <= i {
                        epochs.top_closed.resize(i + 1, 0);
                    }
                    epochs.top_closed[i] += 1;
                }
            }
            Some(f) => {
                f.transitions = transitions;
                f.closed = closed.len() as u64;
            }
        }
        let Some(last) = kids.last().copied() else {
            // An epoch without transitions yet (or a fresh execution).
            break;
        };
        if !is_epoch(last) {
            break;
        }
        match last.status {
            OperationStatus::Started => {
                if kids.len() >= 2 {
                    let prev = kids[kids.len() - 2];
                    before = state_after(prev).map(|p| (p, prev.clone()));
                }
                epochs.frames.push(Frame {
                    id: last.id.clone(),
                    level: level_of(last),
                    transitions: 0,
                    closed: 0,
                });
                scope = Some(last.id.clone());
            }
            OperationStatus::Succeeded => {
                let Some((payload, transition)) = epoch_result(last) else {
                    return Err(InvocationError::Invalid(format!(
                        "epoch {} has no recorded state",
                        last.id
                    )));
                };
                if let Some(wait) = b.operation(&step_id(Some(&transition), 0))
                    && wait.status != OperationStatus::Succeeded
                {
                    return Ok((Resume::Pending, Placement::Epochs(epochs)));
                }
                let state = decode_state::<W>(&W::codec(), &payload, last, 0)?;
                let point = super::resume::ResumePoint {
                    state,
                    index: 0,
                    in_flight: None,
                };
                return Ok((Resume::At(point), Placement::Epochs(epochs)));
            }
            _ => {
                return Err(InvocationError::Invalid(format!(
                    "epoch {} ended {}: epochs only succeed",
                    last.id,
                    last.status.as_str()
                )));
            }
        }
    }
    let before = match before {
        Some((payload, op)) => Some(decode_state::<W>(&W::codec(), &payload, &op, 0)?),
        None => None,
    };
    let resume = find_resume_point::<W>(b, scope.as_deref(), || match before {
        Some(state) => Ok(state),
        None => start(),
    })?;
    if let Resume::At(point) = &resume {
        epochs.in_flight = point.in_flight.is_some();
        // The scope's counts already include the in-flight transition.
    }
    Ok((resume, Placement::Epochs(epochs)))
}

/// The encoded state a transition or closed epoch left.
fn state_after(op: &Operation) -> Option<String> {
    if is_epoch(op) {
        return epoch_result(op).map(|(s, _)| s);
    }
    op.step_details.as_ref()?.result.clone()
}
