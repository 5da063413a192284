//! A native [`Transport`] over HTTP/1.1 with `ureq`, as the wasm build has one over `fetch`: JSON
//! bodies to `{base}/v1/db/{name}/push|pull`, an unreachable primary as `Error::Offline`, an
//! error answer as `Error::Primary` with the primary's stable code. Blocking is fine here: the
//! tests drive one replica per thread.

use std::time::Duration;

use outpost::protocol::{
    ErrorBody, PullRequest, PullResponse, PushRequest, PushResponse, MAX_PULL_WAIT_MS,
};
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

    /// POST `body` to `{base}/v1/db/{database}/{endpoint}` and return what came back, whatever
    /// the status; `Err(Offline)` only when no answer arrived.
    pub fn post_raw(&self, endpoint: &str, body: &str) -> Result<RawAnswer> {
        let url = format!("{}/v1/db/{}/{endpoint}", self.endpoint.url(), self.database);
        let mut request = self
            .agent
            .post(&url)
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .send(body)
            .map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Error::Offline(format!("POST {url}: reading the answer: {e}")))?;
        Ok(RawAnswer { status, body })
    }

    fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
        &self,
        endpoint: &str,
        request: &Req,
    ) -> Result<Resp> {
        let body = serde_json::to_string(request).map_err(|e| Error::Protocol(e.to_string()))?;
        let answer = self.post_raw(endpoint, &body)?;
        if answer.status == 200 {
            return serde_json::from_str(&answer.body)
                .map_err(|e| Error::Protocol(format!("{endpoint} answer {:?}: {e}", answer.body)));
        }
        match serde_json::from_str::<ErrorBody>(&answer.body) {
            Ok(ErrorBody { error }) => Err(Error::Primary {
                status: answer.status,
                code: error.code,
                message: error.message,
            }),
            Err(_) => Err(Error::Protocol(format!(
                "{endpoint} answered {} with {:?}",
                answer.status, answer.body
            ))),
        }
    }
}

impl Transport for HttpTransport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        self.call("push", request)
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        self.call("pull", request)
    }
}
