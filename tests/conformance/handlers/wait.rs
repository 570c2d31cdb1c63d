//! Suite 2, wait: durable timers.

use super::{Case, workflow};
use durable_fsm::{Ctx, Next, Transition, TransitionError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

pub fn case(id: &str) -> Option<Box<dyn Case>> {
    Some(match id {
        "2-1" => workflow::<Pause<2>>(),
        "2-2" => workflow::<NamedWait>(),
        "2-3" => workflow::<TwoWaits>(),
        "2-4" => workflow::<Pause<60>>(),
        "2-5" => workflow::<Pause<3600>>(),
        _ => return None,
    })
}

/// 2-1, 2-4, 2-5: sleep `SECS` seconds between two states.
#[derive(Serialize, Deserialize)]
pub enum Pause<const SECS: u64> {
    Start,
    Done,
}

impl<const SECS: u64> Transition for Pause<SECS> {
    type Input = Value;
    type Output = ();

    fn start(_: Value) -> Self {
        Pause::Start
    }

    async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            Pause::Start => Next::sleep(Duration::from_secs(SECS), Pause::Done),
            Pause::Done => Next::done(()),
        })
    }
}

/// 2-2: a wait named `custom_wait_name`.
#[derive(Serialize, Deserialize)]
pub enum NamedWait {
    Run,
}

impl Transition for NamedWait {
    type Input = Value;
    type Output = ();

    fn start(_: Value) -> Self {
        NamedWait::Run
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        ctx.wait("custom_wait_name", Duration::from_secs(2)).await?;
        Ok(Next::done(()))
    }
}

/// 2-3: two named 2 s waits in two states.
#[derive(Serialize, Deserialize)]
pub enum TwoWaits {
    First,
    Second,
}

impl Transition for TwoWaits {
    type Input = Value;
    type Output = Value;

    fn start(_: Value) -> Self {
        TwoWaits::First
    }

    async fn next(self, ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
        Ok(match self {
            TwoWaits::First => {
                ctx.wait("wait-1", Duration::from_secs(2)).await?;
                Next::to(TwoWaits::Second)
            }
            TwoWaits::Second => {
                ctx.wait("wait-2", Duration::from_secs(2)).await?;
                Next::done(json!({ "completedWaits": 2 }))
            }
        })
    }
}
