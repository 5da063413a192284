//! The SQLite dialect of the push and pull statements, over a transaction the store has opened
//! on the database's writer (IMMEDIATE, so it holds the write lock) or reader connection. Every
//! statement is cached: a push of a thousand mutations compiles each shape once (measured:
//! primary CPU per 10k mutations 633 -> 167 ms).

use outpost::codes;
use outpost::protocol::Mutation;
use outpost::sql::{self, quote_ident, Placeholders::Question};
use outpost::{Row, Value};
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use crate::store::dialect::{ChangeEntry, ClientState, ReadTx, Refusal, Savepoint, WriteTx};
use crate::store::push::RuledWrite;
use crate::store::ruled::{RowView, WriteCheck};
use crate::store::sqlite_sql::{self as text, StatementMemo};
use crate::store::table::Table;
use crate::store::StoreError;

/// SQLite stores any value in any column: a column needs no kind.
pub type Kind = ();

/// Statements on one open transaction (a `rusqlite::Transaction` derefs to its connection).
pub struct Sqlite<'c>(pub &'c Connection, Applying);

impl<'c> Sqlite<'c> {
    pub fn on(conn: &'c Connection) -> Self {
        Sqlite(conn, Applying::default())
    }
}

/// What applying mutations learns once per transaction.
#[derive(Default)]
pub struct Applying {
    statements: StatementMemo,
    /// Whether a failing statement undoes all it did by itself, found at the first mutation.
    undoes_itself: Option<bool>,
}

