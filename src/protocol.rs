//! The wire protocol between a replica and the primary: JSON over HTTP, versioned by the `/v1/` path
//! and by the `v` field of every body. `docs/PROTOCOL.md` describes every field and error code.
//!
//! Endpoints, relative to a database URL such as `http://host/v1/db/app`:
//! `POST {db}/push` takes a [`PushRequest`] and answers a [`PushResponse`];
//! `POST {db}/pull` takes a [`PullRequest`] and answers a [`PullResponse`].
//! Errors answer a 4xx/5xx status with an [`ErrorBody`].

use serde::{Deserialize, Serialize};

use crate::value::{Row, Value};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The most mutations one push may carry; larger batches are refused with `BATCH_TOO_LARGE`.
pub const MAX_PUSH_MUTATIONS: usize = 1000;
/// The most changes one pull answer carries; `more` tells the client to ask again.
pub const MAX_PULL_CHANGES: u32 = 5000;
/// The longest a pull may wait for a change before answering empty.
pub const MAX_PULL_WAIT_MS: u64 = 30_000;

/// What a mutation did to its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Insert the row (or, if the key already exists on the primary, overwrite the given columns).
    Insert,
    /// Set the given columns of the row; dropped if the primary no longer has the row.
    Update,
    /// Delete the row; a no-op if the primary no longer has it.
    Delete,
}

/// One change made on a replica, as recorded in its outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mutation {
    /// The replica's outbox sequence number: strictly increasing per client.
    pub seq: i64,
    pub table: String,
    pub op: Op,
    /// The primary-key values, in the order of the table's primary-key columns.
    pub key: Vec<Value>,
    /// Insert: every column. Update: only the columns that changed. Delete: empty.
    #[serde(default)]
    pub columns: Row,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    pub v: u32,
    /// A stable random id of the replica; the primary remembers per client the highest seq applied.
    pub client_id: String,
    /// In increasing `seq` order.
    pub mutations: Vec<Mutation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    /// Every mutation of this client with `seq <= acked_through` has been applied, dropped or
    /// rejected, exactly once, whatever retries came before.
    pub acked_through: i64,
    /// The primary's change version after this push: a pull whose cursor reaches it sees the result.
    pub version: i64,
    /// The mutations of this request the primary refused (also on a retry of an applied batch).
    pub rejected: Vec<Rejection>,
}

/// A mutation the primary refused. It does not block the mutations behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    pub seq: i64,
    /// `UNKNOWN_TABLE`, `UNKNOWN_COLUMN`, `BAD_KEY`, or SQLite's extended constraint code such as
    /// `SQLITE_CONSTRAINT_NOTNULL`.
    pub code: String,
    pub reason: String,
    /// The primary's current state of the row (None if it has no such row), so the replica can
    /// put its copy back at once instead of waiting for a pull that may never touch this key.
    pub row: Option<Row>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullRequest {
    pub v: u32,
    /// The version the replica has seen everything up to; 0 for a new replica.
    pub cursor: i64,
    /// The tables this replica syncs; changes to others are not sent.
    pub tables: Vec<String>,
    /// If there is nothing after `cursor`, wait up to this long for a change (long poll).
    #[serde(default)]
    pub wait_ms: u64,
    /// At most this many changes (capped by [`MAX_PULL_CHANGES`]).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse {
    /// The latest state of each row changed after the request's cursor, in version order.
    pub changes: Vec<Change>,
    /// The cursor to send next time: the replica has now seen everything up to it.
    pub cursor: i64,
    /// More changes are waiting; ask again at once.
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub version: i64,
    pub table: String,
    pub key: Vec<Value>,
    /// Every column of the row, or None if the row was deleted (a tombstone).
    pub row: Option<Row>,
}

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable: one of the primary's codes in [`crate::codes::ALL`], or a SQLite code name.
    pub code: String,
    pub message: String,
}

/// Whether `name` may be a table or column name on the wire: the primary refuses anything else
/// with `BAD_NAME` before it looks at its schema, and never puts an unchecked name into SQL.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= 128
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_reserved_name(name)
}

/// Outpost's own tables and SQLite's are never synced.
pub fn is_reserved_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("_outpost") || lower.starts_with("sqlite_")
}

/// Database names: 1-64 of lowercase letters, digits, `-` and `_`, starting with a letter or digit.
pub fn is_valid_database_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= 64
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub use crate::sql::quote_ident;
