//! The app's local writes as JS sees them: pending and rejected writes as plain objects (the same
//! shape as the `rejected` event), and the arguments of the calls that list and discard them.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use super::convert::{get, owned_value_to_js, set};
use crate::protocol::{Mutation, Op};
use crate::sync::{RejectedMutation, RejectedWrite, WriteList};
use crate::{Error, Result, Row, Value};

/// How many writes a list call returns when the app does not say.
const DEFAULT_LIMIT: usize = 100;

#[wasm_bindgen(typescript_custom_section)]
const LOCAL_WRITES_TS: &'static str = r#"
export type WriteValue = null | number | bigint | string | Uint8Array;
export interface WriteListOptions { limit?: number }
export interface PendingWrite {
  seq: number;
  table: string;
  op: "insert" | "update" | "delete";
  key: WriteValue[];
  columns: Record<string, WriteValue>;
}
export interface RejectedWrite extends PendingWrite {
  code: string;
  reason: string;
  rejectedAt: number;
}
export interface WriteList<W> { count: number; writes: W[] }
"#;

/// `{ limit? }` (or nothing): the most writes to list.
pub(crate) fn list_limit(call: &str, options: &JsValue) -> Result<usize> {
    if options.is_undefined() || options.is_null() {
        return Ok(DEFAULT_LIMIT);
    }
    let bad = || Error::BadOptions(format!("{call}() takes an optional object: {{ limit? }}"));
    if !options.is_object() || Array::is_array(options) {
        return Err(bad());
    }
    let keys = Object::keys(options.unchecked_ref::<Object>());
    if keys
        .iter()
        .any(|key| key.as_string().as_deref() != Some("limit"))
    {
        return Err(bad());
    }
    let limit = get(options, "limit");
    if limit.is_undefined() {
        return Ok(DEFAULT_LIMIT);
    }
    match limit.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Ok(n as usize),
        _ => Err(Error::BadOptions(format!(
            "{call}()'s limit must be a whole number, 0 or more"
        ))),
    }
}

/// A rejected write's `seq`, or nothing for every one.
pub(crate) fn discarded_seq(seq: &JsValue) -> Result<Option<i64>> {
    if seq.is_undefined() || seq.is_null() {
        return Ok(None);
    }
    match seq.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 => Ok(Some(n as i64)),
        _ => Err(Error::BadOptions(
            "discardRejected() takes a rejected write's seq (an integer), or nothing for all of them"
                .into(),
        )),
    }
}

pub(crate) fn pending_writes_to_js(list: &WriteList<Mutation>) -> JsValue {
    let writes = list
        .writes
        .iter()
        .map(|m| JsValue::from(write_to_js(m.seq, &m.table, m.op, &m.key, &m.columns)))
        .collect();
    list_to_js(list.count, writes)
}

pub(crate) fn rejected_writes_to_js(list: &WriteList<RejectedWrite>) -> JsValue {
    let writes = list
        .writes
        .iter()
        .map(|w| {
            let object = rejected_object(&w.mutation);
            set(
                &object,
                "rejectedAt",
                &JsValue::from_f64(w.rejected_at_ms as f64),
            );
            JsValue::from(object)
        })
        .collect();
    list_to_js(list.count, writes)
}

/// A refused mutation, as the `rejected` event and a push's `rejected` list carry it.
pub(crate) fn rejected_to_js(r: &RejectedMutation) -> JsValue {
    rejected_object(r).into()
}

fn rejected_object(r: &RejectedMutation) -> Object {
    let object = write_to_js(r.seq, &r.table, r.op, &r.key, &r.columns);
    set(&object, "code", &JsValue::from_str(&r.code));
    set(&object, "reason", &JsValue::from_str(&r.reason));
    object
}

fn write_to_js(seq: i64, table: &str, op: Op, key: &[Value], columns: &Row) -> Object {
    let object = Object::new();
    set(&object, "seq", &JsValue::from_f64(seq as f64));
    set(&object, "table", &JsValue::from_str(table));
    let op = match op {
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
    };
    set(&object, "op", &JsValue::from_str(op));
    let key: Array = key.iter().map(owned_value_to_js).collect();
    set(&object, "key", &key);
    let values = Object::new();
    for (name, value) in columns {
        set(&values, name, &owned_value_to_js(value));
    }
    set(&object, "columns", &values);
    object
}

fn list_to_js(count: u64, writes: Array) -> JsValue {
    let object = Object::new();
    set(&object, "count", &JsValue::from_f64(count as f64));
    set(&object, "writes", &writes);
    object.into()
}
