//! Reading changes for a pull: the latest state of each row changed after the cursor, in version
//! order, inside one read transaction so rows, versions and the new cursor agree.

use outpost::protocol::{Change, PullRequest, PullResponse, MAX_PULL_CHANGES};
use outpost::{Row, Value};
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::push::current_version;
use super::schema::{Schema, Table};
use super::StoreError;

pub fn read_changes(
    conn: &mut Connection,
    schema: &Schema,
    request: &PullRequest,
) -> Result<PullResponse, StoreError> {
    let mut tables = Vec::with_capacity(request.tables.len());
    for name in &request.tables {
        tables.push(
            schema
                .table(name)
                .ok_or_else(|| StoreError::UnknownTable(name.clone()))?,
        );
    }
    let limit = request
        .limit
        .unwrap_or(MAX_PULL_CHANGES)
        .clamp(1, MAX_PULL_CHANGES) as usize;

    let tx = conn.transaction()?;
    let mut entries: Vec<(String, String, i64)> = Vec::new();
    if !tables.is_empty() {
        let slots: Vec<String> = (0..tables.len()).map(|i| format!("?{}", i + 3)).collect();
        let sql = format!(
            "SELECT tbl, key, version FROM _outpost_changes \
             WHERE version > ?1 AND tbl IN ({}) ORDER BY version LIMIT ?2",
            slots.join(", ")
        );
        let mut stmt = tx.prepare(&sql)?;
        let mut params: Vec<Value> = vec![
            Value::Integer(request.cursor),
            Value::Integer(limit as i64 + 1),
        ];
        params.extend(tables.iter().map(|t| Value::Text(t.name.clone())));
        entries = stmt
            .query_map(params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
    }

    let more = entries.len() > limit;
    entries.truncate(limit);
    let mut changes = Vec::with_capacity(entries.len());
    for (table_name, key_json, version) in entries {
        let table = tables
            .iter()
            .find(|t| t.name == table_name)
            .expect("filtered by name");
        let key: Vec<Value> = serde_json::from_str(&key_json).map_err(|e| {
            StoreError::Internal(format!("bad key {key_json} in _outpost_changes: {e}"))
        })?;
        let row = read_row(&tx, table, &key)?;
        changes.push(Change {
            version,
            table: table_name,
            key,
            row,
        });
    }
    // Without more to send, the cursor jumps to the newest version overall, so a replica that
    // syncs only some tables still moves past changes to the others.
    let cursor = match (more, changes.last()) {
        (true, Some(last)) => last.version,
        _ => current_version(&tx)?,
    };
    Ok(PullResponse {
        changes,
        cursor,
        more,
    })
}

/// The row of `table` with this key as the database has it now, every column included.
pub fn read_row(conn: &Connection, table: &Table, key: &[Value]) -> rusqlite::Result<Option<Row>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        table.column_list(),
        outpost::protocol::quote_ident(&table.name),
        table.key_predicate(1)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_row(params_from_iter(key), |r| {
        let mut row = Row::new();
        for (i, column) in table.columns.iter().enumerate() {
            row.insert(column.clone(), r.get::<_, Value>(i)?);
        }
        Ok(row)
    })
    .optional()
}
