//! A blocking HTTP transport (ureq, one keep-alive connection per replica) and the trivial
//! executor that drives the core's async `sync` with it: the futures never pend.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::sync::http::{self, HttpRequest};
use outpost::sync::Transport;
use outpost::{Error, Result};

pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

pub struct HttpTransport {
    database_url: String,
    agent: ureq::Agent,
    /// `$OUTPOST_TOKEN`, for a primary that requires tokens (the pulls under sync rules).
    token: Option<String>,
}

impl HttpTransport {
    pub fn new(url: &str, database: &str) -> HttpTransport {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let token = std::env::var("OUTPOST_TOKEN").ok();
        HttpTransport { database_url: http::database_url(url, database), agent, token }
    }

    fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(&self, endpoint: &str, message: &Req) -> Result<Resp> {
        let request = HttpRequest::json(&self.database_url, endpoint, self.token.as_deref(), message)?;
        let (status, body) = self.send(&request)?;
        http::decode(endpoint, status, &body)
    }

    /// A pull sent; the answer's status and bytes.
    fn exchange(&self, request: &PullRequest) -> Result<(u16, Vec<u8>)> {
        self.send(&HttpRequest::json(&self.database_url, http::PULL, self.token.as_deref(), request)?)
    }

    /// Moves the bytes; no answer at all is `Offline`.
    fn send(&self, request: &HttpRequest) -> Result<(u16, Vec<u8>)> {
        let url = &request.url;
        let mut call = self.agent.post(url);
        for (name, value) in &request.headers {
            call = call.header(*name, value);
        }
        let mut response = call.send(&request.body[..]).map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        // Pull answers of 5000 wide rows pass ureq's default 10 MB limit.
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        Ok((status, body))
    }
}

impl Transport for HttpTransport {
    async fn push(&self, request: &PushRequest) -> Result<PushResponse> {
        self.call(http::PUSH, request)
    }

    async fn pull(&self, request: &PullRequest) -> Result<PullResponse> {
        let (status, body) = self.exchange(request)?;
        http::decode_whole_pull(status, body)
    }

    async fn pull_page(&self, request: &PullRequest) -> Result<(PullResponse, Option<Vec<u8>>)> {
        let (status, body) = self.exchange(request)?;
        http::decode_pull(status, body)
    }
}
