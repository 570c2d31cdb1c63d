//! The name of a state: the enum variant, read through serde without serializing its fields.

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Impossible, Serialize, Serializer};
use std::fmt;

/// Returns the variant name of an enum value (or `"State"` for values that are not enums).
///
/// Works through `Serialize`, stopping at the variant, so it costs nothing per field and
/// honours `#[serde(rename = "...")]`.
pub fn variant_name<T: Serialize + ?Sized>(value: &T) -> &'static str {
    FOUND.with(|f| f.set(None));
    match value.serialize(NameCapture) {
        Ok(name) => name,
        Err(_) => FOUND.with(|f| f.take()).unwrap_or("State"),
    }
}

struct NameCapture;

#[derive(Debug)]
struct NotAnEnum;

impl fmt::Display for NotAnEnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an enum")
    }
}
impl std::error::Error for NotAnEnum {}
impl ser::Error for NotAnEnum {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAnEnum
    }
}

macro_rules! not_enum {
    ($($m:ident($($t:ty),*)),* $(,)?) => {
        $(fn $m(self, $(_: $t),*) -> Result<Self::Ok, Self::Error> { Err(NotAnEnum) })*
    };
}

impl Serializer for NameCapture {
    type Ok = &'static str;
    type Error = NotAnEnum;
    type SerializeSeq = Impossible<&'static str, NotAnEnum>;
    type SerializeTuple = Impossible<&'static str, NotAnEnum>;
    type SerializeTupleStruct = Impossible<&'static str, NotAnEnum>;
    type SerializeTupleVariant = Impossible<&'static str, NotAnEnum>;
    type SerializeMap = Impossible<&'static str, NotAnEnum>;
    type SerializeStruct = Impossible<&'static str, NotAnEnum>;
    type SerializeStructVariant = Impossible<&'static str, NotAnEnum>;

    not_enum!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Self::Ok, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, Self::Error> {
        Ok(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: &T,
    ) -> Result<Self::Ok, Self::Error> {
        Ok(variant)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        // Impossible cannot be built; report the name through the error-free path instead.
        Err(VariantFound::raise(variant))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Self::Error> {
        Err(NotAnEnum)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        Err(VariantFound::raise(variant))
    }
}

/// Tuple and struct variants must return a compound serializer; we return an error carrying
/// the name instead, recorded in a thread-local slot read by [`variant_name`].
struct VariantFound;

thread_local! {
    static FOUND: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

impl VariantFound {
    fn raise(variant: &'static str) -> NotAnEnum {
        FOUND.with(|f| f.set(Some(variant)));
        NotAnEnum
    }
}

/// The variant names of an enum, read from its `Deserialize` implementation (the names serde
/// writes, renames included); `None` when it is not an externally tagged enum.
pub fn variant_names<T: de::DeserializeOwned>() -> Option<&'static [&'static str]> {
    match T::deserialize(VariantProbe) {
        Err(ProbeError(found)) => found,
        Ok(_) => None,
    }
}

/// A deserializer that fails at once, reporting the variant list when asked for an enum.
struct VariantProbe;

#[derive(Debug)]
struct ProbeError(Option<&'static [&'static str]>);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probing variant names")
    }
}
impl std::error::Error for ProbeError {}
impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProbeError(None)
    }
}

impl<'de> Deserializer<'de> for VariantProbe {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError(None))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError(Some(variants)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    enum S {
        Unit,
        New(u32),
        Tuple(u32, u32),
        Struct {
            _a: u32,
        },
        #[serde(rename = "Renamed")]
        Other,
    }

    #[test]
    fn names_every_variant_shape() {
        assert_eq!(variant_name(&S::Unit), "Unit");
        assert_eq!(variant_name(&S::New(1)), "New");
        assert_eq!(variant_name(&S::Tuple(1, 2)), "Tuple");
        assert_eq!(variant_name(&S::Struct { _a: 1 }), "Struct");
        assert_eq!(variant_name(&S::Other), "Renamed");
        assert_eq!(variant_name(&5u32), "State");
        assert_eq!(variant_name(&S::New(3)), "New");
    }
}
