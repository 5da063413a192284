//! A database's whole state as text, for "nothing changed" checks: every row of every table,
//! Outpost's own included, each table's rows sorted. Two dumps of one database are equal exactly
//! when no row of any table differs. Each store renders rows its own way (SQLite values, Postgres
//! row literals), so dumps compare within one store, never across.

use std::collections::BTreeMap;
use std::fmt;

use outpost::Value;
use rusqlite::Connection;

use crate::primary::read_rows;

#[derive(Clone, PartialEq, Eq)]
pub struct Dump {
    tables: BTreeMap<String, Vec<String>>,
}

impl Dump {
    /// From each table's rows, in any order.
    pub(crate) fn new(tables: impl IntoIterator<Item = (String, Vec<String>)>) -> Dump {
        let tables = tables
            .into_iter()
            .map(|(table, mut rows)| {
                rows.sort();
                (table, rows)
            })
            .collect();
        Dump { tables }
    }

    /// Every table of the SQLite file behind `conn`.
    pub(crate) fn of_sqlite(conn: &Connection) -> Dump {
        let names = read_rows(
            conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        );
        Dump::new(names.into_iter().map(|name| {
            let Some(Value::Text(table)) = name.into_iter().next() else {
                unreachable!("sqlite_master names are text")
            };
            let rows = read_rows(conn, &format!("SELECT * FROM \"{table}\""));
            let rows = rows.iter().map(|row| format!("{row:?}")).collect();
            (table, rows)
        }))
    }

    /// The same state without `table`: e.g. the change log `_outpost_changes`, whose versions a
    /// retried push moves on purpose.
    pub fn without(mut self, table: &str) -> Dump {
        assert!(
            self.tables.remove(table).is_some(),
            "no table {table} to leave out"
        );
        self
    }

    /// The tables, by name.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }
}

/// One line per row, `table: row`, so a failed comparison shows which rows differ.
impl fmt::Debug for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.tables.iter().flat_map(|(table, rows)| {
            let empty = rows.is_empty().then(|| format!("{table}: (no rows)"));
            let rows = rows.iter().map(move |row| format!("{table}: {row}"));
            empty.into_iter().chain(rows)
        });
        f.debug_list().entries(lines).finish()
    }
}
