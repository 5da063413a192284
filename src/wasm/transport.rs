//! `fetch` as the sync engine's transport. `fetch` is taken from the global scope, so this works
//! in pages, dedicated workers and workerd alike (none of which need a `window`). It only moves
//! bytes: what a request holds and what an answer means are [`crate::sync::http`]'s.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit, Response};

use crate::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use crate::sync::http::{self, HttpRequest};
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
        self.post(http::PUSH, request).await
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        let (status, body) = self.exchange(http::PULL, request).await?;
        http::decode_whole_pull(status, body)
    }

    async fn pull_page(&self, request: &PullRequest) -> Result<(PullResponse, Option<Vec<u8>>)> {
        let (status, body) = self.exchange(http::PULL, request).await?;
        http::decode_pull(status, body)
    }
}

impl FetchTransport {
    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        endpoint: &str,
        message: &Q,
    ) -> Result<A> {
        let (status, body) = self.exchange(endpoint, message).await?;
        http::decode(endpoint, status, &body)
    }

    /// `message` sent to `endpoint`; the answer's status and body.
    async fn exchange<Q: Serialize>(&self, endpoint: &str, message: &Q) -> Result<(u16, Vec<u8>)> {
        let request = HttpRequest::json(&self.url, endpoint, self.token.as_deref(), message)?;
        self.send(&request).await
    }

    /// Moves the bytes. Anything that stops an answer arriving (no network, CORS, an abort) is
    /// `Offline`: `fetch` does not say which, and the outbox treats them all alike.
    async fn send(&self, request: &HttpRequest) -> Result<(u16, Vec<u8>)> {
        let headers = Headers::new().map_err(offline)?;
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(offline)?;
        }
        let init = RequestInit::new();
        init.set_method(HttpRequest::METHOD);
        init.set_body(&Uint8Array::from(&request.body[..]));
        init.set_headers(&headers);
        init.set_signal(Some(&self.signal));

        let fetch: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("fetch"))
            .and_then(|f| f.dyn_into())
            .map_err(|_| Error::Offline("this runtime has no global fetch".into()))?;
        let promise: Promise = fetch
            .call2(&JsValue::UNDEFINED, &JsValue::from_str(&request.url), &init)
            .map_err(offline)?
            .unchecked_into();
        let response: Response = JsFuture::from(promise)
            .await
            .map_err(offline)?
            .unchecked_into();
        let body = JsFuture::from(response.array_buffer().map_err(offline)?)
            .await
            .map_err(offline)?;
        Ok((response.status(), Uint8Array::new(&body).to_vec()))
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
