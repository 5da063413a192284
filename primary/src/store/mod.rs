//! Where the authoritative data lives. The HTTP layer speaks only to the [`Store`] trait, so a
//! Postgres-backed store can replace the embedded SQLite one without touching it. Requests reach a
//! store already checked for shape (version, names, batch size, seq order) by `crate::validate`.
//!
//! The push and pull algorithms are written once (`push.rs`, `pull.rs`) over the statements a
//! dialect provides (`dialect.rs`); `sqlite/` and `postgres/` each hold a dialect and the store
//! that opens its connections, transactions and locks.

// Without the server, parts only its stores use (reading a schema folder, a savepoint's text)
// are unused: the Durable Object store has neither.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
mod dialect;
#[cfg(feature = "durable-object")]
mod durable;
#[cfg_attr(not(feature = "server"), allow(dead_code))]
mod migrations;
#[cfg(feature = "server")]
mod postgres;
mod pull;
mod push;
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) mod ruled;
#[cfg(feature = "server")]
mod sqlite;
mod sqlite_sql;
pub(crate) mod table;

use std::fmt;

use outpost::Value;
use serde::Serialize;

#[cfg(feature = "durable-object")]
pub use durable::{DurableStore, SqlStorage};
pub use migrations::{MARKER as MIGRATION_MARKER, MIN_REPLICA_MARKER as MIN_REPLICA_SCHEMA_MARKER};
#[cfg(feature = "server")]
pub use server::*;

/// The stores of the server and what only they use.
#[cfg(feature = "server")]
mod server {
    use std::future::Future;

    use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse, ServedPage};
    use outpost::Value;
    use tokio::sync::watch;

    pub use super::migrations::read_schema;
    pub use super::postgres::PostgresStore;
    pub use super::sqlite::SqliteStore;
    use super::{QueryAnswer, StoreError};
    use crate::rules::Caller;

    /// The authoritative copy of every database, addressed by database name.
    pub trait Store: Send + Sync + 'static {
        /// Apply a push in one transaction: each mutation with `seq` above the client's
        /// `acked_through` is applied, dropped or rejected, exactly once.
        /// With sync rules, each mutation is also held to its table's write rule for `caller`.
        fn push(
            &self,
            db: &str,
            request: PushRequest,
            caller: Caller,
        ) -> impl Future<Output = Result<PushResponse, StoreError>> + Send;

        /// The changes after `request.cursor`, at once (waiting is the caller's job, see [`Store::changes`]).
        /// With sync rules, only what `caller` may read.
        fn pull(
            &self,
            db: &str,
            request: PullRequest,
            caller: Caller,
        ) -> impl Future<Output = Result<PullResponse<ServedPage>, StoreError>> + Send;

        /// Whether pushes and pulls are held to sync rules (`--rules`).
        fn has_rules(&self) -> bool;

        /// Run one read-only statement.
        fn query(
            &self,
            db: &str,
            sql: String,
            params: Vec<Value>,
        ) -> impl Future<Output = Result<QueryAnswer, StoreError>> + Send;

        /// A signal bumped after every commit that changed `db` through this store. Writes made by
        /// other processes do not bump it: a waiting pull also re-checks on a timer.
        fn changes(
            &self,
            db: &str,
        ) -> impl Future<Output = Result<watch::Receiver<i64>, StoreError>> + Send;
    }

    impl From<rusqlite::Error> for StoreError {
        fn from(err: rusqlite::Error) -> Self {
            StoreError::Internal(err.to_string())
        }
    }
}

/// The oldest replica schema version `schema_sql`'s migrations accept (see
/// [`MIN_REPLICA_SCHEMA_MARKER`]); 0 when any will do.
pub fn min_replica_schema(schema_sql: &str) -> Result<u32, StoreError> {
    migrations::min_replica_schema(&migrations::parse(schema_sql))
}

/// The answer to a read-only query: column names, then rows of values in column order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueryAnswer {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Why a store refused or failed a request. Everything but `Internal` is the caller's fault and
/// leaves the data unchanged.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreError {
    /// A pull named a well-formed table that is not synced.
    UnknownTable(String),
    /// A query would write, or control transactions.
    ReadOnly,
    /// A query failed to prepare or run (syntax, parameters): `code` is SQLite's.
    BadQuery { code: String, message: String },
    /// The store itself failed (I/O, corruption, a bug); the client may retry.
    Internal(String),
    /// A migration failed or was changed (see `migrations.rs`): the database is as it was, and
    /// is not served until the primary's migrations fit it.
    Migration { code: &'static str, message: String },
    /// The store cannot serve at all: a schema Outpost cannot sync, an unreachable database
    /// server, a data directory that cannot be made. Raised at start-up.
    Setup(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::UnknownTable(t) => write!(f, "table {t} is not synced by this database"),
            StoreError::ReadOnly => write!(f, "only read-only statements may be queried"),
            StoreError::BadQuery { message, .. } => write!(f, "{message}"),
            StoreError::Internal(m) | StoreError::Setup(m) => write!(f, "{m}"),
            StoreError::Migration { message, .. } => write!(f, "{message}"),
        }
    }
}

impl StoreError {
    /// The same failure found on the empty database tried before listening: the store cannot
    /// start.
    pub fn at_start(self) -> StoreError {
        match self {
            StoreError::Migration { message, .. } => StoreError::Setup(message),
            other => other,
        }
    }

    /// The same failure, said of database `name` while it was being opened.
    pub fn for_database(self, name: &str) -> StoreError {
        match self {
            StoreError::Migration { code, message } => StoreError::Migration {
                code,
                message: format!("database {name}: {message}"),
            },
            other => StoreError::Internal(format!("database {name}: {other}")),
        }
    }
}

impl std::error::Error for StoreError {}
