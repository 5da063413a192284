//! The embedded default store: one SQLite file per database, `{data_dir}/{name}.sqlite3`, created
//! from the schema on first use. Each database keeps one writer and a few read-only connections
//! open (`readers.rs`; WAL mode, so pulls and queries never wait for a push); blocking work runs
//! in `spawn_blocking`, where the push and pull algorithms run over the SQLite dialect
//! (`dialect.rs`).

mod dialect;
mod group_commit;
mod guard;
mod readers;
mod schema;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use outpost::codes;
use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse, ServedPage};
use outpost::Value;
use rusqlite::{params_from_iter, Connection};
use tokio::sync::watch;

use super::dialect::run_ready;
use super::ruled::Access;
use super::{pull, QueryAnswer, Store, StoreError};
use crate::rules::{Caller, Rules};
use dialect::Sqlite;
use group_commit::PushQueue;
use outpost::sql::{quote_ident, Placeholders::Question};
use readers::Readers;
use schema::Schema;

/// Cheap to clone: clones share the open databases.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    rules: Option<Arc<Rules>>,
}

struct Inner {
    data_dir: PathBuf,
    schema_sql: String,
    databases: Mutex<HashMap<String, Arc<Database>>>,
}

struct Database {
    writer: Mutex<Connection>,
    /// Pushes waiting for `writer`, committed together (`group_commit.rs`).
    pushes: PushQueue,
    readers: Readers,
    schema: Schema,
    /// The newest version committed through `writer`.
    changes: watch::Sender<i64>,
}

impl SqliteStore {
    /// Check `schema_sql` on an in-memory database (so a bad schema stops the server before it
    /// listens) and create `data_dir`.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        schema_sql: impl Into<String>,
    ) -> Result<Self, StoreError> {
        let schema_sql = schema_sql.into();
        let mut probe = Connection::open_in_memory()?;
        schema::prepare(&mut probe, &schema_sql).map_err(StoreError::at_start)?;
        let data_dir = data_dir.into();
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            StoreError::Setup(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        let inner = Inner {
            data_dir,
            schema_sql,
            databases: Mutex::default(),
        };
        Ok(SqliteStore {
            inner: Arc::new(inner),
            rules: None,
        })
    }

    /// Hold every push and pull to `rules` (docs/RULES.md), after checking them against the
    /// schema and preparing each rule's statement on an empty database, so a bad rules file
    /// stops the server before it listens, naming the line and why.
    pub fn with_rules(self, mut rules: Rules) -> Result<Self, StoreError> {
        let mut probe = Connection::open_in_memory()?;
        let schema = schema::prepare(&mut probe, &self.inner.schema_sql)?;
        rules.check_tables(&schema).map_err(StoreError::Setup)?;
        for statement in super::ruled::statements(
            &rules,
            &schema,
            |n, _| Question.nth(n),
            |t| quote_ident(&t.name),
        ) {
            probe.prepare(&statement.sql).map_err(|e| {
                StoreError::Setup(statement.error(&rules, &outpost::Error::from(e).to_string()))
            })?;
        }
        Ok(SqliteStore {
            rules: Some(Arc::new(rules)),
            ..self
        })
    }

    async fn database(&self, name: &str) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = lock(&self.inner.databases).get(name) {
            return Ok(db.clone());
        }
        let inner = self.inner.clone();
        let name = name.to_owned();
        blocking(move || inner.open(&name)).await
    }
}

impl Inner {
    /// Holds the map's lock while opening, so two first requests cannot both create the file.
    fn open(&self, name: &str) -> Result<Arc<Database>, StoreError> {
        let mut databases = lock(&self.databases);
        if let Some(db) = databases.get(name) {
            return Ok(db.clone());
        }
        let path = self.data_dir.join(format!("{name}.sqlite3"));
        let mut writer = Connection::open(&path)?;
        guard::no_attach(&writer)?;
        writer.busy_timeout(Duration::from_secs(5))?;
        // One cached statement per table and column shape a push uses.
        writer.set_prepared_statement_cache_capacity(256);
        writer.pragma_update(None, "journal_mode", "WAL")?;
        let schema =
            schema::prepare(&mut writer, &self.schema_sql).map_err(|e| e.for_database(name))?;
        let readers = Readers::open(&path)?;
        writer.execute_batch(super::sqlite_sql::START_EPOCH)?;
        let version = dialect::current_version(&writer)?;
        let db = Arc::new(Database {
            writer: Mutex::new(writer),
            pushes: PushQueue::default(),
            readers,
            schema,
            changes: watch::Sender::new(version),
        });
        databases.insert(name.to_owned(), db.clone());
        Ok(db)
    }
}

