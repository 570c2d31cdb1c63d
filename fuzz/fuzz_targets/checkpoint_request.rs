//! The checkpoint validator: any request body, applied to a running execution, is accepted or
//! rejected without a panic, and a rejected one changes nothing.
#![no_main]

use durable_fsm::model::*;
use durable_fsm::service::{Clock, Engine, EngineConfig, StartExecution, VirtualClock};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(mut req) = serde_json::from_slice::<CheckpointDurableExecutionRequest>(data) else {
        return;
    };
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(Timestamp::from_secs(1_800_000_000)));
    let mut engine = Engine::new(EngineConfig::default(), clock);
    let Ok(started) = engine.start_execution(StartExecution::new("fuzz", "{}").named("f")) else {
        return;
    };
    let Ok(Some(input)) = engine.begin_invocation(&started.arn) else {
        return;
    };
    // Half the inputs use the real token, so the validator beyond the token check is reached.
    if data.len() % 2 == 0 {
        req.checkpoint_token = input.checkpoint_token.clone();
    }
    req.durable_execution_arn = started.arn.clone();
    let before_ops = serde_json::to_string(&engine.operations(&started.arn).ok()).ok();
    let before_events = serde_json::to_string(&engine.events(&started.arn).ok()).ok();
    if engine.checkpoint(req).is_err() {
        assert_eq!(serde_json::to_string(&engine.operations(&started.arn).ok()).ok(), before_ops);
        assert_eq!(serde_json::to_string(&engine.events(&started.arn).ok()).ok(), before_events);
    }
});
