//! The wire protocol between a replica and the primary: JSON over HTTP, versioned by the `/v1/` path
//! and by the `v` field of every body. `docs/PROTOCOL.md` describes every field and error code.
//!
//! Endpoints, relative to a database URL such as `http://host/v1/db/app`:
//! `POST {db}/push` takes a [`PushRequest`] and answers a [`PushResponse`];
//! `POST {db}/pull` takes a [`PullRequest`] and answers a [`PullResponse`].
//! Errors answer a 4xx/5xx status with an [`ErrorBody`].

use serde::{Deserialize, Serialize};

use crate::value::{Row, Value};

mod arrays;
pub use arrays::{
    pull_answer_json, wants_arrays, ColumnNames, PageTable, ServedChange, ServedPage,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 2;
/// The oldest version a primary still answers. A version-1 replica sends none of the fields
/// marked "v2" and reads none of the v2 answer fields (it ignores fields it does not know).
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// The most mutations one push may carry; larger batches are refused with `BATCH_TOO_LARGE`.
pub const MAX_PUSH_MUTATIONS: usize = 1000;
/// The most changes one pull answer carries; `more` tells the client to ask again. A page of
/// narrow rows is then ~1.6 MB as arrays (`MAX_PULL_BYTES` still cuts pages of wide rows): each
/// page is a round trip, and at 5,000 a first sync over a 40 ms network spent most of its time
/// waiting for pages (bench/RESULTS.md: 1.84x faster at 20,000, the same on loopback).
pub const MAX_PULL_CHANGES: u32 = 20_000;
/// A pull answer stops adding rows once their JSON passes this many bytes (it always carries
/// at least one change), so a page of large rows stays far below any body limit.
pub const MAX_PULL_BYTES: usize = 4 * 1024 * 1024;
/// A replica sends pushes of at most this many bytes of mutations, well below the primary's
/// body limit; a single mutation larger than this can never be sent and is refused locally.
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;
/// The most tables one pull may name.
pub const MAX_PULL_TABLES: usize = 1000;
/// The most values a pull's `subset` may name, over all its tables.
pub const MAX_SUBSET_VALUES: usize = 1000;
/// The longest a pull may wait for a change before answering empty.
pub const MAX_PULL_WAIT_MS: u64 = 30_000;
/// The `Accept` header of a replica that reads a pull's rows as arrays ([`ServedPage`]). A
/// primary that does not know it answers rows as objects, which such a replica reads too; a
/// replica that does not send it is never sent arrays. (`Accept` needs no CORS allow-listing.)
pub const ROWS_AS_ARRAYS: &str = "application/json; rows=arrays";

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

impl Mutation {
    /// A short fingerprint of the mutation's content (table, op, key, columns), the same on the
    /// replica and the primary: FNV-1a 64 over its JSON, as 16 hex digits.
    pub fn digest(&self) -> String {
        let content = serde_json::to_vec(&(&self.table, self.op, &self.key, &self.columns))
            .expect("a mutation always serializes");
        format!("{:016x}", fnv1a(&content))
    }
}

/// FNV-1a 64: a fingerprint that is the same on every machine and Rust version, unlike
/// `DefaultHasher`. Not a cryptographic hash.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    pub v: u32,
    /// A stable random id of the replica; the primary remembers per client the highest seq applied.
    pub client_id: String,
    /// In increasing `seq` order.
    pub mutations: Vec<Mutation>,
    /// v2: the highest `seq` this replica has ever assigned. A primary that acknowledged more
    /// for this client knows the replica is not the one it talked to (a restored or copied file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
    /// v2: the highest `acked_through` this replica was ever told. A primary that now has less
    /// for this client lost mutations it acknowledged (restored from a backup, or replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_seen: Option<i64>,
    /// v2: the replica's schema version, the number of migrations its app applies. A primary
    /// whose migrations need a newer one refuses the request with `UPGRADE_REQUIRED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// v2: the oldest `seq` this replica still holds in its outbox, acknowledged or not (its
    /// `last_seq + 1` when it holds none). It never asks about an older one again, so the
    /// primary forgets its refusals below it, and only those: a request delivered late or twice
    /// may name newer mutations than the replica has settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_from: Option<i64>,
    /// Never sent: which push this is of the ones the replica built since it opened. Only the
    /// answer to the newest is applied (see `Database::apply_push_response`).
    #[serde(skip)]
    pub attempt: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    /// Every mutation of this client with `seq <= acked_through` has been applied, dropped or
    /// rejected, exactly once, whatever retries came before.
    pub acked_through: i64,
    /// The primary's change version after this push: a pull whose cursor reaches it sees the result.
    pub version: i64,
    /// The mutations of this request the primary refused (also on a retry of an applied batch).
    pub rejected: Vec<Rejection>,
    /// v2: this client's history on the primary is not the replica's (its file was restored
    /// from a copy, or is open on two devices): nothing was applied. The replica sets aside its
    /// entries up to `acked_through` as rejected (`REPLICA_RESTORED`) and goes on as a new client.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diverged: bool,
    /// v2: the primary has less for this client than it once acknowledged, so it lost mutations
    /// (restored from a backup, or replaced): nothing was applied.
    /// The replica pushes its acknowledged entries again and pulls again from cursor 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// v2: the push stopped before the mutation `seq`, which the primary cannot take yet (its
    /// table or column comes with a migration the primary has not had): it and everything after
    /// it stay pending, and are sent again later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    /// v2: [`Mutation::digest`] of the mutation at `acked_through`, as the primary applied it.
    /// A replica holding other content at that seq is not the one the primary talked to (a
    /// file restored from a copy, which wrote past it): a batch of retries cannot show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_digest: Option<String>,
}

