//! Reading a request, whatever carries it (axum in the server, a Durable Object's `fetch`): the
//! body of a protocol version this primary speaks, and the caller's access to the database the
//! path names. Access is checked before the body is read, so an unauthenticated caller learns
//! nothing from how its body was judged.

use std::time::Duration;

use http::StatusCode;
use outpost::codes;
use outpost::protocol::{
    is_valid_database_name, PullRequest, PullResponse, PushRequest, ServedPage, MAX_PULL_WAIT_MS,
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::rules::Caller;
use crate::token::verify_token;
use crate::validate::{check_pull, check_push, check_replica_schema};
use crate::{Auth, MAX_BODY_BYTES};

/// A JSON body of a protocol version this primary speaks, parsed into `T`.
pub fn protocol_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(body_too_large());
    }
    // The version is checked before the shape: a newer client's body may not fit our types. It
    // is read on its own, every other field skipped, so the body is parsed into `T` only once
    // (a tree of the whole body first cost 8% of the primary's CPU for a push).
    let version = match serde_json::from_slice::<Version>(bytes) {
        Ok(Version { v }) => v.as_ref().map(serde_json::Value::as_u64),
        Err(e) if e.classify() == serde_json::error::Category::Data => None,
        Err(e) => return Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    };
    if let Some(literal) = crate::json_numbers::integer_out_of_range(bytes) {
        return Err(ApiError::bad_request(format!(
            "{literal} is outside the signed 64-bit range of an INTEGER"
        )));
    }
    match version {
        Some(Some(v))
            if (u64::from(MIN_PROTOCOL_VERSION)..=u64::from(PROTOCOL_VERSION)).contains(&v) => {}
        Some(Some(v)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::UNSUPPORTED_VERSION,
                format!(
                    "protocol version {v} is not supported; this primary speaks \
                     {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
                ),
            ))
        }
        _ => {
            return Err(ApiError::bad_request(
                "the body needs a numeric \"v\" field",
            ))
        }
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed request: {e}")))
}

/// The version field of a body, whatever else it holds.
#[derive(serde::Deserialize)]
struct Version {
    v: Option<serde_json::Value>,
}

/// The refusal of a body over [`MAX_BODY_BYTES`].
pub fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::BATCH_TOO_LARGE,
        format!("the body is over {MAX_BODY_BYTES} bytes"),
    )
}

/// Who may use database `name` with this `Authorization` header value: the verified token's
/// claims (none without auth). `databases`, when given, are the only ones that exist.
pub fn database_access(
    name: &str,
    authorization: Option<&str>,
    auth: &Auth,
    databases: Option<&[String]>,
) -> Result<Caller, ApiError> {
    if !is_valid_database_name(name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_DATABASE_NAME,
            format!("{name:?} is not a database name: 1-64 of a-z, 0-9, - and _"),
        ));
    }
    let mut caller = Caller::default();
    if let Auth::Secret(secret) = auth {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("an Authorization: Bearer <token> header is required")
            })?;
        let claims = verify_token(secret, token.trim())
            .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))?;
        if claims.db != name {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::FORBIDDEN,
                format!("this token opens database {:?}, not {name:?}", claims.db),
            ));
        }
        caller = Caller::from_claims(&claims.all());
    }
    if let Some(allowed) = databases {
        if !allowed.iter().any(|d| d == name) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                codes::UNKNOWN_DATABASE,
                format!("database {name:?} is not served here"),
            ));
        }
    }
    Ok(caller)
}

/// The checks a push passes before any store sees it.
pub fn admit_push(request: &PushRequest, min_replica_schema: u32) -> Result<(), ApiError> {
    check_push(request)?;
    check_replica_schema(request.schema_version, min_replica_schema)
}

/// The checks a pull passes before any store sees it.
pub fn admit_pull(
    request: &PullRequest,
    min_replica_schema: u32,
    has_rules: bool,
) -> Result<(), ApiError> {
    check_pull(request)?;
    check_replica_schema(request.schema_version, min_replica_schema)?;
    // A version-1 replica cannot be told to pull again when its view changes.
    if has_rules && request.v < 2 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::UNSUPPORTED_VERSION,
            "this primary has sync rules, which need protocol version 2",
        ));
    }
    Ok(())
}

/// How long a pull may wait for news (its `waitMs`, at most [`MAX_PULL_WAIT_MS`]).
pub fn pull_wait(request: &PullRequest) -> Duration {
    Duration::from_millis(request.wait_ms.min(MAX_PULL_WAIT_MS))
}

/// Whether a pull's answer is worth sending before its wait is over.
pub fn is_news(answer: &PullResponse<ServedPage>) -> bool {
    !answer.changes.is_empty() || answer.reset || answer.resync
}
