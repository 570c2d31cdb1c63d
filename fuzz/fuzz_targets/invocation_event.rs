//! The handler's invocation-event parser: any bytes give an event or an error, never a panic,
//! and an accepted event serializes and parses back to itself.
#![no_main]

use durable_fsm::model::InvocationInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = InvocationInput::from_slice(data) {
        let text = serde_json::to_vec(&event).expect("an accepted event serializes");
        let again = InvocationInput::from_slice(&text).expect("and parses back");
        assert_eq!(
            serde_json::to_value(&again).ok(),
            serde_json::to_value(&event).ok()
        );
    }
});
