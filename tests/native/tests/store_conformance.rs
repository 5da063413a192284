//! The primary's behaviour over HTTP, written once and held by both stores: every test in
//! `conformance/` runs on the SQLite store and on the Postgres store, as `<test>::sqlite` and
//! `<test>::postgres` (`cargo test -p outpost-tests --test store_conformance postgres`). What
//! only one store has is tested on that store alone, beside the rest.
//!
//! - `push_pull`: exactly-once pushes, rejections that do not block a batch, drops, tombstones,
//!   paging and read-only queries.
//! - `refusals`: bad input and bad tokens never change state and get a stable code.
//! - `live`: long polls, and writes made behind the server's back.
//! - `rules`: sync rules: users see and write only what the rules allow, moving in and out.
//! - `schemas`: what each store refuses at start, and Postgres' type mapping.
//! - `subsets`: a replica syncing some rows of a table, and changing which, within the rules.

/// Expand each `fn name(store: Backend)` into a test per store.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[test]
                fn sqlite() {
                    super::$test(outpost_tests::Backend::Sqlite)
                }

                #[test]
                fn postgres() {
                    super::$test(outpost_tests::Backend::Postgres)
                }
            }
        )*
    };
}

mod conformance;
