//! The driver task: one loop that fires due timers, begins invocations and takes chained
//! invokes of plain functions, spawning one task for each; then sleeps until the service
//! changes, the next deadline comes, or shutdown.

use super::DEFAULT_SHUTDOWN_GRACE;
use super::dispatch::Dispatcher;
use super::http::local_request_id;
use crate::model::{ErrorObject, InvocationInput, Timestamp};
use crate::service::{Clock, InvocationOutcome, LocalService, PendingInvoke};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Longest sleep between two passes when nothing is due (the notifier wakes us earlier).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Pause after a pass that failed (a store error), so a broken store is not hammered.
const BACKOFF: Duration = Duration::from_millis(100);

/// Work the spawned tasks have not finished, so shutdown can record what it aborts.
#[derive(Default)]
struct InFlight {
    /// ARN → (input token, start time).
    invocations: HashMap<String, (String, Timestamp)>,
    /// (parent ARN, CHAINED_INVOKE operation id).
    plain: HashSet<(String, String)>,
}

#[derive(Clone, Default)]
struct Tracker(Arc<Mutex<InFlight>>);

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, InFlight> {
        // Only inserts and removes happen under the lock; a poisoned map is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one pass did.
#[derive(Default)]
struct Pass {
    changed: bool,
    failed: bool,
    next_due: Option<Timestamp>,
}

pub(crate) struct Driver {
    service: LocalService,
    dispatcher: Arc<Dispatcher>,
    clock: Arc<dyn Clock>,
    stop: watch::Receiver<Option<Duration>>,
    tasks: JoinSet<()>,
    in_flight: Tracker,
}

impl Driver {
    pub fn new(
        service: LocalService,
        dispatcher: Arc<Dispatcher>,
        clock: Arc<dyn Clock>,
        stop: watch::Receiver<Option<Duration>>,
    ) -> Self {
        Driver {
            service,
            dispatcher,
            clock,
            stop,
            tasks: JoinSet::new(),
            in_flight: Tracker::default(),
        }
    }

    pub async fn run(mut self) {
        let notify = self.service.notifier().clone();
        let grace = loop {
            // Registered before the pass, so a change made during it wakes the next sleep.
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(grace) = *self.stop.borrow() {
                break grace;
            }
            let pass = self.pass();
            self.reap();
            if pass.changed {
                // Wakes waiters on execution ends (and this loop once more).
                notify.notify_waiters();
            }
            let delay = if pass.failed {
                BACKOFF
            } else {
                pass.next_due.map_or(MAX_SLEEP, |t| {
                    t.since(self.clock.now())
                        .clamp(Duration::from_millis(1), MAX_SLEEP)
                })
            };
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(delay) => {}
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        // Every handle is gone.
                        break DEFAULT_SHUTDOWN_GRACE;
                    }
                }
            }
        };
        self.drain(grace).await;
    }

    /// Fires due timers, begins every invocation that can begin and takes the plain chained
    /// invokes, spawning a task for each. Never holds the engine lock across an await.
    fn pass(&mut self) -> Pass {
        let mut pass = Pass::default();
        let now = self.clock.now();
        let (begun, plain, region, account) = {
            let mut engine = match self.service.lock() {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "the runtime cannot reach the engine");
                    pass.failed = true;
                    return pass;
                }
            };
            if engine.next_due().is_some_and(|t| t <= now) {
                engine.fire_due();
                pass.changed = true;
                // Anything due at `now` that is still armed did not fire: the store failed.
                pass.failed = engine.next_due().is_some_and(|t| t <= now);
            }
            let mut begun = Vec::new();
            for arn in engine.runnable() {
                match engine.begin_invocation(&arn) {
                    Ok(Some(input)) => {
                        pass.changed = true;
                        begun.push((arn, input, self.clock.now()));
                    }
                    Ok(None) => {
                        // begin_invocation times out an overdue execution: waiters must know.
                        pass.changed |= engine
                            .get_execution(&arn, false)
                            .is_ok_and(|x| x.status.is_terminal());
                    }
                    Err(e) => {
                        tracing::error!(arn, error = %e, "cannot begin an invocation");
                        pass.failed = true;
                    }
                }
            }
            let plain = engine.take_plain_invokes();
            pass.changed |= !plain.is_empty();
            pass.next_due = engine.next_due();
            let config = engine.config();
            (
                begun,
                plain,
                config.region.clone(),
                config.account_id.clone(),
            )
        };
        for (arn, input, started) in begun {
            self.in_flight
                .lock()
                .invocations
                .insert(arn.clone(), (input.checkpoint_token.clone(), started));
            self.tasks.spawn(invocation_task(
                self.service.clone(),
                self.dispatcher.clone(),
                self.in_flight.clone(),
                arn,
                input,
                started,
            ));
        }
        for p in plain {
            self.in_flight
                .lock()
                .plain
                .insert((p.parent_arn.clone(), p.op_id.clone()));
            self.tasks.spawn(plain_task(
                self.service.clone(),
                self.dispatcher.clone(),
                self.in_flight.clone(),
                region.clone(),
                account.clone(),
                p,
            ));
        }
        pass
    }

    /// Collects finished tasks.
    fn reap(&mut self) {
        while let Some(res) = self.tasks.try_join_next() {
            log_join(res);
        }
    }

    /// Lets the tasks finish for up to `grace`, aborts the rest and records them as failed.
    async fn drain(mut self, grace: Duration) {
        let tasks = &mut self.tasks;
        let finished = tokio::time::timeout(grace, async {
            while let Some(res) = tasks.join_next().await {
                log_join(res);
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                count = self.tasks.len(),
                "aborting invocations still running at shutdown"
            );
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let left = std::mem::take(&mut *self.in_flight.lock());
        for (arn, (token, started)) in left.invocations {
            let error = ErrorObject::new(
                "Runtime.ExitError",
                "the local service shut down during the invocation",
            );
            let outcome = InvocationOutcome::Error(error);
            complete_invocation(
                &self.service,
                &arn,
                &token,
                outcome,
                local_request_id(),
                started,
            );
        }
        for (parent, op_id) in left.plain {
            let error = ErrorObject::new(
                "Runtime.ExitError",
                "the local service shut down during the chained invoke",
            );
            complete_plain(&self.service, &parent, &op_id, Err(error));
        }
    }
}

fn log_join(res: Result<(), tokio::task::JoinError>) {
    if let Err(e) = res
        && e.is_panic()
    {
        tracing::error!(error = %e, "a runtime task panicked");
    }
}

fn complete_invocation(
    service: &LocalService,
    arn: &str,
    token: &str,
    outcome: InvocationOutcome,
    request_id: String,
    started: Timestamp,
) -> bool {
    let done = service
        .with_engine(|e| e.complete_invocation(arn, token, outcome, request_id, started))
        .and_then(|r| r);
    match done {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(arn, error = %e, "cannot record the end of an invocation");
            false
        }
    }
}

