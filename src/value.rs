//! SQLite values as Outpost carries them: into statements, out of queries, and over the wire.
//!
//! On the wire (JSON) a value is `null`, an integer number, a number with a fraction or exponent
//! (REAL), a string, or `{"blob": "<base64>"}`. Integers travel as exact 64-bit numbers.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One SQLite value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row keyed by column name, as pulled from or pushed to the primary.
pub type Row = BTreeMap<String, Value>;

impl Value {
    pub fn from_ref(value: ValueRef<'_>) -> Self {
        match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }

    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(self.as_ref()))
    }
}

impl FromSql for Value {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(Value::from_ref(value))
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // A `String` is UTF-8 already: checking it again was 3% of a primary serving a pull.
            Value::Text(t) => serializer.serialize_str(t),
            _ => WireRef(self.as_ref()).serialize(serializer),
        }
    }
}

/// A borrowed value in its wire form: the capture triggers write outbox entries straight from
/// SQLite's memory with it, without copying into a [`Value`] first.
#[derive(Clone, Copy)]
pub struct WireRef<'a>(pub ValueRef<'a>);

impl Serialize for WireRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ValueRef::Null => serializer.serialize_unit(),
            ValueRef::Integer(i) => serializer.serialize_i64(i),
            // JSON has no NaN or infinity; SQLite stores NaN as NULL anyway.
            ValueRef::Real(r) if !r.is_finite() => serializer.serialize_unit(),
            ValueRef::Real(r) => serializer.serialize_f64(r),
            ValueRef::Text(t) => serializer.serialize_str(&String::from_utf8_lossy(t)),
            ValueRef::Blob(b) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("blob", &base64::engine::general_purpose::STANDARD.encode(b))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null, a number, a string or {\"blob\": base64}")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Integer(v as i64))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Integer)
            .map_err(|_| E::custom("integer out of the 64-bit signed range"))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Real(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                "an object value must be {\"blob\": base64}",
            ));
        };
        if key != "blob" {
            return Err(de::Error::custom(
                "an object value must be {\"blob\": base64}",
            ));
        }
        let encoded: String = map.next_value()?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(
                "a blob object has exactly one key, \"blob\"",
            ));
        }
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(Value::Blob)
            .map_err(|e| de::Error::custom(format!("invalid base64 in blob: {e}")))
    }
}

/// Parameters bound to a statement: positional (`?`, `?NNN`) or named (`:name`, `@name`, `$name`).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Params {
    #[default]
    None,
    Positional(Vec<Value>),
    /// Names without their prefix character.
    Named(Vec<(String, Value)>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_round_trips_every_type() {
        let values = vec![
            Value::Null,
            Value::Integer(i64::MAX),
            Value::Integer(-7),
            Value::Real(1.0),
            Value::Real(-2.5e-300),
            Value::Text("héllo \"quoted\"".into()),
            Value::Blob(vec![0, 255, 1, 2]),
        ];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(
            json,
            r#"[null,9223372036854775807,-7,1.0,-2.5e-300,"héllo \"quoted\"",{"blob":"AP8BAg=="}]"#
        );
        let back: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn malformed_wire_values_are_refused() {
        for bad in [
            r#"{"blob": "not base64!"}"#,
            r#"{"nope": 1}"#,
            "[1]",
            "18446744073709551615",
        ] {
            assert!(
                serde_json::from_str::<Value>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }
}
