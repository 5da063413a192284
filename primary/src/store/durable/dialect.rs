//! The Durable Object dialect of the push and pull statements: the SQLite dialect's text
//! (`sqlite_sql.rs`) run through `ctx.storage.sql`. Each mutation is applied in a nested
//! `transactionSync`, which is a savepoint, so a refused one is undone alone; a write held to a
//! sync rule and its check run in one more around it.

use outpost::protocol::Mutation;
use outpost::sql::{self, quote_ident, Placeholders::Question};
use outpost::{Row, Value};

use super::storage::{typed_column, typed_value, SqlStorage};
use crate::store::dialect::{run_ready, ChangeEntry, ClientState, ReadTx, Refusal, WriteTx};
use crate::store::push::RuledWrite;
use crate::store::ruled::{RowView, WriteCheck};
use crate::store::sqlite_sql as text;
use crate::store::table::Table;
use crate::store::StoreError;

/// Like SQLite's, any value fits any column.
pub type Kind = ();

/// Statements on the object's storage; the store holds the transaction around them.
pub struct Durable<'s>(pub &'s SqlStorage);

impl Durable<'_> {
    fn select(&self, sql: &str, params: &[&Value]) -> Result<Vec<Vec<Value>>, StoreError> {
        Ok(self.0.select(sql, params)?)
    }

    fn execute(&self, sql: &str, params: &[&Value]) -> Result<(), StoreError> {
        self.0.execute(sql, params)?;
        Ok(())
    }
}

