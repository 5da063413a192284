//! Rows deleted by REPLACE. `INSERT OR REPLACE` (or `UPDATE OR REPLACE`, or a constraint declared
//! `ON CONFLICT REPLACE`) deletes every existing row that collides with the new one, on the key or
//! on a UNIQUE index, and SQLite fires no delete trigger for that (only with `recursive_triggers`,
//! which would also make the app's own `updated_at`-style triggers fire themselves). Unrecorded,
//! those deletes would never reach the primary, and an insert over a key the primary has is
//! refused there: the replica would differ for good.
//!
//! So a BEFORE trigger notes, in a TEMP table, the keys of the rows that collide with the row
//! about to be written, and the AFTER trigger that captures the write first records a delete for
//! each noted row the write removed: one that no longer exists, or whose key the written row now
//! has. Notes are read only when they are this write's: the AFTER INSERT trigger asks whether
//! this insert's BEFORE trigger found a collision (`outpost_noted`), and the AFTER UPDATE
//! triggers read them only when the update changed a noted column, for which the BEFORE UPDATE
//! trigger fired. An `INSERT OR IGNORE` that wrote nothing, or an upsert that became an update,
//! fires no AFTER INSERT trigger, so its notes are never recorded.
//!
//! The cost (10,000 inserts in one transaction, natively): an insert probes each unique index
//! (and the key) once more before it is written, about 1.5 us on top of the 3.5 us capturing it
//! costs with the key alone, 2 us with one UNIQUE column besides; an update that leaves the key
//! and the unique columns alone pays nothing measurable.
//!
//! Indexes on expressions are not mirrored (a collision there goes unrecorded); partial indexes
//! are, without their condition: a row noted but not removed is not recorded.

use std::sync::{Arc, Mutex};

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use super::SyncedTable;
use crate::protocol::quote_ident;
use crate::Result;

/// `outpost_collided(table, collides)`, called by each BEFORE INSERT trigger, remembers for its
/// table (by its place among the synced tables) whether the row about to be inserted collides;
/// `outpost_noted(table)`, in the AFTER INSERT trigger, reads it back. So notes left by a write
/// that did not happen (an `INSERT OR IGNORE`) are never read, and need no clearing by every
/// insert: a BEFORE trigger that only probes the unique indexes is most of what this costs.
pub(super) fn register_functions(conn: &Connection) -> Result<()> {
    let collided: Arc<Mutex<Vec<bool>>> = Arc::default();
    let remember = collided.clone();
    conn.create_scalar_function(
        "outpost_collided",
        2,
        FunctionFlags::SQLITE_UTF8,
        move |ctx| {
            let (table, collides) = (ctx.get::<u32>(0)? as usize, ctx.get::<bool>(1)?);
            let mut flags = remember
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if flags.len() <= table {
                flags.resize(table + 1, false);
            }
            flags[table] = collides;
            Ok(collides)
        },
    )?;
    conn.create_scalar_function("outpost_noted", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
        let table = ctx.get::<u32>(0)? as usize;
        let flags = collided
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(flags.get(table).copied().unwrap_or(false))
    })?;
    Ok(())
}

/// One way two rows can collide: equal values, under the index's collation, in these columns.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct UniqueColumns(Vec<(String, String)>);

