//! `ctx.storage` of a Durable Object as the dialect reaches it, through the small adapter the
//! Worker module passes in (`primary-do/js/storage.js`): statements with positional values, and
//! `transactionSync` around a Rust closure. SQL on a Durable Object cannot open a transaction or a
//! savepoint itself; nested `transactionSync` calls are its savepoints.
//!
//! Values cross as JS values, and a JS number is a double: an INTEGER is never bound as one (it
//! would be stored as REAL, and lose digits past 2^53). It is bound as its decimal text, and its
//! placeholder `?N` becomes `CAST(?N AS INTEGER)`: exact over all 64 bits, and the statement's
//! text stays the same whatever the value, so workerd compiles it once. Rows read for replicas
//! carry each value's type beside it (`typed_column`), so integers come back exact.

use js_sys::{Array, ArrayBuffer, Uint8Array};
use outpost::codes;
use outpost::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::store::StoreError;

#[wasm_bindgen]
extern "C" {
    /// The adapter over `ctx.storage`.
    #[derive(Clone)]
    pub type SqlStorage;

    /// Every row of a statement, each an array of its values in column order.
    #[wasm_bindgen(method, catch)]
    fn rows(this: &SqlStorage, sql: &str, params: Array) -> Result<Array, JsValue>;

    /// Run statements to their end; the rows they wrote.
    #[wasm_bindgen(method, catch)]
    fn run(this: &SqlStorage, sql: &str, params: Array) -> Result<f64, JsValue>;

    /// Run `body` in `transactionSync` (nested: a savepoint); it commits when `body` says true,
    /// and rolls back when it says false. Whether it committed.
    #[wasm_bindgen(method, catch)]
    fn transaction(this: &SqlStorage, body: &mut dyn FnMut() -> bool) -> Result<bool, JsValue>;
}

/// Why a statement failed, as SQLite said: its primary and extended code names and message.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlFailure {
    pub primary: String,
    pub code: String,
    pub message: String,
}

impl SqlFailure {
    /// workerd's messages end in `: SQLITE_X` or `: SQLITE_X (extended: SQLITE_X_Y)`.
    pub fn from_js(error: JsValue) -> SqlFailure {
        let text = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| format!("{error:?}"));
        let (rest, extended) = match text
            .strip_suffix(')')
            .and_then(|t| t.rsplit_once(" (extended: "))
        {
            Some((rest, extended)) => (rest.to_owned(), Some(extended.to_owned())),
            None => (text.clone(), None),
        };
        match rest.rsplit_once(": SQLITE_") {
            Some((message, primary)) => {
                let primary = format!("SQLITE_{primary}");
                SqlFailure {
                    code: extended.unwrap_or_else(|| primary.clone()),
                    primary,
                    message: message.to_owned(),
                }
            }
            None => SqlFailure {
                primary: codes::SQLITE_ERROR.to_owned(),
                code: codes::SQLITE_ERROR.to_owned(),
                message: text,
            },
        }
    }
}

impl From<SqlFailure> for StoreError {
    fn from(failure: SqlFailure) -> Self {
        StoreError::Internal(format!("{} ({})", failure.message, failure.code))
    }
}

impl SqlStorage {
    /// The rows of `sql` with `params` bound, each value as JS gave it (see [`from_js`]).
    pub fn select(&self, sql: &str, params: &[&Value]) -> Result<Vec<Vec<Value>>, SqlFailure> {
        let (sql, bound) = integers_as_text(sql, params);
        let rows = self.rows(&sql, bound).map_err(SqlFailure::from_js)?;
        Ok(rows
            .iter()
            .map(|row| Array::from(&row).iter().map(|v| from_js(&v)).collect())
            .collect())
    }

    /// Run `sql` (one statement with `params`, or several without); the rows written.
    pub fn execute(&self, sql: &str, params: &[&Value]) -> Result<usize, SqlFailure> {
        let (sql, bound) = integers_as_text(sql, params);
        let written = self.run(&sql, bound).map_err(SqlFailure::from_js)?;
        Ok(written as usize)
    }

    /// Run `body` in a transaction (a savepoint when one is open): committed when it returns
    /// `Ok`, rolled back whole when it returns `Err`.
    pub fn atomically<T, E: From<SqlFailure>>(
        &self,
        body: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.kept_if(|| body().map(|value| (value, true)))
    }

    /// Run `body` in a transaction (a savepoint when one is open): committed when it returns
    /// `Ok((_, true))`, rolled back whole when it returns `Ok((_, false))` or `Err`.
    pub fn kept_if<T, E: From<SqlFailure>>(
        &self,
        body: impl FnOnce() -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        let mut body = Some(body);
        let mut outcome = None;
        self.transaction(&mut || {
            let Some(body) = body.take() else {
                return false;
            };
            let result = body();
            let commit = matches!(result, Ok((_, true)));
            outcome = Some(result.map(|(value, _)| value));
            commit
        })
        .map_err(|e| E::from(SqlFailure::from_js(e)))?;
        outcome.unwrap_or_else(|| {
            Err(E::from(SqlFailure {
                primary: codes::SQLITE_ERROR.into(),
                code: codes::SQLITE_ERROR.into(),
                message: "a transaction ended without running".into(),
            }))
        })
    }
}

/// `column` as two result columns: its type, then its value, an integer as decimal text.
pub fn typed_column(column: &str) -> String {
    format!(
        "typeof({column}), CASE typeof({column}) WHEN 'integer' THEN CAST({column} AS TEXT) \
         ELSE {column} END"
    )
}

/// A value read through [`typed_column`]: exact, whatever its type.
pub fn typed_value(kind: &Value, value: Value) -> Value {
    match (kind, value) {
        (Value::Text(kind), Value::Text(digits)) if kind == "integer" => digits
            .parse()
            .map(Value::Integer)
            .unwrap_or(Value::Text(digits)),
        (Value::Text(kind), Value::Integer(n)) if kind == "real" => Value::Real(n as f64),
        (_, value) => value,
    }
}

/// A value as JS gave it: a whole number that a double holds exactly is an INTEGER. Only the
/// small integers of the bookkeeping tables are read this way; rows use [`typed_value`].
pub fn from_js(value: &JsValue) -> Value {
    if value.is_null() || value.is_undefined() {
        return Value::Null;
    }
    if let Some(number) = value.as_f64() {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        return match number.fract() == 0.0 && number.abs() <= EXACT {
            true => Value::Integer(number as i64),
            false => Value::Real(number),
        };
    }
    if let Some(text) = value.as_string() {
        return Value::Text(text);
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Value::Blob(Uint8Array::new(buffer).to_vec());
    }
    Value::Text(format!("{value:?}"))
}

fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Integer(int) => JsValue::from_str(&int.to_string()),
        Value::Real(r) => JsValue::from_f64(*r),
        Value::Text(t) => JsValue::from_str(t),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
    }
}

/// `sql` with each `?N` whose value is an INTEGER, outside quotes and comments, read as
/// `CAST(?N AS INTEGER)` (the value is bound as its decimal text), and the values to bind.
pub fn integers_as_text(sql: &str, params: &[&Value]) -> (String, Array) {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                i += 1;
            }
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'?' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = sql[start + 1..i].parse().unwrap_or(0);
                if let Some(Value::Integer(_)) = params.get(n.wrapping_sub(1)) {
                    out.push_str(&sql[copied..start]);
                    out.push_str(&format!("CAST({} AS INTEGER)", &sql[start..i]));
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    let bound = params.iter().map(|v| to_js(v)).collect();
    (out, bound)
}
