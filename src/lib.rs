//! Outpost: a real SQLite database next to the code that reads it, kept in step with a primary.
//!
//! # Layout
//!
//! - [`db`]: the local database: open, migrations, `execute` / `query` / `batch`.
//! - [`sync`]: the outbox triggers, and the sans-IO sync engine that turns the outbox into push
//!   requests and pull answers into local changes. It speaks to the network through [`sync::Transport`].
//! - [`protocol`]: the JSON types exchanged with the primary (`docs/PROTOCOL.md`).
//! - [`sql`]: the text of the row statements sync runs, shared with the primary's dialects.
//! - [`value`], [`error`]: values and the one error type, with stable codes.
//! - [`codes`]: the registry of every error code a user can meet, and SQLite's code names.
//! - `wasm` (wasm32, feature `js`): the JS-facing `Database` class, `fetch`, OPFS. Nothing else depends on it.

pub mod codes;
pub mod db;
pub mod error;
pub mod protocol;
pub mod sql;
pub mod sync;
pub mod value;

#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod wasm;

pub use db::{Database, ExecResult, QueryResult, Statement, Storage};
pub use error::Error;
pub use value::{Params, Row, Value};

pub type Result<T, E = Error> = std::result::Result<T, E>;
