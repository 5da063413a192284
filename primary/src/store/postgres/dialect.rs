//! The PostgreSQL dialect of the push and pull statements, over a transaction the store has
//! opened: READ COMMITTED holding the database's advisory lock for a push (see `capture`),
//! REPEATABLE READ, READ ONLY for a pull. Every value is converted for its column's type before
//! Postgres sees it, so a value that does not fit refuses the mutation with a reason.

use outpost::codes;
use outpost::protocol::{Mutation, Op};
use outpost::sql::{self, quote_ident, Placeholders::Dollar};
use outpost::{Row, Value};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Transaction;

use super::refusals::refusal;
use super::schema::PgTable;
use super::values::{read_value, to_param, ColumnKind, PgParam, QueryParam};
use crate::rules::Binding;
use crate::store::dialect::{
    key_exists_reason, ChangeEntry, ClientState, ReadTx, Refusal, Savepoint, WriteTx,
};
use crate::store::push::RuledWrite;
use crate::store::ruled::{RowView, WriteCheck};
use crate::store::StoreError;

/// Statements on one open transaction in the Postgres schema `schema` (already quoted).
pub struct Postgres<'a, 't> {
    pub tx: &'a Transaction<'t>,
    pub schema: String,
}

type Params = Vec<(PgParam, Type)>;

fn typed(params: &[(PgParam, Type)]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|(p, t)| (p as &(dyn ToSql + Sync), t.clone()))
        .collect()
}

impl Postgres<'_, '_> {
    fn table_sql(&self, table: &PgTable) -> String {
        format!("{}.{}", self.schema, quote_ident(&table.name))
    }

    /// The rows of `table` as SQL to read from: the table, or the caller's view of it with the
    /// claims bound from placeholder `first` on (their types are what Postgres infers).
    fn source(
        &self,
        table: &PgTable,
        view: Option<RowView<'_>>,
        first: usize,
    ) -> (String, Vec<QueryParam>) {
        match view {
            None => (self.table_sql(table), Vec::new()),
            Some(view) => {
                let (select, claims) =
                    view.select(&self.table_sql(table), first, |n, _| Dollar.nth(n));
                (
                    format!("({select})"),
                    claims.into_iter().map(QueryParam).collect(),
                )
            }
        }
    }
}

impl ReadTx for Postgres<'_, '_> {
    type Kind = ColumnKind;

    async fn changes_after(
        &mut self,
        groups: &[(i64, Vec<&str>)],
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let limit = limit as i64;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&limit];
        let mut terms = Vec::with_capacity(groups.len());
        for (cursor, tables) in groups {
            terms.push(format!(
                "(version > ${} AND tbl = ANY(${}))",
                params.len() + 1,
                params.len() + 2
            ));
            params.push(cursor);
            params.push(tables);
        }
        let sql = format!(
            "SELECT tbl, key, version FROM {}._outpost_changes WHERE {} ORDER BY version LIMIT $1",
            self.schema,
            terms.join(" OR ")
        );
        let rows = self.tx.query(&sql, &params).await?;
        rows.iter()
            .map(|r| ChangeEntry::from_log(r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// One joined read per table for the whole range, instead of one read per changed row.
    async fn changed_rows(
        &mut self,
        table: &PgTable,
        entries: &[&ChangeEntry],
        after: i64,
        upto: i64,
        view: Option<RowView<'_>>,
    ) -> Result<Vec<Option<Vec<Value>>>, StoreError> {
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
        let s = &self.schema;
        let (source, claims) = self.source(table, view, 4);
        let sql = format!(
            "SELECT c.version, t.{} IS NOT NULL, {} FROM {s}._outpost_changes c \
             LEFT JOIN {source} t ON {} \
             WHERE c.tbl = $1 AND c.version > $2 AND c.version <= $3",
            quote_ident(&table.key_names[0]),
            table.column_list(Some("t")),
            join.join(" AND "),
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&table.name, &after, &upto];
        params.extend(claims.iter().map(|c| c as &(dyn ToSql + Sync)));
        let found = self.tx.query(&sql, &params).await?;
        let mut by_version = std::collections::HashMap::with_capacity(found.len());
        for r in &found {
            let exists: bool = r.get(1);
            let row = match exists {
                true => Some(to_values(r, table, 2)?),
                false => None,
            };
            by_version.insert(r.get::<_, i64>(0), row);
        }
        Ok(entries
            .iter()
            .map(|e| by_version.remove(&e.version).flatten())
            .collect())
    }

    async fn read_row(
        &mut self,
        table: &PgTable,
        key: &[Value],
        view: Option<RowView<'_>>,
    ) -> Result<Option<Row>, StoreError> {
        let Ok(key) = key_params(table, key) else {
            return Ok(None);
        };
        if view.is_some() {
            let (source, claims) = self.source(table, view, key.len() + 1);
            let sql = format!(
                "SELECT {} FROM {source} t WHERE {}",
                table.column_list(Some("t")),
                sql::key_predicate(&table.key_names, 1, Dollar)
            );
            let mut params: Vec<&(dyn ToSql + Sync)> =
                key.iter().map(|(p, _)| p as &(dyn ToSql + Sync)).collect();
            params.extend(claims.iter().map(|c| c as &(dyn ToSql + Sync)));
            return match self.tx.query(&sql, &params).await?.first() {
                Some(r) => Ok(Some(to_row(r, table, 0)?)),
                None => Ok(None),
            };
        }
        let sql = format!(
            "SELECT {} FROM {} t WHERE {}",
            table.column_list(Some("t")),
            self.table_sql(table),
            sql::key_predicate(&table.key_names, 1, Dollar)
        );
        match self.tx.query_typed(&sql, &typed(&key)).await?.first() {
            Some(r) => Ok(Some(to_row(r, table, 0)?)),
            None => Ok(None),
        }
    }

    async fn current_version(&mut self) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT coalesce(max(version), 0) FROM {}._outpost_changes",
            self.schema
        );
        Ok(self.tx.query_one(&sql, &[]).await?.get(0))
    }

