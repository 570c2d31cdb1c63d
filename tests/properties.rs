//! Property tests of the wire model and the service engine.
//!
//! * `wire`: every model type survives `serialize → parse` unchanged, for every operation type,
//!   status, action and event type, with timestamps at microsecond precision in API bodies and
//!   at millisecond precision in the handler invocation event.
//! * `engine`: random sequences of legal and illegal checkpoint requests, clock advances with
//!   `fire_due`, callback answers, chained-invoke outcomes and re-invocations, on an in-memory
//!   [`Engine`](durable_fsm::service::Engine) with a virtual clock. After every call the
//!   engine's invariants are checked, and at the end the accepted calls are replayed on a
//!   fresh engine, which must arrive at the same operations and history.
//!
//! The default case counts keep the file at a few seconds in a debug build;
//! `PROPTEST_CASES=N` sets every property's count for long runs.
#![cfg(feature = "local")]

#[path = "properties/engine.rs"]
mod engine;
#[path = "properties/invariants.rs"]
mod invariants;
#[path = "properties/requests.rs"]
mod requests;
#[path = "properties/resolve.rs"]
mod resolve;
#[path = "properties/wire.rs"]
mod wire;
#[path = "properties/wire_gen.rs"]
mod wire_gen;
#[path = "properties/world.rs"]
mod world;

use proptest::test_runner::Config;

/// `default_cases`, unless `PROPTEST_CASES` says otherwise.
fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Integration tests have no lib.rs beside them to put regression files next to;
        // a failure prints its minimal case instead.
        failure_persistence: None,
        ..Config::default()
    }
}