/// The key, and every UNIQUE index on plain columns: what a REPLACE of a row of `table` can
/// collide on.
pub(super) fn unique_columns(conn: &Connection, table: &SyncedTable) -> Result<Vec<UniqueColumns>> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, origin FROM pragma_index_list(?1) WHERE \"unique\" = 1 ORDER BY seq",
        )?
        .query_map([&table.name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut found = Vec::with_capacity(indexes.len() + 1);
    // An INTEGER PRIMARY KEY is the rowid, with no index of its own to list.
    if !indexes.iter().any(|(_, origin)| origin == "pk") {
        found.push(UniqueColumns(
            table
                .key
                .iter()
                .map(|c| (c.clone(), "BINARY".to_owned()))
                .collect(),
        ));
    }
    let mut columns = conn.prepare(
        "SELECT cid, name, coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno",
    )?;
    for (index, _) in &indexes {
        let parts: Vec<(i64, Option<String>, String)> = columns
            .query_map([index], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // cid -2 is an expression: not mirrored (see the module docs).
        if parts
            .iter()
            .any(|(cid, name, _)| *cid < 0 || name.is_none())
        {
            continue;
        }
        found.push(UniqueColumns(
            parts
                .into_iter()
                .map(|(_, name, coll)| (name.unwrap_or_default(), coll))
                .collect(),
        ));
    }
    Ok(found)
}

/// What the capture triggers of one table need to record REPLACE's deletes.
pub(super) struct Replaced<'a> {
    table: &'a SyncedTable,
    /// The table's place among the synced tables, for `outpost_collided`.
    place: usize,
    unique: Vec<UniqueColumns>,
}

impl<'a> Replaced<'a> {
    pub(super) fn new(table: &'a SyncedTable, place: usize, unique: Vec<UniqueColumns>) -> Self {
        Replaced {
            table,
            place,
            unique,
        }
    }

    fn notes(&self) -> String {
        format!(
            "temp.{}",
            quote_ident(&format!("_outpost_replaced_{}", self.table.name))
        )
    }

    /// The notes table and the BEFORE triggers that fill it.
    pub(super) fn noting_sql(&self) -> String {
        let table = quote_ident(&self.table.name);
        let notes = self.notes();
        let trigger =
            |kind: &str| quote_ident(&format!("_outpost_collide_{kind}_{}", self.table.name));
        let key_columns = self.key_columns("");
        let existing_key = self.key_columns("existing.");
        let collisions = self.collisions();
        let is_old: Vec<String> = self
            .table
            .key
            .iter()
            .map(|c| format!("existing.{0} IS OLD.{0}", quote_ident(c)))
            .collect();
        let is_old = is_old.join(" AND ");
        // Only a change to one of these columns can make an update collide.
        let mut watched: Vec<String> = Vec::new();
        for UniqueColumns(columns) in &self.unique {
            for (column, _) in columns {
                let column = quote_ident(column);
                if !watched.contains(&column) {
                    watched.push(column);
                }
            }
        }
        let watched = watched.join(", ");
        let any_collision: Vec<String> = collisions
            .iter()
            .map(|c| format!("EXISTS (SELECT 1 {c})"))
            .collect();
        // UNION: a row that collides on two sets is noted once.
        let noted = |also: &str| {
            let each: Vec<String> = collisions
                .iter()
                .map(|c| format!("SELECT {existing_key} {c}{also}"))
                .collect();
            each.join(" UNION ")
        };
        format!(
            "DROP TABLE IF EXISTS {notes};
            CREATE TEMP TABLE {bare_notes} ({key_columns});
            DROP TRIGGER IF EXISTS temp.{ins};
            CREATE TEMP TRIGGER {ins} BEFORE INSERT ON main.{table}
            WHEN outpost_capture() AND outpost_collided({place}, {any_collision})
            BEGIN
                DELETE FROM {notes};
                INSERT INTO {notes} ({key_columns}) {noted_insert};
            END;
            DROP TRIGGER IF EXISTS temp.{upd};
            CREATE TEMP TRIGGER {upd} BEFORE UPDATE OF {watched} ON main.{table}
            WHEN outpost_capture()
            BEGIN
                DELETE FROM {notes};
                INSERT INTO {notes} ({key_columns}) {noted_update};
            END;",
            any_collision = any_collision.join(" OR "),
            place = self.place,
            noted_insert = noted(""),
            noted_update = noted(&format!(" AND NOT ({is_old})")),
            bare_notes = quote_ident(&format!("_outpost_replaced_{}", self.table.name)),
            ins = trigger("ins"),
            upd = trigger("upd"),
        )
    }

    /// For the AFTER INSERT trigger, before the inserted row's entry: a delete entry for each
    /// noted row the insert removed, read only when this insert's BEFORE trigger found a
    /// collision (`outpost_noted`: older notes are of writes that did not happen).
    pub(super) fn inserted_over(&self) -> String {
        self.deletes(&format!("outpost_noted({})", self.place))
    }

    /// For the AFTER UPDATE trigger of an update that keeps the key: the same, read only when the
    /// update changed a unique column (for which the BEFORE UPDATE trigger noted). Empty when
    /// there is no unique column besides the key: such an update removes nothing. The condition
    /// reads only OLD and NEW, so SQLite tests it before opening the notes: an update that leaves
    /// the unique columns alone pays nothing for this.
    pub(super) fn updated_over(&self) -> String {
        let mut unchanged: Vec<String> = Vec::new();
        for UniqueColumns(columns) in &self.unique {
            for (column, _) in columns {
                let same = format!("OLD.{0} IS NEW.{0}", quote_ident(column));
                if !self.table.key.contains(column) && !unchanged.contains(&same) {
                    unchanged.push(same);
                }
            }
        }
        if unchanged.is_empty() {
            return String::new();
        }
        self.deletes(&format!("NOT ({})", unchanged.join(" AND ")))
    }

    /// For the AFTER UPDATE trigger of an update that changes the key: the same, always (the key
    /// is a noted column).
    pub(super) fn rekeyed_over(&self) -> String {
        self.deletes("1")
    }

    /// A delete entry for each noted row, when `fresh`, that the write removed: one no longer
    /// there, or whose key the written row now has. In the order noted.
    fn deletes(&self, fresh: &str) -> String {
        let table = quote_ident(&self.table.name);
        let literal = format!("'{}'", self.table.name);
        let notes = self.notes();
        let noted_key = self.key_columns("noted.");
        let is_new: Vec<String> = self
            .table
            .key
            .iter()
            .map(|c| format!("noted.{0} IS NEW.{0}", quote_ident(c)))
            .collect();
        // BINARY: a key under NOCASE that now holds 'A' does not hold the removed 'a'.
        let still_there: Vec<String> = self
            .table
            .key
            .iter()
            .map(|c| format!("existing.{0} IS noted.{0} COLLATE BINARY", quote_ident(c)))
            .collect();
        format!(
            "INSERT INTO _outpost_outbox (tbl, op, key, columns)
            SELECT {literal}, 'delete', outpost_key({noted_key}), '{{}}' FROM {notes} AS noted
            WHERE {fresh} AND (({is_new})
                OR NOT EXISTS (SELECT 1 FROM main.{table} AS existing WHERE {still_there}))
            ORDER BY noted.rowid;",
            is_new = is_new.join(" AND "),
            still_there = still_there.join(" AND "),
        )
    }

    /// For each unique column set, `FROM main.t AS existing WHERE` it equals NEW's: one
    /// condition per set, so each is answered by its own index (an OR of them was planned as a
    /// scan of the table inside the trigger: 600 us an insert at 10,000 rows).
    fn collisions(&self) -> Vec<String> {
        let table = quote_ident(&self.table.name);
        self.unique
            .iter()
            .map(|UniqueColumns(columns)| {
                let all: Vec<String> = columns
                    .iter()
                    .map(|(column, collation)| {
                        format!(
                            "existing.{0} = NEW.{0} COLLATE {1}",
                            quote_ident(column),
                            quote_ident(collation)
                        )
                    })
                    .collect();
                format!("FROM main.{table} AS existing WHERE {}", all.join(" AND "))
            })
            .collect()
    }

    fn key_columns(&self, prefix: &str) -> String {
        let columns: Vec<String> = self
            .table
            .key
            .iter()
            .map(|c| format!("{prefix}{}", quote_ident(c)))
            .collect();
        columns.join(", ")
    }
}
