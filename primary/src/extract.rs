//! Reading request bodies and checking access (`request.rs`), as axum extractors. Both refuse
//! with our own `ErrorBody` (never axum's plain text), and access is checked before the body is
//! read, so an unauthenticated caller learns nothing from how its body was judged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::request;
use crate::rules::Caller;
use crate::App;

/// A JSON body of a protocol version this primary speaks, parsed into `T` (`request.rs`).
pub struct ProtocolBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ProtocolBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    request::body_too_large()
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        request::protocol_body(&bytes).map(ProtocolBody)
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
        let authorization = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let caller =
            request::database_access(&name, authorization, &app.auth, app.databases.as_deref())?;
        Ok(DatabaseAccess(name, caller))
    }
}
