//! Reading changes for a pull inside one REPEATABLE READ, READ ONLY transaction, so rows,
//! versions and the new cursor come from one snapshot. Versions become visible in increasing
//! order (see `capture`), so every version at or below the snapshot's newest is in it.

use std::collections::HashMap;

use outpost::protocol::{quote_ident, Change, PullRequest, PullResponse, MAX_PULL_CHANGES};
use outpost::{Row, Value};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, IsolationLevel, Transaction};

use super::schema::PgTable;
use super::values::{read_value, PgParam};
use super::Database;
use crate::store::StoreError;

pub async fn read_changes(
    client: &mut Client,
    db: &Database,
    request: &PullRequest,
) -> Result<PullResponse, StoreError> {
    let mut tables = Vec::with_capacity(request.tables.len());
    for name in &request.tables {
        tables.push(
            db.tables
                .get(name)
                .ok_or_else(|| StoreError::UnknownTable(name.clone()))?,
        );
    }
    let limit = request
        .limit
        .unwrap_or(MAX_PULL_CHANGES)
        .clamp(1, MAX_PULL_CHANGES) as i64;
    let s = quote_ident(&db.schema);

    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut entries: Vec<(String, String, i64)> = tx
        .query(
            &format!(
                "SELECT tbl, key, version FROM {s}._outpost_changes \
                 WHERE version > $1 AND tbl = ANY($2) ORDER BY version LIMIT $3"
            ),
            &[&request.cursor, &names, &(limit + 1)],
        )
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);

    // One joined read per table instead of one read per changed row.
    let mut rows: HashMap<i64, Option<Row>> = HashMap::with_capacity(entries.len());
    if let Some(&(_, _, upto)) = entries.last() {
        for table in &tables {
            if entries.iter().any(|(t, _, _)| *t == table.name) {
                rows.extend(changed_rows(&tx, &s, table, request.cursor, upto).await?);
            }
        }
    }
    let mut changes = Vec::with_capacity(entries.len());
    for (table, key_json, version) in entries {
        let key: Vec<Value> = serde_json::from_str(&key_json).map_err(|e| {
            StoreError::Internal(format!("bad key {key_json} in _outpost_changes: {e}"))
        })?;
        let row = rows.remove(&version).flatten();
        changes.push(Change {
            version,
            table,
            key,
            row,
        });
    }
    // Without more to send, the cursor jumps to the newest version overall, so a replica that
    // syncs only some tables still moves past changes to the others.
    let cursor = match (more, changes.last()) {
        (true, Some(last)) => last.version,
        _ => tx
            .query_one(
                &format!("SELECT coalesce(max(version), 0) FROM {s}._outpost_changes"),
                &[],
            )
            .await?
            .get(0),
    };
    tx.commit().await?;
    Ok(PullResponse {
        changes,
        cursor,
        more,
    })
}

/// The current row (None for a tombstone) of every change of `table` in `(after, upto]`.
async fn changed_rows(
    tx: &Transaction<'_>,
    s: &str,
    table: &PgTable,
    after: i64,
    upto: i64,
) -> Result<Vec<(i64, Option<Row>)>, StoreError> {
    let join: Vec<String> = table
        .key_columns()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "t.{} = (c.key::jsonb ->> {i}){}",
                quote_ident(&c.name),
                c.kind.key_cast()
            )
        })
        .collect();
    let sql = format!(
        "SELECT c.version, t.{} IS NOT NULL, {} FROM {s}._outpost_changes c \
         LEFT JOIN {s}.{} t ON {} \
         WHERE c.tbl = $1 AND c.version > $2 AND c.version <= $3",
        quote_ident(&table.key_columns().next().expect("a key").name),
        table.column_list("t"),
        quote_ident(&table.name),
        join.join(" AND "),
    );
    let found = tx.query(&sql, &[&table.name, &after, &upto]).await?;
    found
        .iter()
        .map(|r| {
            let exists: bool = r.get(1);
            let row = match exists {
                true => Some(to_row(r, table, 2)?),
                false => None,
            };
            Ok((r.get(0), row))
        })
        .collect()
}

fn to_row(r: &tokio_postgres::Row, table: &PgTable, first: usize) -> Result<Row, StoreError> {
    let mut row = Row::new();
    for (i, column) in table.columns.iter().enumerate() {
        row.insert(column.name.clone(), read_value(r, first + i, column.kind)?);
    }
    Ok(row)
}

/// The row of `table` with this key as the database has it now, every column included.
pub async fn read_row(
    tx: &Transaction<'_>,
    schema: &str,
    table: &PgTable,
    key: Vec<(PgParam, Type)>,
) -> Result<Option<Row>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {}.{} t WHERE {}",
        table.column_list("t"),
        quote_ident(schema),
        quote_ident(&table.name),
        table.key_predicate(1)
    );
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = key
        .iter()
        .map(|(p, t)| (p as &(dyn ToSql + Sync), t.clone()))
        .collect();
    match tx.query_typed(&sql, &typed).await?.first() {
        Some(r) => Ok(Some(to_row(r, table, 0)?)),
        None => Ok(None),
    }
}