impl Store for SqliteStore {
    async fn push(
        &self,
        db: &str,
        request: PushRequest,
        caller: Caller,
    ) -> Result<PushResponse, StoreError> {
        let database = self.database(db).await?;
        let answer = database.pushes.enqueue(request, caller);
        // Not awaited: the writer that takes this push may go on with later groups, and this
        // caller waits only for its own answer.
        let writer = database.clone();
        let rules = self.rules.clone();
        tokio::task::spawn_blocking(move || {
            writer
                .pushes
                .commit_waiting(&writer.writer, &writer.schema, rules.as_deref());
        });
        let answer = answer
            .await
            .map_err(|_| StoreError::Internal("a queued push was never answered".into()))??;
        database.changes.send_if_modified(|seen| {
            let newer = answer.version > *seen;
            *seen = (*seen).max(answer.version);
            newer
        });
        Ok(answer)
    }

    async fn pull(
        &self,
        db: &str,
        request: PullRequest,
        caller: Caller,
    ) -> Result<PullResponse<ServedPage>, StoreError> {
        let database = self.database(db).await?;
        let rules = self.rules.clone();
        blocking(move || {
            let mut conn = database.readers.take();
            let tx = conn.transaction()?;
            let access = Access::of(rules.as_deref(), &caller);
            run_ready(pull::read_changes(
                &mut Sqlite::on(&tx),
                &database.schema,
                &request,
                access,
            ))
        })
        .await
    }

    fn has_rules(&self) -> bool {
        self.rules.is_some()
    }

    async fn query(
        &self,
        db: &str,
        sql: String,
        params: Vec<Value>,
    ) -> Result<QueryAnswer, StoreError> {
        if self.rules.is_some() {
            return Err(super::ruled::queries_disabled());
        }
        let database = self.database(db).await?;
        blocking(move || {
            let conn = database.readers.take();
            read_only_query(&conn, &sql, params).map_err(|e| {
                let e = outpost::Error::from(e);
                let message = match e.code() {
                    codes::SQLITE_AUTH => {
                        "a query may not ATTACH or DETACH, run a PRAGMA, or call \
                                          a function that reaches outside the database"
                            .to_owned()
                    }
                    _ => e.to_string(),
                };
                StoreError::BadQuery {
                    code: e.code().to_owned(),
                    message,
                }
            })?
        })
        .await
    }

    async fn changes(&self, db: &str) -> Result<watch::Receiver<i64>, StoreError> {
        Ok(self.database(db).await?.changes.subscribe())
    }
}

/// The reader connection is opened read-only, so even a statement SQLite calls read-only but
/// that writes (some PRAGMAs) fails; the `readonly()` check gives the common case a clear code.
fn read_only_query(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
) -> rusqlite::Result<Result<QueryAnswer, StoreError>> {
    let mut stmt = conn.prepare(sql)?;
    if !stmt.readonly() {
        return Ok(Err(StoreError::ReadOnly));
    }
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let width = columns.len();
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            (0..width)
                .map(|i| r.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>();
    // BEGIN counts as read-only, but a transaction left open would freeze every later pull's
    // snapshot on this shared connection.
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
        return Ok(Err(StoreError::ReadOnly));
    }
    Ok(Ok(QueryAnswer {
        columns,
        rows: rows?,
    }))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
}

/// A panic while holding a connection leaves it usable (every transaction rolls back on drop),
/// so a poisoned lock is taken over rather than failing every later request.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
