//! What the primary knows about a database's synced tables, read from SQLite itself, and the
//! capture triggers that record every change to them in `_outpost_changes`. Only names found here
//! are ever put into SQL, always through `quote_ident`.

use outpost::protocol::is_reserved_name;
use outpost::sql::{quote_ident, quote_literal};
use rusqlite::Connection;

use super::dialect::Kind;
use crate::store::migrations::{self, Applied, Migration};
use crate::store::table::{CatalogColumn, Table, Tables};
use crate::store::StoreError;

pub type Schema = Tables<Kind>;

/// Outpost's own bookkeeping tables. Plain SQL, so a database file stays usable from the sqlite3 shell.
const BOOKKEEPING_SQL: &str = "
CREATE TABLE IF NOT EXISTS _outpost_migrations(
    step INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _outpost_changes(
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY(tbl, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS _outpost_changes_version ON _outpost_changes(version);
CREATE TABLE IF NOT EXISTS _outpost_clients(
    client_id TEXT PRIMARY KEY,
    acked_through INTEGER NOT NULL,
    acked_digest TEXT
);
CREATE TABLE IF NOT EXISTS _outpost_rejections(
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY(client_id, seq)
);
-- One epoch starts each time the store opens the database; a replica's cursor is checked against
-- the epoch it was given in, so a primary restored from a backup is told from the one it knew.
CREATE TABLE IF NOT EXISTS _outpost_epochs(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    first_version INTEGER NOT NULL
);
";

/// Columns added to the bookkeeping tables after their first release, for files made before.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("_outpost_clients", "acked_digest", "TEXT")];

/// Start an epoch at the version after the newest: every version from here on is in it.
pub const START_EPOCH_SQL: &str = "INSERT INTO _outpost_epochs(id, first_version) \
     VALUES ('e' || lower(hex(randomblob(8))), (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes))";

/// Make `conn` ready to serve: apply the migrations of `schema_sql` it lacks (see
/// `migrations.rs`), create the bookkeeping tables and capture triggers if missing, and check
/// every synced table. All in one transaction, so a failure leaves the file as it was.
pub fn prepare(conn: &mut Connection, schema_sql: &str) -> Result<Schema, StoreError> {
    let setup = |e: rusqlite::Error| StoreError::Setup(e.to_string());
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(setup)?;
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(setup)?;
    tx.execute_batch(BOOKKEEPING_SQL).map_err(setup)?;
    apply_migrations(&tx, schema_sql, objects > 0).map_err(|e| match e {
        StoreError::Internal(m) => StoreError::Setup(m),
        other => other,
    })?;
    for (table, column, declared) in ADDED_COLUMNS {
        let present: bool = tx
            .query_row(
                "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column],
                |r| r.get(0),
            )
            .map_err(setup)?;
        if !present {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declared}"
            ))
            .map_err(setup)?;
        }
    }
    let schema = introspect(&tx)?;
    for table in schema.iter() {
        tx.execute_batch(&capture_triggers(table)).map_err(setup)?;
    }
    tx.commit().map_err(setup)?;
    Ok(schema)
}

/// Run the steps the database lacks and record them. A database that has tables but no record
/// was made before steps were recorded, from a schema file: that file was its step 1.
fn apply_migrations(tx: &Connection, schema_sql: &str, had_tables: bool) -> Result<(), StoreError> {
    let steps = migrations::parse(schema_sql);
    let mut applied: Vec<Applied> = tx
        .prepare("SELECT step, name, digest FROM _outpost_migrations ORDER BY step")?
        .query_map([], |r| {
            Ok(Applied {
                step: r.get(0)?,
                name: r.get(1)?,
                digest: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let record = |m: &Migration| {
        tx.execute(
            "INSERT INTO _outpost_migrations(step, name, digest) VALUES (?1, ?2, ?3)",
            (m.step, &m.name, &m.digest),
        )
    };
    if applied.is_empty() && had_tables {
        if let Some(first) = steps.first() {
            record(first)?;
            applied.push(Applied {
                step: first.step,
                name: first.name.clone(),
                digest: first.digest.clone(),
            });
        }
    }
    for step in migrations::pending(&steps, &applied)? {
        tx.execute_batch(&step.sql)
            .map_err(|e| migrations::failed(step, e))?;
        record(step)?;
    }
    Ok(())
}

/// Read the synced tables from `sqlite_master`; the rules for what can be synced are `Tables::add`'s.
fn introspect(conn: &Connection) -> Result<Schema, StoreError> {
    let setup = |e: rusqlite::Error| StoreError::Setup(e.to_string());
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .map_err(setup)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(setup)?;
    let mut schema = Schema::default();
    for name in names.into_iter().filter(|n| !is_reserved_name(n)) {
        let sql = format!(
            "SELECT name, type, pk FROM pragma_table_info({})",
            quote_literal(&name)
        );
        let columns = conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    let declared: String = r.get(1)?;
                    Ok(CatalogColumn {
                        name: r.get(0)?,
                        kind: (),
                        key_capable: is_key_type(&declared),
                        declared,
                        key_position: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(setup)?;
        schema.add(&name, columns)?;
    }
    Ok(schema)
}

/// Keys must survive a trip through JSON unchanged and compare exactly: REAL and BLOB keys do not.
fn is_key_type(declared: &str) -> bool {
    let upper = declared.to_ascii_uppercase();
    let real = ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t));
    !upper.contains("BLOB") && (upper.contains("INT") || !real)
}

/// AFTER triggers that upsert `(table, json key, next version)`. Plain SQL with no custom
/// functions, so writes made by any SQLite client on the file are captured too. SQLite has one
/// writer at a time, so versions commit in increasing order and a pull cursor never skips one.
fn capture_triggers(table: &Table<Kind>) -> String {
    let key_of = |row: &str| {
        let parts: Vec<String> = table
            .key_names
            .iter()
            .map(|c| format!("{row}.{}", quote_ident(c)))
            .collect();
        format!("json_array({})", parts.join(", "))
    };
    let record = |key: &str, condition: &str| {
        format!(
            "INSERT INTO _outpost_changes(tbl, key, version) \
             SELECT {tbl}, {key}, (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes) \
             WHERE {condition} \
             ON CONFLICT(tbl, key) DO UPDATE SET version = excluded.version;",
            tbl = quote_literal(&table.name),
        )
    };
    let trigger = |event: &str, body: String| {
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER {event} ON {} BEGIN {body} END;\n",
            quote_ident(&format!(
                "_outpost_capture_{}_{}",
                table.name,
                event.to_lowercase()
            )),
            quote_ident(&table.name),
        )
    };
    let (old, new) = (key_of("OLD"), key_of("NEW"));
    let key_moved = format!("{old} IS NOT {new}");
    [
        trigger("INSERT", record(&new, "true")),
        // A key change moves the row: the old key becomes a tombstone, the new key a row.
        trigger("UPDATE", record(&old, &key_moved) + &record(&new, "true")),
        trigger("DELETE", record(&old, "true")),
    ]
    .concat()
}
