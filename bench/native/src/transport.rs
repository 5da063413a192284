//! A blocking HTTP transport (ureq, one keep-alive connection per replica) and the trivial
//! executor that drives the core's async `sync` with it: the futures never pend.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use outpost::protocol::{ErrorBody, PullRequest, PullResponse, PushRequest, PushResponse};
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
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    pub fn new(url: &str, database: &str) -> HttpTransport {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        HttpTransport { base: format!("{url}/v1/db/{database}"), agent }
    }

    fn call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(&self, endpoint: &str, request: &Req) -> Result<Resp> {
        let url = format!("{}/{endpoint}", self.base);
        let body = serde_json::to_vec(request).map_err(|e| Error::Protocol(e.to_string()))?;
        let mut response = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&body[..])
            .map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| Error::Offline(format!("POST {url}: {e}")))?;
        if status == 200 {
            return serde_json::from_slice(&text).map_err(|e| Error::Protocol(e.to_string()));
        }
        match serde_json::from_slice::<ErrorBody>(&text) {
            Ok(ErrorBody { error }) => Err(Error::Primary { status, code: error.code, message: error.message }),
            Err(_) => Err(Error::Protocol(format!("{endpoint} answered {status}"))),
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
