//! The primary's behaviour over HTTP, written once and held by every store: each test in
//! `conformance/` runs on the SQLite store, the Postgres store and the Durable Object primary
//! (primary-do/, in workerd), as `<test>::sqlite`, `<test>::postgres` and `<test>::durable`
//! (`cargo test -p outpost-tests --test store_conformance durable`). What only one store has is
//! tested on that store alone, beside the rest.
//!
//! - `push_pull`: exactly-once pushes, rejections that do not block a batch, drops, tombstones,
//!   paging and read-only queries.
//! - `refusals`: bad input and bad tokens never change state and get a stable code.
//! - `live`: long polls, and writes made behind the server's back.
//! - `rules`: sync rules: users see and write only what the rules allow, moving in and out.
//! - `schemas`: what each store refuses at start, and Postgres' type mapping.
//! - `subsets`: a replica syncing some rows of a table, and changing which, within the rules.
//!
//! What the Durable Object primary does not run, by design: the refusals of a schema at start
//! (`schemas`), since an object opens its store on the first request for its database, not when
//! the runtime starts, and answers every request with the refusal instead (tested beside them,
//! with the same schemas); Postgres' type mapping; and
//! `--databases`, since a namespace has an object for every name (its refusals run without the
//! `UNKNOWN_DATABASE` case). A bad rules file (`rules`) stops the server before it listens; the
//! Durable Object primary answers every request with the same refusal instead.

// The kit's `on_every_store!` and `on_both_stores!`, for every module of the suite.
#[macro_use]
extern crate outpost_tests;

mod conformance;
