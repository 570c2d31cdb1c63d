//! Codecs that turn workflow states and values into operation payloads and back.
//!
//! A payload on the wire is always the JSON text of a [`serde_json::Value`]. [`JsonCodec`]
//! (the default) stores the value itself, so payloads stay readable in the console and the
//! CLI; `PostcardCodec` (feature `postcard`) stores compact postcard bytes as a standard
//! base64 JSON string, for large states.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Failure to encode or decode a payload with a [`Codec`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A value could not be turned into a payload.
    #[error("{codec} codec: cannot encode value: {message}")]
    Encode {
        /// Name of the codec ([`Codec::name`]).
        codec: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A payload could not be turned back into a value.
    #[error("{codec} codec: cannot decode payload: {message}")]
    Decode {
        /// Name of the codec ([`Codec::name`]).
        codec: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl CodecError {
    /// Returns the name of the codec that failed.
    pub fn codec(&self) -> &'static str {
        match self {
            CodecError::Encode { codec, .. } | CodecError::Decode { codec, .. } => codec,
        }
    }

    fn encode(codec: &'static str, message: impl ToString) -> Self {
        CodecError::Encode {
            codec,
            message: message.to_string(),
        }
    }

    fn decode(codec: &'static str, message: impl ToString) -> Self {
        CodecError::Decode {
            codec,
            message: message.to_string(),
        }
    }
}

/// Converts serializable values to and from payload [`serde_json::Value`]s.
///
/// Implementations must round-trip: `decode(encode(v)) == v` for every value they accept.
pub trait Codec: Send + Sync + 'static {
    /// Encodes `value` into the JSON value stored as the payload.
    fn encode<T: Serialize>(&self, value: &T) -> Result<serde_json::Value, CodecError>;

    /// Decodes a payload value produced by [`Codec::encode`].
    fn decode<T: DeserializeOwned>(&self, value: serde_json::Value) -> Result<T, CodecError>;

    /// Returns the codec's short name, used in error messages.
    fn name(&self) -> &'static str;

    /// Encodes `value` into payload text (the JSON text of [`Codec::encode`]'s value).
    fn encode_to_string<T: Serialize>(&self, value: &T) -> Result<String, CodecError> {
        let v = self.encode(value)?;
        serde_json::to_string(&v).map_err(|e| CodecError::encode(self.name(), e))
    }

    /// Decodes payload text produced by [`Codec::encode_to_string`].
    fn decode_from_str<T: DeserializeOwned>(&self, payload: &str) -> Result<T, CodecError> {
        let v: serde_json::Value = serde_json::from_str(payload)
            .map_err(|e| CodecError::decode(self.name(), format!("payload is not JSON: {e}")))?;
        self.decode(v)
    }
}

/// The default codec: the payload is the value itself, as JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    // Straight to text: no intermediate `Value`, and struct fields keep their order.
    fn encode_to_string<T: Serialize>(&self, value: &T) -> Result<String, CodecError> {
        serde_json::to_string(value).map_err(|e| CodecError::encode(self.name(), e))
    }

    fn decode_from_str<T: DeserializeOwned>(&self, payload: &str) -> Result<T, CodecError> {
        serde_json::from_str(payload).map_err(|e| CodecError::decode(self.name(), e))
    }

    fn encode<T: Serialize>(&self, value: &T) -> Result<serde_json::Value, CodecError> {
        serde_json::to_value(value).map_err(|e| CodecError::encode(self.name(), e))
    }

    fn decode<T: DeserializeOwned>(&self, value: serde_json::Value) -> Result<T, CodecError> {
        serde_json::from_value(value).map_err(|e| CodecError::decode(self.name(), e))
    }

    fn name(&self) -> &'static str {
        "json"
    }
}

/// A compact binary codec: postcard bytes, carried as a standard-base64 JSON string.
///
/// Postcard is not self-describing, so types that need it (`serde_json::Value`,
/// `#[serde(untagged)]`, `#[serde(flatten)]`) fail to encode or decode with it; and a
/// payload must be decoded into the same type layout it was encoded from.
#[cfg(feature = "postcard")]
#[cfg_attr(docsrs, doc(cfg(feature = "postcard")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PostcardCodec;

