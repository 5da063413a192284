//! The Outpost primary as a Cloudflare Durable Object: the Worker routes `/v1/db/{name}/...` to
//! the object named `{name}`, which holds that database in its SQLite storage and answers with
//! the same endpoints, bodies, codes and tokens as `outpost-primary` (docs/PROTOCOL.md).
//!
//! # Layout
//!
//! - [`route`]: which object a request is for, or its refusal (the Worker's `fetch`).
//! - [`object`]: one database's requests, over `outpost_primary`'s request checks and its
//!   Durable Object store (the push and pull algorithms every store runs).
//! - `js/`: the Worker module: the Durable Object class, the router, the long poll's wake-up, and
//!   the adapter over `ctx.storage` the store runs on.

pub mod object;
pub mod route;

use wasm_bindgen::prelude::*;

use outpost_primary::error::ApiError;

/// One answer, as the Worker module sends it.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// JSON.
    pub body: String,
    /// A pull with nothing new yet: how long it may still wait for a push before `body` (an
    /// empty answer) is sent. 0 otherwise.
    #[wasm_bindgen(js_name = waitMs)]
    pub wait_ms: u32,
    /// For the Worker: the object (database) the request goes to, when it goes to one.
    pub database: Option<String>,
}

impl Reply {
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            wait_ms: 0,
            database: None,
        }
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        let body = serde_json::to_string(&error.body()).unwrap_or_default();
        Reply::json(error.status.as_u16(), body)
    }
}
