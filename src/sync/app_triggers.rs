//! The app's own triggers while a pull is applied. They fire, as for any write, so what they keep
//! in local tables (a full-text index, a count) follows the pulled rows. What they write into
//! synced tables is undone at the end of the apply: the primary ran the same triggers when the
//! writes reached it, and their results are in the pull; kept here, they would make this replica
//! differ from the primary for good, and pushed, they would bounce between replicas forever.
//!
//! Only databases with triggers on synced tables pay for this: while the pull is written,
//! temporary triggers note the state before the apply of every synced row written; afterwards,
//! with triggers switched off, rows the pull does not hold go back to that state, and rows it
//! holds are written again from it, with this replica's pending writes on top.

use rusqlite::config::DbConfig;
use rusqlite::Connection;

use super::capture::SyncedTable;
use crate::sql::{quote_ident, quote_literal};
use crate::value::Row;
use crate::{Result, Value};

/// Whether any trigger of the app's own (not Outpost's temporary ones) is on a synced table.
pub(crate) fn any_on(conn: &Connection, tables: &[SyncedTable]) -> Result<bool> {
    if tables.is_empty() {
        return Ok(false);
    }
    let names: Vec<String> = tables.iter().map(|t| quote_literal(&t.name)).collect();
    let sql = format!(
        "SELECT count(*) > 0 FROM main.sqlite_master WHERE type = 'trigger' AND tbl_name IN ({})",
        names.join(", ")
    );
    Ok(conn.query_row(&sql, [], |r| r.get(0))?)
}

/// Start noting what the apply writes: the state of each synced row before its first write.
pub(crate) fn start_noting(conn: &Connection, tables: &[SyncedTable]) -> Result<()> {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS _outpost_before \
         (tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT, PRIMARY KEY (tbl, key));
         DELETE FROM temp._outpost_before;",
    );
    for table in tables {
        sql.push_str(&noting_triggers(table));
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

fn noting_triggers(t: &SyncedTable) -> String {
    let name = quote_ident(&t.name);
    let literal = quote_literal(&t.name);
    let key_of = |side: &str| {
        let parts: Vec<String> = t
            .key
            .iter()
            .map(|c| format!("{side}.{}", quote_ident(c)))
            .collect();
        format!("outpost_key({})", parts.join(", "))
    };
    let row_of = |side: &str| {
        let parts: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{}, {side}.{}", quote_literal(c), quote_ident(c)))
            .collect();
        format!("outpost_row({})", parts.join(", "))
    };
    let note = |key: String, row: &str| {
        format!("INSERT OR IGNORE INTO temp._outpost_before VALUES ({literal}, {key}, {row});")
    };
    let trigger = |kind: &str| quote_ident(&format!("_outpost_note_{kind}_{}", t.name));
    format!(
        "CREATE TEMP TRIGGER {ins} AFTER INSERT ON main.{name} BEGIN {ins_note} END;
         CREATE TEMP TRIGGER {upd} BEFORE UPDATE ON main.{name} BEGIN {old_note} {new_note} END;
         CREATE TEMP TRIGGER {del} BEFORE DELETE ON main.{name} BEGIN {old_note} END;",
        ins = trigger("ins"),
        upd = trigger("upd"),
        del = trigger("del"),
        ins_note = note(key_of("NEW"), "NULL"),
        old_note = note(key_of("OLD"), &row_of("OLD")),
        new_note = note(key_of("NEW"), "NULL"),
    )
}

/// A synced row the apply wrote, and its state before the apply (None: it did not exist).
pub(crate) struct Noted {
    pub table: String,
    pub key_json: String,
    pub key: Vec<Value>,
    pub before: Option<Row>,
}

/// Stop noting, and answer every row noted.
pub(crate) fn stop_noting(conn: &Connection, tables: &[SyncedTable]) -> Result<Vec<Noted>> {
    let mut drop = String::new();
    for t in tables {
        for kind in ["ins", "upd", "del"] {
            let trigger = quote_ident(&format!("_outpost_note_{kind}_{}", t.name));
            drop.push_str(&format!("DROP TRIGGER IF EXISTS temp.{trigger};"));
        }
    }
    conn.execute_batch(&drop)?;
    let mut stmt = conn.prepare("SELECT tbl, key, row FROM temp._outpost_before")?;
    let noted = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.execute_batch("DELETE FROM temp._outpost_before")?;
    noted
        .into_iter()
        .map(|(table, key_json, row)| {
            Ok(Noted {
                key: parse(&key_json)?,
                before: row.as_deref().map(parse).transpose()?,
                table,
                key_json,
            })
        })
        .collect()
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| crate::Error::Protocol(format!("a noted row: {e}")))
}

/// Switches every trigger off for as long as it lives (SQLite re-prepares statements on a change).
pub(crate) struct TriggersOff<'a>(&'a Connection);

impl<'a> TriggersOff<'a> {
    pub(crate) fn new(conn: &'a Connection) -> Result<Self> {
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
        Ok(TriggersOff(conn))
    }
}

impl Drop for TriggersOff<'_> {
    fn drop(&mut self) {
        let on = self
            .0
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, true);
        debug_assert!(on.is_ok(), "triggers could not be switched back on");
    }
}
