//! The subset a replica syncs, as JS gives it: `{ table: { column: [values] } }`, one column per
//! table; a table not named is synced whole.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use super::convert::value_from_js;
use super::database::JsDatabase;
use super::error::JsResult;
use crate::sync::{SubsetChoice, TableSubset};
use crate::{Error, Result};

const SHAPE: &str = "setSubset() takes { table: { column: [values] } }, one column per table";

#[wasm_bindgen(js_class = Database)]
impl JsDatabase {
    /// Sync only the subset's rows of the tables it names; returns the tables whose rows left.
    #[wasm_bindgen(js_name = setSubset, unchecked_return_type = "string[]")]
    pub fn set_subset(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, Record<string, unknown[]>>")]
        subset: JsValue,
    ) -> JsResult<Array> {
        let choice = subset_from_js(&subset)?;
        let emptied = self.inner.with_db(|db| db.set_subset(&choice))?;
        Ok(emptied.iter().map(|t| JsValue::from_str(t)).collect())
    }
}

fn subset_from_js(subset: &JsValue) -> Result<SubsetChoice> {
    let bad = |why: String| Error::BadOptions(format!("{SHAPE}: {why}"));
    if !is_plain_object(subset) {
        return Err(bad("not an object".into()));
    }
    let mut choice = SubsetChoice::new();
    for entry in Object::entries(subset.unchecked_ref()).iter() {
        let pair: Array = entry.unchecked_into();
        let table = pair.get(0).as_string().unwrap_or_default();
        let columns = pair.get(1);
        if !is_plain_object(&columns) {
            return Err(bad(format!("{table} is not an object")));
        }
        let columns = Object::entries(columns.unchecked_ref());
        if columns.length() != 1 {
            return Err(bad(format!("{table} names {} columns", columns.length())));
        }
        let pair: Array = columns.get(0).unchecked_into();
        let column = pair.get(0).as_string().unwrap_or_default();
        let values = pair.get(1);
        if !Array::is_array(&values) {
            return Err(bad(format!("{table}.{column} is not an array of values")));
        }
        let values = Array::from(&values)
            .iter()
            .map(|v| value_from_js(&v).map_err(|e| bad(format!("{table}.{column}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        choice.insert(table, TableSubset { column, values });
    }
    Ok(choice)
}

fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value)
}