/// Why a push stopped short, without refusing anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    pub seq: i64,
    /// `SCHEMA_AHEAD`.
    pub code: String,
    pub reason: String,
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

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// v2: the replica's id, so the answer says which of its mutations the pulled state holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// v2: the primary's history marker the replica got with `cursor` (see [`PullResponse::epoch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// v2: the replica's oldest outbox seq; refusals from it on are listed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_from: Option<i64>,
    /// v2: tables this replica has seen less of than `cursor`, with the cursor of each: one it
    /// began to sync, gained columns in, or the primary did not have yet (a backfill). Their
    /// changes after their own cursor come in the same version order as the rest.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub behind: std::collections::BTreeMap<String, i64>,
    /// v2: the highest `acked_through` this replica was told before sending this request. That
    /// push committed before this pull arrived, so a pulled state that holds less means the
    /// primary lost it (restored from a backup): the answer is then `reset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_seen: Option<i64>,
    /// v2: the replica's schema version, as in [`PushRequest::schema_version`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// v2: tables this replica syncs only some rows of (within what the rules let it read):
    /// those whose column holds one of the values. Others come as tombstones.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub subset: std::collections::BTreeMap<String, Subset>,
    /// v2: a later page of a pull that began at cursor 0: the replica keeps none of its rows but
    /// the ones this pull sends, so no tombstone is needed for rows it may not read or that are
    /// out of its subset (as from cursor 0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_scratch: bool,
}

/// The rows of a table a replica syncs: those whose `column` holds one of `values`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    pub column: String,
    pub values: Vec<Value>,
    /// Values the subset gained while the replica already held the rest: the table is then in
    /// `behind` at its own cursor, and its changes up to `through` (which the replica has seen)
    /// are sent only for rows holding one of these values, never as tombstones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<SubsetFill>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubsetFill {
    pub values: Vec<Value>,
    pub through: i64,
}

impl Subset {
    /// Whether a row is in the subset, given the value of its `column` (None: no row).
    pub fn holds(&self, value: Option<&Value>) -> bool {
        holds(&self.values, value)
    }

    /// Whether a row is one the fill must send, given the value of its `column`.
    pub fn fills(&self, value: Option<&Value>) -> bool {
        self.fill
            .as_ref()
            .is_some_and(|fill| holds(&fill.values, value))
    }
}

/// Values compare as they are stored: the integer 1 is not the text '1'.
fn holds(values: &[Value], value: Option<&Value>) -> bool {
    value.is_some_and(|v| values.contains(v))
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse<C = Vec<Change>> {
    /// The latest state of each row changed after the request's cursor, in version order. (A
    /// replica may read an answer with `C` = `serde::de::IgnoredAny` to see only the rest.)
    pub changes: C,
    /// The cursor to send next time: the replica has now seen everything up to it.
    pub cursor: i64,
    /// More changes are waiting; ask again at once.
    pub more: bool,
    /// v2 (with `clientId`): the highest seq of this client applied (or rejected) in the state
    /// this answer was read from. Entries up to it are part of that state: the replica must not
    /// replay them over it, and drops them; later entries it replays on top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_through: Option<i64>,
    /// v2: [`Mutation::digest`] of the mutation at `acked_through`, so the replica can tell its
    /// own history from another copy's with the same client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_digest: Option<String>,
    /// v2: the refusals among this client's mutations up to `acked_through`, from `seq` on, as
    /// the push answer would have listed them: a pull that settles an entry also reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejection>,
    /// v2: a marker of the primary's history at `cursor`; sent back with the cursor next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// v2: the request's cursor is not in this primary's history (it was restored from a backup
    /// or replaced): nothing else is in the answer; pull again from cursor 0 and push again
    /// what was acknowledged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// v2, with sync rules: which rows this replica may read changed without those rows
    /// changing (a membership it reads through, its token's claims, the rules): nothing else is
    /// in the answer; pull again from cursor 0, and let the last page replace every synced row.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resync: bool,
    /// v2: requested tables this primary does not sync (yet: a replica a migration ahead). The
    /// other tables are answered; these stay where they are until the primary has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_tables: Vec<String>,
    /// With rows as arrays ([`ROWS_AS_ARRAYS`]): each table's column names, in the order of the
    /// values of its rows in `changes`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub columns: ColumnNames,
}

impl<C> PullResponse<C> {
    /// This answer with `changes` in place of its own.
    pub fn with_changes<D>(self, changes: D) -> PullResponse<D> {
        PullResponse {
            changes,
            cursor: self.cursor,
            more: self.more,
            acked_through: self.acked_through,
            acked_digest: self.acked_digest,
            rejected: self.rejected,
            epoch: self.epoch,
            reset: self.reset,
            resync: self.resync,
            unknown_tables: self.unknown_tables,
            columns: self.columns,
        }
    }
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
