//! Reading request bodies and checking access, as axum extractors. Both refuse with our own
//! `ErrorBody` (never axum's plain text), and access is checked before the body is read, so an
//! unauthenticated caller learns nothing from how its body was judged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use outpost::codes;
use outpost::protocol::{is_valid_database_name, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::rules::Caller;
use crate::token::verify_token;
use crate::{App, Auth};

/// A JSON body of a protocol version this primary speaks, parsed into `T`.
pub struct ProtocolBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ProtocolBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        codes::BATCH_TOO_LARGE,
                        format!("the body is over {} bytes", crate::MAX_BODY_BYTES),
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        let body: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
        if let Some(literal) = crate::json_numbers::integer_out_of_range(&bytes) {
            return Err(ApiError::bad_request(format!(
                "{literal} is outside the signed 64-bit range of an INTEGER"
            )));
        }
        // The version is checked before the shape: a newer client's body may not fit our types.
        match body.get("v").map(|v| v.as_u64()) {
            Some(Some(v))
                if (u64::from(MIN_PROTOCOL_VERSION)..=u64::from(PROTOCOL_VERSION)).contains(&v) => {
            }
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
        serde_json::from_value(body)
            .map(ProtocolBody)
            .map_err(|e| ApiError::bad_request(format!("malformed request: {e}")))
    }
}

/// The database named in the path, which the caller may use, and who the caller is (the
/// verified token's claims; none without auth).
pub struct DatabaseAccess(pub String, pub Caller);

impl<S: Send + Sync> FromRequestParts<Arc<App<S>>> for DatabaseAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App<S>>) -> Result<Self, ApiError> {
        let Path(name) = Path::<String>::from_request_parts(parts, app)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        if !is_valid_database_name(&name) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::BAD_DATABASE_NAME,
                format!("{name:?} is not a database name: 1-64 of a-z, 0-9, - and _"),
            ));
        }
        let mut caller = Caller::default();
        if let Auth::Secret(secret) = &app.auth {
            let header = parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|h| h.to_str().ok());
            let token = header
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
        if let Some(allowed) = &app.databases {
            if !allowed.contains(&name) {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    codes::UNKNOWN_DATABASE,
                    format!("database {name:?} is not served here"),
                ));
            }
        }
        Ok(DatabaseAccess(name, caller))
    }
}
