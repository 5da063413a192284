//! Migrations: an ordered list of SQL scripts, each applied exactly once. The caller runs this
//! inside the open transaction, so a failing migration leaves no trace.

use rusqlite::{params, Transaction};

use crate::{Error, Result};

pub(super) fn apply(tx: &Transaction<'_>, migrations: &[String]) -> Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS _outpost_migrations (
            idx INTEGER PRIMARY KEY,
            sql TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let applied: Vec<String> = tx
        .prepare("SELECT sql FROM _outpost_migrations ORDER BY idx")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if applied.len() > migrations.len() {
        return Err(Error::bad_options(format!(
            "the database has {} migrations applied but only {} were given; migrations can only be added",
            applied.len(),
            migrations.len()
        )));
    }
    if let Some(index) = applied
        .iter()
        .zip(migrations)
        .position(|(old, new)| old != new)
    {
        return Err(Error::MigrationChanged { index });
    }
    for (index, sql) in migrations.iter().enumerate().skip(applied.len()) {
        tx.execute_batch(sql).map_err(|e| {
            let e = Error::from(e);
            Error::Migration {
                index,
                code: e.code().to_string(),
                message: e.to_string(),
            }
        })?;
        tx.execute(
            "INSERT INTO _outpost_migrations (idx, sql, applied_at) VALUES (?1, ?2, unixepoch())",
            params![index as i64, sql],
        )?;
    }
    Ok(())
}
