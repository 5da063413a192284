//! Checks on the shape of a request that need no schema: a request that fails one is refused
//! whole with a 4xx before any store sees it, so bad input never changes state.

use http::StatusCode;
use outpost::codes;
use outpost::protocol::{
    is_valid_name, PullRequest, PushRequest, MAX_PULL_TABLES, MAX_PUSH_MUTATIONS, MAX_SUBSET_VALUES,
};
use outpost::Value;

use crate::error::ApiError;

/// Long enough for any UUID-like id, short enough to keep the clients table small.
const MAX_CLIENT_ID_LEN: usize = 128;

/// A replica older than the primary's migrations allow (a breaking change, docs/MIGRATIONS.md)
/// is refused before anything is read or applied, so its writes wait in its outbox. One that
/// does not say its version (protocol v1) is taken for the oldest.
pub fn check_replica_schema(version: Option<u32>, min: u32) -> Result<(), ApiError> {
    let version = version.unwrap_or(0);
    if version >= min {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        codes::UPGRADE_REQUIRED,
        format!(
            "this primary serves apps from schema version {min} on, and this replica is at \
             {version}: upgrade the app; its unsent writes wait"
        ),
    ))
}

pub fn check_push(request: &PushRequest) -> Result<(), ApiError> {
    if request.mutations.len() > MAX_PUSH_MUTATIONS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BATCH_TOO_LARGE,
            format!(
                "{} mutations in one push; the most is {MAX_PUSH_MUTATIONS}",
                request.mutations.len()
            ),
        ));
    }
    check_client_id(&request.client_id)?;
    let mut previous: Option<i64> = None;
    for mutation in &request.mutations {
        if !is_valid_name(&mutation.table) {
            return Err(ApiError::bad_name(&mutation.table));
        }
        if let Some(column) = mutation.columns.keys().find(|c| !is_valid_name(c)) {
            return Err(ApiError::bad_name(column));
        }
        if mutation.seq < 1 || previous.is_some_and(|p| mutation.seq <= p) {
            return Err(ApiError::bad_request(format!(
                "seq {} is not positive and above the one before it",
                mutation.seq
            )));
        }
        previous = Some(mutation.seq);
    }
    Ok(())
}

pub fn check_pull(request: &PullRequest) -> Result<(), ApiError> {
    if request.tables.len() > MAX_PULL_TABLES {
        return Err(ApiError::bad_request(format!(
            "{} tables in one pull; the most is {MAX_PULL_TABLES}",
            request.tables.len()
        )));
    }
    if let Some(table) = request.tables.iter().find(|t| !is_valid_name(t)) {
        return Err(ApiError::bad_name(table));
    }
    if request.cursor < 0 {
        return Err(ApiError::bad_request("cursor must not be negative"));
    }
    if let Some(client_id) = &request.client_id {
        check_client_id(client_id)?;
    }
    check_subset(request)
}

/// A subset names tables the pull syncs, one column of each, and at most
/// [`MAX_SUBSET_VALUES`] values, each an integer or a text (what keys and ids are).
fn check_subset(request: &PullRequest) -> Result<(), ApiError> {
    let mut count = 0;
    for (table, subset) in &request.subset {
        if !request.tables.contains(table) {
            return Err(ApiError::bad_request(format!(
                "the subset names table {table}, which the pull does not sync"
            )));
        }
        if !is_valid_name(&subset.column) {
            return Err(ApiError::bad_name(&subset.column));
        }
        let fill = subset.fill.iter().flat_map(|f| f.values.iter());
        for value in subset.values.iter().chain(fill) {
            count += 1;
            if !matches!(value, Value::Integer(_) | Value::Text(_)) {
                return Err(ApiError::bad_request(format!(
                    "a subset of {table} holds a value that is not an integer or a text"
                )));
            }
        }
        if subset.fill.as_ref().is_some_and(|f| f.through < 0) {
            return Err(ApiError::bad_request(
                "a subset's fill must not be negative",
            ));
        }
    }
    if count > MAX_SUBSET_VALUES {
        return Err(ApiError::bad_request(format!(
            "{count} values in the pull's subset; the most is {MAX_SUBSET_VALUES}"
        )));
    }
    Ok(())
}

fn check_client_id(client_id: &str) -> Result<(), ApiError> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(ApiError::bad_request(format!(
            "clientId must be 1 to {MAX_CLIENT_ID_LEN} bytes"
        )));
    }
    Ok(())
}