fn complete_plain(
    service: &LocalService,
    parent: &str,
    op_id: &str,
    outcome: Result<String, ErrorObject>,
) -> bool {
    let done = service
        .with_engine(|e| e.complete_plain_invoke(parent, op_id, outcome))
        .and_then(|r| r);
    match done {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(parent, op_id, error = %e, "cannot record the end of a chained invoke");
            false
        }
    }
}

async fn invocation_task(
    service: LocalService,
    dispatcher: Arc<Dispatcher>,
    in_flight: Tracker,
    arn: String,
    input: InvocationInput,
    started: Timestamp,
) {
    let token = input.checkpoint_token.clone();
    let (outcome, request_id) = dispatcher.invoke_execution(&service, &arn, input).await;
    if let InvocationOutcome::Error(e) | InvocationOutcome::Unrecoverable(e) = &outcome {
        tracing::warn!(arn, error_type = ?e.error_type, error = ?e.error_message, "invocation failed");
    }
    crate::failpoint::hit("runtime.invocation.end");
    // A failed record stays tracked, so shutdown tries once more.
    if complete_invocation(&service, &arn, &token, outcome, request_id, started) {
        in_flight.lock().invocations.remove(&arn);
    }
}

async fn plain_task(
    service: LocalService,
    dispatcher: Arc<Dispatcher>,
    in_flight: Tracker,
    region: String,
    account: String,
    p: PendingInvoke,
) {
    let outcome = dispatcher.invoke_plain(&region, &account, &p).await;
    if complete_plain(&service, &p.parent_arn, &p.op_id, outcome) {
        in_flight.lock().plain.remove(&(p.parent_arn, p.op_id));
    }
}
