//! A native [`Transport`] over HTTP/1.1 with `ureq`, as the wasm build has one over `fetch`. It
//! only moves bytes: the request and the meaning of an answer come from `outpost::sync::http`, so
//! these tests exercise the rules the browser ships. Blocking is fine here: the tests drive one
//! replica per thread.

use std::time::Duration;

use outpost::protocol::{
    ErrorBody, PullRequest, PullResponse, PushRequest, PushResponse, MAX_PULL_WAIT_MS,
};
use outpost::sync::http::{self, HttpRequest};
use outpost::sync::Transport;
use outpost::{Error, Result};
use serde_json::Value as Json;

use crate::primary::Endpoint;

#[derive(Clone)]
pub struct HttpTransport {
    endpoint: Endpoint,
    database: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// The raw answer to a request: status and body text.
#[derive(Clone, Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub body: String,
}

impl RawAnswer {
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{} answered non-JSON {:?}: {e}", self.status, self.body))
    }

    /// The stable code of an error answer.
    pub fn code(&self) -> String {
        let body: ErrorBody = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("{} is not an error body {:?}: {e}", self.status, self.body)
        });
        body.error.code
    }
}

impl HttpTransport {
    pub fn new(endpoint: Endpoint, database: &str) -> HttpTransport {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Long enough for the longest long poll, so a timeout always means a dead primary.
            .timeout_global(Some(Duration::from_millis(MAX_PULL_WAIT_MS + 10_000)))
            .build()
            .into();
        HttpTransport {
            endpoint,
            database: database.to_owned(),
            token: None,
            agent,
        }
    }

    pub fn with_token(mut self, token: &str) -> HttpTransport {
        self.token = Some(token.to_owned());
        self
    }

    /// This replica's database URL, `{base}/v1/db/{database}`; the base moves when the test
    /// primary restarts on another port, so it is read at every request.
    fn database_url(&self) -> String {
        http::database_url(&self.endpoint.url(), &self.database)
    }

    /// POST `body` as it is to the database's `endpoint` and return what came back, whatever the
    /// status; `Err(Offline)` only when no answer arrived.
    /// A pull's rows come as objects, as any client that does not ask for arrays (curl, an older
    /// replica) reads them.
    pub fn post_raw(&self, endpoint: &str, body: &str) -> Result<RawAnswer> {
        self.post_raw_asking(endpoint, body, false)
    }

    /// As [`post_raw`](Self::post_raw), a pull asking for rows as arrays if `arrays`, as a
    /// replica does.
    pub fn post_raw_asking(&self, endpoint: &str, body: &str, arrays: bool) -> Result<RawAnswer> {
        let mut request = HttpRequest::new(
            &self.database_url(),
            endpoint,
            self.token.as_deref(),
            body.as_bytes().to_vec(),
        );
        if !arrays {
            request.headers.retain(|(name, _)| *name != "accept");
        }
        let (status, body) = self.send(&request)?;
        let body = String::from_utf8(body).map_err(|e| {
            Error::Protocol(format!(
                "POST {}: the answer is not UTF-8: {e}",
                request.url
            ))
        })?;
        Ok(RawAnswer { status, body })
    }

    fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        message: &Req,
    ) -> Result<Resp> {
        let (status, body) = self.exchange(endpoint, message)?;
        http::decode(endpoint, status, &body)
    }

    /// `message` sent to `endpoint`; the answer's status and body.
    fn exchange<Req: serde::Serialize>(
        &self,
        endpoint: &str,
        message: &Req,
    ) -> Result<(u16, Vec<u8>)> {
        let request = HttpRequest::json(
            &self.database_url(),
            endpoint,
            self.token.as_deref(),
            message,
        )?;
        self.send(&request)
    }

    /// Moves the bytes; no answer at all (refused, reset, timed out) is `Offline`.
    fn send(&self, request: &HttpRequest) -> Result<(u16, Vec<u8>)> {
        let url = &request.url;
        let mut call = self.agent.post(url);
        for (name, value) in &request.headers {
            call = call.header(*name, value);
        }
        let mut response = call
            .send(&request.body[..])
            .map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| Error::Offline(format!("POST {url}: reading the answer: {e}")))?;
        Ok((status, body))
    }
}

impl Transport for HttpTransport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        self.call(http::PUSH, request)
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        let (status, body) = self.exchange(http::PULL, request)?;
        http::decode_whole_pull(status, body)
    }

    async fn pull_page(&self, request: &PullRequest) -> Result<(PullResponse, Option<Vec<u8>>)> {
        let (status, body) = self.exchange(http::PULL, request)?;
        http::decode_pull(status, body)
    }
}
