//! Change capture on the replica: temporary triggers on each synced table append one outbox entry
//! per changed row, inside the writing statement's transaction (invariant 1). The triggers are
//! TEMP, rebuilt at every open from the table's current columns, so the file itself never depends
//! on Outpost's SQL functions and any SQLite tool can still read and write it. Rows a REPLACE
//! deletes, which fire no delete trigger, are recorded too (`capture/replaced.rs`).

mod replaced;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction};
use serde::ser::{SerializeMap, Serializer as _};

use crate::protocol::{is_valid_name, quote_ident, MAX_PUSH_BYTES};
use crate::value::WireRef;
use crate::{Error, Result};
use replaced::Replaced;

/// A synced table as the local schema defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncedTable {
    pub name: String,
    pub columns: Vec<String>,
    /// Primary-key columns in key order.
    pub key: Vec<String>,
    /// The upsert of a whole row (key columns first, then the others in table order).
    pub(crate) full_upsert: String,
    /// The SQL that (re)creates this table's capture triggers, set by [`install`].
    pub(crate) capture_sql: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _outpost_meta (key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID;
-- AUTOINCREMENT: a seq is never reused, or the primary would take a new entry for a retry.
CREATE TABLE IF NOT EXISTS _outpost_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl TEXT NOT NULL,
    op TEXT NOT NULL,
    key TEXT NOT NULL,
    columns TEXT NOT NULL,
    -- The primary's version once it acknowledged the entry. The entry stays (and is re-applied
    -- over pulled rows) until a pull reaches that version, so a pull computed before the push
    -- landed cannot briefly undo the local write.
    acked_version INTEGER
);
-- Pulls and pushes settle acknowledged entries by version. Partial, so a write (which adds an
-- unacknowledged entry) never touches it: an index maintained on every write cost a third of
-- capturing one. Pulls find the entries to replay in one pass over the outbox instead.
CREATE INDEX IF NOT EXISTS _outpost_outbox_acked ON _outpost_outbox (acked_version) WHERE acked_version IS NOT NULL;
CREATE TABLE IF NOT EXISTS _outpost_rejected (
    seq INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    op TEXT NOT NULL,
    key TEXT NOT NULL,
    columns TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at INTEGER NOT NULL
);
-- The pages of a pull before its last (stage.rs), each the JSON it came in.
CREATE TABLE IF NOT EXISTS _outpost_stage_pages (ord INTEGER PRIMARY KEY, page BLOB NOT NULL);
-- Rows staged one by one by an older version, read before the pages.
CREATE TABLE IF NOT EXISTS _outpost_stage (
    ord INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    row TEXT
);
INSERT OR IGNORE INTO _outpost_meta (key, value) VALUES ('client_id', 'c' || lower(hex(randomblob(15))));
INSERT OR IGNORE INTO _outpost_meta (key, value) VALUES ('cursor', 0);
";

/// The SQL functions the triggers call. Registered on every connection before any write.
pub(crate) fn register_functions(conn: &Connection, capture: Arc<AtomicBool>) -> Result<()> {
    let pure = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    replaced::register_functions(conn)?;
    conn.create_scalar_function(
        "outpost_capture",
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(capture.load(Ordering::Relaxed)),
    )?;
    conn.create_scalar_function("outpost_key", -1, pure, |ctx| {
        let key: Vec<WireRef<'_>> = (0..ctx.len()).map(|i| WireRef(ctx.get_raw(i))).collect();
        serde_json::to_string(&key).map_err(user_error)
    })?;
    conn.create_scalar_function("outpost_row", -1, pure, |ctx| {
        json_object(
            (0..ctx.len())
                .step_by(2)
                .map(|i| (ctx.get_raw(i), ctx.get_raw(i + 1))),
        )
    })?;
    // outpost_diff('col', OLD.col, NEW.col, ...): the new values of the columns that changed, or
    // NULL when none did, so an UPDATE that changes nothing leaves no entry.
    conn.create_scalar_function("outpost_diff", -1, pure, |ctx| {
        let changed: Vec<(ValueRef<'_>, ValueRef<'_>)> = (0..ctx.len())
            .step_by(3)
            .filter(|&i| ctx.get_raw(i + 1) != ctx.get_raw(i + 2))
            .map(|i| (ctx.get_raw(i), ctx.get_raw(i + 2)))
            .collect();
        if changed.is_empty() {
            Ok(None)
        } else {
            json_object(changed.into_iter()).map(Some)
        }
    })?;
    Ok(())
}

