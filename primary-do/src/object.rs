//! One database's requests, inside the Durable Object that holds it: checked as the server
//! checks them (`outpost_primary::request`), then run on the object's store.

use http::StatusCode;
use outpost::codes;
use outpost::protocol::{pull_answer_json, wants_arrays, PullRequest, PushRequest};
use outpost::Value;
use outpost_primary::error::ApiError;
use outpost_primary::request::{
    admit_pull, admit_push, database_access, is_news, protocol_body, pull_wait,
};
use outpost_primary::rules::Rules;
use outpost_primary::store::{min_replica_schema, DurableStore, SqlStorage, StoreError};
use outpost_primary::Auth;
use serde::Deserialize;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::route::{auth, target, Endpoint, Target};
use crate::Reply;

/// The Durable Object's state: its store, opened on the first request that may use it.
#[wasm_bindgen]
pub struct OutpostDatabase {
    storage: Option<SqlStorage>,
    store: Option<DurableStore>,
    schema_sql: String,
    auth: Auth,
    /// Read once, when the object starts; checked against its tables when the store opens.
    rules: Option<Rules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    #[allow(dead_code)] // checked by `protocol_body` before parsing
    v: u32,
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
}

#[wasm_bindgen]
impl OutpostDatabase {
    /// `storage` is the adapter over `ctx.storage`; `secret` the token secret, `None` to serve
    /// without tokens; `rules` the sync rules' text (docs/RULES.md), from the `OUTPOST_RULES`
    /// binding. Throws when the rules cannot be read, or are given without a secret: they read
    /// the verified token's claims, as `outpost-primary serve --rules` needs `--secret-env`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        storage: SqlStorage,
        schema_sql: String,
        secret: Option<String>,
        rules: Option<String>,
    ) -> Result<OutpostDatabase, JsError> {
        let rules = match (rules, &secret) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(JsError::new(
                    "OUTPOST_RULES needs OUTPOST_SECRET: the rules read the claims of each \
                     request's verified token, and OUTPOST_AUTH = \"none\" has none",
                ))
            }
            (Some(text), Some(_)) => {
                Some(Rules::parse(&text, "OUTPOST_RULES").map_err(|e| JsError::new(&e))?)
            }
        };
        Ok(OutpostDatabase {
            storage: Some(storage),
            store: None,
            schema_sql,
            auth: auth(secret),
            rules,
        })
    }

    /// Answer one request; a pull with nothing new says how long it may wait (`waitMs`), and is
    /// asked again when a push lands or that time is up. `accept` is the request's `Accept`
    /// header: a pull may ask for rows as arrays.
    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        accept: Option<String>,
        body: &[u8],
    ) -> Reply {
        let arrays = accept.as_deref().is_some_and(wants_arrays);
        self.answer(method, path, authorization.as_deref(), arrays, body)
            .unwrap_or_else(Reply::from)
    }

    /// Open the store now if it is not yet (migrations, capture triggers), before the app's own
    /// code writes to the object's SQL directly: the refusal when it cannot be opened.
    pub fn ready(&mut self) -> Option<Reply> {
        self.store().err().map(Reply::from)
    }
}

impl OutpostDatabase {
    fn answer(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        arrays: bool,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
        let (name, endpoint) = match target(method, path)? {
            Target::Database(name, endpoint) => (name, endpoint),
            Target::Health => return Ok(Reply::json(200, r#"{"ok":true}"#.into())),
        };
        let caller = database_access(&name, authorization, &self.auth, None)?;
        let min_replica_schema = min_replica_schema(&self.schema_sql)?;
        match endpoint {
            Endpoint::Push => {
                let request: PushRequest = protocol_body(body)?;
                admit_push(&request, min_replica_schema)?;
                ok(&self.store()?.push(&request, &caller)?)
            }
            Endpoint::Pull => {
                let request: PullRequest = protocol_body(body)?;
                let store = self.store()?;
                admit_pull(&request, min_replica_schema, store.has_rules())?;
                let answer = store.pull(&request, &caller)?;
                let wait_ms = match is_news(&answer) {
                    true => 0,
                    false => pull_wait(&request).as_millis() as u32,
                };
                let body = pull_answer_json(answer, arrays)
                    .ok()
                    .and_then(|json| String::from_utf8(json).ok())
                    .ok_or_else(|| {
                        StoreError::Internal("a pull answer could not be written".into())
                    })?;
                Ok(Reply {
                    wait_ms,
                    ..Reply::json(200, body)
                })
            }
            Endpoint::Query => {
                let request: QueryRequest = protocol_body(body)?;
                ok(&self.store()?.query(&request.sql, &request.params)?)
            }
        }
    }

    /// The store, opened now if it is not yet: a schema that fails leaves it unopened, and the
    /// next request tries again, as the server does with a database file.
    fn store(&mut self) -> Result<&DurableStore, ApiError> {
        if self.store.is_none() {
            let storage = self
                .storage
                .take()
                .ok_or_else(|| StoreError::Internal("the object's storage is gone".into()))?;
            // `open` takes the adapter by value; a failed open hands it back through a clone.
            let retry = storage.clone();
            match DurableStore::open(storage, &self.schema_sql, self.rules.clone()) {
                Ok(store) => self.store = Some(store),
                Err(e) => {
                    self.storage = Some(retry);
                    return Err(not_configured(e));
                }
            }
        }
        Ok(self.store.as_ref().expect("opened above"))
    }
}

/// A store that cannot open for how it is configured (rules that do not fit the schema, a
/// schema Outpost cannot sync) is the server refusing to start, which says why: so does the
/// answer, as the Worker's does for a missing secret.
fn not_configured(error: StoreError) -> ApiError {
    match error {
        StoreError::Setup(message) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            format!("the primary is not configured: {message}"),
        ),
        other => other.into(),
    }
}

fn ok(answer: &impl Serialize) -> Result<Reply, ApiError> {
    let body = serde_json::to_string(answer)
        .map_err(|e| ApiError::from(StoreError::Internal(e.to_string())))?;
    Ok(Reply::json(200, body))
}