    async fn client_state(&mut self, client: &str) -> Result<ClientState, StoreError> {
        let sql = format!(
            "SELECT acked_through, acked_digest FROM {}._outpost_clients WHERE client_id = $1",
            self.schema
        );
        let row = self.tx.query_opt(&sql, &[&client]).await?;
        Ok(row.map_or_else(ClientState::default, |r| ClientState {
            acked_through: r.get(0),
            acked_digest: r.get(1),
        }))
    }

    async fn refusals_between(
        &mut self,
        client: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<(i64, Refusal)>, StoreError> {
        let sql = format!(
            "SELECT seq, code, reason FROM {}._outpost_rejections \
             WHERE client_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            self.schema
        );
        let rows = self.tx.query(&sql, &[&client, &first, &last]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let refusal = Refusal {
                    code: r.get(1),
                    reason: r.get(2),
                };
                (r.get(0), refusal)
            })
            .collect())
    }

    async fn epoch_of(&mut self, version: i64) -> Result<Option<String>, StoreError> {
        let sql = format!(
            "SELECT id FROM {}._outpost_epochs WHERE first_version <= $1 \
             ORDER BY first_version DESC, seq DESC LIMIT 1",
            self.schema
        );
        let row = self.tx.query_opt(&sql, &[&version]).await?;
        Ok(row.map(|r| r.get(0)))
    }
}

impl WriteTx for Postgres<'_, '_> {
    async fn set_client_state(
        &mut self,
        client: &str,
        state: &ClientState,
    ) -> Result<(), StoreError> {
        let s = &self.schema;
        let sql = format!(
            "INSERT INTO {s}._outpost_clients(client_id, acked_through, acked_digest) \
             VALUES ($1, $2, $3) ON CONFLICT (client_id) DO UPDATE SET \
             acked_through = excluded.acked_through, acked_digest = excluded.acked_digest \
             WHERE excluded.acked_through > {s}._outpost_clients.acked_through"
        );
        self.tx
            .execute(&sql, &[&client, &state.acked_through, &state.acked_digest])
            .await?;
        Ok(())
    }

    /// With the key text the capture trigger writes, so the row's entry is the same one.
    async fn touch(&mut self, table: &PgTable, key: &[Value]) -> Result<(), StoreError> {
        let Ok(key) = key_params(table, key) else {
            return Ok(());
        };
        let sql = format!(
            "SELECT {}._outpost_record($1, jsonb_build_array({})::text)",
            self.schema,
            Dollar.list(2, key.len())
        );
        let params: Params = std::iter::once((PgParam::Text(table.name.clone()), Type::TEXT))
            .chain(key)
            .collect();
        self.tx.execute_typed(&sql, &typed(&params)).await?;
        Ok(())
    }

    async fn apply(
        &mut self,
        table: &PgTable,
        mutation: &Mutation,
    ) -> Result<Option<Refusal>, StoreError> {
        let (sql, params) = match statement(&self.table_sql(table), table, mutation) {
            Ok(Some(statement)) => statement,
            Ok(None) => return Ok(None),
            Err(refused) => return Ok(Some(refused)),
        };
        let params = typed(&params);
        // Savepoint, statement and release go out together: one round trip per mutation. After a
        // failed statement the release fails too, and the savepoint is still there to roll back to.
        let (saved, executed, released) = tokio::join!(
            self.tx.batch_execute("SAVEPOINT outpost_mutation"),
            self.tx.execute_typed(&sql, &params),
            self.tx.batch_execute("RELEASE outpost_mutation"),
        );
        saved?;
        match executed {
            Ok(_) => {
                released?;
                Ok(None)
            }
            Err(err) => match refusal(&err, &table.name) {
                Some(mut refused) => {
                    self.tx
                        .batch_execute("ROLLBACK TO outpost_mutation; RELEASE outpost_mutation")
                        .await?;
                    if mutation.op == Op::Insert
                        && refused.code == codes::SQLITE_CONSTRAINT_PRIMARYKEY
                    {
                        refused = Refusal::new(codes::KEY_EXISTS, key_exists_reason(&table.name));
                    }
                    Ok(Some(refused))
                }
                None => Err(err.into()),
            },
        }
    }

