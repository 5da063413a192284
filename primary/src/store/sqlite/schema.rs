//! What the primary knows about a database's synced tables, read from SQLite itself, and the
//! capture triggers that record every change to them in `_outpost_changes`. Only names found here
//! are ever put into SQL, always through `quote_ident`.

use std::collections::BTreeMap;

use outpost::protocol::is_reserved_name;
use rusqlite::Connection;

use super::dialect::Kind;
use crate::store::migrations::{self, Applied, Migration};
use crate::store::sqlite_sql as text;
use crate::store::table::{CatalogColumn, Tables};
use crate::store::StoreError;

pub type Schema = Tables<Kind>;

/// Make `conn` ready to serve: apply the migrations of `schema_sql` it lacks (see
/// `migrations.rs`), create the bookkeeping tables and capture triggers if missing, and check
/// every synced table. All in one transaction, so a failure leaves the file as it was.
pub fn prepare(conn: &mut Connection, schema_sql: &str) -> Result<Schema, StoreError> {
    let setup = |e: rusqlite::Error| StoreError::Setup(e.to_string());
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(setup)?;
    let objects: i64 = tx
        .query_row(text::OBJECT_COUNT, [], |r| r.get(0))
        .map_err(setup)?;
    tx.execute_batch(text::BOOKKEEPING).map_err(setup)?;
    apply_migrations(&tx, schema_sql, objects > 0).map_err(|e| match e {
        StoreError::Internal(m) => StoreError::Setup(m),
        other => other,
    })?;
    for (table, column, declared) in text::ADDED_COLUMNS {
        let present: bool = tx
            .query_row(text::COLUMN_PRESENT, [table, column], |r| r.get(0))
            .map_err(setup)?;
        if !present {
            tx.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {declared}"
            ))
            .map_err(setup)?;
        }
    }
    let schema = introspect(&tx)?;
    let triggers: BTreeMap<String, String> = tx
        .prepare(text::TRIGGERS)
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(setup)?;
    for table in schema.iter() {
        tx.execute_batch(&text::capture_triggers(table, &triggers))
            .map_err(setup)?;
    }
    tx.commit().map_err(setup)?;
    Ok(schema)
}

/// Run the steps the database lacks and record them. A database that has tables but no record
/// was made before steps were recorded, from a schema file: that file was its step 1.
fn apply_migrations(tx: &Connection, schema_sql: &str, had_tables: bool) -> Result<(), StoreError> {
    let steps = migrations::parse(schema_sql);
    let mut applied: Vec<Applied> = tx
        .prepare(text::APPLIED_MIGRATIONS)?
        .query_map([], |r| {
            Ok(Applied {
                step: r.get(0)?,
                name: r.get(1)?,
                digest: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let record = |m: &Migration| tx.execute(text::RECORD_MIGRATION, (m.step, &m.name, &m.digest));
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
    let mut stmt = conn.prepare(text::TABLE_NAMES).map_err(setup)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(setup)?;
    let mut schema = Schema::default();
    for name in names.into_iter().filter(|n| !is_reserved_name(n)) {
        let sql = text::table_columns(&name);
        let columns = conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    let declared: String = r.get(1)?;
                    Ok(CatalogColumn {
                        name: r.get(0)?,
                        kind: (),
                        key_capable: text::is_key_type(&declared),
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

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::prepare;

    const SCHEMA: &str = "CREATE TABLE items(id INTEGER PRIMARY KEY, t TEXT);";

    fn schema_version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA schema_version", [], |r| r.get(0))
            .unwrap()
    }

    fn trigger_sql(conn: &Connection, name: &str) -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn an_open_rewrites_only_capture_triggers_of_another_form() {
        let mut conn = Connection::open_in_memory().unwrap();
        prepare(&mut conn, SCHEMA).unwrap();
        let current = trigger_sql(&conn, "_outpost_capture_items_insert");

        let before = schema_version(&conn);
        prepare(&mut conn, SCHEMA).unwrap();
        assert_eq!(
            schema_version(&conn),
            before,
            "current triggers are left alone"
        );

        conn.execute_batch(
            "DROP TRIGGER _outpost_capture_items_insert;
             CREATE TRIGGER _outpost_capture_items_insert AFTER INSERT ON items BEGIN SELECT 1; END;",
        )
        .unwrap();
        prepare(&mut conn, SCHEMA).unwrap();
        assert_eq!(trigger_sql(&conn, "_outpost_capture_items_insert"), current);
    }
}
