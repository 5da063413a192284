//! The connection's one authorizer, installed at open for the connection's whole life: setting an
//! authorizer expires every prepared statement, so it is never swapped, and a statement found in
//! the cache is not compiled (nor checked) again. SQLite calls it only while it compiles a
//! statement, and what it does depends on who is compiling:
//!
//! - the core's own statements (migrations, sync, the savepoints of `batch`): anything goes;
//! - the app's (`execute`, `query`, `batch`, `execute_many`): BEGIN, COMMIT, ROLLBACK, SAVEPOINT and
//!   RELEASE are refused before anything runs. The app's transactions go through
//!   [`Database::begin`], so that sync and other callers keep out of them; a refused statement
//!   never reaches the statement cache, so it is refused every time;
//! - [`Database::statement_tables`]: the tables touched are recorded, nothing is refused.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CStr};

use rusqlite::{ffi, Connection};

use super::tables::StatementTables;
use crate::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compiling {
    Core,
    App,
    Inspect,
}

pub(crate) struct Authorizer {
    compiling: Cell<Compiling>,
    /// The transaction statement the app's last compile was refused for.
    refused: Cell<Option<&'static str>>,
    /// What the statement being inspected touches.
    found: RefCell<StatementTables>,
}

impl Authorizer {
    /// Boxed, so its address stays put once installed.
    pub(crate) fn new() -> Box<Authorizer> {
        Box::new(Authorizer {
            compiling: Cell::new(Compiling::Core),
            refused: Cell::new(None),
            found: RefCell::new(StatementTables::default()),
        })
    }

    /// Installs this authorizer on `conn`, which it must outlive at this address: it is made
    /// boxed (`new`), and the database declares it after the connection, so the connection is
    /// closed first.
    pub(crate) fn install(&self, conn: &Connection) {
        // SAFETY: `self` is the box's heap allocation, which does not move and lives as long as
        // the connection (see above); SQLite calls the callback on this thread only, from inside
        // a prepare, while no other borrow of the authorizer's cells is held.
        unsafe {
            ffi::sqlite3_set_authorizer(
                conn.handle(),
                Some(authorize),
                (self as *const Authorizer).cast_mut().cast(),
            );
        }
    }

    /// Runs `compile` as the app's: a transaction statement fails it with
    /// [`Error::TransactionStatement`].
    pub(crate) fn as_app<T>(&self, compile: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
        self.refused.set(None);
        let compiled = self.compiling_as(Compiling::App, compile);
        match (compiled, self.refused.take()) {
            (Ok(done), _) => Ok(done),
            (Err(_), Some(statement)) => Err(Error::TransactionStatement(format!(
                "{statement} cannot run through execute, query, batch or executeMany: use the \
                 transaction API instead (db.transaction(async (tx) => ...) in JavaScript, \
                 Database::transaction or begin/commit/rollback in Rust), which keeps other \
                 callers and sync out of the transaction until it ends"
            ))),
            (Err(err), None) => Err(err.into()),
        }
    }

    /// Runs `compile` recording what it touches.
    pub(crate) fn inspect(
        &self,
        compile: impl FnOnce() -> rusqlite::Result<()>,
    ) -> Result<StatementTables> {
        self.found.replace(StatementTables::default());
        self.compiling_as(Compiling::Inspect, compile)?;
        Ok(self.found.take())
    }

    fn compiling_as<T>(&self, mode: Compiling, compile: impl FnOnce() -> T) -> T {
        /// Back to the core's mode however `compile` ends.
        struct Restore<'a>(&'a Cell<Compiling>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.set(Compiling::Core);
            }
        }
        self.compiling.set(mode);
        let _restore = Restore(&self.compiling);
        compile()
    }
}

unsafe extern "C" fn authorize(
    user: *mut c_void,
    action: c_int,
    arg1: *const c_char,
    _arg2: *const c_char,
    _database: *const c_char,
    _trigger_or_view: *const c_char,
) -> c_int {
    // SAFETY: `user` is the `Authorizer` installed with this callback, alive while the connection
    // is (see `install`); the strings are SQLite's, valid for this call.
    let authorizer = unsafe { &*user.cast::<Authorizer>() };
    let arg1 = if arg1.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(arg1) }.to_string_lossy())
    };
    match authorizer.compiling.get() {
        Compiling::Core => ffi::SQLITE_OK,
        Compiling::Inspect => {
            authorizer
                .found
                .borrow_mut()
                .record(action, arg1.as_deref());
            ffi::SQLITE_OK
        }
        Compiling::App => match transaction_statement(action, arg1.as_deref()) {
            Some(statement) => {
                authorizer.refused.set(Some(statement));
                ffi::SQLITE_DENY
            }
            None => ffi::SQLITE_OK,
        },
    }
}

/// The statement an action of a transaction or savepoint statement stands for; arg1 is its
/// operation (BEGIN, COMMIT or ROLLBACK for a transaction; BEGIN, RELEASE or ROLLBACK for a
/// savepoint). END is COMMIT to SQLite.
fn transaction_statement(action: c_int, operation: Option<&str>) -> Option<&'static str> {
    let is = |name: &str| operation.is_some_and(|op| op.eq_ignore_ascii_case(name));
    match action {
        ffi::SQLITE_TRANSACTION if is("BEGIN") => Some("BEGIN"),
        ffi::SQLITE_TRANSACTION if is("COMMIT") => Some("COMMIT (or END)"),
        ffi::SQLITE_TRANSACTION => Some("ROLLBACK"),
        ffi::SQLITE_SAVEPOINT if is("BEGIN") => Some("SAVEPOINT"),
        ffi::SQLITE_SAVEPOINT if is("RELEASE") => Some("RELEASE"),
        ffi::SQLITE_SAVEPOINT => Some("ROLLBACK TO"),
        _ => None,
    }
}