    /// A row column's value is cast to its column's type; a claim's type is what Postgres infers.
    async fn holds(&mut self, table: &PgTable, check: &WriteCheck<'_>) -> Result<bool, StoreError> {
        let (sql, values) = check.select(|n, binding| match binding {
            Binding::Old(c) | Binding::New(c) => match table.column(c) {
                Some(column) => format!("${n}::{}", column.kind.sql_type().name()),
                None => format!("${n}"),
            },
            Binding::Claim(_) => format!("${n}"),
        });
        let values: Vec<QueryParam> = values.into_iter().map(QueryParam).collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(self.tx.query_opt(&sql, &params).await?.is_some())
    }

    async fn apply_judged(
        &mut self,
        write: &RuledWrite<'_, ColumnKind>,
    ) -> Result<Option<Refusal>, StoreError> {
        self.tx.batch_execute(Savepoint::OPEN).await?;
        let refusal = write.run(self).await?;
        self.tx
            .batch_execute(Savepoint::close(refusal.is_none()))
            .await?;
        Ok(refusal)
    }

    async fn store_refusal(
        &mut self,
        client: &str,
        seq: i64,
        refusal: &Refusal,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {}._outpost_rejections(client_id, seq, code, reason) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, seq) \
             DO UPDATE SET code = excluded.code, reason = excluded.reason",
            self.schema
        );
        self.tx
            .execute(&sql, &[&client, &seq, &refusal.code, &refusal.reason])
            .await?;
        Ok(())
    }

    async fn forget_refusals_before(&mut self, client: &str, seq: i64) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM {}._outpost_rejections WHERE client_id = $1 AND seq < $2",
            self.schema
        );
        self.tx.execute(&sql, &[&client, &seq]).await?;
        Ok(())
    }
}

fn to_row(r: &tokio_postgres::Row, table: &PgTable, first: usize) -> Result<Row, StoreError> {
    Ok(table.row_of(to_values(r, table, first)?))
}

/// The table's columns from `first` on, in column order.
fn to_values(
    r: &tokio_postgres::Row,
    table: &PgTable,
    first: usize,
) -> Result<Vec<Value>, StoreError> {
    let columns = table.columns.iter().enumerate();
    columns
        .map(|(i, column)| Ok(read_value(r, first + i, column.kind)?))
        .collect()
}

/// The key converted for its columns; `Err` when a value does not fit its column's type.
fn key_params(table: &PgTable, key: &[Value]) -> Result<Params, String> {
    table
        .key_columns()
        .zip(key)
        .map(|(c, v)| Ok((to_param(c.kind, v)?, c.kind.sql_type())))
        .collect()
}

/// The statement for one mutation and its typed parameters; `Ok(None)` when there is nothing to
/// do, `Err` when a value cannot be stored in its column.
fn statement(
    name: &str,
    table: &PgTable,
    mutation: &Mutation,
) -> Result<Option<(String, Params)>, Refusal> {
    let key = key_params(table, &mutation.key).map_err(|_| {
        let reason = format!(
            "the key of table {} is {} integer or text value(s) of its columns: ({})",
            table.name,
            table.key.len(),
            table.key_names.join(", ")
        );
        Refusal::new(codes::BAD_KEY, reason)
    })?;
    let mut values: Vec<(&str, (PgParam, Type))> = Vec::new();
    for (column_name, value) in &mutation.columns {
        let column = table.column(column_name).expect("the shape was checked");
        let param = to_param(column.kind, value).map_err(|e| {
            Refusal::new(
                codes::SQLITE_MISMATCH,
                format!("{}.{column_name}: {e}", table.name),
            )
        })?;
        values.push((column_name, (param, column.kind.sql_type())));
    }
    let statement = match mutation.op {
        Op::Insert => {
            // The key is authoritative for key columns; `columns` supplies the rest.
            values.retain(|(c, _)| !table.is_key_column(c));
            let columns: Vec<&str> = table
                .key_names
                .iter()
                .map(String::as_str)
                .chain(values.iter().map(|(c, _)| *c))
                .collect();
            let sql = sql::insert(name, &columns, Dollar);
            (
                sql,
                key.into_iter()
                    .chain(values.into_iter().map(|(_, p)| p))
                    .collect(),
            )
        }
        Op::Update if values.is_empty() => return Ok(None),
        // Zero rows changed means the primary no longer has the row: dropped, not refused.
        Op::Update => {
            let columns: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
            let sql = sql::update(name, &table.key_names, &columns, Dollar);
            (sql, values.into_iter().map(|(_, p)| p).chain(key).collect())
        }
        Op::Delete => (sql::delete(name, &table.key_names, Dollar), key),
    };
    Ok(Some(statement))
}
