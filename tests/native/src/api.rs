//! A JSON client over the primary's HTTP API, for tests that check answers field by field and
//! send what no replica would: a body in, the status and the JSON answer out. It posts through
//! [`HttpTransport::post_raw`], so its requests carry exactly the headers a replica's do, but for
//! a pull's, which asks for rows as objects as curl or an older replica does
//! ([`Api::pull_arrays`] asks for arrays). Its bodies speak protocol version 1, which every
//! primary answers. GETs and preflights (health, static files, CORS), which no replica sends, go
//! through a plain agent.

use std::sync::OnceLock;
use std::time::Duration;

use outpost::sync::http::{PULL, PUSH, QUERY};
use serde_json::{json, Value as Json};
use ureq::http::{Request, Response};

use crate::primary::Endpoint;
use crate::{HttpTransport, TestPrimary};

/// The client of one database on one primary, with or without a token.
#[derive(Clone)]
pub struct Api {
    endpoint: Endpoint,
    database: String,
    token: Option<String>,
    transport: HttpTransport,
}

impl Api {
    /// Database `database` on the primary at `endpoint`, without a token.
    pub fn new(endpoint: Endpoint, database: &str) -> Api {
        Api {
            transport: HttpTransport::new(endpoint.clone(), database),
            endpoint,
            database: database.to_owned(),
            token: None,
        }
    }

    /// The same client, sending `token` as its bearer token.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            transport: self.transport.clone().with_token(token),
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// The bearer token this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same primary and token, another database.
    pub fn on(&self, database: &str) -> Api {
        let mut transport = HttpTransport::new(self.endpoint.clone(), database);
        if let Some(token) = &self.token {
            transport = transport.with_token(token);
        }
        Api {
            transport,
            database: database.to_owned(),
            ..self.clone()
        }
    }

    /// POST `body` as it is to `endpoint` (`push`, `pull`, `query`) of this client's database;
    /// answers the status and the JSON body, whatever the status. Panics if no answer came or it
    /// is not JSON: the primary answers everything, errors included, in JSON.
    pub fn post_raw(&self, endpoint: &str, body: &str) -> (u16, Json) {
        let answer = self
            .transport
            .post_raw(endpoint, body)
            .unwrap_or_else(|e| panic!("POST {endpoint} to database {}: {e}", self.database));
        (answer.status, answer.json())
    }

    pub fn post(&self, endpoint: &str, body: &Json) -> (u16, Json) {
        self.post_raw(endpoint, &body.to_string())
    }

    /// A POST that must succeed; answers the JSON body.
    pub fn ok(&self, endpoint: &str, body: &Json) -> Json {
        let (status, answer) = self.post(endpoint, body);
        assert_eq!(status, 200, "{endpoint} {body} -> {answer}");
        answer
    }

    /// Push `mutations` (a JSON array) as client `client`.
    pub fn push(&self, client: &str, mutations: Json) -> Json {
        self.ok(
            PUSH,
            &json!({"v": 1, "clientId": client, "mutations": mutations}),
        )
    }

    /// The changes to `tables` after `cursor`, at once.
    pub fn pull(&self, cursor: i64, tables: &[&str]) -> Json {
        self.ok(PULL, &json!({"v": 1, "cursor": cursor, "tables": tables}))
    }

    /// The changes to `tables` after `cursor`, asking for rows as arrays as a replica does.
    pub fn pull_arrays(&self, cursor: i64, tables: &[&str]) -> Json {
        let body = json!({"v": 1, "cursor": cursor, "tables": tables});
        let answer = self
            .transport
            .post_raw_asking(PULL, &body.to_string(), true)
            .unwrap_or_else(|e| panic!("pull of database {}: {e}", self.database));
        assert_eq!(answer.status, 200, "{body} -> {}", answer.body);
        answer.json()
    }

    /// A long poll: the changes after `cursor`, waiting up to `wait` for one.
    pub fn pull_waiting(&self, cursor: i64, tables: &[&str], wait: Duration) -> Json {
        let wait_ms = wait.as_millis() as u64;
        self.ok(
            PULL,
            &json!({"v": 1, "cursor": cursor, "tables": tables, "waitMs": wait_ms}),
        )
    }

    /// At most `limit` changes after `cursor`.
    pub fn pull_page(&self, cursor: i64, tables: &[&str], limit: usize) -> Json {
        self.ok(
            PULL,
            &json!({"v": 1, "cursor": cursor, "tables": tables, "limit": limit}),
        )
    }

    /// Run a read-only statement, in the store's dialect, that must succeed.
    pub fn query(&self, sql: &str) -> Json {
        self.ok(QUERY, &json!({"v": 1, "sql": sql}))
    }

    pub fn query_with(&self, sql: &str, params: Json) -> Json {
        self.ok(QUERY, &json!({"v": 1, "sql": sql, "params": params}))
    }
}

impl TestPrimary {
    /// A JSON client for database `database` on this primary, without a token. It follows the
    /// primary across restarts.
    pub fn api(&self, database: &str) -> Api {
        Api::new(self.endpoint(), database)
    }

    /// GET `path` (`/v1/health`, a static file).
    pub fn get(&self, path: &str) -> Response<Vec<u8>> {
        self.request("GET", path, &[])
    }

    /// Send `method` to `path` with `headers` and no body, as a browser's preflight (`OPTIONS`)
    /// would; answers whatever came back.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Vec<u8>> {
        let url = format!("{}{path}", self.url());
        let mut request = Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(()).expect("a well-formed request");
        let mut response = agent()
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let body = response
            .body_mut()
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{method} {url}: reading the answer: {e}"));
        let (parts, _) = response.into_parts();
        Response::from_parts(parts, body)
    }
}

/// Whether a primary answers `/v1/health` at `url` yet.
pub(crate) fn answers_health(url: &str) -> bool {
    agent()
        .get(format!("{url}/v1/health"))
        .call()
        .is_ok_and(|answer| answer.status() == 200)
}

/// One agent for the requests no replica makes: every status is an answer, and `OPTIONS` may
/// be sent without a body.
pub(crate) fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    })
}