impl ReadTx for Durable<'_> {
    type Kind = Kind;

    async fn changes_after(
        &mut self,
        groups: &[(i64, Vec<&str>)],
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let (sql, params) = text::changes_after(groups, limit);
        let params: Vec<&Value> = params.iter().collect();
        self.select(&sql, &params)?
            .into_iter()
            .map(|row| match row.as_slice() {
                [Value::Text(table), Value::Text(key), Value::Integer(version)] => {
                    ChangeEntry::from_log(table.clone(), key, *version)
                }
                other => Err(bad_row("_outpost_changes", other)),
            })
            .collect()
    }

    /// One statement for the page, by the entries' version range, read rule included: each
    /// statement crosses into `ctx.storage.sql` and back, and a point read per row made a pull
    /// 25 times slower than the server's (bench/primary-do.mjs).
    async fn changed_rows(
        &mut self,
        table: &Table<Kind>,
        entries: &[&ChangeEntry],
        after: i64,
        upto: i64,
        view: Option<RowView<'_>>,
    ) -> Result<Vec<Option<Vec<Value>>>, StoreError> {
        let name = quote_ident(&table.name);
        // Through a view, the rows the caller may not read are missing from the join, so they
        // come as tombstones. The rule names the table's columns by the table's own name.
        let (source, claims) = match view {
            Some(view) => {
                let (select, claims) = view.select(&name, 4, |n, _| Question.nth(n));
                (format!("({select}) AS {name}"), claims)
            }
            None => (name.clone(), Vec::new()),
        };
        let joined: Vec<String> = table
            .key_names
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{name}.{} = json_extract(c.key, '$[{i}]')", quote_ident(k)))
            .collect();
        let first_key = format!("{name}.{}", quote_ident(&table.key_names[0]));
        // `+c.tbl`: the page's version range on its index, not every entry of the table by key.
        let sql = format!(
            "SELECT c.version, {first_key} IS NOT NULL, {} FROM _outpost_changes c \
             LEFT JOIN {source} ON {} WHERE +c.tbl = ?1 AND c.version > ?2 AND c.version <= ?3",
            typed_columns(table, Some(&name)),
            joined.join(" AND ")
        );
        let params = [
            Value::Text(table.name.clone()),
            Value::Integer(after),
            Value::Integer(upto),
        ];
        let params: Vec<&Value> = params.iter().chain(&claims).collect();
        let mut found = std::collections::HashMap::new();
        for values in self.select(&sql, &params)? {
            let mut values = values.into_iter();
            let (Some(Value::Integer(version)), Some(present)) = (values.next(), values.next())
            else {
                return Err(StoreError::Internal(
                    "a changed row without its version".into(),
                ));
            };
            let row = match present {
                Value::Integer(0) => None,
                _ => Some(typed_values(table, values)),
            };
            found.insert(version, row);
        }
        Ok(entries
            .iter()
            .map(|e| found.remove(&e.version).flatten())
            .collect())
    }

    async fn read_row(
        &mut self,
        table: &Table<Kind>,
        key: &[Value],
        view: Option<RowView<'_>>,
    ) -> Result<Option<Row>, StoreError> {
        read_row(self, table, key, view)
    }

    async fn current_version(&mut self) -> Result<i64, StoreError> {
        current_version(self.0)
    }

    async fn client_state(&mut self, client: &str) -> Result<ClientState, StoreError> {
        let client = Value::Text(client.to_owned());
        let rows = self.select(text::CLIENT_STATE, &[&client])?;
        match rows.into_iter().next().as_deref() {
            None => Ok(ClientState::default()),
            Some([Value::Integer(acked), digest]) => Ok(ClientState {
                acked_through: *acked,
                acked_digest: match digest {
                    Value::Text(d) => Some(d.clone()),
                    _ => None,
                },
            }),
            Some(other) => Err(bad_row("_outpost_clients", other)),
        }
    }

    async fn refusals_between(
        &mut self,
        client: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<(i64, Refusal)>, StoreError> {
        let params = [
            Value::Text(client.to_owned()),
            Value::Integer(first),
            Value::Integer(last),
        ];
        let params: Vec<&Value> = params.iter().collect();
        self.select(text::REFUSALS_BETWEEN, &params)?
            .into_iter()
            .map(|row| match row.as_slice() {
                [Value::Integer(seq), Value::Text(code), Value::Text(reason)] => {
                    Ok((*seq, Refusal::new(code, reason.clone())))
                }
                other => Err(bad_row("_outpost_rejections", other)),
            })
            .collect()
    }

    async fn epoch_of(&mut self, version: i64) -> Result<Option<String>, StoreError> {
        let rows = self.select(text::EPOCH_OF, &[&Value::Integer(version)])?;
        Ok(rows.into_iter().next().and_then(|row| match row.first() {
            Some(Value::Text(id)) => Some(id.clone()),
            _ => None,
        }))
    }
}

