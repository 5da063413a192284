//! `fetch` as the sync engine's transport. `fetch` is taken from the global scope, so this works
//! in pages, dedicated workers and workerd alike (none of which need a `window`).

use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit, Response};

use crate::protocol::{ErrorBody, PullRequest, PullResponse, PushRequest, PushResponse};
use crate::sync::Transport;
use crate::{Error, Result};

pub(crate) struct FetchTransport {
    /// The database URL, e.g. `http://127.0.0.1:8787/v1/db/app`.
    pub url: String,
    pub token: Option<String>,
    pub signal: AbortSignal,
}

impl Transport for FetchTransport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        self.post("push", request).await
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        self.post("pull", request).await
    }
}

impl FetchTransport {
    async fn post<Q: Serialize, A: DeserializeOwned>(&self, endpoint: &str, body: &Q) -> Result<A> {
        let url = format!("{}/{endpoint}", self.url.trim_end_matches('/'));
        let body = serde_json::to_string(body).map_err(|e| Error::Protocol(e.to_string()))?;
        let headers = Headers::new().map_err(offline)?;
        headers
            .set("content-type", "application/json")
            .map_err(offline)?;
        if let Some(token) = &self.token {
            headers
                .set("authorization", &format!("Bearer {token}"))
                .map_err(offline)?;
        }
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
        init.set_headers(&headers);
        init.set_signal(Some(&self.signal));

        let fetch: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))
            .and_then(|f| f.dyn_into())
            .map_err(|_| Error::Offline("this runtime has no global fetch".into()))?;
        let promise: Promise = fetch
            .call2(&JsValue::UNDEFINED, &JsValue::from_str(&url), &init)
            .map_err(offline)?
            .unchecked_into();
        let response: Response = JsFuture::from(promise)
            .await
            .map_err(offline)?
            .unchecked_into();
        let text = JsFuture::from(response.text().map_err(offline)?)
            .await
            .map_err(offline)?;
        let text = text.as_string().unwrap_or_default();
        if response.ok() {
            return serde_json::from_str(&text)
                .map_err(|e| Error::Protocol(format!("{endpoint} answer: {e}")));
        }
        let status = response.status();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Error::Primary {
                status,
                code: body.error.code,
                message: body.error.message,
            },
            Err(_) if status >= 500 => Error::Offline(format!("the primary answered {status}")),
            Err(_) => Error::Protocol(format!("{status} without an error body")),
        })
    }
}

fn offline(err: JsValue) -> Error {
    let message = err
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "network error".into());
    Error::Offline(message)
}
