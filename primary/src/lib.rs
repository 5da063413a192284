//! `outpost-primary`: the reference primary of Outpost. It owns the authoritative copy of each
//! database, applies pushed mutations exactly once and answers pulls, over JSON on HTTP.
//!
//! # Layout
//!
//! - [`http`]: routes, handlers and the long poll, generic over a [`store::Store`].
//! - [`request`]: body parsing and access checks (token, database name, allow-list), whatever
//!   carries the request; `extract` makes them axum extractors.
//! - `validate`: request checks that need no schema; [`error`]: the `ErrorBody` answers.
//! - [`store`]: the `Store` trait, the embedded SQLite store with its capture triggers, and the
//!   PostgreSQL store for many stateless instances on one database (docs/POSTGRES.md).
//! - [`token`]: HS256 bearer tokens, with any extra claims.
//! - [`rules`]: sync rules (`--rules`): which rows a token reads and which writes it may make.
//!
//! Tests start the real server with [`run`] on `127.0.0.1:0`, as `main` does.
//!
//! Feature `server` (default) is the HTTP server and its stores. Without it, what is left
//! compiles to wasm32: with `durable-object`, the store over a Durable Object's storage that
//! `primary-do/` serves from Cloudflare.

pub mod error;
#[cfg(feature = "server")]
mod extract;
#[cfg(feature = "server")]
pub mod http;
mod json_numbers;
pub mod request;
pub mod rules;
pub mod store;
pub mod token;
mod validate;

#[cfg(feature = "server")]
mod server;

pub use rules::Rules;
#[cfg(feature = "server")]
pub use server::{run, serve, App, Config, ServeError};
#[cfg(feature = "server")]
pub use store::{PostgresStore, SqliteStore, Store};
pub use token::{mint_token, mint_token_with};

/// The largest request body accepted; larger ones are refused with `BATCH_TOO_LARGE`.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Whether data requests need a bearer token.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Tokens must be HS256 JWTs signed with this secret.
    Secret(Vec<u8>),
    /// Anyone may use any database: for local development and demos only.
    None,
}
