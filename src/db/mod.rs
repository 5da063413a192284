//! The local database: one SQLite connection, its migrations, the calls apps make (`execute`,
//! `query`, `batch`, `execute_many`) and the app's transactions (`transaction.rs`). A write to a
//! synced table records its outbox entry through triggers inside the same transaction (see
//! [`crate::sync`]).

mod authorizer;
mod migrate;
pub mod packed;
mod params;
mod tables;
mod transaction;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use crate::sync::capture::{self, SyncedTable};
use crate::{Error, Params, Result, Value};
use authorizer::Authorizer;

pub use tables::StatementTables;

/// Where the database lives.
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// In memory: gone when closed (Cloudflare Workers, Node, tests).
    Memory,
    /// A file for SQLite's default VFS.
    File(PathBuf),
    /// A file in a named VFS (in the browser: the OPFS pool of this database).
    VfsFile { vfs: String, path: String },
}

/// What `open` needs to know.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Applied in order, each exactly once over the life of the database.
    pub migrations: Vec<String>,
    /// Tables whose writes are captured in the outbox. Each must have a PRIMARY KEY.
    pub synced_tables: Vec<String>,
    /// Hold SQLite's file lock for the life of the connection (one connection per database).
    pub exclusive: bool,
}

/// The outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecResult {
    pub rows_affected: u64,
    pub last_insert_rowid: i64,
}

/// A query's columns and rows, rows in column order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// One statement of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Params,
}

/// An open Outpost database.
pub struct Database {
    conn: Connection,
    /// Declared after `conn`, so it is dropped after the connection it is installed on.
    authorizer: Box<Authorizer>,
    /// Off while a pull is being applied, so pulled rows do not go back into the outbox.
    pub(crate) capture: Arc<AtomicBool>,
    pub(crate) synced: Vec<SyncedTable>,
    /// The journal is a WAL (OPFS databases, which hold their lock): see [`BULK_LISTS`].
    wal: bool,
    /// The first outbox seq this open can assign: entries from it on were written since the
    /// file was opened, so after a restore or a copy of the file they are certainly new writes.
    pub(crate) session_first_seq: i64,
    /// The app's schema version: how many migrations it applies. Sent with every push and pull,
    /// so a primary that needs a newer app can say so (`UPGRADE_REQUIRED`).
    pub(crate) schema_version: u32,
    /// How many push requests this open built: each request carries its number.
    pub(crate) push_attempts: AtomicU64,
    /// Every outbox entry below this seq is acknowledged (or gone): a push reads on from it
    /// instead of stepping over the acknowledged entries, which stay until a pull holds them.
    /// Back to 0 wherever entries become unacknowledged again (`settle.rs`).
    pub(crate) push_scan_from: AtomicI64,
    /// Writes set aside with no report yet (by this open's migrations, or by a sync that failed
    /// after it set them aside): the next push, pull or sync reports them.
    pub(crate) unreported: Mutex<Vec<crate::sync::RejectedMutation>>,
}

/// Writes the header's user_version back unchanged: a write, so SQLite opens the WAL and holds it.
/// Until a first write, a WAL database whose log file is absent (after a clean close, or after a
/// bulk load with a rollback journal) checks the files again on every read: ~300 µs per point
/// read on OPFS instead of ~10 (measured).
fn start_wal(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    conn.execute_batch(&format!("PRAGMA user_version = {version};"))?;
    Ok(())
}

/// From this many parameter lists, `execute_many` runs with a rollback journal instead of the
/// WAL. A WAL writes every page twice (once to the log, again at the checkpoint), which is cheap
/// for the few pages of a small commit and the main cost of a bulk load: 100,000 rows in OPFS took
/// ~1.3 s with the WAL and ~0.5 s without (bench/RESULTS.md). Below this, switching costs more
/// than it saves.
pub const BULK_LISTS: usize = 10_000;

