//! Applying a push in one READ COMMITTED transaction that first takes the database's advisory
//! lock (see `capture`), one savepoint per mutation so a refused mutation is undone alone. The
//! client's `acked_through` moves in the same transaction, which makes a retried batch a no-op.

use outpost::protocol::{quote_ident, Mutation, Op, PushRequest, PushResponse, Rejection};
use outpost::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Transaction};

use super::pull::read_row;
use super::refusals::{refusal, Refusal};
use super::schema::{PgTable, Tables};
use super::values::{to_param, PgParam};
use super::Database;
use crate::store::StoreError;

pub async fn apply(
    client: &mut Client,
    db: &Database,
    request: &PushRequest,
) -> Result<PushResponse, StoreError> {
    let s = quote_ident(&db.schema);
    let tx = client.transaction().await?;
    tx.execute(&format!("SELECT {s}._outpost_lock()"), &[])
        .await?;
    let client_id = request.client_id.as_str();
    let acked: i64 = tx
        .query_opt(
            &format!("SELECT acked_through FROM {s}._outpost_clients WHERE client_id = $1"),
            &[&client_id],
        )
        .await?
        .map_or(0, |row| row.get(0));

    // A retry of mutations applied before: their answer was lost, so the client still holds them
    // as pending and may have replayed them over newer rows it pulled meanwhile. Mark those rows
    // changed again, so the next pull sends their current state (as the SQLite store does).
    for mutation in request.mutations.iter().filter(|m| m.seq <= acked) {
        resend_row(&tx, &s, &db.tables, mutation).await?;
    }

    let mut acked_through = acked;
    for mutation in request.mutations.iter().filter(|m| m.seq > acked) {
        if let Some(refusal) = apply_in_savepoint(&tx, &s, &db.tables, mutation).await? {
            tx.execute(
                &format!(
                    "INSERT INTO {s}._outpost_rejections(client_id, seq, code, reason) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, seq) \
                     DO UPDATE SET code = excluded.code, reason = excluded.reason"
                ),
                &[&client_id, &mutation.seq, &refusal.code, &refusal.reason],
            )
            .await?;
        }
        acked_through = mutation.seq;
    }
    tx.execute(
        &format!(
            "INSERT INTO {s}._outpost_clients(client_id, acked_through) VALUES ($1, $2) \
             ON CONFLICT (client_id) DO UPDATE SET \
             acked_through = greatest({s}._outpost_clients.acked_through, excluded.acked_through)"
        ),
        &[&client_id, &acked_through],
    )
    .await?;

    let mut rejected = Vec::new();
    if let (Some(first), Some(last)) = (request.mutations.first(), request.mutations.last()) {
        // The client sends from its oldest unacknowledged entry, so it no longer needs the
        // answers for anything older.
        tx.execute(
            &format!("DELETE FROM {s}._outpost_rejections WHERE client_id = $1 AND seq < $2"),
            &[&client_id, &first.seq],
        )
        .await?;
        let stored = tx
            .query(
                &format!(
                    "SELECT seq, code, reason FROM {s}._outpost_rejections \
                     WHERE client_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq"
                ),
                &[&client_id, &first.seq, &last.seq],
            )
            .await?;
        for row in stored {
            let seq: i64 = row.get(0);
            let current = match request.mutations.iter().find(|m| m.seq == seq) {
                Some(mutation) => current_row(&tx, db, mutation).await?,
                None => None,
            };
            rejected.push(Rejection {
                seq,
                code: row.get(1),
                reason: row.get(2),
                row: current,
            });
        }
    }
    let version: i64 = tx
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {s}._outpost_changes"),
            &[],
        )
        .await?
        .get(0);
    tx.commit().await?;
    Ok(PushResponse {
        acked_through,
        version,
        rejected,
    })
}

/// Record a new version for the mutation's row, with the key text the capture trigger writes.
async fn resend_row(
    tx: &Transaction<'_>,
    s: &str,
    tables: &Tables,
    mutation: &Mutation,
) -> Result<(), StoreError> {
    let Some(table) = tables.get(&mutation.table) else {
        return Ok(());
    };
    let key = match key_params(table, &mutation.key) {
        Ok(key) if key.len() == table.key.len() && mutation.key.len() == key.len() => key,
        _ => return Ok(()),
    };
    let slots: Vec<String> = (2..=key.len() + 1).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {s}._outpost_record($1, jsonb_build_array({})::text)",
        slots.join(", ")
    );
    let name = PgParam::Text(table.name.clone());
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = std::iter::once((&name, Type::TEXT))
        .chain(key.iter().map(|(p, t)| (p, t.clone())))
        .map(|(p, t)| (p as &(dyn ToSql + Sync), t))
        .collect();
    tx.execute_typed(&sql, &typed).await?;
    Ok(())
}

