//! The real `outpost-primary`, served on 127.0.0.1:0 from a background thread with its own tokio
//! runtime, on either store: SQLite files in a temporary data directory, or a fresh database on
//! a throwaway PostgreSQL server. It can be stopped and started again on the same data, as a
//! deployed primary restarts; transports follow it through a shared [`Endpoint`]. Tests read the
//! primary's state and write behind its back through [`TestPrimary::rows`] and
//! [`TestPrimary::execute`], whichever the store.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use outpost::Value;
use outpost_primary::{run, serve, Auth, Config, PostgresStore};
use rusqlite::{Connection, OpenFlags, ToSql};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::postgres::{PgDatabase, SqlError};

/// Where the primary answers now. While it is down this points at a port nothing listens on, so
/// a request fails as a real one would, and never reaches another test's server that happened
/// to be given the old port.
#[derive(Clone, Debug)]
pub struct Endpoint(Arc<Mutex<String>>);

/// Port 1 on loopback: nothing listens there, so connections are refused at once.
const NOWHERE: &str = "http://127.0.0.1:1";

impl Endpoint {
    pub fn url(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    fn set(&self, url: &str) {
        *self.0.lock().unwrap() = url.to_owned();
    }
}

/// Where the primary keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `{name}.sqlite3` files in a data directory (`outpost-primary serve --data`).
    Sqlite,
    /// One schema per database name in PostgreSQL (`--store postgres://…`, docs/POSTGRES.md).
    Postgres,
}

/// The data of one primary, kept across its restarts.
enum Store {
    Sqlite(TempDir),
    Postgres(Box<PgDatabase>),
}

pub struct TestPrimary {
    store: Store,
    schema_sql: String,
    auth: Auth,
    endpoint: Endpoint,
    running: Option<Running>,
}

struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl TestPrimary {
    /// A primary without auth serving `schema_sql` for every database.
    pub fn start(schema_sql: &str) -> TestPrimary {
        TestPrimary::start_with(schema_sql, Auth::None)
    }

    /// A primary with the SQLite store.
    pub fn start_with(schema_sql: &str, auth: Auth) -> TestPrimary {
        TestPrimary::start_on(Backend::Sqlite, schema_sql, auth)
    }

    /// A primary on `backend`, with new, empty data. `schema_sql` is in that store's dialect.
    pub fn start_on(backend: Backend, schema_sql: &str, auth: Auth) -> TestPrimary {
        let store = match backend {
            Backend::Sqlite => Store::Sqlite(crate::scratch_dir()),
            Backend::Postgres => Store::Postgres(Box::new(PgDatabase::fresh())),
        };
        let mut primary = TestPrimary {
            store,
            schema_sql: schema_sql.to_owned(),
            auth,
            endpoint: Endpoint(Arc::new(Mutex::new(NOWHERE.to_owned()))),
            running: None,
        };
        primary.start_again();
        primary
    }

    pub fn backend(&self) -> Backend {
        match self.store {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Start serving again on the same data (on a new port). With Postgres this is a new
    /// instance on the same Postgres database, which is what restarting a stateless primary means.
    pub fn start_again(&mut self) {
        assert!(self.running.is_none(), "the primary is already running");
        let (data_dir, store_url) = match &self.store {
            Store::Sqlite(_) => (self.data_dir(), None),
            Store::Postgres(db) => (
                PathBuf::from("unused-with-postgres"),
                Some(db.url().to_owned()),
            ),
        };
        // As `outpost-primary` allows `/query` on Postgres: only without auth.
        let allow_queries = matches!(self.auth, Auth::None);
        let config = Config {
            data_dir,
            schema_sql: self.schema_sql.clone(),
            static_dir: None,
            auth: self.auth.clone(),
            databases: None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, address) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                // Connect before listening, so a store that cannot start fails the test here.
                let postgres = match store_url {
                    None => None,
                    Some(url) => {
                        match PostgresStore::connect(&url, config.schema_sql.clone()).await {
                            Ok(store) => Some(store.allow_queries(allow_queries)),
                            Err(why) => return bound.send(Err(why.to_string())).unwrap(),
                        }
                    }
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                bound.send(Ok(listener.local_addr().unwrap())).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                let served = match postgres {
                    None => run(listener, config, shutdown).await,
                    Some(store) => serve(listener, store, config, shutdown).await,
                };
                served.expect("the primary failed");
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the primary did not bind")
            .unwrap_or_else(|why| panic!("the primary did not start: {why}"));
        self.endpoint.set(&format!("http://{address}"));
        self.running = Some(Running { stop, thread });
    }

    /// Stop serving and wait until the server has let go of its databases.
    pub fn stop(&mut self) {
        self.endpoint.set(NOWHERE);
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running.thread.join().expect("the primary thread panicked");
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    pub fn url(&self) -> String {
        self.endpoint.url()
    }

    /// Whether database `name` exists yet (the primary creates it on first use).
    pub fn has_database(&self, name: &str) -> bool {
        match &self.store {
            Store::Sqlite(_) => self.database_path(name).exists(),
            Store::Postgres(db) => db.has_database(name),
        }
    }

    /// Every row `sql` returns from database `name`, read directly (not through the server).
    pub fn rows(&self, name: &str, sql: &str) -> Vec<Vec<Value>> {
        match &self.store {
            Store::Sqlite(_) => {
                let conn = Connection::open_with_flags(
                    self.database_path(name),
                    OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("open the primary's file read-only");
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                read_rows(&conn, sql)
            }
            Store::Postgres(db) => db.rows(name, sql),
        }
    }

    /// Run one statement on database `name` behind the server's back, as a backend job or a SQL
    /// shell would, whether or not the server runs; answers the rows it changed. Parameters are
    /// `$1`, `$2`…, which both dialects read (SQLite as named parameters).
    pub fn execute(&self, name: &str, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        match &self.store {
            Store::Sqlite(_) => {
                let conn = self.open_file(name);
                let mut stmt = conn.prepare(sql)?;
                let names: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
                let named: Vec<(&str, &dyn ToSql)> = names
                    .iter()
                    .zip(params)
                    .map(|(n, v)| (n.as_str(), v as &dyn ToSql))
                    .collect();
                Ok(stmt.execute(named.as_slice())? as u64)
            }
            Store::Postgres(db) => db.execute(name, sql, params),
        }
    }

    /// The SQLite store's data directory.
    pub fn data_dir(&self) -> PathBuf {
        match &self.store {
            Store::Sqlite(dir) => dir.path().join("data"),
            Store::Postgres(_) => panic!("the Postgres store has no data directory"),
        }
    }

    /// The file of database `name`, as the SQLite store lays it out.
    pub fn database_path(&self, name: &str) -> PathBuf {
        self.data_dir().join(format!("{name}.sqlite3"))
    }

    /// A connection to the SQLite store's file, as a backend job or a SQL shell would open it.
    pub fn open_file(&self, name: &str) -> Connection {
        let conn = Connection::open(self.database_path(name)).expect("open the primary's file");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }
}

impl Drop for TestPrimary {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn read_rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn.prepare(sql).expect(sql);
    let width = stmt.column_count();
    stmt.query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
        .and_then(|rows| rows.collect())
        .expect(sql)
}
