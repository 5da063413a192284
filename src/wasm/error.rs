//! The one place a core `Error` becomes a JS value: an `OutpostError` (a real `Error` subclass)
//! carrying the stable code.

use wasm_bindgen::prelude::*;

use crate::Error;

#[wasm_bindgen(module = "/src/wasm/outpost_error.js")]
extern "C" {
    #[wasm_bindgen(js_name = OutpostError, extends = js_sys::Error)]
    type JsOutpostError;

    #[wasm_bindgen(constructor, js_class = OutpostError)]
    fn new(code: &str, message: &str) -> JsOutpostError;
}

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        JsOutpostError::new(err.code(), &err.to_string()).into()
    }
}

/// Shorthand for results crossing into JS.
pub(crate) type JsResult<T> = Result<T, JsValue>;
