//! Values between JS and SQLite. INTEGER becomes a number when it is a safe integer and a BigInt
//! otherwise; REAL a number; TEXT a string; BLOB a Uint8Array; NULL null. Params are an array
//! (positional) or a plain object (named).

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use rusqlite::types::ValueRef;
use wasm_bindgen::{JsCast, JsValue};

use crate::{Error, Params, Result, Statement, Value};

const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

pub(crate) fn params_from_js(params: &JsValue) -> Result<Params> {
    if params.is_undefined() || params.is_null() {
        return Ok(Params::None);
    }
    if Array::is_array(params) {
        let array: &Array = params.unchecked_ref();
        let values = array
            .iter()
            .map(|v| value_from_js(&v))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Params::Positional(values));
    }
    if params.is_object() && !params.is_instance_of::<Uint8Array>() {
        let mut named = Vec::new();
        for entry in Object::entries(params.unchecked_ref()).iter() {
            let pair: Array = entry.unchecked_into();
            let name = pair.get(0).as_string().unwrap_or_default();
            let value = value_from_js(&pair.get(1))
                .map_err(|e| Error::BadParams(format!("parameter {name}: {e}")))?;
            named.push((name, value));
        }
        return Ok(Params::Named(named));
    }
    Err(Error::BadParams(
        "params must be an array (for ?) or an object (for :name)".into(),
    ))
}

pub(crate) fn value_from_js(value: &JsValue) -> Result<Value> {
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(n) = value.as_f64() {
        let integral = n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64;
        return Ok(if integral {
            Value::Integer(n as i64)
        } else {
            Value::Real(n)
        });
    }
    if let Some(s) = value.as_string() {
        return Ok(Value::Text(s));
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Integer(b as i64));
    }
    if value.is_bigint() {
        return i64::try_from(value.clone().unchecked_into::<BigInt>())
            .map(Value::Integer)
            .map_err(|_| Error::BadParams("a BigInt outside the 64-bit signed range".into()));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Value::Blob(bytes.to_vec()));
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Value::Blob(Uint8Array::new(buffer).to_vec()));
    }
    Err(Error::BadParams(format!(
        "unsupported value {}; use null, number, bigint, string, boolean or Uint8Array",
        describe(value)
    )))
}

/// A value for an error message: its JSON when it has one (a plain object), else its type
/// (a symbol or a function has no JSON, and stringify answers `undefined`).
fn describe(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|json| json.as_string())
        .unwrap_or_else(|| {
            format!(
                "of type {}",
                value.js_typeof().as_string().unwrap_or_default()
            )
        })
}

pub(crate) fn value_to_js(value: ValueRef<'_>) -> JsValue {
    match value {
        ValueRef::Null => JsValue::NULL,
        ValueRef::Integer(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => {
            JsValue::from_f64(i as f64)
        }
        ValueRef::Integer(i) => BigInt::from(i).into(),
        ValueRef::Real(r) => JsValue::from_f64(r),
        ValueRef::Text(t) => JsValue::from_str(&String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => Uint8Array::from(b).into(),
    }
}

pub(crate) fn owned_value_to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Integer(i) => value_to_js(ValueRef::Integer(*i)),
        Value::Real(r) => JsValue::from_f64(*r),
        Value::Text(t) => JsValue::from_str(t),
        Value::Blob(b) => Uint8Array::from(b.as_slice()).into(),
    }
}

pub(crate) fn statements_from_js(statements: &JsValue) -> Result<Vec<Statement>> {
    if !Array::is_array(statements) {
        return Err(Error::BadParams(
            "batch() takes an array of { sql, params }".into(),
        ));
    }
    let array: &Array = statements.unchecked_ref();
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let sql = get(&item, "sql").as_string().ok_or_else(|| {
                Error::BadParams(format!("batch statement {i} has no sql string"))
            })?;
            let params = params_from_js(&get(&item, "params"))?;
            Ok(Statement { sql, params })
        })
        .collect()
}

pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}
