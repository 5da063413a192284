//! Writing a row's state into a synced table: used by pulls, by re-applying pending local entries
//! on top of them, and by putting back a row whose mutation the primary rejected. Capture is off
//! whenever these run, so nothing here reaches the outbox.

use rusqlite::{params_from_iter, CachedStatement, Connection};

use super::capture::SyncedTable;
use super::pulled::RowRef;
use crate::protocol::Op;
use crate::sql::{self, quote_ident, Placeholders::Question};
use crate::value::Row;
use crate::{Error, Result, Value};

impl SyncedTable {
    fn check_key(&self, key: &[Value]) -> Result<()> {
        if key.len() == self.key.len() {
            Ok(())
        } else {
            Err(Error::Protocol(format!(
                "a key of {} value(s) for table {} whose key has {} column(s)",
                key.len(),
                self.name,
                self.key.len()
            )))
        }
    }

    /// The key columns, then the row's other columns this table has, with their values: columns
    /// the local table does not have are left out (the primary may be a version ahead).
    fn local_columns<'a>(
        &'a self,
        key: &'a [Value],
        row: RowRef<'a>,
    ) -> (Vec<&'a str>, Vec<&'a Value>) {
        let mut names: Vec<&str> = self.key.iter().map(String::as_str).collect();
        let mut values: Vec<&Value> = key.iter().collect();
        for column in self.columns.iter().filter(|c| !self.key.contains(c)) {
            if let Some(value) = row.get(column) {
                names.push(column);
                values.push(value);
            }
        }
        (names, values)
    }

    /// Insert the row, or overwrite the given columns of an existing row with the same key.
    /// Columns the local table does not have are ignored (the primary may be a version ahead).
    pub(crate) fn upsert(&self, conn: &Connection, key: &[Value], row: RowRef<'_>) -> Result<()> {
        self.check_key(key)?;
        let (names, values) = self.local_columns(key, row);
        // A pulled row has every column: its statement was written once, at open. Building the
        // text again for each row was two thirds of applying a pull (bench, native profile).
        let sql = if names.len() == self.columns.len() {
            std::borrow::Cow::Borrowed(self.full_upsert.as_str())
        } else {
            std::borrow::Cow::Owned(upsert_sql(&self.name, &self.key, &names))
        };
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(values))?;
        Ok(())
    }

    /// Set the given columns of the row with this key, if it exists.
    pub(crate) fn update(&self, conn: &Connection, key: &[Value], columns: &Row) -> Result<()> {
        self.check_key(key)?;
        let changes: Vec<(&String, &Value)> = columns
            .iter()
            .filter(|(c, _)| self.columns.contains(c) && !self.key.contains(c))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = changes.iter().map(|(c, _)| c.as_str()).collect();
        let sql = sql::update(&quote_ident(&self.name), &self.key, &names, Question);
        let values = changes.iter().map(|(_, v)| *v).chain(key.iter());
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(values))?;
        Ok(())
    }

    pub(crate) fn delete(&self, conn: &Connection, key: &[Value]) -> Result<()> {
        self.check_key(key)?;
        conn.prepare_cached(&self.delete_sql())?
            .execute(params_from_iter(key))?;
        Ok(())
    }

    fn delete_sql(&self) -> String {
        sql::delete(&quote_ident(&self.name), &self.key, Question)
    }

    /// Make the local row equal `state` by REPLACE: a row that collides with it on the key or a
    /// UNIQUE column is removed first (see `stage.rs` for when that is right).
    pub(crate) fn replace_state(
        &self,
        conn: &Connection,
        key: &[Value],
        state: Option<RowRef<'_>>,
    ) -> Result<()> {
        let Some(row) = state else {
            return self.delete(conn, key);
        };
        self.check_key(key)?;
        let (names, values) = self.local_columns(key, row);
        let sql = sql::insert(&quote_ident(&self.name), &names, Question).replacen(
            "INSERT INTO",
            "INSERT OR REPLACE INTO",
            1,
        );
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(values))?;
        Ok(())
    }

    /// Make the local row equal `state` (None: no such row).
    pub(crate) fn set_state(
        &self,
        conn: &Connection,
        key: &[Value],
        state: Option<&Row>,
    ) -> Result<()> {
        match state {
            Some(row) => self.upsert(conn, key, row.into()),
            None => self.delete(conn, key),
        }
    }

    /// Re-apply a local mutation (from the outbox) to the row.
    pub(crate) fn replay(
        &self,
        conn: &Connection,
        op: Op,
        key: &[Value],
        columns: &Row,
    ) -> Result<()> {
        match op {
            Op::Insert => self.upsert(conn, key, columns.into()),
            Op::Update => self.update(conn, key, columns),
            Op::Delete => self.delete(conn, key),
        }
    }
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE` of `columns` into the SQLite table `table`, key
/// columns first, bound as ?1, ?2, ...
pub fn upsert_sql(table: &str, key: &[String], columns: &[&str]) -> String {
    sql::upsert(&quote_ident(table), key, columns, Question)
}

/// How a pull writes its row states: in place, or by REPLACE when a UNIQUE column collided
/// (`stage.rs`).
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Writing {
    InPlace,
    Replace,
}

/// Writes many pulled row states, keeping each table's whole-row upsert and its delete prepared
/// from one row to the next: looking them up in the connection's statement cache for every row,
/// and handing them back, was 7.5% of a 100,000-row pull in the wasm (bench/RESULTS.md).
pub(crate) struct StateWriter<'c> {
    conn: &'c Connection,
    writing: Writing,
    /// By the table's position among the synced tables: its upsert of a whole row, its delete.
    held: Vec<(Option<CachedStatement<'c>>, Option<CachedStatement<'c>>)>,
    /// By the table's position: where its columns are among the names of the last page's array
    /// rows of it.
    layouts: Vec<Layout>,
}

/// Where each column of a synced table other than its key is among the column names of a page's
/// array rows, in the order the whole-row upsert binds them. Found once per page: naming each
/// value of each row, and collecting them, was a tenth of applying a pull in the wasm
/// (bench/RESULTS.md).
#[derive(Default)]
struct Layout {
    names: Vec<String>,
    /// None when one of the table's columns is not among the names.
    positions: Option<Vec<usize>>,
}

impl Layout {
    fn of(table: &SyncedTable, names: &[String]) -> Self {
        let others = table.columns.iter().filter(|c| !table.key.contains(c));
        // Of a name given twice the last counts, as `RowRef::get` reads it.
        let positions = others
            .map(|column| names.iter().rposition(|name| name == column))
            .collect();
        Layout {
            names: names.to_vec(),
            positions,
        }
    }
}

impl<'c> StateWriter<'c> {
    pub fn new(conn: &'c Connection, writing: Writing, tables: usize) -> Self {
        StateWriter {
            conn,
            writing,
            held: (0..tables).map(|_| (None, None)).collect(),
            layouts: (0..tables).map(|_| Layout::default()).collect(),
        }
    }

    /// [`SyncedTable::set_state`] or [`SyncedTable::replace_state`], as this writer writes, of
    /// `table`, the synced table at position `index`.
    pub fn write(
        &mut self,
        index: usize,
        table: &SyncedTable,
        key: &[Value],
        state: Option<RowRef<'_>>,
    ) -> Result<()> {
        table.check_key(key)?;
        let (upsert, delete) = &mut self.held[index];
        let Some(row) = state else {
            let delete = match delete {
                Some(held) => held,
                empty => empty.insert(self.conn.prepare_cached(&table.delete_sql())?),
            };
            delete.execute(params_from_iter(key))?;
            return Ok(());
        };
        if let (Writing::InPlace, RowRef::Values(names, values)) = (self.writing, row) {
            let layout = &mut self.layouts[index];
            if layout.names != names {
                *layout = Layout::of(table, names);
            }
            if let Some(positions) = &layout.positions {
                let others = positions.iter().map(|&i| &values[i]);
                held_upsert(self.conn, upsert, table)?
                    .execute(params_from_iter(key.iter().chain(others)))?;
                return Ok(());
            }
        }
        let (names, values) = table.local_columns(key, row);
        if self.writing == Writing::Replace || names.len() != table.columns.len() {
            // REPLACE runs only after a collision; a row without every column comes from a
            // primary of another schema version. Both are rare: their statements are looked up.
            return match self.writing {
                Writing::InPlace => table.upsert(self.conn, key, row),
                Writing::Replace => table.replace_state(self.conn, key, state),
            };
        }
        held_upsert(self.conn, upsert, table)?.execute(params_from_iter(values))?;
        Ok(())
    }
}

/// The table's whole-row upsert, prepared into `held` the first time.
fn held_upsert<'h, 'c>(
    conn: &'c Connection,
    held: &'h mut Option<CachedStatement<'c>>,
    table: &SyncedTable,
) -> Result<&'h mut CachedStatement<'c>> {
    Ok(match held {
        Some(held) => held,
        empty => empty.insert(conn.prepare_cached(&table.full_upsert)?),
    })
}
