//! Tables that have seen less than the cursor: a backfill. A table this replica begins to sync,
//! or one that gained columns (an app upgrade), must receive the rows the primary already has,
//! and a table the primary does not have yet (the replica is a migration ahead) must receive its
//! rows once the primary gains it. Each such table keeps its own cursor (`_outpost_meta`
//! `behind`, a JSON object), sent with the pull; its changes come in the same version order as
//! the rest, so everything else is not pulled again. Once its cursor reaches the main one, it is
//! simply part of the main cursor again.

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::capture::SyncedTable;
use super::settle::{meta_get, meta_json, meta_set, set_meta_json};
use crate::{Error, Result};

pub(crate) type Behind = BTreeMap<String, i64>;

const BEHIND: &str = "behind";
const SHAPE: &str = "synced_shape";

pub(crate) fn read(conn: &Connection, key: &str) -> Result<Behind> {
    meta_json(conn, key)
}

pub(crate) fn write(conn: &Connection, key: &str, behind: &Behind) -> Result<()> {
    set_meta_json(conn, key, behind)
}

pub(crate) fn stored(conn: &Connection) -> Result<Behind> {
    read(conn, BEHIND)
}

pub(crate) fn store(conn: &Connection, behind: &Behind) -> Result<()> {
    write(conn, BEHIND, behind)
}

/// Where every table stands after a page whose last change is at `reached` (a page that is not
/// the last) or after the last page (`reached` is the answer's cursor, the newest version). Every
/// table has then seen everything up to `reached`, or to its own cursor if that is further: a
/// backfill longer than a page ends its pages below the main cursor, so the main cursor stays
/// and the tables behind move up to `reached`. A table the primary does not have stays where it
/// is (the main cursor for one it has not had yet), to receive its rows once the primary has it.
pub(crate) fn after_page(
    main: i64,
    behind: &Behind,
    reached: i64,
    unknown: &[String],
) -> (i64, Behind) {
    let main_next = main.max(reached);
    let mut next: Behind = behind
        .iter()
        .map(|(table, cursor)| match unknown.contains(table) {
            true => (table.clone(), *cursor),
            false => (table.clone(), (*cursor).max(reached)),
        })
        .filter(|(table, cursor)| *cursor < main_next || unknown.contains(table))
        .collect();
    for table in unknown {
        next.entry(table.clone()).or_insert(main);
    }
    (main_next, next)
}

/// The lowest cursor a pull's answer may end at: a page of a backfill ends below the main
/// cursor, but never below the cursor of the table furthest behind.
pub(crate) fn lowest(main: i64, behind: &Behind) -> i64 {
    behind.values().copied().fold(main, i64::min)
}

/// At open: note which tables and columns are synced, and put behind (at cursor 0) each table
/// that is new to the set or has columns it did not have, so the next pull backfills it. Before
/// the first pull there is nothing to backfill; a replica that kept no note trusts what it has.
pub(crate) fn note_shape(conn: &Connection, synced: &[SyncedTable]) -> Result<()> {
    let shape: BTreeMap<String, Vec<String>> = synced
        .iter()
        .map(|t| {
            let mut columns = t.columns.clone();
            columns.sort();
            (t.name.clone(), columns)
        })
        .collect();
    let cursor: i64 = meta_get(conn, "cursor")?.unwrap_or(0);
    if let (Some(json), true) = (meta_get::<String>(conn, SHAPE)?, cursor > 0) {
        let before: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&json).map_err(|e| Error::Protocol(e.to_string()))?;
        let mut behind = stored(conn)?;
        for (table, columns) in &shape {
            let grew = match before.get(table) {
                None => true,
                Some(had) => columns.iter().any(|c| !had.contains(c)),
            };
            if grew {
                behind.insert(table.clone(), 0);
            }
        }
        store(conn, &behind)?;
    }
    let json = serde_json::to_string(&shape).map_err(|e| Error::Protocol(e.to_string()))?;
    meta_set(conn, SHAPE, json)
}
