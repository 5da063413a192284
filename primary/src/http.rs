//! The HTTP API: routes, handlers and the long poll. Generic over the [`Store`], so it never
//! knows where data lives. Every answer is JSON; every refusal is an `ErrorBody`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use outpost::codes;
use outpost::protocol::{
    pull_answer_json, wants_arrays, PullRequest, PullResponse, PushRequest, PushResponse,
    ServedPage,
};
use outpost::Value;
use serde::Deserialize;
use tokio::time::{sleep_until, Instant};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::extract::{DatabaseAccess, ProtocolBody};
use crate::request::{admit_pull, admit_push, is_news, pull_wait};
use crate::store::{QueryAnswer, Store, StoreError};
use crate::{App, MAX_BODY_BYTES};

/// How often a waiting pull looks again even without a signal: writes made on the database file
/// by other processes (a backend job, the sqlite3 shell) raise no signal in this one.
const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// How long a browser may keep the answer to a preflight (`Access-Control-Max-Age`).
pub const PREFLIGHT_KEPT: Duration = Duration::from_secs(2 * 60 * 60);

pub fn router<S: Store>(app: Arc<App<S>>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, ACCEPT])
        // Without it a browser keeps a preflight 5 s, and every push after a quiet spell waits a
        // round trip more before it leaves; 2 hours is the most Chromium keeps one.
        .max_age(PREFLIGHT_KEPT);
    let api = Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({ "ok": true })) }),
        )
        .route("/v1/db/{name}/push", post(push::<S>))
        .route("/v1/db/{name}/pull", post(pull::<S>))
        .route("/v1/db/{name}/query", post(query::<S>));
    // A known path with another method: JSON like every answer, not axum's empty 405.
    let api = api.method_not_allowed_fallback(|| async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            "this endpoint does not take that method (data endpoints take POST, /v1/health GET)",
        )
    });
    let api = match &app.static_dir {
        Some(dir) => api.fallback_service(ServeDir::new(dir)),
        None => api.fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such endpoint")
        }),
    };
    api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(app)
}

async fn push<S: Store>(
    State(app): State<Arc<App<S>>>,
    DatabaseAccess(db, caller): DatabaseAccess,
    ProtocolBody(request): ProtocolBody<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    admit_push(&request, app.min_replica_schema)?;
    Ok(Json(app.store.push(&db, request, caller).await?))
}

async fn pull<S: Store>(
    State(app): State<Arc<App<S>>>,
    DatabaseAccess(db, caller): DatabaseAccess,
    headers: HeaderMap,
    ProtocolBody(request): ProtocolBody<PullRequest>,
) -> Result<Response, ApiError> {
    let arrays = headers
        .get(ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(wants_arrays);
    admit_pull(&request, app.min_replica_schema, app.store.has_rules())?;
    let wait = pull_wait(&request);
    // Subscribe before the first read, so a push landing between the read and the wait still wakes us.
    let mut changes = app.store.changes(&db).await?;
    changes.borrow_and_update();
    let mut shutdown = app.shutdown.clone();
    let deadline = Instant::now() + wait;
    loop {
        let answer = app.store.pull(&db, request.clone(), caller.clone()).await?;
        let now = Instant::now();
        if is_news(&answer) || now >= deadline || *shutdown.borrow() {
            return pull_answer(answer, arrays);
        }
        let recheck = (now + RECHECK_EVERY).min(deadline);
        tokio::select! {
            signal = changes.changed() => {
                // The store dropped its sender: fall back to the timer alone.
                if signal.is_err() {
                    sleep_until(recheck).await;
                }
            }
            _ = sleep_until(recheck) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// A pull's answer, with its rows as arrays if the replica asked for them and they can be.
fn pull_answer(answer: PullResponse<ServedPage>, arrays: bool) -> Result<Response, ApiError> {
    let json = pull_answer_json(answer, arrays)
        .map_err(|e| ApiError::from(StoreError::Internal(e.to_string())))?;
    Ok(([(CONTENT_TYPE, "application/json")], json).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    #[allow(dead_code)] // checked by `ProtocolBody` before parsing
    v: u32,
    sql: String,
    #[serde(default)]
    params: Vec<Value>,
}

async fn query<S: Store>(
    State(app): State<Arc<App<S>>>,
    DatabaseAccess(db, _): DatabaseAccess,
    ProtocolBody(request): ProtocolBody<QueryRequest>,
) -> Result<Json<QueryAnswer>, ApiError> {
    Ok(Json(
        app.store.query(&db, request.sql, request.params).await?,
    ))
}
