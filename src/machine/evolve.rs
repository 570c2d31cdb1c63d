//! State evolution: changing a workflow enum while executions of the old one are in flight.
//!
//! A checkpointed state is decoded into the workflow's current enum. Most changes keep old
//! states decoding with serde alone:
//!
//! | change | old states still decode when |
//! | --- | --- |
//! | add a variant | always |
//! | add a field | it has `#[serde(default)]` (or `default = "fn"`) |
//! | rename a variant or field | the old name stays as `#[serde(alias = "Old")]` |
//! | remove a field | always (unknown fields are ignored, unless `deny_unknown_fields`) |
//! | remove a variant, change a field's type, split a state | never: use [`Transition::migrate`] |
//!
//! When decoding fails, the executor calls [`Transition::migrate`] with the stored state
//! ([`StoredState`]). Keep the previous enum (renamed, in a `legacy` module) and convert: the
//! helper [`StoredState::decode`] reads the stored state as that type. A state `migrate`
//! rejects, or any state when `migrate` is not implemented, stops the invocation with a
//! `StateDecodeError` naming the stored variant and both reasons; the execution resumes once a
//! version that can read it is deployed.
//!
//! ```
//! use durable_fsm::machine::evolve::{MigrateError, StoredState};
//! use durable_fsm::{Ctx, Next, Transition, TransitionError};
//! use serde::{Deserialize, Serialize};
//!
//! mod legacy {
//!     /// Version 1: the amount was a float of dollars.
//!     #[derive(serde::Deserialize)]
//!     pub enum Invoice { Open { dollars: f64 }, Paid }
//! }
//!
//! /// Version 2: cents, and a new field with a default.
//! #[derive(Serialize, Deserialize)]
//! enum Invoice {
//!     Open { cents: u64, #[serde(default)] reminders: u32 },
//!     Paid,
//! }
//!
//! impl Transition for Invoice {
//!     type Input = u64;
//!     type Output = ();
//!     fn start(cents: u64) -> Self { Invoice::Open { cents, reminders: 0 } }
//!     async fn next(self, _ctx: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
//!         Ok(match self { Invoice::Open { .. } => Next::to(Invoice::Paid), Invoice::Paid => Next::done(()) })
//!     }
//!     fn migrate(stored: StoredState) -> Result<Self, MigrateError> {
//!         Ok(match stored.decode::<legacy::Invoice>()? {
//!             legacy::Invoice::Open { dollars } if dollars >= 0.0 => {
//!                 Invoice::Open { cents: (dollars * 100.0).round() as u64, reminders: 0 }
//!             }
//!             legacy::Invoice::Open { dollars } => {
//!                 return Err(MigrateError::new(format!("a negative amount ({dollars})")));
//!             }
//!             legacy::Invoice::Paid => Invoice::Paid,
//!         })
//!     }
//! }
//!
//! // A state stored by version 1, read by version 2:
//! let stored = StoredState::json(serde_json::json!({"Open": {"dollars": 12.5}}));
//! assert!(matches!(Invoice::migrate(stored), Ok(Invoice::Open { cents: 1250, reminders: 0 })));
//! ```
//!
//! [`Transition::migrate`]: crate::Transition::migrate

use super::codec::{Codec, CodecError};
use super::{StateCodec, Transition};
use serde::de::DeserializeOwned;
use std::fmt;

/// A checkpointed state that does not decode into the workflow's current enum, as
/// [`Transition::migrate`] receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredState {
    value: serde_json::Value,
    codec: StateCodec,
}

impl StoredState {
    /// A state stored as JSON (the default codec).
    pub fn json(value: serde_json::Value) -> Self {
        StoredState {
            value,
            codec: StateCodec::Json,
        }
    }

    /// A state stored by `codec`: `value` is the payload's JSON (a base64 string for
    /// postcard).
    pub fn with_codec(value: serde_json::Value, codec: StateCodec) -> Self {
        StoredState { value, codec }
    }

    /// The stored payload as JSON.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }

    /// The name of the stored variant, when the payload is a JSON enum value (`"Unit"` or
    /// `{"Variant": …}`).
    pub fn variant(&self) -> Option<&str> {
        variant_of(&self.value)
    }

