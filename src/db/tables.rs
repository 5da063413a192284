//! Which tables a statement reads and writes, as SQLite itself sees them: the statement is
//! compiled (never run) while the connection's authorizer records what SQLite reports for every
//! table and column the program touches, including through views, triggers and foreign-key
//! actions. `watch()` uses it to re-run only the queries whose tables a write touched.

use std::collections::BTreeSet;
use std::ffi::c_int;

use rusqlite::ffi;

use crate::{Database, Result};

/// What compiling one statement revealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementTables {
    /// Tables whose rows the statement reads (a view counts as the tables under it).
    pub reads: BTreeSet<String>,
    /// Tables whose rows the statement may insert, update or delete (triggers included).
    pub writes: BTreeSet<String>,
    /// CREATE, DROP or ALTER: what any statement reads may have changed.
    pub schema: bool,
    /// ROLLBACK or ROLLBACK TO: earlier writes, of any table, may have been undone.
    pub rollback: bool,
}

impl Database {
    /// The tables `sql` reads and writes, found by compiling it, never running it.
    /// Fails as `prepare` would (syntax error, unknown table).
    pub fn statement_tables(&self, sql: &str) -> Result<StatementTables> {
        // Not through the statement cache: a statement found there would not be compiled.
        self.authorizer
            .inspect(|| self.conn().prepare(sql).map(drop))
    }
}

impl StatementTables {
    /// Notes one action SQLite asks the authorizer about; `arg1` is its first argument.
    pub(super) fn record(&mut self, action: c_int, arg1: Option<&str>) {
        let name = || arg1.map(str::to_owned);
        match action {
            ffi::SQLITE_READ => self.reads.extend(name().filter(|t| !internal(t))),
            ffi::SQLITE_INSERT | ffi::SQLITE_UPDATE | ffi::SQLITE_DELETE => {
                self.writes.extend(name().filter(|t| !internal(t)))
            }
            // CREATE_INDEX (1) ..= DROP_VIEW (17) are the CREATE and DROP codes, DELETE (9) aside.
            ffi::SQLITE_CREATE_INDEX..=ffi::SQLITE_DROP_VIEW
            | ffi::SQLITE_ALTER_TABLE
            | ffi::SQLITE_CREATE_VTABLE
            | ffi::SQLITE_DROP_VTABLE => self.schema = true,
            // arg1 is the operation: BEGIN, COMMIT or ROLLBACK (transaction); BEGIN, RELEASE or
            // ROLLBACK (savepoint).
            ffi::SQLITE_TRANSACTION | ffi::SQLITE_SAVEPOINT
                if arg1.is_some_and(|op| op.eq_ignore_ascii_case("ROLLBACK")) =>
            {
                self.rollback = true
            }
            _ => {}
        }
    }
}

/// SQLite's own tables (`sqlite_schema`, `sqlite_sequence`, ...): a DDL statement writes the
/// schema table, which `schema` already reports.
fn internal(table: &str) -> bool {
    table.len() >= 7 && table[..7].eq_ignore_ascii_case("sqlite_")
}