/// `{"name": value, ...}` written straight from the trigger's arguments (a BTreeMap of owned
/// values per row was most of the cost of capturing a write).
fn json_object<'a>(
    pairs: impl Iterator<Item = (ValueRef<'a>, ValueRef<'a>)>,
) -> rusqlite::Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::new(&mut out);
    let mut map = serializer.serialize_map(None).map_err(user_error)?;
    for (name, value) in pairs {
        let name = name
            .as_str()
            .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
        map.serialize_entry(name, &WireRef(value))
            .map_err(user_error)?;
    }
    map.end().map_err(user_error)?;
    if out.len() > MAX_PUSH_BYTES {
        let why = format!(
            "{}this write's row is {} bytes of JSON, and a push carries at most {MAX_PUSH_BYTES}; \
             it could never reach the primary, so it was not made",
            crate::error::TOO_LARGE_MARKER,
            out.len()
        );
        return Err(rusqlite::Error::UserFunctionError(why.into()));
    }
    // serde_json writes only valid UTF-8.
    String::from_utf8(out).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
}

fn user_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(e))
}

/// Create Outpost's tables and the capture triggers of `tables`. Runs inside the open transaction.
pub(crate) fn install(tx: &Transaction<'_>, tables: &[String]) -> Result<Vec<SyncedTable>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute_batch(SCHEMA)?;
    let mut synced = Vec::with_capacity(tables.len());
    for (place, name) in tables.iter().enumerate() {
        let table = describe(tx, name)?;
        let replaced = Replaced::new(&table, place, replaced::unique_columns(tx, &table)?);
        let capture_sql = format!("{}\n{}", replaced.noting_sql(), triggers(&table, &replaced));
        tx.execute_batch(&capture_sql)?;
        synced.push(SyncedTable {
            capture_sql,
            ..table
        });
    }
    Ok(synced)
}

/// Drop the capture triggers of `tables` until [`resume`], inside the caller's transaction (a
/// rollback puts them back). For writes made with capture off: a statement with triggers keeps a
/// journal of every page it changes, in case it must be undone midway, even when each trigger's
/// WHEN is false.
pub(crate) fn suspend(conn: &Connection, tables: &[SyncedTable]) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND tbl_name = ?1 \
         AND substr(name, 1, 9) = '_outpost_'",
    )?;
    let mut drop = String::new();
    for table in tables {
        let names = stmt
            .query_map([&table.name], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for name in names {
            drop.push_str(&format!("DROP TRIGGER temp.{};", quote_ident(&name)));
        }
    }
    conn.execute_batch(&drop)?;
    Ok(())
}

/// Create again the capture triggers [`suspend`] dropped.
pub(crate) fn resume(conn: &Connection, tables: &[SyncedTable]) -> Result<()> {
    for table in tables {
        conn.execute_batch(&table.capture_sql)?;
    }
    Ok(())
}

/// Read a synced table's columns and key from the schema (never from a caller-provided string).
pub(crate) fn describe(conn: &Connection, name: &str) -> Result<SyncedTable> {
    if !is_valid_name(name) {
        return Err(Error::bad_options(format!(
            "\"{name}\" cannot be synced: table names are letters, digits and _, and not reserved"
        )));
    }
    let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let columns: Vec<(String, i64)> = stmt
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if columns.is_empty() {
        return Err(Error::bad_options(format!(
            "synced table \"{name}\" does not exist; create it in a migration"
        )));
    }
    let mut key: Vec<(i64, String)> = columns
        .iter()
        .filter(|(_, pk)| *pk > 0)
        .map(|(c, pk)| (*pk, c.clone()))
        .collect();
    if key.is_empty() {
        return Err(Error::bad_options(format!(
            "synced table \"{name}\" has no PRIMARY KEY; every synced table needs one"
        )));
    }
    if let Some((bad, _)) = columns.iter().find(|(c, _)| !is_valid_name(c)) {
        return Err(Error::bad_options(format!(
            "column \"{bad}\" of synced table \"{name}\" cannot be synced: use letters, digits and _"
        )));
    }
    key.sort();
    let key: Vec<String> = key.into_iter().map(|(_, c)| c).collect();
    let columns: Vec<String> = columns.into_iter().map(|(c, _)| c).collect();
    let ordered: Vec<&str> = key
        .iter()
        .chain(columns.iter().filter(|c| !key.contains(c)))
        .map(String::as_str)
        .collect();
    let full_upsert = super::rows::upsert_sql(name, &key, &ordered);
    Ok(SyncedTable {
        name: name.to_string(),
        columns,
        key,
        full_upsert,
        capture_sql: String::new(),
    })
}