/// `Ok(Some(_))` when the mutation was refused and undone; `Err` only for failures of the store
/// itself, which abort the whole push so the client retries it.
async fn apply_in_savepoint(
    tx: &Transaction<'_>,
    s: &str,
    tables: &Tables,
    mutation: &Mutation,
) -> Result<Option<Refusal>, StoreError> {
    let Some(table) = tables.get(&mutation.table) else {
        let reason = format!("table {} is not synced by this database", mutation.table);
        return Ok(Some(Refusal {
            code: "UNKNOWN_TABLE",
            reason,
        }));
    };
    let (sql, params) = match statement(s, table, mutation) {
        Ok(Some(statement)) => statement,
        Ok(None) => return Ok(None),
        Err(refusal) => return Ok(Some(refusal)),
    };
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|(p, t)| (p as &(dyn ToSql + Sync), t.clone()))
        .collect();
    // Savepoint, statement and release go out together: one round trip per mutation. After a
    // failed statement the release fails too, and the savepoint is still there to roll back to.
    let (saved, executed, released) = tokio::join!(
        tx.batch_execute("SAVEPOINT outpost_mutation"),
        tx.execute_typed(&sql, &typed),
        tx.batch_execute("RELEASE outpost_mutation"),
    );
    saved?;
    match executed {
        Ok(_) => {
            released?;
            Ok(None)
        }
        Err(err) => match refusal(&err, &table.name) {
            Some(refusal) => {
                tx.batch_execute("ROLLBACK TO outpost_mutation; RELEASE outpost_mutation")
                    .await?;
                Ok(Some(refusal))
            }
            None => Err(err.into()),
        },
    }
}

type Params = Vec<(PgParam, Type)>;

/// The statement for one mutation and its typed parameters; `Ok(None)` when there is nothing to
/// do, `Err` when the mutation cannot apply to this table at all.
fn statement(
    s: &str,
    table: &PgTable,
    mutation: &Mutation,
) -> Result<Option<(String, Params)>, Refusal> {
    if let Some(column) = mutation.columns.keys().find(|c| table.column(c).is_none()) {
        let reason = format!("table {} has no column {column}", table.name);
        return Err(Refusal {
            code: "UNKNOWN_COLUMN",
            reason,
        });
    }
    let key_ok = mutation.key.len() == table.key.len()
        && mutation
            .key
            .iter()
            .all(|v| matches!(v, Value::Integer(_) | Value::Text(_)));
    let key = key_ok
        .then(|| key_params(table, &mutation.key).ok())
        .flatten()
        .ok_or_else(|| {
            let names: Vec<&str> = table.key_columns().map(|c| c.name.as_str()).collect();
            let reason = format!(
                "the key of table {} is {} integer or text value(s) of its columns: ({})",
                table.name,
                names.len(),
                names.join(", ")
            );
            Refusal {
                code: "BAD_KEY",
                reason,
            }
        })?;
    let mut values: Params = Vec::new();
    for (name, value) in &mutation.columns {
        let column = table.column(name).expect("checked above");
        let param = to_param(column.kind, value).map_err(|e| Refusal {
            code: "SQLITE_MISMATCH",
            reason: format!("{}.{name}: {e}", table.name),
        })?;
        values.push((param, column.kind.sql_type()));
    }
    let name = format!("{s}.{}", quote_ident(&table.name));
    let sql = match mutation.op {
        Op::Insert => {
            // The key is authoritative for key columns; `columns` supplies the rest.
            let others: Vec<(&String, (PgParam, Type))> = mutation
                .columns
                .keys()
                .zip(values)
                .filter(|(c, _)| !table.is_key_column(c))
                .collect();
            let names: Vec<String> = table
                .key_columns()
                .map(|c| quote_ident(&c.name))
                .chain(others.iter().map(|(c, _)| quote_ident(c)))
                .collect();
            let slots: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
            let keys: Vec<String> = table.key_columns().map(|c| quote_ident(&c.name)).collect();
            let on_conflict = if others.is_empty() {
                "DO NOTHING".to_owned()
            } else {
                let sets: Vec<String> = others
                    .iter()
                    .map(|(c, _)| format!("{0} = excluded.{0}", quote_ident(c)))
                    .collect();
                format!("DO UPDATE SET {}", sets.join(", "))
            };
            let sql = format!(
                "INSERT INTO {name}({}) VALUES ({}) ON CONFLICT ({}) {on_conflict}",
                names.join(", "),
                slots.join(", "),
                keys.join(", ")
            );
            let params = key
                .into_iter()
                .chain(others.into_iter().map(|(_, p)| p))
                .collect();
            return Ok(Some((sql, params)));
        }
        Op::Update if mutation.columns.is_empty() => return Ok(None),
        // Zero rows changed means the primary no longer has the row: dropped, not refused.
        Op::Update => {
            let sets: Vec<String> = mutation
                .columns
                .keys()
                .enumerate()
                .map(|(i, c)| format!("{} = ${}", quote_ident(c), i + 1))
                .collect();
            let predicate = table.key_predicate(sets.len() + 1);
            values.extend(key);
            format!("UPDATE {name} SET {} WHERE {predicate}", sets.join(", "))
        }
        Op::Delete => {
            values = key;
            format!("DELETE FROM {name} WHERE {}", table.key_predicate(1))
        }
    };
    Ok(Some((sql, values)))
}

pub fn key_params(table: &PgTable, key: &[Value]) -> Result<Params, String> {
    table
        .key_columns()
        .zip(key)
        .map(|(c, v)| Ok((to_param(c.kind, v)?, c.kind.sql_type())))
        .collect()
}

async fn current_row(
    tx: &Transaction<'_>,
    db: &Database,
    mutation: &Mutation,
) -> Result<Option<outpost::Row>, StoreError> {
    match db.tables.get(&mutation.table) {
        Some(table) => match key_params(table, &mutation.key) {
            Ok(key) if key.len() == table.key.len() => read_row(tx, &db.schema, table, key).await,
            _ => Ok(None),
        },
        None => Ok(None),
    }
}
