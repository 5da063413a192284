//! The Worker's side of a request: the paths and methods the server's router has, so a request
//! that reaches no endpoint, or a database it may not open, is refused before any object exists
//! for it. The object checks the token again, for its claims.

use http::StatusCode;
use outpost::codes;
use outpost_primary::error::ApiError;
use outpost_primary::request::database_access;
use outpost_primary::Auth;
use wasm_bindgen::prelude::*;

use crate::Reply;

/// The endpoints of one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Push,
    Pull,
    Query,
}

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Health,
    Database(String, Endpoint),
}

/// The endpoint `method` and `path` name, or the refusal the server gives.
pub fn target(method: &str, path: &str) -> Result<Target, ApiError> {
    let wrong_method = || {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            "this endpoint does not take that method (data endpoints take POST, /v1/health GET)",
        )
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (target, wanted) = match parts.as_slice() {
        ["v1", "health"] => (Target::Health, "GET"),
        ["v1", "db", name, endpoint] if !name.is_empty() => {
            let endpoint = match *endpoint {
                "push" => Endpoint::Push,
                "pull" => Endpoint::Pull,
                "query" => Endpoint::Query,
                _ => return Err(not_found()),
            };
            (Target::Database((*name).to_owned(), endpoint), "POST")
        }
        _ => return Err(not_found()),
    };
    match method == wanted {
        true => Ok(target),
        false => Err(wrong_method()),
    }
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, "no such endpoint")
}

/// The auth a Worker was configured with: tokens signed with `secret`, or none at all.
pub fn auth(secret: Option<String>) -> Auth {
    match secret {
        Some(secret) => Auth::Secret(secret.into_bytes()),
        None => Auth::None,
    }
}

/// For the Worker's `fetch`: a reply naming the database the request goes to, or the answer
/// itself (health, a refusal). `secret` is `None` only when the Worker serves without tokens.
#[wasm_bindgen]
pub fn route(
    method: &str,
    path: &str,
    authorization: Option<String>,
    secret: Option<String>,
) -> Reply {
    let name = match target(method, path) {
        Ok(Target::Health) => return Reply::json(200, r#"{"ok":true}"#.into()),
        Ok(Target::Database(name, _)) => name,
        Err(refusal) => return refusal.into(),
    };
    match database_access(&name, authorization.as_deref(), &auth(secret), None) {
        Ok(_) => Reply {
            database: Some(name),
            ..Reply::json(200, String::new())
        },
        Err(refusal) => refusal.into(),
    }
}
