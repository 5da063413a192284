//! The PostgreSQL store: everything the primary keeps lives in Postgres, one schema per database
//! name, so any number of stateless primaries can serve the same clients. The invariants and
//! their costs are written down in docs/POSTGRES.md; the visibility-order rule is in `capture`.

mod capture;
mod dialect;
mod listen;
mod refusals;
mod schema;
mod values;

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use outpost::codes;
use outpost::protocol::{
    quote_ident, PullRequest, PullResponse, PushRequest, PushResponse, ServedPage,
};
use outpost::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls};

use super::ruled::{self, Access};
use super::{pull, push, QueryAnswer, Store, StoreError};
use crate::rules::{Caller, Rules};
use dialect::Postgres;
use listen::Signals;
use schema::Tables;
use values::{query_column_kind, read_value, QueryParam};

/// Connections per primary: enough for a few pushes, pulls and opens at once on a small
/// machine; long polls hold none while they wait.
const POOL_SIZE: usize = 16;
/// The schema a dry run of the schema SQL is applied to, then rolled back. Database names cannot
/// start with `_`, so no database maps here.
const PROBE_SCHEMA: &str = "outpost__probe";

/// Cheap to clone: clones share the pool, the open databases and the listener.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
    allow_queries: bool,
    rules: Option<Arc<Rules>>,
}

