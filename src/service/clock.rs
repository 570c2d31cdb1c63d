//! Where the service engine gets the time: the wall clock, or a virtual clock that tests
//! move by hand to skip timers.

use crate::model::Timestamp;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of the current time for the engine.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// The in-process test runner uses it to jump to the next timer instead of sleeping.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    micros: Arc<AtomicI64>,
}

impl VirtualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        VirtualClock {
            micros: Arc::new(AtomicI64::new(start.as_micros())),
        }
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let delta = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(delta))
            });
    }

    /// Sets the clock to `at` (it may move backwards; the engine tolerates that).
    pub fn set(&self, at: Timestamp) {
        self.micros.store(at.as_micros(), Ordering::SeqCst);
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        // 2025-01-01T00:00:00Z: a fixed, realistic start for reproducible tests.
        VirtualClock::new(Timestamp::from_secs(1_735_689_600))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_is_shared_between_clones() {
        let clock = VirtualClock::new(Timestamp::from_secs(100));
        let other = clock.clone();
        clock.advance(Duration::from_millis(1500));
        assert_eq!(other.now(), Timestamp::from_millis(101_500));
        other.set(Timestamp::from_secs(7));
        assert_eq!(clock.now(), Timestamp::from_secs(7));
    }

    #[test]
    fn system_clock_moves() {
        let a = SystemClock.now();
        assert!(a > Timestamp::from_secs(1_600_000_000));
    }
}