impl WriteTx for Durable<'_> {
    async fn set_client_state(
        &mut self,
        client: &str,
        state: &ClientState,
    ) -> Result<(), StoreError> {
        let digest = state.acked_digest.clone().map_or(Value::Null, Value::Text);
        let params = [
            Value::Text(client.to_owned()),
            Value::Integer(state.acked_through),
            digest,
        ];
        self.execute(text::SET_CLIENT_STATE, &params.iter().collect::<Vec<_>>())
    }

    async fn touch(&mut self, table: &Table<Kind>, key: &[Value]) -> Result<(), StoreError> {
        let name = Value::Text(table.name.clone());
        let params: Vec<&Value> = std::iter::once(&name).chain(key).collect();
        self.execute(&text::touch(key.len()), &params)
    }

    async fn apply(
        &mut self,
        table: &Table<Kind>,
        mutation: &Mutation,
    ) -> Result<Option<Refusal>, StoreError> {
        let Some((sql, values)) = text::mutation_statement(table, mutation) else {
            return Ok(None);
        };
        // The savepoint: a refused statement leaves nothing behind, and the push goes on.
        match self.0.atomically(|| self.0.execute(&sql, &values)) {
            Ok(_) => Ok(None),
            Err(failure) if text::is_refusal_code(&failure.primary) => Ok(Some(text::refusal(
                &failure.code,
                failure.message,
                table,
                mutation,
            ))),
            Err(failure) => Err(failure.into()),
        }
    }

    async fn holds(
        &mut self,
        _table: &Table<Kind>,
        check: &WriteCheck<'_>,
    ) -> Result<bool, StoreError> {
        let (sql, values) = check.select(|n, _| Question.nth(n));
        Ok(!self
            .select(&sql, &values.iter().collect::<Vec<_>>())?
            .is_empty())
    }

    /// The unit is one nested `transactionSync` around the whole write and its check: SQL here
    /// cannot open a savepoint that spans calls, and every statement in it answers at once.
    async fn apply_judged(
        &mut self,
        write: &RuledWrite<'_, Kind>,
    ) -> Result<Option<Refusal>, StoreError> {
        let storage = self.0;
        storage.kept_if(|| {
            let refusal = run_ready(write.run(self))?;
            let kept = refusal.is_none();
            Ok((refusal, kept))
        })
    }

    async fn store_refusal(
        &mut self,
        client: &str,
        seq: i64,
        refusal: &Refusal,
    ) -> Result<(), StoreError> {
        let params = [
            Value::Text(client.to_owned()),
            Value::Integer(seq),
            Value::Text(refusal.code.clone()),
            Value::Text(refusal.reason.clone()),
        ];
        self.execute(text::STORE_REFUSAL, &params.iter().collect::<Vec<_>>())
    }

    async fn forget_refusals_before(&mut self, client: &str, seq: i64) -> Result<(), StoreError> {
        let params = [Value::Text(client.to_owned()), Value::Integer(seq)];
        self.execute(text::FORGET_REFUSALS, &params.iter().collect::<Vec<_>>())
    }
}

pub fn current_version(storage: &SqlStorage) -> Result<i64, StoreError> {
    match storage
        .select(text::CURRENT_VERSION, &[])?
        .first()
        .map(Vec::as_slice)
    {
        Some([Value::Integer(version)]) => Ok(*version),
        other => Err(bad_row("_outpost_changes", other.unwrap_or_default())),
    }
}

/// The row of `table` with `key`, every column read with its type so integers stay exact.
fn read_row(
    tx: &Durable<'_>,
    table: &Table<Kind>,
    key: &[Value],
    view: Option<RowView<'_>>,
) -> Result<Option<Row>, StoreError> {
    let name = quote_ident(&table.name);
    let (source, claims) = match view {
        Some(view) => {
            let (select, claims) = view.select(&name, key.len() + 1, |n, _| Question.nth(n));
            (format!("({select})"), claims)
        }
        None => (name, Vec::new()),
    };
    let sql = format!(
        "SELECT {} FROM {source} WHERE {}",
        typed_columns(table, None),
        sql::key_predicate(&table.key_names, 1, Question)
    );
    let params: Vec<&Value> = key.iter().chain(&claims).collect();
    let found = tx.select(&sql, &params)?.into_iter().next();
    Ok(found.map(|values| table.row_of(typed_values(table, values.into_iter()))))
}

/// Every column of `table` as [`typed_column`] reads it, each prefixed with `source.` when given.
fn typed_columns(table: &Table<Kind>, source: Option<&str>) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| match source {
            Some(source) => typed_column(&format!("{source}.{}", quote_ident(&c.name))),
            None => typed_column(&quote_ident(&c.name)),
        })
        .collect();
    columns.join(", ")
}

/// A row's values, in column order, from what [`typed_columns`] read: type then value for each.
fn typed_values(table: &Table<Kind>, mut pairs: impl Iterator<Item = Value>) -> Vec<Value> {
    let values = table.columns.iter().map(|_| {
        let kind = pairs.next().unwrap_or(Value::Null);
        let value = pairs.next().unwrap_or(Value::Null);
        typed_value(&kind, value)
    });
    values.collect()
}

fn bad_row(table: &str, row: &[Value]) -> StoreError {
    StoreError::Internal(format!("unexpected row {row:?} in {table}"))
}
