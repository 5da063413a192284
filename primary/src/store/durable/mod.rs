//! The store of a Durable Object primary: one object per database, its data in the object's
//! SQLite storage (`ctx.storage.sql`), created from the schema's migrations on first use. The
//! object runs one request at a time between awaits, and every call here is synchronous, so a
//! push is one `transactionSync` and a pull reads one consistent state without one.
//!
//! Sync rules are not held here yet: a store with them refuses to open.

mod dialect;
mod schema;
mod storage;

use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::Value;

use super::dialect::run_ready;
use super::{pull, push, QueryAnswer, StoreError};
use crate::rules::Caller;
use dialect::Durable;
pub use storage::SqlStorage;

/// One database, in the storage of the object that holds it.
pub struct DurableStore {
    storage: SqlStorage,
    tables: super::table::Tables<dialect::Kind>,
}

impl DurableStore {
    /// Bring the object's storage up to `schema_sql` (migrations, bookkeeping, capture
    /// triggers), in one transaction, and start an epoch: the object has just started, so it may
    /// have been restored to an earlier point.
    pub fn open(storage: SqlStorage, schema_sql: &str) -> Result<DurableStore, StoreError> {
        let tables = storage.atomically(|| schema::prepare(&storage, schema_sql))?;
        Ok(DurableStore { storage, tables })
    }

    /// Apply a push in one transaction: each mutation above the client's `acked_through` is
    /// applied, dropped or refused, exactly once.
    pub fn push(&self, request: &PushRequest) -> Result<PushResponse, StoreError> {
        let storage = &self.storage;
        storage.atomically(|| {
            run_ready(push::apply(
                &mut Durable(storage),
                &self.tables,
                request,
                None,
            ))
        })
    }

    /// The changes after the request's cursor, at once.
    pub fn pull(
        &self,
        request: &PullRequest,
        _caller: &Caller,
    ) -> Result<PullResponse, StoreError> {
        run_ready(pull::read_changes(
            &mut Durable(&self.storage),
            &self.tables,
            request,
            None,
        ))
    }

    /// Run one read-only statement: it runs in a transaction that is always rolled back, and one
    /// that wrote is refused as `READ_ONLY`.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<QueryAnswer, StoreError> {
        schema::read_only_query(&self.storage, sql, params)
    }
}
