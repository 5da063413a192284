//! The test kit of Outpost's native tests, this crate's and the primary's: the real primary over
//! HTTP on 127.0.0.1, clients of its API, and replicas built from the core, each on its own file.
//!
//! # Layout
//!
//! - [`primary`]: [`TestPrimary`], the only way these tests start a primary: the real
//!   `outpost-primary` on a background thread, on the SQLite or the Postgres store, or the
//!   Durable Object primary in workerd ([`Backend`]); stop and start it again on the same data,
//!   read its state and write behind its back.
//! - [`postgres`]: a throwaway PostgreSQL server (scripts/postgres.sh) and a fresh database on it
//!   per primary.
//! - [`http`]: [`HttpTransport`], a native `Transport` with `ureq`, and raw requests for tests
//!   that send what no replica would.
//! - [`api`]: [`Api`], a JSON client of the primary's HTTP API (status and JSON answers), and
//!   GETs for health, static files and CORS.
//! - [`durable`]: the Durable Object primary (`node primary-do/serve.mjs`) as a store of
//!   [`TestPrimary`], and what the kit reaches its objects by.
//! - [`dump`]: [`Dump`], a database's whole state on any store, for "nothing changed" checks.
//! - [`todos`]: the schema the primary's HTTP tests share, in both dialects.
//! - [`team`]: the team app of docs/RULES.md: its schema and sync rules.
//! - [`command`]: [`ServingCommand`], the `outpost-primary` command serving in a child process.
//! - [`faults`]: [`FaultyTransport`], a seeded network that loses, duplicates and delays requests.
//! - [`replica`]: [`Replica`], a database on a file that can die and reopen.
//! - [`restore`]: [`PrimaryBackup`], a backup of a primary's database on either store, and
//!   restoring the primary from it.
//! - [`world`]: [`World`], a primary database with one synced table and replicas of it.

pub mod api;
pub mod command;
pub mod dump;
pub mod durable;
pub mod faults;
pub mod http;
pub mod postgres;
pub mod primary;
pub mod replica;
pub mod restore;
pub mod team;
pub mod todos;
pub mod world;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub use api::Api;
pub use command::ServingCommand;
pub use dump::Dump;
pub use faults::{FaultCounts, Faults, FaultyTransport, Rng};
pub use http::{HttpTransport, RawAnswer};
pub use primary::{Backend, Endpoint, StartFailure, TestPrimary};
pub use replica::Replica;
pub use restore::PrimaryBackup;
pub use world::World;

/// Expand each `fn name(store: Backend)` of a test file into a test per store: `name::sqlite`,
/// `name::postgres` and `name::durable` (the Durable Object primary, in workerd).
#[macro_export]
macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {
        $crate::on_stores!((sqlite Sqlite, postgres Postgres, durable Durable) $($test),*);
    };
}

/// The same on the two servers' stores, SQLite and Postgres: for what the Durable Object
/// primary does not have, or a test that reaches into a server's files.
#[macro_export]
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        $crate::on_stores!((sqlite Sqlite, postgres Postgres) $($test),*);
    };
}

/// A module per test, with a test per store of the list.
#[macro_export]
macro_rules! on_stores {
    ($stores:tt $($test:ident),*) => {
        $($crate::on_stores!(@one $test $stores);)*
    };
    (@one $test:ident ($($store:ident $backend:ident),*)) => {
        mod $test {
            $(
                #[test]
                fn $store() {
                    super::$test($crate::Backend::$backend)
                }
            )*
        }
    };
}

/// A fresh directory for database files, in memory (`/dev/shm`) when the machine has it. The
/// tests make thousands of commits and every one syncs to disk; what they check is what the
/// processes see, not what survives a power cut, so tmpfs keeps them fast without weakening them.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let in_memory = shm
        .is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten();
    in_memory.unwrap_or_else(|| tempfile::tempdir().expect("a temp dir"))
}

/// Run a future to completion on this thread. The transports here block inside their async fns,
/// so a future is almost always ready at the first poll: no executor is needed.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}