impl Database {
    /// Open (creating if needed) and bring the schema up to date. If a migration fails, nothing
    /// of this `open` is kept: the database is exactly as it was.
    pub fn open(storage: &Storage, options: &OpenOptions) -> Result<Self> {
        // Made before `conn`, so it is dropped after it, whichever way this returns.
        let authorizer = Authorizer::new();
        let mut conn = match storage {
            Storage::Memory => Connection::open_in_memory()?,
            Storage::File(path) => Connection::open(path)?,
            Storage::VfsFile { vfs, path } => Connection::open_with_flags_and_vfs(
                path,
                rusqlite::OpenFlags::default(),
                vfs.as_str(),
            )?,
        };
        // Before any statement is compiled.
        authorizer.install(&conn);
        // Foreign keys are what users of a serious database expect; off is SQLite's legacy default.
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        if options.exclusive {
            // One connection per database: holding the lock skips re-checking it on every
            // transaction (measured: a point read ~22 -> ~9 us on OPFS).
            conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")?;
            // WAL under an exclusive lock needs no shared memory (OPFS has none), and a commit
            // is ~2 OPFS writes instead of ~7 with a rollback journal (bench: 4.1 -> 1.5 ms).
            // synchronous stays FULL: a commit that returned is on disk.
            conn.execute_batch("PRAGMA journal_mode = WAL;")?;
        }
        let capture = Arc::new(AtomicBool::new(true));
        capture::register_functions(&conn, capture.clone())?;

        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        migrate::apply(&tx, &options.migrations)?;
        let synced = capture::install(&tx, &options.synced_tables)?;
        if options.exclusive {
            start_wal(&tx)?;
        }
        let (session_first_seq, unfit) = match synced.is_empty() {
            true => (1, Vec::new()),
            false => {
                // A table new to sync, or one with new columns, is backfilled by the next pull.
                crate::sync::note_shape(&tx, &synced)?;
                let unfit = crate::sync::set_aside_unfit(&tx, &synced)?;
                (crate::sync::last_assigned_seq(&tx)? + 1, unfit)
            }
        };
        tx.commit()?;
        Ok(Database {
            conn,
            authorizer,
            capture,
            synced,
            wal: options.exclusive,
            session_first_seq,
            schema_version: options.migrations.len() as u32,
            push_attempts: AtomicU64::new(0),
            push_scan_from: AtomicI64::new(0),
            unreported: Mutex::new(unfit),
        })
    }

