//! What the engine property draws: runs of [`Cmd`]s, checkpoint requests made of legal
//! [`Intent`]s and at most one [`Fault`]. `resolve.rs` turns a drawn request into updates.

use proptest::option::of as opt;
use proptest::prelude::*;
use proptest::sample::Index;

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
    /// End the invocation in flight, then `fire_due`.
    Reinvoke(Ending),
    /// Answer a CALLBACK operation through the callback API.
    Answer(Index, Answer),
    /// Complete a CHAINED_INVOKE of the plain function, with a result or an error.
    FinishInvoke(Index, bool),
    /// StopDurableExecution.
    Stop,
}

/// How an invocation ends.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// Output PENDING.
    Pending,
    /// The invocation failed (retried).
    Error,
    /// Output SUCCEEDED with a result.
    Succeeded,
    /// Output FAILED with an error.
    Failed,
    /// Output SUCCEEDED with an Error: the execution fails.
    Malformed,
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
    pub parent: Option<Index>,
    pub name: Index,
    /// Updates of an existing operation repeat its Name/SubType/ParentId (else omit them).
    pub full: bool,
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
        3 => prop_oneof![
            3 => Just(Ending::Pending),
            3 => Just(Ending::Error),
            1 => Just(Ending::Succeeded),
            1 => Just(Ending::Failed),
            1 => Just(Ending::Malformed),
        ]
        .prop_map(Cmd::Reinvoke),
        6 => (any::<Index>(), answer).prop_map(|(i, a)| Cmd::Answer(i, a)),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(i, ok)| Cmd::FinishInvoke(i, ok)),
        1 => Just(Cmd::Stop),
    ]
}

/// A run: the execution's timeout (seconds, if any) and 1 to 40 steps.
pub fn runs() -> impl Strategy<Value = (Option<i64>, Vec<Cmd>)> {
    (
        proptest::option::of(20..120i64),
        proptest::collection::vec(cmd(), 1..40),
    )
}