#[cfg(feature = "postcard")]
impl Codec for PostcardCodec {
    fn encode<T: Serialize>(&self, value: &T) -> Result<serde_json::Value, CodecError> {
        use base64::Engine as _;
        let bytes = postcard::to_stdvec(value).map_err(|e| CodecError::encode(self.name(), e))?;
        Ok(serde_json::Value::String(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    fn decode<T: DeserializeOwned>(&self, value: serde_json::Value) -> Result<T, CodecError> {
        use base64::Engine as _;
        let text = match value {
            serde_json::Value::String(s) => s,
            other => {
                return Err(CodecError::decode(
                    self.name(),
                    format!("expected a base64 string, found {}", json_kind(&other)),
                ));
            }
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| CodecError::decode(self.name(), format!("invalid base64: {e}")))?;
        let (value, rest) = postcard::take_from_bytes::<T>(&bytes)
            .map_err(|e| CodecError::decode(self.name(), format!("invalid postcard data: {e}")))?;
        if !rest.is_empty() {
            return Err(CodecError::decode(
                self.name(),
                format!(
                    "invalid postcard data: {} trailing byte(s) after the value",
                    rest.len()
                ),
            ));
        }
        Ok(value)
    }

    fn name(&self) -> &'static str {
        "postcard"
    }
}

/// Names the kind of a JSON value for error messages.
#[cfg(feature = "postcard")]
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Order {
        id: u64,
        items: Vec<String>,
        note: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Workflow {
        Start,
        Charging(Order),
        Waiting { order: Order, attempt: u32 },
        Nested(Box<Workflow>, Vec<Workflow>),
        Done(f64),
    }

    fn sample() -> Workflow {
        let order = Order {
            id: 42,
            items: vec!["a".into(), "β".into()],
            note: None,
        };
        Workflow::Nested(
            Box::new(Workflow::Waiting {
                order: order.clone(),
                attempt: 3,
            }),
            vec![
                Workflow::Start,
                Workflow::Charging(order),
                Workflow::Done(1.5),
            ],
        )
    }

    fn round_trip<C: Codec>(codec: &C) {
        let v = sample();
        let encoded = codec.encode(&v).expect("encode");
        let back: Workflow = codec.decode(encoded).expect("decode");
        assert_eq!(back, v);
        let text = codec.encode_to_string(&v).expect("encode text");
        let back: Workflow = codec.decode_from_str(&text).expect("decode text");
        assert_eq!(back, v);
    }

    #[test]
    fn json_round_trips_nested_enum() {
        round_trip(&JsonCodec);
    }

    #[test]
    fn json_uses_externally_tagged_layout() {
        let v = JsonCodec.encode(&sample()).expect("encode");
        assert_eq!(v["Nested"][0]["Waiting"]["attempt"], json!(3));
        assert_eq!(v["Nested"][1][0], json!("Start"));
        assert_eq!(v["Nested"][1][1]["Charging"]["id"], json!(42));
        assert_eq!(
            JsonCodec.encode(&Workflow::Start).expect("encode"),
            json!("Start")
        );
    }

    #[test]
    fn json_decode_errors_are_errors() {
        let err = JsonCodec
            .decode::<Workflow>(json!({"Unknown": 1}))
            .expect_err("unknown variant");
        assert!(matches!(err, CodecError::Decode { codec: "json", .. }));
        assert!(
            err.to_string()
                .starts_with("json codec: cannot decode payload:")
        );
        assert!(JsonCodec.decode::<Order>(json!([1, 2])).is_err());
        let err = JsonCodec
            .decode_from_str::<Order>("{not json")
            .expect_err("bad text");
        assert!(err.to_string().contains("key must be a string"), "{err}");
        assert_eq!(err.codec(), "json");
    }

    #[test]
    fn json_encode_errors_are_errors() {
        // A map with non-string keys cannot be a JSON object.
        let m: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let err = JsonCodec.encode(&m).expect_err("non-string key");
        assert!(
            matches!(err, CodecError::Encode { codec: "json", .. }),
            "{err}"
        );
    }

    #[test]
    fn codec_names() {
        assert_eq!(JsonCodec.name(), "json");
        #[cfg(feature = "postcard")]
        assert_eq!(PostcardCodec.name(), "postcard");
    }

    #[cfg(feature = "postcard")]
    mod postcard_codec {
        use super::*;

        #[test]
        fn round_trips_nested_enum() {
            round_trip(&PostcardCodec);
        }

        #[test]
        fn payload_is_a_standard_base64_string() {
            let v = PostcardCodec.encode(&Workflow::Done(0.0)).expect("encode");
            // Variant index 4 as a varint, then 8 little-endian zero bytes.
            assert_eq!(v, json!("BAAAAAAAAAAA"));
            let text = PostcardCodec.encode_to_string(&7u8).expect("encode");
            assert_eq!(text, "\"Bw==\"");
        }

        #[test]
        fn decode_rejects_non_strings() {
            for bad in [json!(null), json!(1), json!({"a": 1}), json!(["x"])] {
                let err = PostcardCodec
                    .decode::<Workflow>(bad)
                    .expect_err("non-string");
                assert!(
                    err.to_string().contains("expected a base64 string"),
                    "{err}"
                );
            }
        }

        #[test]
        fn decode_rejects_bad_base64() {
            let err = PostcardCodec
                .decode::<u8>(json!("not base64!"))
                .expect_err("b64");
            assert!(err.to_string().contains("invalid base64"), "{err}");
            assert_eq!(err.codec(), "postcard");
        }

        #[test]
        fn decode_rejects_bad_postcard() {
            // Variant index 99 does not exist; an empty buffer is truncated.
            for bad in ["Yw==", ""] {
                let err = PostcardCodec
                    .decode::<Workflow>(json!(bad))
                    .expect_err("pc");
                assert!(err.to_string().contains("invalid postcard data"), "{err}");
            }
            let err = PostcardCodec
                .decode::<u8>(json!("BwA="))
                .expect_err("trailing");
            assert!(err.to_string().contains("trailing"), "{err}");
        }

        #[test]
        fn non_self_describing_values_fail_as_errors() {
            // serde_json::Value needs deserialize_any, which postcard cannot offer.
            let r = PostcardCodec
                .encode(&json!({"a": 1}))
                .and_then(|v| PostcardCodec.decode::<serde_json::Value>(v));
            let err = r.expect_err("not self-describing");
            assert_eq!(err.codec(), "postcard");
        }
    }
}