    /// Decodes the stored state as `Old`, an earlier version of the workflow enum, with the
    /// codec it was stored with.
    pub fn decode<Old: DeserializeOwned>(&self) -> Result<Old, MigrateError> {
        self.codec.decode(self.value.clone()).map_err(|e| {
            MigrateError::new(format!(
                "it does not decode as {} either: {e}",
                super::graph::type_name::<Old>()
            ))
        })
    }
}

/// The variant name of a JSON enum value.
pub(crate) fn variant_of(value: &serde_json::Value) -> Option<&str> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Object(m) if m.len() == 1 => m.keys().next().map(String::as_str),
        _ => None,
    }
}

/// Why [`Transition::migrate`] could not turn a stored state into a current one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MigrateError {
    message: String,
    defined: bool,
}

impl MigrateError {
    /// The stored state cannot be migrated, because of `reason`.
    pub fn new(reason: impl fmt::Display) -> Self {
        MigrateError {
            message: reason.to_string(),
            defined: true,
        }
    }

    /// What [`Transition::migrate`] returns when a workflow does not implement it.
    pub fn not_implemented() -> Self {
        MigrateError {
            message: "the workflow defines no migration (Transition::migrate)".into(),
            defined: false,
        }
    }

    /// Whether this came from a migration the workflow defines (not
    /// [`not_implemented`](Self::not_implemented)).
    pub fn is_from_migration(&self) -> bool {
        self.defined
    }
}

/// A stored state that neither decodes nor migrates: both reasons.
#[derive(Debug)]
pub(crate) struct Undecodable {
    decode: CodecError,
    migrate: MigrateError,
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.migrate.is_from_migration() {
            write!(f, "{}; Transition::migrate: {}", self.decode, self.migrate)
        } else {
            write!(f, "{}", self.decode)
        }
    }
}

/// Decodes a stored payload into `W` with `codec`, falling back to [`Transition::migrate`].
pub(crate) fn decode_stored<W: Transition>(
    codec: &impl Codec,
    payload: &str,
) -> Result<W, Undecodable> {
    codec.decode_from_str(payload).or_else(|decode| {
        let migrate = match serde_json::from_str::<serde_json::Value>(payload) {
            Ok(value) => W::migrate(StoredState::with_codec(value, W::codec())),
            Err(_) => Err(MigrateError::not_implemented()),
        };
        migrate.map_err(|migrate| Undecodable { decode, migrate })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, Next, TransitionError};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Old {
        Waiting(u32),
        Gone,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum New {
        Waiting { seconds: u64 },
    }

    impl Transition for New {
        type Input = ();
        type Output = ();
        fn start(_: ()) -> Self {
            New::Waiting { seconds: 0 }
        }
        async fn next(self, _: &mut Ctx<'_>) -> Result<Next<Self>, TransitionError> {
            Ok(Next::done(()))
        }
        fn migrate(stored: StoredState) -> Result<Self, MigrateError> {
            match stored.decode::<Old>()? {
                Old::Waiting(s) => Ok(New::Waiting { seconds: s.into() }),
                Old::Gone => Err(MigrateError::new("`Gone` has no counterpart")),
            }
        }
    }

    #[test]
    fn current_states_decode_and_old_ones_migrate() {
        assert_eq!(
            decode_stored::<New>(&StateCodec::Json, r#"{"Waiting":{"seconds":5}}"#).unwrap(),
            New::Waiting { seconds: 5 }
        );
        assert_eq!(
            decode_stored::<New>(&StateCodec::Json, r#"{"Waiting":7}"#).unwrap(),
            New::Waiting { seconds: 7 }
        );
        let e = decode_stored::<New>(&StateCodec::Json, r#""Gone""#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown variant `Gone`") && e.contains("`Gone` has no counterpart"),
            "{e}"
        );
        let e = decode_stored::<New>(&StateCodec::Json, r#"{"Lost":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not decode as Old either"), "{e}");
        assert_eq!(
            StoredState::json(serde_json::json!({"Waiting": 1})).variant(),
            Some("Waiting")
        );
    }
}