impl ReadTx for Sqlite<'_> {
    type Kind = Kind;

    async fn changes_after(
        &mut self,
        groups: &[(i64, Vec<&str>)],
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError> {
        let (sql, params) = text::changes_after(groups, limit);
        let mut stmt = self.0.prepare(&sql)?;
        let logged: Vec<(String, String, i64)> = stmt
            .query_map(params_from_iter(params), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        logged
            .into_iter()
            .map(|(table, key, version)| ChangeEntry::from_log(table, &key, version))
            .collect()
    }

    /// One point read per row: on SQLite that is as fast as a join and keeps the plan simple.
    /// The statement is prepared once per page: building its text per row was a fifth of the
    /// primary's CPU in a pull (bench, perf).
    async fn changed_rows(
        &mut self,
        table: &Table<Kind>,
        entries: &[&ChangeEntry],
        _after: i64,
        _upto: i64,
        view: Option<RowView<'_>>,
    ) -> Result<Vec<Option<Vec<Value>>>, StoreError> {
        let (sql, claims) = read_row_sql(table, view);
        let mut stmt = self.0.prepare_cached(&sql)?;
        entries
            .iter()
            .map(|e| Ok(read_values_with(&mut stmt, table, &e.key, &claims)?))
            .collect()
    }

    async fn read_row(
        &mut self,
        table: &Table<Kind>,
        key: &[Value],
        view: Option<RowView<'_>>,
    ) -> Result<Option<Row>, StoreError> {
        Ok(read_row(self.0, table, key, view)?)
    }

    async fn current_version(&mut self) -> Result<i64, StoreError> {
        Ok(current_version(self.0)?)
    }

    async fn client_state(&mut self, client: &str) -> Result<ClientState, StoreError> {
        let state = self
            .0
            .prepare_cached(text::CLIENT_STATE)?
            .query_row([client], |r| {
                Ok(ClientState {
                    acked_through: r.get(0)?,
                    acked_digest: r.get(1)?,
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    async fn refusals_between(
        &mut self,
        client: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<(i64, Refusal)>, StoreError> {
        let mut stmt = self.0.prepare_cached(text::REFUSALS_BETWEEN)?;
        let stored = stmt
            .query_map((client, first, last), |r| {
                let refusal = Refusal {
                    code: r.get(1)?,
                    reason: r.get(2)?,
                };
                Ok((r.get(0)?, refusal))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(stored)
    }

    async fn epoch_of(&mut self, version: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .prepare_cached(text::EPOCH_OF)?
            .query_row([version], |r| r.get(0))
            .optional()?)
    }
}

impl WriteTx for Sqlite<'_> {
    async fn set_client_state(
        &mut self,
        client: &str,
        state: &ClientState,
    ) -> Result<(), StoreError> {
        self.0.prepare_cached(text::SET_CLIENT_STATE)?.execute((
            client,
            state.acked_through,
            &state.acked_digest,
        ))?;
        Ok(())
    }

    async fn touch(&mut self, table: &Table<Kind>, key: &[Value]) -> Result<(), StoreError> {
        let sql = text::touch(key.len());
        let name = Value::Text(table.name.clone());
        self.0
            .prepare_cached(&sql)?
            .execute(params_from_iter(std::iter::once(&name).chain(key)))?;
        Ok(())
    }

    /// Without a savepoint where the schema lets a failing statement undo itself: the savepoint
    /// copied every page a mutation changed into a sub-journal and cost two statements more
    /// (~10% of the primary's CPU in a push, perf).
    async fn apply(
        &mut self,
        table: &Table<Kind>,
        mutation: &Mutation,
    ) -> Result<Option<Refusal>, StoreError> {
        let conn = self.0;
        let undoes_itself = match self.1.undoes_itself {
            Some(known) => known,
            None => *self
                .1
                .undoes_itself
                .insert(statements_undo_themselves(conn)?),
        };
        let Some((sql, values)) = self.1.statements.statement(table, mutation) else {
            return Ok(None);
        };
        if !undoes_itself {
            conn.prepare_cached("SAVEPOINT outpost_mutation")?
                .execute([])?;
        }
        let done = conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params_from_iter(values)));
        match done {
            Ok(_) if undoes_itself => Ok(None),
            Ok(_) => {
                conn.prepare_cached("RELEASE outpost_mutation")?
                    .execute([])?;
                Ok(None)
            }
            // A statement that ended the whole transaction is the store failing, not a refusal.
            Err(err) if is_refusal(&err) && !conn.is_autocommit() => {
                if !undoes_itself {
                    conn.execute_batch("ROLLBACK TO outpost_mutation; RELEASE outpost_mutation")?;
                }
                Ok(Some(refusal(err, table, mutation)))
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn holds(
        &mut self,
        _table: &Table<Kind>,
        check: &WriteCheck<'_>,
    ) -> Result<bool, StoreError> {
        let (sql, values) = check.select(|n, _| Question.nth(n));
        Ok(self
            .0
            .prepare_cached(&sql)?
            .exists(params_from_iter(values))?)
    }

    async fn apply_judged(
        &mut self,
        write: &RuledWrite<'_, Kind>,
    ) -> Result<Option<Refusal>, StoreError> {
        self.0.execute_batch(Savepoint::OPEN)?;
        let refusal = write.run(self).await?;
        self.0.execute_batch(Savepoint::close(refusal.is_none()))?;
        Ok(refusal)
    }

    async fn store_refusal(
        &mut self,
        client: &str,
        seq: i64,
        refusal: &Refusal,
    ) -> Result<(), StoreError> {
        self.0.prepare_cached(text::STORE_REFUSAL)?.execute((
            client,
            seq,
            &refusal.code,
            &refusal.reason,
        ))?;
        Ok(())
    }

    async fn forget_refusals_before(&mut self, client: &str, seq: i64) -> Result<(), StoreError> {
        self.0
            .prepare_cached(text::FORGET_REFUSALS)?
            .execute((client, seq))?;
        Ok(())
    }
}

pub fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(text::CURRENT_VERSION)?
        .query_row([], |r| r.get(0))
}

/// The row of `table` with this key as the database has it now, every column included; through
/// the caller's `view` of the table when one is given.
fn read_row(
    conn: &Connection,
    table: &Table<Kind>,
    key: &[Value],
    view: Option<RowView<'_>>,
) -> rusqlite::Result<Option<Row>> {
    let (sql, claims) = read_row_sql(table, view);
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(read_values_with(&mut stmt, table, key, &claims)?.map(|values| table.row_of(values)))
}

/// The point read of one row by key (bound from 1), through `view` when given: then its claims
/// are bound after the key.
fn read_row_sql(table: &Table<Kind>, view: Option<RowView<'_>>) -> (String, Vec<Value>) {
    let name = quote_ident(&table.name);
    let (source, claims) = match view {
        Some(view) => {
            let first = table.key.len() + 1;
            let (select, claims) = view.select(&name, first, |n, _| Question.nth(n));
            (format!("({select})"), claims)
        }
        None => (name, Vec::new()),
    };
    let sql = format!(
        "SELECT {} FROM {source} WHERE {}",
        table.column_list(None),
        sql::key_predicate(&table.key_names, 1, Question)
    );
    (sql, claims)
}

/// The values, in column order, of the row `stmt` (from [`read_row_sql`]) reads by `key`.
fn read_values_with(
    stmt: &mut rusqlite::Statement<'_>,
    table: &Table<Kind>,
    key: &[Value],
    claims: &[Value],
) -> rusqlite::Result<Option<Vec<Value>>> {
    stmt.query_row(params_from_iter(key.iter().chain(claims)), |r| {
        (0..table.columns.len())
            .map(|i| r.get::<_, Value>(i))
            .collect()
    })
    .optional()
}

/// The statement's own fault (constraint, type, a trigger's RAISE): refuse the mutation.
/// Anything else is the store failing and must not be recorded as a permanent refusal.
fn is_refusal(err: &rusqlite::Error) -> bool {
    match err.sqlite_error() {
        Some(failure) => text::is_refusal_code(codes::sqlite_name(failure.extended_code & 0xff)),
        None => true,
    }
}

fn refusal(err: rusqlite::Error, table: &Table<Kind>, mutation: &Mutation) -> Refusal {
    let err = outpost::Error::from(err);
    text::refusal(err.code(), err.to_string(), table, mutation)
}

/// [`text::STATEMENTS_UNDO_THEMSELVES`]: asked once per transaction, since a migration or another
/// SQLite client may change the schema while the primary runs.
fn statements_undo_themselves(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached(text::STATEMENTS_UNDO_THEMSELVES)?
        .query_row([], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::statements_undo_themselves;

    fn undo_themselves(schema: &str) -> bool {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(schema).unwrap();
        statements_undo_themselves(&conn).unwrap()
    }

    #[test]
    fn only_a_schema_that_keeps_part_of_a_failed_statement_takes_savepoints() {
        let table = "CREATE TABLE t(id INTEGER PRIMARY KEY, n TEXT UNIQUE, CHECK (n <> ''));
                     CREATE TABLE log(id INTEGER PRIMARY KEY, n TEXT);";
        let undoing = [
            "CREATE TRIGGER _outpost_capture_t_insert AFTER INSERT ON t BEGIN SELECT 1; END;",
            "CREATE TRIGGER logged AFTER INSERT ON t BEGIN INSERT INTO log(n) VALUES (NEW.n); END;",
            "CREATE TRIGGER checked BEFORE INSERT ON t BEGIN SELECT RAISE(ABORT, 'no') WHERE NEW.n = 'x'; END;",
        ];
        for other in undoing {
            assert!(undo_themselves(&format!("{table}{other}")), "{other}");
        }
        let keeping = [
            "CREATE TRIGGER checked AFTER INSERT ON t BEGIN SELECT RAISE(FAIL, 'no') WHERE NEW.n = 'x'; END;",
            "CREATE TRIGGER logged AFTER INSERT ON t BEGIN INSERT OR ROLLBACK INTO log(n) VALUES (NEW.n); END;",
            "CREATE TABLE u(id INTEGER PRIMARY KEY, n TEXT NOT NULL ON CONFLICT FAIL);",
            "CREATE TABLE u(id INTEGER PRIMARY KEY, n TEXT UNIQUE ON CONFLICT ROLLBACK);",
        ];
        for other in keeping {
            assert!(!undo_themselves(&format!("{table}{other}")), "{other}");
        }
    }
}
