//! The protocol's HTTP rules, written once for every transport: how a request is built (URL, body,
//! headers) and what an answer `(status, body)` means. A transport only moves the bytes, so `fetch`
//! in the browser and the native clients cannot disagree about, say, a proxy's 502.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

use super::pulled::{StagedChange, StagedPage};
use crate::protocol::{ErrorBody, PullResponse, ROWS_AS_ARRAYS};
use crate::{Error, Result};

/// The endpoints, relative to a database URL (`docs/PROTOCOL.md`, "Endpoints").
pub const PUSH: &str = "push";
pub const PULL: &str = "pull";
pub const QUERY: &str = "query";

/// The URL of database `name` on the primary at `primary_url` (e.g. `http://127.0.0.1:8787`).
pub fn database_url(primary_url: &str, name: &str) -> String {
    format!("{}/v1/db/{name}", primary_url.trim_end_matches('/'))
}

/// One request, ready for any HTTP client to send as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    /// `content-type`, `authorization` with a token, and on a pull `accept`, which asks for rows
    /// as arrays. All three are in the primary's CORS allow-list (`accept` would need no
    /// allow-listing), which is why a page may send them cross-origin.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// Every endpoint a replica calls takes a POST.
    pub const METHOD: &'static str = "POST";

    /// A request carrying `body` as it is: the constructor for tests that send broken bodies.
    pub fn new(database_url: &str, endpoint: &str, token: Option<&str>, body: Vec<u8>) -> Self {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(token) = token {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        if endpoint == PULL {
            headers.push(("accept", ROWS_AS_ARRAYS.to_owned()));
        }
        HttpRequest {
            url: format!("{}/{endpoint}", database_url.trim_end_matches('/')),
            headers,
            body,
        }
    }

    /// A request carrying `message` as JSON.
    pub fn json<Q: Serialize>(
        database_url: &str,
        endpoint: &str,
        token: Option<&str>,
        message: &Q,
    ) -> Result<Self> {
        let body = serde_json::to_vec(message).map_err(|e| Error::Protocol(e.to_string()))?;
        Ok(HttpRequest::new(database_url, endpoint, token, body))
    }
}

/// What the answer to a request to `endpoint` means.
///
/// - 2xx: the answer, or `Protocol` if it is not the JSON this version expects.
/// - an error body (any other status): `Primary` with the primary's status, code and message.
/// - 5xx without one: `Offline`. The primary always sends an error body, so this came from
///   something in front of it (a proxy's 502/503/504, a load balancer with no backend): the primary
///   was not reached, and the outbox waits and retries as for a refused connection.
/// - anything else: `Protocol`, since no proxy fault explains a 4xx or 3xx without a body.
pub fn decode<A: DeserializeOwned>(endpoint: &str, status: u16, body: &[u8]) -> Result<A> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| malformed(endpoint, body, e));
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => Err(Error::Primary {
            status,
            code: error.code,
            message: error.message,
        }),
        Err(_) if status >= 500 => Err(Error::Offline(format!(
            "{endpoint}: answered {status} by something other than the primary"
        ))),
        Err(_) => Err(Error::Protocol(format!(
            "{endpoint}: {status} without an error body: {}",
            excerpt(body)
        ))),
    }
}

fn malformed(endpoint: &str, body: &[u8], error: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("the {endpoint} answer {}: {error}", excerpt(body)))
}

/// The answer to a pull and, for a page that is not the last, its bytes: such a page is read here
/// only as far as its other fields, and staged as it came (`stage.rs`), so its changes are
/// decoded once, when the last page applies them. Decoding them on arrival too was a fifth of a
/// 100,000-row pull in the wasm (bench/RESULTS.md). Rows come as objects or as arrays
/// (`protocol::ServedPage`), whichever the primary sent.
pub fn decode_pull(status: u16, body: Vec<u8>) -> Result<(PullResponse, Option<Vec<u8>>)> {
    let skimmed = super::skim::without_changes(&body);
    let mut header: PullResponse<IgnoredAny> =
        decode(PULL, status, skimmed.as_deref().unwrap_or(&body))?;
    // The column names belong to the page's rows, and are read with them.
    header.columns.clear();
    if header.more {
        return Ok((header.with_changes(Vec::new()), Some(body)));
    }
    Ok((decode_whole_pull(status, body)?, None))
}

/// The answer to a pull, whole: its changes decoded whatever the page, in one reading.
pub fn decode_whole_pull(status: u16, body: Vec<u8>) -> Result<PullResponse> {
    if !(200..300).contains(&status) {
        return decode(PULL, status, &body);
    }
    let mut answer: PullResponse<Vec<StagedChange>> =
        serde_json::from_slice(&body).map_err(|e| malformed(PULL, &body, e))?;
    let page = StagedPage::new(
        std::mem::take(&mut answer.changes),
        std::mem::take(&mut answer.columns),
    );
    let changes = page.into_changes().map_err(|e| malformed(PULL, &body, e))?;
    Ok(answer.with_changes(changes))
}

/// The start of a body, for a message: enough to recognise an HTML error page or a truncation.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    if body.len() > MAX {
        format!("{text:?}…")
    } else {
        format!("{text:?}")
    }
}
