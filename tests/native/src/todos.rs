//! The database the primary's HTTP tests share, in each store's dialect: a todo list (`todos`,
//! a text key and a column with a default), its tags (`tags`, a composite key) and notes
//! (`notes`, an integer key and a blob), and the mutation that fills it most often.

use serde_json::{json, Value as Json};

use crate::Backend;

/// The SQLite schema; `tags` has no rowid, so the store cannot lean on one.
pub const SCHEMA: &str = "
CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tags(todo TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(todo, tag)) WITHOUT ROWID;
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
";

/// The same tables for the Postgres store, in its types (docs/POSTGRES.md, "Type mapping"): a
/// blob needs `bytea`, where SQLite's `TEXT` column takes one as it is.
pub const PG_SCHEMA: &str = "
CREATE TABLE todos(id text PRIMARY KEY, title text NOT NULL, done integer NOT NULL DEFAULT 0);
CREATE TABLE tags(todo text NOT NULL, tag text NOT NULL, PRIMARY KEY(todo, tag));
CREATE TABLE notes(id bigint PRIMARY KEY, body bytea);
";

/// The schema in `backend`'s dialect (the Durable Object's storage is SQLite).
pub fn schema(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite | Backend::Durable => SCHEMA,
        Backend::Postgres => PG_SCHEMA,
    }
}

/// The insert of todo `id`, titled `title`, as mutation `seq` of a push.
pub fn insert_todo(seq: i64, id: &str, title: &str) -> Json {
    json!({"seq": seq, "table": "todos", "op": "insert", "key": [id], "columns": {"title": title}})
}
