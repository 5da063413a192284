//! The store of a Durable Object primary: one object per database, its data in the object's
//! SQLite storage (`ctx.storage.sql`), created from the schema's migrations on first use. The
//! object runs one request at a time between awaits, and every call here is synchronous, so a
//! push is one `transactionSync` and a pull reads one consistent state without one.
//!
//! With sync rules, pushes and pulls are held to them as on the server, by the same algorithms;
//! the rules are checked against the storage's tables when the store opens.

mod dialect;
mod schema;
mod storage;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse, ServedPage};
use outpost::Value;

use outpost::sql::{quote_ident, Placeholders::Question};

use super::dialect::run_ready;
use super::ruled::{self, Access};
use super::{pull, push, QueryAnswer, StoreError};
use crate::rules::{Caller, Rules};
use dialect::Durable;
pub use storage::SqlStorage;

/// One database, in the storage of the object that holds it.
pub struct DurableStore {
    storage: SqlStorage,
    tables: super::table::Tables<dialect::Kind>,
    rules: Option<Rules>,
}

impl DurableStore {
    /// Bring the object's storage up to `schema_sql` (migrations, bookkeeping, capture
    /// triggers), in one transaction, and start an epoch: the object has just started, so it may
    /// have been restored to an earlier point. With `rules`, every push and pull is held to
    /// them; rules that do not fit the tables, or whose SQL fails, keep the store from opening
    /// (`Setup`, naming the line and why), as they keep the server from starting.
    pub fn open(
        storage: SqlStorage,
        schema_sql: &str,
        rules: Option<Rules>,
    ) -> Result<DurableStore, StoreError> {
        let tables = storage.atomically(|| schema::prepare(&storage, schema_sql))?;
        let rules = match rules {
            Some(rules) => Some(check_rules(&storage, &tables, rules)?),
            None => None,
        };
        Ok(DurableStore {
            storage,
            tables,
            rules,
        })
    }

    /// Whether pushes and pulls are held to sync rules.
    pub fn has_rules(&self) -> bool {
        self.rules.is_some()
    }

    /// Apply a push in one transaction: each mutation above the client's `acked_through` is
    /// applied, dropped or refused, exactly once; with rules, held to the write rules for
    /// `caller`.
    pub fn push(&self, request: &PushRequest, caller: &Caller) -> Result<PushResponse, StoreError> {
        let storage = &self.storage;
        let access = Access::of(self.rules.as_ref(), caller);
        storage.atomically(|| {
            run_ready(push::apply(
                &mut Durable(storage),
                &self.tables,
                request,
                access,
            ))
        })
    }

    /// The changes after the request's cursor, at once; with rules, only what `caller` may read.
    pub fn pull(
        &self,
        request: &PullRequest,
        caller: &Caller,
    ) -> Result<PullResponse<ServedPage>, StoreError> {
        run_ready(pull::read_changes(
            &mut Durable(&self.storage),
            &self.tables,
            request,
            Access::of(self.rules.as_ref(), caller),
        ))
    }

    /// Run one read-only statement: it runs in a transaction that is always rolled back, and one
    /// that wrote is refused as `READ_ONLY`.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<QueryAnswer, StoreError> {
        if self.rules.is_some() {
            return Err(ruled::queries_disabled());
        }
        schema::read_only_query(&self.storage, sql, params)
    }
}

/// `rules` checked against `tables`, and each of their statements run once with every value
/// NULL and no row read (`LIMIT 0`): SQL here cannot be prepared without being run.
fn check_rules(
    storage: &SqlStorage,
    tables: &super::table::Tables<dialect::Kind>,
    mut rules: Rules,
) -> Result<Rules, StoreError> {
    rules.check_tables(tables).map_err(StoreError::Setup)?;
    let null = Value::Null;
    for statement in ruled::statements(
        &rules,
        tables,
        |n, _| Question.nth(n),
        |t| quote_ident(&t.name),
    ) {
        let sql = format!("SELECT * FROM ({}) LIMIT 0", statement.sql);
        storage
            .select(&sql, &vec![&null; statement.params])
            .map_err(|e| StoreError::Setup(statement.error(&rules, &e.message)))?;
    }
    Ok(rules)
}
