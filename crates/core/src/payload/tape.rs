//! A serde deserializer over simd-json's tape that skips what the payload types do not
//! declare in one step.
//!
//! simd-json's own serde deserializer forwards `ignored_any` to `deserialize_any`, so every
//! field we ignore (a pull request payload is mostly repository objects, user objects and
//! URLs) is still visited node by node, recursively: that walk was the typed parse's whole
//! cost above building the tape (~2.3 µs of 13.9 on a 22 KB pull request). The tape records
//! how many nodes each object and array spans, so skipping one is an index addition, and
//! ignored nesting costs no stack. The declared types and their derives stay as they are;
//! only the walk is ours. Values are handed to visitors as simd-json's deserializer hands
//! them (borrowed strings, i64/u64/f64, bool, unit for null), so what is accepted is the
//! same, which `tests/fuzz_parse.rs` checks against simd-json's deserializer.

use crate::processors::fields::quoted;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Expected, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use simd_json::{Node, StaticNode};
use std::fmt;

/// Why a payload did not fit its type. serde's default messages quote an offending string
/// in full, which from a hostile payload means megabytes in logs, `lastError` and Bull's
/// failed set; these quote at most a few characters.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }

    fn invalid_type(unexpected: Unexpected, expected: &dyn Expected) -> Self {
        Error(format!(
            "invalid type: {}, expected {expected}",
            Short(unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected, expected: &dyn Expected) -> Self {
        Error(format!(
            "invalid value: {}, expected {expected}",
            Short(unexpected)
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error(format!(
            "unknown variant {}, expected one of {expected:?}",
            quoted(variant)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error(format!(
            "unknown field {}, expected one of {expected:?}",
            quoted(field)
        ))
    }
}

/// An unexpected value as serde names it, with strings cut short.
struct Short<'a>(Unexpected<'a>);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Unexpected::Str(s) => write!(f, "string {}", quoted(s)),
            Unexpected::Bytes(b) => write!(f, "{} bytes", b.len()),
            other => other.fmt(f),
        }
    }
}

/// Deserialises `T` from a tape built by `simd_json::to_tape`.
pub fn from_tape<'de, T: de::Deserialize<'de>>(tape: &[Node<'de>]) -> Result<T, Error> {
    let mut de = TapeDeserializer { tape, idx: 0 };
    T::deserialize(&mut de)
}

/// [`from_tape`], remembering where a failure happened (`commits[3].timestamp`).
pub fn from_tape_tracking_path<'de, T: de::Deserialize<'de>>(
    tape: &[Node<'de>],
) -> Result<T, serde_path_to_error::Error<Error>> {
    let mut de = TapeDeserializer { tape, idx: 0 };
    serde_path_to_error::deserialize(&mut de)
}

struct TapeDeserializer<'t, 'de> {
    tape: &'t [Node<'de>],
    idx: usize,
}

impl<'de> TapeDeserializer<'_, 'de> {
    fn next(&mut self) -> Result<Node<'de>, Error> {
        let node = *self
            .tape
            .get(self.idx)
            .ok_or_else(|| de::Error::custom("unexpected end of the tape"))?;
        self.idx += 1;
        Ok(node)
    }

    /// A container's visit, then the cursor past the container whatever the visitor read
    /// (one may stop before the end; no declared type does today).
    fn past<T>(&mut self, start: usize, visited: Result<T, Error>) -> Result<T, Error> {
        let value = visited?;
        self.idx = self.end_of(start);
        Ok(value)
    }

    /// The index just past the value that starts at `start`.
    fn end_of(&self, start: usize) -> usize {
        match self.tape.get(start) {
            Some(Node::Object { count, .. } | Node::Array { count, .. }) => start + count + 1,
            Some(_) => start + 1,
            None => start,
        }
    }
}

impl<'de> de::Deserializer<'de> for &mut TapeDeserializer<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let start = self.idx;
        match self.next()? {
            Node::String(s) => visitor.visit_borrowed_str(s),
            Node::Static(StaticNode::Null) => visitor.visit_unit(),
            Node::Static(StaticNode::Bool(b)) => visitor.visit_bool(b),
            Node::Static(StaticNode::I64(n)) => visitor.visit_i64(n),
            Node::Static(StaticNode::U64(n)) => visitor.visit_u64(n),
            Node::Static(StaticNode::F64(n)) => visitor.visit_f64(n),
            Node::Object { len, .. } => {
                let members = visitor.visit_map(Members {
                    de: self,
                    left: len,
                });
                self.past(start, members)
            }
            Node::Array { len, .. } => {
                let members = visitor.visit_seq(Members {
                    de: self,
                    left: len,
                });
                self.past(start, members)
            }
            #[allow(unreachable_patterns)] // 128-bit numbers, if a dependency turns them on
            _ => Err(de::Error::custom("a number out of the 64-bit range")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.idx = self.end_of(self.idx);
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(Node::Static(StaticNode::Null)) = self.tape.get(self.idx) {
            self.idx += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

/// The members of an object (key/value pairs; keys are always strings on the tape) or the
/// elements of an array: a count of what is left, read from the shared cursor.
struct Members<'a, 't, 'de> {
    de: &'a mut TapeDeserializer<'t, 'de>,
    left: usize,
}

impl Members<'_, '_, '_> {
    /// Counts one more member off; false when none is left.
    fn take_one(&mut self) -> bool {
        let any = self.left > 0;
        self.left = self.left.saturating_sub(1);
        any
    }
}

impl<'de> MapAccess<'de> for Members<'_, '_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.take_one() {
            return Ok(None);
        }
        match self.de.next()? {
            Node::String(key) => seed
                .deserialize(BorrowedStrDeserializer::new(key))
                .map(Some),
            _ => Err(de::Error::custom("an object key that is not a string")),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> SeqAccess<'de> for Members<'_, '_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if !self.take_one() {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IgnoredAny;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Picked<'a> {
        id: i64,
        #[serde(borrow)]
        name: &'a str,
        #[serde(default)]
        tags: Vec<&'a str>,
        #[serde(default)]
        parent: Option<Box<Picked<'a>>>,
        #[serde(default)]
        skipped: Option<IgnoredAny>,
    }

    fn both(json: &str) -> (String, String) {
        let mut a = json.as_bytes().to_vec();
        let mut b = a.clone();
        let ours = simd_json::to_tape(&mut a)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                from_tape::<Picked>(&t.0)
                    .map(|p| format!("{p:?}"))
                    .map_err(|e| e.to_string())
            });
        let theirs = simd_json::serde::from_slice::<Picked>(&mut b).map(|p| format!("{p:?}"));
        (
            ours.unwrap_or_else(|_| "error".into()),
            theirs.unwrap_or_else(|_| "error".into()),
        )
    }

    #[test]
    fn reads_what_simd_jsons_deserializer_reads() {
        for json in [
            r#"{"id":1,"name":"a"}"#,
            r#"{"big":{"x":[1,{"y":[[],{}]}],"z":"s"},"id":2,"name":"b\u00e9","tags":["t","u"]}"#,
            r#"{"id":3,"name":"c","parent":{"id":4,"name":"d","junk":[1,2,3]},"after":true}"#,
            r#"{"id":5,"name":"e","parent":null,"skipped":{"deep":[[[[1]]]]}}"#,
            r#"{"id":"6","name":"f"}"#,
            r#"{"id":7}"#,
            r#"{"id":8.5,"name":"g"}"#,
            r#"{"id":-9,"name":"h","tags":"not a list"}"#,
            r#"{"id":18446744073709551615,"name":"i"}"#,
            r#"[1,2]"#,
        ] {
            let (ours, theirs) = both(json);
            assert_eq!(ours, theirs, "{json}");
        }
    }

    #[test]
    fn a_huge_string_of_the_wrong_type_is_not_quoted_in_full() {
        let json = format!(r#"{{"id":{:?},"name":"n"}}"#, "é".repeat(100_000));
        let mut bytes = json.into_bytes();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let err = from_tape::<Picked>(&tape.0).unwrap_err().to_string();
        assert!(err.starts_with("invalid type: string \"éééé"), "{err}");
        assert!(err.len() < 200, "{} bytes", err.len());
    }

    #[test]
    fn an_ignored_subtree_is_skipped_whatever_its_depth() {
        let deep = format!(
            r#"{{"x":{}{},"id":1,"name":"n"}}"#,
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let (ours, theirs) = both(&deep);
        assert_eq!(ours, theirs);
        assert!(ours.contains("id: 1"), "{ours}");
    }
}
