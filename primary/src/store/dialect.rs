//! What the push and pull algorithms (`push.rs`, `pull.rs`, written once) need from a database
//! engine: a handful of statements inside a transaction the store has opened. Each dialect
//! (`sqlite/`, `postgres/`) implements these over its own connection; locking, isolation and
//! the commit are the store's, so the algorithms never see them.
//!
//! The methods are async so that Postgres can await its round trips; the SQLite dialect answers
//! at once, and its store drives the algorithm with [`run_ready`] on a blocking thread.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use outpost::protocol::Mutation;
use outpost::{Row, Value};

use super::push::RuledWrite;
use super::ruled::{RowView, WriteCheck};
use super::table::Table;
use super::StoreError;

/// Why one mutation was refused: stored, then returned on this push and on any retry of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: String,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: &str, reason: impl Into<String>) -> Self {
        Refusal {
            code: code.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why an insert over an existing key is refused, the same from every dialect.
pub fn key_exists_reason(table: &str) -> String {
    format!(
        "table {table} already has a row with this key, made elsewhere; an insert never \
         overwrites another replica's row (use keys that cannot collide, e.g. random ones)"
    )
}

/// One entry of the change log: the row of `table` with this key changed at `version`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeEntry {
    pub table: String,
    pub key: Vec<Value>,
    pub version: i64,
}

impl ChangeEntry {
    /// An entry as the change log stores it: the key is a JSON array text (the capture
    /// triggers write it with `json_array` / `jsonb_build_array`).
    pub fn from_log(table: String, key_json: &str, version: i64) -> Result<Self, StoreError> {
        let key = serde_json::from_str(key_json).map_err(|e| {
            StoreError::Internal(format!("bad key {key_json} in _outpost_changes: {e}"))
        })?;
        Ok(ChangeEntry {
            table,
            key,
            version,
        })
    }
}

/// What the primary remembers of one client.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientState {
    /// The highest `seq` of the client applied or refused so far (0 for a new client).
    pub acked_through: i64,
    /// [`outpost::protocol::Mutation::digest`] of the mutation at `acked_through`, when known.
    pub acked_digest: Option<String>,
}

/// Reads inside one snapshot of one database: all a pull needs, and what a push reads.
#[allow(async_fn_in_trait)] // the futures' Send-ness follows the implementing type
pub trait ReadTx {
    /// How this dialect stores a column.
    type Kind;

    /// Up to `limit` change-log entries, in version order, of each group's tables with
    /// `version` above the group's cursor.
    async fn changes_after(
        &mut self,
        groups: &[(i64, Vec<&str>)],
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError>;

    /// The current row (None for a tombstone) of each entry, all of `table`, in the same order,
    /// as its values in the order of `table.columns`.
    /// The entries are every change of `table` in `(after, upto]`, so a dialect may read them by
    /// that range in one statement.
    /// With a `view`, a row the caller may not read is None too (a tombstone for it).
    async fn changed_rows(
        &mut self,
        table: &Table<Self::Kind>,
        entries: &[&ChangeEntry],
        after: i64,
        upto: i64,
        view: Option<RowView<'_>>,
    ) -> Result<Vec<Option<Vec<Value>>>, StoreError>;

    /// The row of `table` with `key` as it is now, every column included; None without one, or
    /// when `view` is given and the caller may not read it.
    async fn read_row(
        &mut self,
        table: &Table<Self::Kind>,
        key: &[Value],
        view: Option<RowView<'_>>,
    ) -> Result<Option<Row>, StoreError>;

    /// The newest version in the change log (0 when empty).
    async fn current_version(&mut self) -> Result<i64, StoreError>;

    async fn client_state(&mut self, client: &str) -> Result<ClientState, StoreError>;

    /// The stored refusals of `client` with `first <= seq <= last`, in `seq` order.
    async fn refusals_between(
        &mut self,
        client: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<(i64, Refusal)>, StoreError>;

    /// The history marker of `version`: the id of the newest epoch (one starts each time the
    /// store opens the database) whose first version is at or below it. None for version 0.
    async fn epoch_of(&mut self, version: i64) -> Result<Option<String>, StoreError>;
}

/// A write transaction on one database, holding its write lock, as a push runs in it.
#[allow(async_fn_in_trait)]
pub trait WriteTx: ReadTx {
    /// Raise the client's `acked_through` to `state.acked_through` with its digest (never lower it).
    async fn set_client_state(
        &mut self,
        client: &str,
        state: &ClientState,
    ) -> Result<(), StoreError>;

    /// Record a new version for the row of `table` with `key`, as the capture triggers would.
    async fn touch(&mut self, table: &Table<Self::Kind>, key: &[Value]) -> Result<(), StoreError>;

    /// Apply one mutation whose shape was checked against `table`, alone: `Ok(Some(_))` when the
    /// statement's own fault refused it (a constraint, a value that does not fit, an insert of a
    /// key the table already has) and nothing of it remains; `Err` when the store itself failed,
    /// which aborts the whole push.
    async fn apply(
        &mut self,
        table: &Table<Self::Kind>,
        mutation: &Mutation,
    ) -> Result<Option<Refusal>, StoreError>;

    /// Whether a write rule holds for `check` (a `SELECT 1 WHERE <rule>`), read in this
    /// transaction, so it sees what the write itself changed.
    async fn holds(
        &mut self,
        table: &Table<Self::Kind>,
        check: &WriteCheck<'_>,
    ) -> Result<bool, StoreError>;

    /// Run `write` (an insert or update held to its rule: applied, then judged) as one unit:
    /// what it did is kept when [`RuledWrite::run`] answers None, and undone whole, triggers'
    /// writes included, when it answers a refusal, which is returned. A dialect with SQL
    /// savepoints runs it inside [`Savepoint`]'s statements; one without, in whatever nests.
    async fn apply_judged(
        &mut self,
        write: &RuledWrite<'_, Self::Kind>,
    ) -> Result<Option<Refusal>, StoreError>;

    async fn store_refusal(
        &mut self,
        client: &str,
        seq: i64,
        refusal: &Refusal,
    ) -> Result<(), StoreError>;

    /// Forget the refusals of `client` below `seq`: the client no longer asks about them.
    async fn forget_refusals_before(&mut self, client: &str, seq: i64) -> Result<(), StoreError>;
}

/// The savepoint a dialect with SQL savepoints runs [`WriteTx::apply_judged`]'s unit in, the
/// same statements in both (around [`WriteTx::apply`]'s own).
pub struct Savepoint;

impl Savepoint {
    pub const OPEN: &'static str = "SAVEPOINT outpost_rule";

    /// The statement that ends the unit: keeps what it did, or undoes it.
    pub fn close(kept: bool) -> &'static str {
        match kept {
            true => "RELEASE outpost_rule",
            false => "ROLLBACK TO outpost_rule; RELEASE outpost_rule",
        }
    }
}

/// Drive a future that never waits (the SQLite dialect's) to its end on this thread.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("a synchronous dialect's statement waited"),
    }
}
