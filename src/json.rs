//! A JSON tree that keeps every object member, in order, duplicates included.
//!
//! containers/image parses policies and signature payloads "paranoidly" (`signature/internal/json.go`):
//! a duplicate or unknown key at any checked level rejects the whole document, while values it
//! ignores may hold anything. serde's maps drop duplicates silently, so documents are first read into
//! this tree and then checked level by level by their owners (`policy`, `signature`).

use std::fmt;

use base64::Engine;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value. Objects keep their members as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Parses one JSON document; trailing non-whitespace is an error, as in Go's decoder. Like
    /// Go's decoder, each byte that is not part of valid UTF-8 reads as U+FFFD (inside a string it
    /// is then just an odd character; anywhere else it is still a syntax error).
    pub fn parse(bytes: &[u8]) -> Result<Value, String> {
        match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_str(&go_lossy(bytes)),
        }
        .map_err(|e| e.to_string())
    }

    /// The kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// `bytes` as text, with U+FFFD for every byte that is not part of valid UTF-8 (one per byte, as
/// Go's `utf8.DecodeRune` steps over them).
fn go_lossy(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push(char::REPLACEMENT_CHARACTER);
                bytes = rest.get(1..).unwrap_or_default();
            }
        }
    }
}

/// A checked JSON object: members with unique keys, each known to the caller.
pub struct Object<'a> {
    members: &'a [(String, Value)],
}

impl<'a> Object<'a> {
    /// Accepts `v` only if it is an object without duplicate keys whose keys are all in `known`
    /// (compared exactly, case-sensitively).
    pub fn strict(v: &'a Value, known: &[&str]) -> Result<Object<'a>, String> {
        let obj = Self::unique(v)?;
        if let Some((k, _)) = obj
            .members
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            return Err(format!("Unknown key {k:?}"));
        }
        Ok(obj)
    }

    /// Accepts any object without duplicate keys.
    pub fn unique(v: &'a Value) -> Result<Object<'a>, String> {
        let Value::Object(members) = v else {
            return Err(format!("JSON object expected, got {}", v.kind()));
        };
        for (i, (k, _)) in members.iter().enumerate() {
            if members[..i].iter().any(|(prev, _)| prev == k) {
                return Err(format!("Duplicate key {k:?}"));
            }
        }
        Ok(Object { members })
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Like `get`, but a missing key is an error (`ParanoidUnmarshalJSONObjectExactFields`).
    pub fn require(&self, key: &str) -> Result<&'a Value, String> {
        self.get(key)
            .ok_or_else(|| format!("Key {key:?} missing in a JSON object"))
    }

    pub fn members(&self) -> &'a [(String, Value)] {
        self.members
    }
}

/// A member name as Go's `encoding/json` compares it with a field's name: without regard to
/// case, where the long s and the Kelvin sign also match `s` and `k`.
pub fn go_fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Go's `json.Unmarshal` into a `string`: `null` leaves the empty string.
pub fn go_string(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("{what}: cannot use {} as a string", other.kind())),
    }
}

/// Go's `json.Unmarshal` into `[]byte`: standard base64 with padding, CR and LF ignored; `null` is a
/// nil slice (absent) and `""` an empty one (present).
pub fn go_bytes(v: &Value, what: &str) -> Result<Option<Vec<u8>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            GO_BASE64
                .decode(cleaned.as_bytes())
                .map(Some)
                .map_err(|e| format!("{what}: illegal base64 data: {e}"))
        }
        other => Err(format!(
            "{what}: cannot use {} as base64 data",
            other.kind()
        )),
    }
}

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits tolerated.
pub const GO_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireCanonical),
);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            members.push((k, v));
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_in_strings_reads_as_replacement_characters_as_in_go() {
        assert_eq!(
            Value::parse(b"\"a\xe9b\xff\xfe\"").unwrap(),
            Value::String("a\u{fffd}b\u{fffd}\u{fffd}".into())
        );
        // A truncated sequence at the end of a string: one per byte.
        assert_eq!(
            Value::parse(b"[\"\xe2\x82\"]").unwrap(),
            Value::Array(vec![Value::String("\u{fffd}\u{fffd}".into())])
        );
        // Outside a string it is still not JSON.
        assert!(Value::parse(b"{\xff}").is_err());
        assert!(Value::parse(b"[1]\xff").is_err());
    }

    #[test]
    fn keeps_duplicates_for_the_checker() {
        let v = Value::parse(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(Object::unique(&v).err().unwrap(), "Duplicate key \"a\"");
    }

    #[test]
    fn decodes_escaped_keys_before_comparing() {
        let v = Value::parse(br#"{"typ\u0065":"x"}"#).unwrap();
        assert!(Object::strict(&v, &["type"]).is_ok());
    }

    #[test]
    fn rejects_unknown_keys_and_trailing_data() {
        let v = Value::parse(br#"{"Type":"x"}"#).unwrap();
        assert_eq!(
            Object::strict(&v, &["type"]).err().unwrap(),
            "Unknown key \"Type\""
        );
        assert!(Value::parse(b"{} trailing").is_err());
        assert!(Value::parse(b"{} {}").is_err());
        assert!(Value::parse(b"{} \n\t ").is_ok());
    }

    #[test]
    fn null_is_the_empty_string_for_go() {
        assert_eq!(go_string(&Value::Null, "x").unwrap(), "");
        assert!(go_string(&Value::Bool(true), "x").is_err());
    }
}