struct Inner {
    pool: Pool,
    schema_sql: String,
    /// Opened databases. An async lock: opening runs SQL, and two first requests for one name
    /// must not both run it.
    databases: tokio::sync::Mutex<HashMap<String, Arc<Database>>>,
    signals: Signals,
    listener: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// One database name: its Postgres schema and synced tables.
struct Database {
    schema: String,
    tables: Tables,
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host:port/dbname`, no TLS) and check `schema_sql` with a
    /// dry run that is rolled back, so a schema Outpost cannot carry stops the server before it
    /// listens. Must run inside a tokio runtime: it starts the LISTEN task.
    pub async fn connect(url: &str, schema_sql: impl Into<String>) -> Result<Self, StoreError> {
        let schema_sql = schema_sql.into();
        let setup = StoreError::Setup;
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| setup(format!("--store {url}: not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| setup(format!("cannot connect to PostgreSQL at {url}: {e}")))?;
        let tx = client.transaction().await?;
        schema::prepare(&tx, "_probe", PROBE_SCHEMA, &schema_sql)
            .await
            .map_err(StoreError::at_start)?;
        tx.rollback().await?;
        let signals = Signals::default();
        let listener = tokio::spawn(listen::listen_forever(url.to_owned(), signals.clone()));
        let inner = Inner {
            pool,
            schema_sql,
            databases: tokio::sync::Mutex::default(),
            signals,
            listener,
        };
        Ok(PostgresStore {
            inner: Arc::new(inner),
            allow_queries: false,
            rules: None,
        })
    }

    /// Hold every push and pull to `rules` (docs/RULES.md), after checking them against the
    /// schema and preparing each rule's statement in a dry run that is rolled back, so a bad
    /// rules file stops the server before it listens, naming the line and why.
    pub async fn with_rules(self, mut rules: Rules) -> Result<Self, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let tables = schema::prepare(&tx, "_probe", PROBE_SCHEMA, &self.inner.schema_sql)
            .await
            .map_err(StoreError::at_start)?;
        rules.check_tables(&tables).map_err(StoreError::Setup)?;
        let schema = quote_ident(PROBE_SCHEMA);
        tx.batch_execute(&format!("SET LOCAL search_path TO {schema}"))
            .await?;
        let statements = ruled::statements(
            &rules,
            &tables,
            |n, _| outpost::sql::Placeholders::Dollar.nth(n),
            |t| format!("{schema}.{}", quote_ident(&t.name)),
        );
        for statement in statements {
            let prepared = tx.prepare(&statement.sql).await;
            let problem = match &prepared {
                Err(e) => Some(schema::describe_error(e)),
                Ok(prepared) => prepared
                    .params()
                    .iter()
                    .find(|t| !values::can_bind(t))
                    .map(|t| {
                        format!("a claim compared as {t} cannot be bound; cast it, e.g. :sub::text")
                    }),
            };
            if let Some(problem) = problem {
                return Err(StoreError::Setup(statement.error(&rules, &problem)));
            }
        }
        tx.rollback().await?;
        Ok(PostgresStore {
            rules: Some(Arc::new(rules)),
            ..self
        })
    }

    /// In a transaction of database schema `schema` (quoted): rules name tables unqualified.
    async fn rules_see(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        schema: &str,
    ) -> Result<(), StoreError> {
        if self.rules.is_some() {
            tx.batch_execute(&format!("SET LOCAL search_path TO {schema}"))
                .await?;
        }
        Ok(())
    }

    /// Allow `/query`. Off by default: a query could name another database's schema, so it is
    /// only safe where every caller may read every database anyway (`--no-auth`).
    pub fn allow_queries(self, allow: bool) -> Self {
        PostgresStore {
            allow_queries: allow,
            ..self
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Internal(format!("no PostgreSQL connection: {e}")))
    }

    async fn database(&self, name: &str) -> Result<Arc<Database>, StoreError> {
        let mut databases = self.inner.databases.lock().await;
        if let Some(db) = databases.get(name) {
            return Ok(db.clone());
        }
        let schema = schema::schema_name(name);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let tables = schema::prepare(&tx, name, &schema, &self.inner.schema_sql)
            .await
            .map_err(|e| e.for_database(name))?;
        // This instance's epoch starts after every version so far: under the write lock, so no
        // version below it commits later.
        let s = quote_ident(&schema);
        tx.batch_execute(&format!(
            "SELECT {s}._outpost_lock(); \
             INSERT INTO {s}._outpost_epochs(id, first_version) VALUES \
             ('e' || md5(random()::text || clock_timestamp()::text), \
              (SELECT coalesce(max(version), 0) + 1 FROM {s}._outpost_changes))"
        ))
        .await?;
        tx.commit().await?;
        let db = Arc::new(Database { schema, tables });
        self.signals()
            .entry(name.to_owned())
            .or_insert_with(|| watch::Sender::new(0));
        databases.insert(name.to_owned(), db.clone());
        Ok(db)
    }

    fn signals(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<i64>>> {
        self.inner
            .signals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for PostgresStore {
    /// READ COMMITTED, holding the database's advisory lock from the first statement, so
    /// versions are assigned and committed in cursor order (see `capture`).
    async fn push(
        &self,
        db: &str,
        request: PushRequest,
        caller: Caller,
    ) -> Result<PushResponse, StoreError> {
        let database = self.database(db).await?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let schema = quote_ident(&database.schema);
        tx.execute(&format!("SELECT {schema}._outpost_lock()"), &[])
            .await?;
        self.rules_see(&tx, &schema).await?;
        let mut dialect = Postgres { tx: &tx, schema };
        let access = Access::of(self.rules.as_deref(), &caller);
        let answer = push::apply(&mut dialect, &database.tables, &request, access).await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// One REPEATABLE READ snapshot: versions become visible in increasing order, so every
    /// version at or below the snapshot's newest is in it.
    async fn pull(
        &self,
        db: &str,
        request: PullRequest,
        caller: Caller,
    ) -> Result<PullResponse<ServedPage>, StoreError> {
        let database = self.database(db).await?;
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let schema = quote_ident(&database.schema);
        self.rules_see(&tx, &schema).await?;
        let mut dialect = Postgres { tx: &tx, schema };
        let access = Access::of(self.rules.as_deref(), &caller);
        let answer = pull::read_changes(&mut dialect, &database.tables, &request, access).await?;
        tx.commit().await?;
        Ok(answer)
    }

    async fn query(
        &self,
        db: &str,
        sql: String,
        params: Vec<Value>,
    ) -> Result<QueryAnswer, StoreError> {
        if self.rules.is_some() {
            return Err(ruled::queries_disabled());
        }
        if !self.allow_queries {
            return Err(StoreError::BadQuery {
                code: codes::QUERY_DISABLED.into(),
                message: "this primary's PostgreSQL store answers queries only with --no-auth, \
                          since a query could read other databases' schemas"
                    .into(),
            });
        }
        if controls_the_session(&sql) {
            return Err(StoreError::ReadOnly);
        }
        let database = self.database(db).await?;
        let mut client = self.client().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        tx.batch_execute(&format!(
            "SET LOCAL search_path TO {}",
            quote_ident(&database.schema)
        ))
        .await?;
        let params: Vec<QueryParam> = params.into_iter().map(QueryParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let statement = tx.prepare(&sql).await.map_err(query_error)?;
        let rows = tx.query(&statement, &refs).await.map_err(query_error)?;
        tx.rollback().await?;
        query_answer(statement.columns(), rows)
    }

    fn has_rules(&self) -> bool {
        self.rules.is_some()
    }

    async fn changes(&self, db: &str) -> Result<watch::Receiver<i64>, StoreError> {
        self.database(db).await?;
        Ok(self
            .signals()
            .entry(db.to_owned())
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe())
    }
}

/// Statements that control a transaction or the session rather than read: Postgres runs them in
/// a read-only transaction (BEGIN only warns), and a session setting would outlive the request
/// on the pooled connection. Judged by the first word, after comments.
fn controls_the_session(sql: &str) -> bool {
    const VERBS: &[&str] = &[
        "BEGIN",
        "START",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "SAVEPOINT",
        "RELEASE",
        "PREPARE",
        "SET",
        "RESET",
        "DISCARD",
        "LISTEN",
        "UNLISTEN",
        "NOTIFY",
        "LOCK",
    ];
    let mut rest = sql.trim_start();
    loop {
        if let Some(line) = rest.strip_prefix("--") {
            rest = line
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(block) = rest.strip_prefix("/*") {
            rest = block
                .split_once("*/")
                .map_or("", |(_, after)| after)
                .trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    VERBS.iter().any(|verb| verb.eq_ignore_ascii_case(&word))
}

fn query_answer(
    columns: &[tokio_postgres::Column],
    rows: Vec<tokio_postgres::Row>,
) -> Result<QueryAnswer, StoreError> {
    let mut kinds = Vec::new();
    for column in columns {
        kinds.push(
            query_column_kind(column.type_()).ok_or_else(|| StoreError::BadQuery {
                code: codes::SQLITE_MISMATCH.into(),
                message: format!(
                    "column {} is {}, which has no wire value; cast it, e.g. {0}::text",
                    column.name(),
                    column.type_()
                ),
            })?,
        );
    }
    let columns = columns.iter().map(|c| c.name().to_owned()).collect();
    let rows = rows
        .iter()
        .map(|r| {
            (0..kinds.len())
                .map(|i| read_value(r, i, kinds[i]))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;
    Ok(QueryAnswer { columns, rows })
}

/// A query's own fault answers 400 with SQLite's generic code (the protocol's codes for a bad
/// query), keeping the SQLSTATE in the message; a write answers `READ_ONLY`.
fn query_error(err: tokio_postgres::Error) -> StoreError {
    match err.as_db_error() {
        Some(db) if *db.code() == SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::ReadOnly,
        Some(db) => StoreError::BadQuery {
            code: codes::SQLITE_ERROR.into(),
            message: format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        },
        None if err.is_closed() => StoreError::Internal(err.to_string()),
        None => StoreError::BadQuery {
            code: codes::SQLITE_ERROR.into(),
            message: err.to_string(),
        },
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        StoreError::Internal(schema::describe_error(&err))
    }
}
