//! Named crash points, for crash tests.
//!
//! The service and the executor call [`hit`] at the moments a crash matters most: before and
//! after a checkpoint call, before a store transaction commits, after an engine call was
//! applied but before its caller hears the answer, while a callback is delivered, while a
//! timer fires. Without the `failpoints` feature [`hit`] is an empty inline function.
//!
//! With the feature, the environment chooses what a hit does:
//!
//! * `DURABLE_FSM_FAILPOINT=NAME:N` kills the process (SIGKILL on Unix, an abort elsewhere)
//!   at the `N`th hit of the point `NAME` (counted from 1 in this process);
//! * `DURABLE_FSM_FAILPOINT=count` only counts hits, for [`counts`];
//! * unset (or anything else): hits do nothing.
//!
//! The points, by name:
//!
//! | name | where |
//! | --- | --- |
//! | `executor.checkpoint.before` | the executor is about to send a CheckpointDurableExecution |
//! | `executor.checkpoint.after` | the executor has the answer of a checkpoint, before using it |
//! | `store.commit.before` | the SQLite store has written a transaction's rows, not committed them |
//! | `service.call.after` | a mutating call of the local service is applied, its answer not yet returned |
//! | `callback.deliver.applied` | a callback answer is applied in memory, not yet stored |
//! | `timer.fire` | a due timer has fired in memory, not yet stored |
//! | `runtime.invocation.end` | an invocation has returned, its end not yet recorded |

/// The environment variable that selects a crash point.
pub const ENV: &str = "DURABLE_FSM_FAILPOINT";

/// Every crash point the crate defines.
pub const POINTS: &[&str] = &[
    "executor.checkpoint.before",
    "executor.checkpoint.after",
    "store.commit.before",
    "service.call.after",
    "callback.deliver.applied",
    "timer.fire",
    "runtime.invocation.end",
];

/// Passes the crash point `name`: kills the process if the environment selects this hit.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &'static str) {}

/// Hits counted per point in this process; empty unless the feature is on and
/// `DURABLE_FSM_FAILPOINT` is set.
#[cfg(not(feature = "failpoints"))]
pub fn counts() -> Vec<(&'static str, u64)> {
    Vec::new()
}

#[cfg(feature = "failpoints")]
pub use imp::{counts, hit};

#[cfg(feature = "failpoints")]
mod imp {
    use super::ENV;
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};

    /// What the environment asked for.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum Plan {
        /// Hits do nothing.
        Off,
        /// Hits are counted.
        Count,
        /// The process dies at hit `n` of `name`.
        Kill { name: String, n: u64 },
    }

    /// Reads a plan from the value of [`ENV`]; an unparsable value turns the points off.
    pub(super) fn parse(value: Option<&str>) -> Plan {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Plan::Off;
        };
        if value == "count" {
            return Plan::Count;
        }
        match value.rsplit_once(':') {
            Some((name, n)) if !name.is_empty() => match n.trim().parse::<u64>() {
                Ok(n) if n > 0 => Plan::Kill {
                    name: name.to_string(),
                    n,
                },
                _ => Plan::Off,
            },
            _ => Plan::Off,
        }
    }

    fn plan() -> &'static Plan {
        static PLAN: OnceLock<Plan> = OnceLock::new();
        PLAN.get_or_init(|| {
            let plan = parse(std::env::var(ENV).ok().as_deref());
            if let Plan::Kill { name, n } = &plan {
                tracing::warn!(point = %name, hit = n, "crash point armed");
            }
            plan
        })
    }

    static COUNTS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

    /// Passes the crash point `name`: kills the process if the environment selects this hit.
    pub fn hit(name: &'static str) {
        let plan = plan();
        if *plan == Plan::Off {
            return;
        }
        let seen = {
            let mut counts = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
            let c = counts.entry(name).or_insert(0);
            *c += 1;
            *c
        };
        if let Plan::Kill { name: target, n } = plan
            && target == name
            && *n == seen
        {
            die();
        }
    }

    /// Hits counted per point in this process, by name.
    pub fn counts() -> Vec<(&'static str, u64)> {
        COUNTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    #[cfg(unix)]
    fn die() -> ! {
        // SAFETY: getpid and kill have no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        // SIGKILL cannot be caught; should delivery be delayed, abort is just as abrupt.
        std::process::abort()
    }

    #[cfg(not(unix))]
    fn die() -> ! {
        std::process::abort()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn plans_parse_from_the_environment_value() {
            assert_eq!(parse(None), Plan::Off);
            assert_eq!(parse(Some("")), Plan::Off);
            assert_eq!(parse(Some("count")), Plan::Count);
            assert_eq!(
                parse(Some("timer.fire:3")),
                Plan::Kill {
                    name: "timer.fire".into(),
                    n: 3
                }
            );
            assert_eq!(parse(Some("timer.fire:0")), Plan::Off);
            assert_eq!(parse(Some("timer.fire:x")), Plan::Off);
            assert_eq!(parse(Some(":4")), Plan::Off);
            assert_eq!(parse(Some("timer.fire")), Plan::Off);
        }
    }
}
