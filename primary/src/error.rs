//! Every refusal the HTTP API gives: a status and an `ErrorBody` with a stable code. Built in one
//! place so a client always gets JSON it can parse, never a framework's plain-text error.

use http::StatusCode;
use outpost::codes;
use outpost::protocol::{ErrorBody, ErrorDetail};

use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    pub fn bad_name(name: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::BAD_NAME,
            format!("{name:?} is not a valid table or column name"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHORIZED, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::UnknownTable(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::UNKNOWN_TABLE, message)
            }
            StoreError::ReadOnly => {
                ApiError::new(StatusCode::BAD_REQUEST, codes::READ_ONLY, message)
            }
            StoreError::BadQuery { code, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, &code, message)
            }
            StoreError::Migration { code, .. } => {
                tracing::error!("{message}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
            }
            // The detail (which may quote SQL or paths) goes to the log, never to the caller.
            StoreError::Internal(_) | StoreError::Setup(_) => {
                tracing::error!("store failure: {message}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    "the primary's store failed; the request may be retried (the primary's log \
                     has the detail)",
                )
            }
        }
    }
}

impl ApiError {
    /// The JSON answer every refusal is sent as.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
            },
        }
    }
}

#[cfg(feature = "server")]
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