/// The capture triggers. A write that removed rows by REPLACE records their deletes first, so
/// they reach the primary before the row that took their place (`capture/replaced.rs`).
fn triggers(t: &SyncedTable, replaced: &Replaced<'_>) -> String {
    let table = quote_ident(&t.name);
    let literal = format!("'{}'", t.name);
    let trigger = |kind: &str| quote_ident(&format!("_outpost_{kind}_{}", t.name));
    let key_of = |side: &str| {
        let cols: Vec<String> = t
            .key
            .iter()
            .map(|c| format!("{side}.{}", quote_ident(c)))
            .collect();
        format!("outpost_key({})", cols.join(", "))
    };
    let row_of = |side: &str| {
        let args: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("'{c}', {side}.{}", quote_ident(c)))
            .collect();
        format!("outpost_row({})", args.join(", "))
    };
    let same_key: Vec<String> = t
        .key
        .iter()
        .map(|c| format!("OLD.{0} IS NEW.{0}", quote_ident(c)))
        .collect();
    let same_key = same_key.join(" AND ");
    let diff_args: Vec<String> = t
        .columns
        .iter()
        .filter(|c| !t.key.contains(c))
        .map(|c| format!("'{c}', OLD.{0}, NEW.{0}", quote_ident(c)))
        .collect();
    let diff = if diff_args.is_empty() {
        "NULL".to_string()
    } else {
        format!("outpost_diff({})", diff_args.join(", "))
    };
    let insert = |op: &str, key: String, cols: String| {
        format!(
            "INSERT INTO _outpost_outbox (tbl, op, key, columns) VALUES ({literal}, '{op}', {key}, {cols});"
        )
    };
    format!(
        "DROP TRIGGER IF EXISTS temp.{ins};
        CREATE TEMP TRIGGER {ins} AFTER INSERT ON main.{table} WHEN outpost_capture() BEGIN
            {inserted_over}
            {ins_body}
        END;
        DROP TRIGGER IF EXISTS temp.{upd};
        CREATE TEMP TRIGGER {upd} AFTER UPDATE ON main.{table} WHEN outpost_capture() AND {same_key} BEGIN
            {updated_over}
            INSERT INTO _outpost_outbox (tbl, op, key, columns)
            SELECT {literal}, 'update', {new_key}, d FROM (SELECT {diff} AS d) WHERE d IS NOT NULL;
        END;
        DROP TRIGGER IF EXISTS temp.{rekey};
        CREATE TEMP TRIGGER {rekey} AFTER UPDATE ON main.{table} WHEN outpost_capture() AND NOT ({same_key}) BEGIN
            {rekeyed_over}
            {del_old}
            {ins_body}
        END;
        DROP TRIGGER IF EXISTS temp.{del};
        CREATE TEMP TRIGGER {del} AFTER DELETE ON main.{table} WHEN outpost_capture() BEGIN
            {del_old}
        END;",
        ins = trigger("ins"),
        upd = trigger("upd"),
        rekey = trigger("rekey"),
        del = trigger("del"),
        ins_body = insert("insert", key_of("NEW"), row_of("NEW")),
        del_old = insert("delete", key_of("OLD"), "'{}'".into()),
        new_key = key_of("NEW"),
        inserted_over = replaced.inserted_over(),
        updated_over = replaced.updated_over(),
        rekeyed_over = replaced.rekeyed_over(),
    )
}