    /// Writes set aside without a sync to report them (at open, or by a sync that then failed):
    /// the next push or pull reports them, once.
    pub(crate) fn take_unreported(&self) -> Vec<crate::sync::RejectedMutation> {
        std::mem::take(&mut *self.unreported.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Run one statement (a write, DDL, or anything else) and report what it changed.
    /// Transaction statements are refused (`TRANSACTION_STATEMENT`): see [`Database::begin`].
    pub fn execute(&self, sql: &str, params: &Params) -> Result<ExecResult> {
        let mut stmt = self.prepare_app(sql)?;
        params::bind(&mut stmt, params)?;
        let mut rows = stmt.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        let rows_affected = if stmt.readonly() {
            0
        } else {
            self.conn.changes()
        };
        Ok(ExecResult {
            rows_affected,
            last_insert_rowid: self.conn.last_insert_rowid(),
        })
    }

    /// Rows changed since the connection opened, by every statement and trigger: compared
    /// across a query, it tells whether the query wrote (an `INSERT ... RETURNING`).
    pub fn total_changes(&self) -> u64 {
        self.conn.total_changes()
    }

    /// Run one statement and return its rows.
    pub fn query(&self, sql: &str, params: &Params) -> Result<QueryResult> {
        let mut rows = Vec::new();
        let columns = self.each_row(sql, params, |_, row| {
            rows.push(row.iter().map(|v| Value::from_ref(*v)).collect());
            Ok(())
        })?;
        Ok(QueryResult { columns, rows })
    }

    /// Visit a query's rows (with the column names) without copying them first: the JS binding
    /// builds its objects straight from SQLite's memory. Returns the column names.
    pub fn each_row(
        &self,
        sql: &str,
        params: &Params,
        mut on_row: impl FnMut(&[String], &[ValueRef<'_>]) -> Result<()>,
    ) -> Result<Vec<String>> {
        let mut stmt = self.prepare_app(sql)?;
        params::bind(&mut stmt, params)?;
        let columns: Vec<String> = stmt.column_names().map(String::from).collect();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| row.get_ref(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            on_row(&columns, &values)?;
        }
        Ok(columns)
    }

    /// Run one statement once per parameter list, in one transaction: all rows take effect, or
    /// none. The statement is compiled once, so this is the fast path for bulk inserts.
    pub fn execute_many(&self, sql: &str, param_lists: &[Params]) -> Result<ExecResult> {
        self.run_many(sql, param_lists.len(), |stmt, i| {
            params::bind(stmt, &param_lists[i])
        })
    }

    /// [`Database::execute_many`] with the positional lists packed in one buffer (layout in
    /// [`packed`]): the values are bound straight from the buffer. A malformed buffer is refused
    /// with BAD_PARAMS and changes nothing.
    pub fn execute_many_packed(&self, sql: &str, packed_lists: &[u8]) -> Result<ExecResult> {
        let (mut reader, lists) = packed::PackedLists::new(packed_lists)?;
        self.run_many(sql, lists, |stmt, _| {
            let given = reader.list_len()?;
            params::check_count(stmt, given)?;
            for i in 1..=given {
                stmt.raw_bind_parameter(i, ToSqlOutput::Borrowed(reader.value()?))?;
            }
            Ok(())
        })
    }

    /// Runs one statement, compiled once, `count` times in one savepoint; `bind` binds run `i`.
    fn run_many(
        &self,
        sql: &str,
        count: usize,
        mut bind: impl FnMut(&mut rusqlite::Statement<'_>, usize) -> Result<()>,
    ) -> Result<ExecResult> {
        // The journal mode can change only outside a transaction (not inside one the app opened).
        let bypass_wal = self.wal && count >= BULK_LISTS && self.conn.is_autocommit();
        if bypass_wal {
            self.conn.execute_batch("PRAGMA journal_mode = DELETE;")?;
        }
        let result = self.run_many_in_savepoint(sql, count, &mut bind);
        if bypass_wal {
            // A failure here leaves a rollback journal, which is as safe, only slower to commit;
            // the next open sets the WAL again. The outcome of the writes is what the caller needs.
            let _ = self
                .conn
                .execute_batch("PRAGMA journal_mode = WAL;")
                .map_err(Error::from)
                .and_then(|()| start_wal(&self.conn));
        }
        result
    }

    fn run_many_in_savepoint(
        &self,
        sql: &str,
        count: usize,
        bind: &mut impl FnMut(&mut rusqlite::Statement<'_>, usize) -> Result<()>,
    ) -> Result<ExecResult> {
        self.in_savepoint(|| {
            let mut stmt = self.prepare_app(sql)?;
            let mut rows_affected = 0;
            for i in 0..count {
                bind(&mut stmt, i)?;
                let mut rows = stmt.raw_query();
                while rows.next()?.is_some() {}
                drop(rows);
                if !stmt.readonly() {
                    rows_affected += self.conn.changes();
                }
            }
            Ok(ExecResult {
                rows_affected,
                last_insert_rowid: self.conn.last_insert_rowid(),
            })
        })
    }

    /// Run statements in one transaction: all of them take effect, or none.
    pub fn batch(&self, statements: &[Statement]) -> Result<Vec<ExecResult>> {
        self.in_savepoint(|| {
            statements
                .iter()
                .map(|s| self.execute(&s.sql, &s.params))
                .collect()
        })
    }

    /// Compiles (or finds in the cache) one of the app's statements; a transaction statement is
    /// refused before anything runs (`authorizer.rs`).
    fn prepare_app(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>> {
        self.authorizer.as_app(|| self.conn.prepare_cached(sql))
    }

    fn in_savepoint<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        // A savepoint, not BEGIN, so it also works inside a transaction the app opened.
        self.conn.execute_batch("SAVEPOINT outpost_batch")?;
        match work() {
            Ok(done) => {
                self.conn.execute_batch("RELEASE outpost_batch")?;
                Ok(done)
            }
            Err(err) => {
                self.conn
                    .execute_batch("ROLLBACK TO outpost_batch; RELEASE outpost_batch")?;
                Err(err)
            }
        }
    }

    /// The synced tables, as validated at open.
    pub fn synced_tables(&self) -> impl Iterator<Item = &str> {
        self.synced.iter().map(|t| t.name.as_str())
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Close the connection, reporting any error SQLite has on the way out.
    pub fn close(self) -> Result<()> {
        self.conn.close().map_err(|(_, e)| Error::from(e))
    }
}
