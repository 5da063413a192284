//! Which tables a statement reads and writes, as SQLite itself sees them: the statement is
//! compiled (never run) with an authorizer installed, which SQLite calls for every table and column
//! the program touches, including through views, triggers and foreign-key actions.
//! `watch()` uses it to re-run only the queries whose tables a write touched.

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_void, CStr};

use rusqlite::{ffi, Connection};

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
        statement_tables(self.conn(), sql)
    }
}

/// Compiles `sql` with an authorizer that records the tables; the statement is finalized unrun.
fn statement_tables(conn: &Connection, sql: &str) -> Result<StatementTables> {
    let mut found = StatementTables::default();
    let handle = unsafe { conn.handle() };
    // SAFETY: `found` outlives the authorizer, which is removed before this function returns, and
    // the connection is used by this thread only (SQLite calls the authorizer synchronously, from
    // inside `prepare`).
    unsafe {
        ffi::sqlite3_set_authorizer(
            handle,
            Some(record),
            (&mut found as *mut StatementTables).cast(),
        );
    }
    let prepared = conn.prepare(sql).map(drop);
    unsafe {
        ffi::sqlite3_set_authorizer(handle, None, std::ptr::null_mut());
    }
    prepared?;
    Ok(found)
}

unsafe extern "C" fn record(
    user: *mut c_void,
    action: c_int,
    arg1: *const c_char,
    _arg2: *const c_char,
    _database: *const c_char,
    _trigger_or_view: *const c_char,
) -> c_int {
    // SAFETY: `user` is the `StatementTables` passed in `statement_tables`, alive and not otherwise
    // borrowed while SQLite prepares; the strings are SQLite's, valid for this call.
    let found = unsafe { &mut *user.cast::<StatementTables>() };
    let name = || {
        if arg1.is_null() {
            None
        } else {
            Some(
                unsafe { CStr::from_ptr(arg1) }
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    };
    match action {
        ffi::SQLITE_READ => found.reads.extend(name().filter(|t| !internal(t))),
        ffi::SQLITE_INSERT | ffi::SQLITE_UPDATE | ffi::SQLITE_DELETE => {
            found.writes.extend(name().filter(|t| !internal(t)))
        }
        // CREATE_INDEX (1) ..= DROP_VIEW (17) are the CREATE and DROP codes, DELETE (9) aside.
        ffi::SQLITE_CREATE_INDEX..=ffi::SQLITE_DROP_VIEW
        | ffi::SQLITE_ALTER_TABLE
        | ffi::SQLITE_CREATE_VTABLE
        | ffi::SQLITE_DROP_VTABLE => found.schema = true,
        // arg1 is the operation: BEGIN, COMMIT or ROLLBACK (transaction); BEGIN, RELEASE or
        // ROLLBACK (savepoint).
        ffi::SQLITE_TRANSACTION | ffi::SQLITE_SAVEPOINT
            if name().is_some_and(|op| op.eq_ignore_ascii_case("ROLLBACK")) =>
        {
            found.rollback = true
        }
        _ => {}
    }
    ffi::SQLITE_OK
}

/// SQLite's own tables (`sqlite_schema`, `sqlite_sequence`, ...): a DDL statement writes the
/// schema table, which `schema` already reports.
fn internal(table: &str) -> bool {
    table.len() >= 7 && table[..7].eq_ignore_ascii_case("sqlite_")
}
