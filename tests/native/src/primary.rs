//! The real `outpost-primary`, served on 127.0.0.1:0 from a background thread with its own tokio
//! runtime, on either store: SQLite files in a temporary data directory, or a fresh database on
//! a throwaway PostgreSQL server. This is how every test starts a primary in-process. Or the
//! Durable Object primary, `node primary-do/serve.mjs` in workerd ([`crate::durable`]). It can be
//! stopped and started again on the same data, as a deployed primary restarts, and on Postgres a
//! second instance can serve the same data; transports follow it through a shared [`Endpoint`].
//! Tests read the primary's state and write behind its back through [`TestPrimary::rows`],
//! [`TestPrimary::dump`] and [`TestPrimary::execute`], whichever the store.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use outpost::Value;
use outpost_primary::store::StoreError;
use outpost_primary::{run, serve, Auth, Config, PostgresStore, Rules, ServeError};
use rusqlite::{Connection, OpenFlags, ToSql};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::dump::Dump;
use crate::durable::{self, DurableObjects};
use crate::postgres::{PgDatabase, SqlError};
use crate::ServingCommand;

/// Where the primary answers now. While it is down this points at a port nothing listens on, so
/// a request fails as a real one would, and never reaches another test's server that happened
/// to be given the old port.
#[derive(Clone, Debug)]
pub struct Endpoint(Arc<Mutex<String>>);

/// Port 1 on loopback: nothing listens there, so connections are refused at once.
const NOWHERE: &str = "http://127.0.0.1:1";

/// How long a primary may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl Endpoint {
    /// An endpoint that never moves: a primary this kit did not start (the `outpost-primary`
    /// command), at `url`.
    pub fn fixed(url: &str) -> Endpoint {
        Endpoint(Arc::new(Mutex::new(url.trim_end_matches('/').to_owned())))
    }

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
    /// One Durable Object per database name, in workerd (primary-do/, docs/DURABLE_OBJECT.md).
    Durable,
}

/// Why a primary did not start serving.
#[derive(Debug)]
pub enum StartFailure {
    /// The Postgres store refused to connect. It checks the schema while connecting, so this is
    /// where a schema it cannot carry is refused, before anything listens (as the command does).
    Connect(StoreError),
    /// `run` (the SQLite store) or `serve` returned instead of serving, e.g. a schema the
    /// SQLite store cannot carry.
    Serve(ServeError),
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartFailure::Connect(e) => write!(f, "the store did not connect: {e}"),
            StartFailure::Serve(e) => write!(f, "the server did not serve: {e}"),
        }
    }
}

/// The data of one primary, kept across its restarts (and shared by its Postgres instances).
enum Store {
    Sqlite(TempDir),
    Postgres(Arc<PgDatabase>),
    Durable(DurableObjects),
}

pub struct TestPrimary {
    store: Store,
    schema_sql: String,
    auth: Auth,
    databases: Option<Vec<String>>,
    static_dir: Option<PathBuf>,
    rules: Option<Rules>,
    /// The rules file's text, which `serve.mjs --rules` reads.
    rules_text: Option<String>,
    endpoint: Endpoint,
    running: Option<Running>,
}

enum Running {
    InProcess(InProcess),
    /// The Durable Object primary's runtime, a child process.
    Command(ServingCommand),
}

struct InProcess {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
    /// Where the server thread reports a failure after it started; read when it stops.
    events: Mutex<mpsc::Receiver<Event>>,
}

/// What the server thread tells the test.
enum Event {
    Bound(SocketAddr),
    Failed(StartFailure),
}

impl TestPrimary {
    /// A primary on the SQLite store without auth, serving `schema_sql` for every database.
    pub fn start(schema_sql: &str) -> TestPrimary {
        TestPrimary::start_with(schema_sql, Auth::None)
    }

    /// A primary with the SQLite store.
    pub fn start_with(schema_sql: &str, auth: Auth) -> TestPrimary {
        TestPrimary::start_on(Backend::Sqlite, schema_sql, auth)
    }

    /// A primary on `backend`, with new, empty data. `schema_sql` is in that store's dialect.
    pub fn start_on(backend: Backend, schema_sql: &str, auth: Auth) -> TestPrimary {
        TestPrimary::new(backend, schema_sql, auth).started()
    }

    /// A primary on `backend` with new, empty data, not serving yet: configure it with the
    /// `with_*` methods, then start it with [`TestPrimary::started`] or
    /// [`TestPrimary::try_start_again`].
    pub fn new(backend: Backend, schema_sql: &str, auth: Auth) -> TestPrimary {
        let store = match backend {
            Backend::Sqlite => Store::Sqlite(crate::scratch_dir()),
            Backend::Postgres => Store::Postgres(Arc::new(PgDatabase::fresh())),
            Backend::Durable => Store::Durable(DurableObjects::fresh()),
        };
        TestPrimary {
            store,
            schema_sql: schema_sql.to_owned(),
            auth,
            databases: None,
            static_dir: None,
            rules: None,
            rules_text: None,
            endpoint: Endpoint(Arc::new(Mutex::new(NOWHERE.to_owned()))),
            running: None,
        }
    }

    /// Hold pushes and pulls to the sync rules in `text` (`--rules`, docs/RULES.md); panics if
    /// the file does not parse (a store refuses rules that do not fit its schema at start).
    pub fn with_rules(mut self, text: &str) -> TestPrimary {
        let rules = Rules::parse(text, "rules.txt").unwrap_or_else(|e| panic!("{e}"));
        self.rules = Some(rules);
        self.rules_text = Some(text.to_owned());
        self
    }

    /// Only these databases exist (`--databases`); others answer `UNKNOWN_DATABASE`.
    pub fn with_databases(mut self, names: &[&str]) -> TestPrimary {
        self.databases = Some(names.iter().map(|n| n.to_string()).collect());
        self
    }

    /// Serve the files of `dir` at `/` (`--static`).
    pub fn with_static_dir(mut self, dir: &Path) -> TestPrimary {
        self.static_dir = Some(dir.to_owned());
        self
    }

    /// Start serving; panics if the primary refuses to.
    pub fn started(mut self) -> TestPrimary {
        self.start_again();
        self
    }

    /// A second, independent instance serving the same Postgres data with the same
    /// configuration, as two stateless primaries behind a load balancer. Postgres only.
    pub fn another_instance(&self) -> TestPrimary {
        let Store::Postgres(db) = &self.store else {
            panic!("only the Postgres store serves one database from several instances")
        };
        TestPrimary {
            store: Store::Postgres(db.clone()),
            schema_sql: self.schema_sql.clone(),
            auth: self.auth.clone(),
            databases: self.databases.clone(),
            static_dir: self.static_dir.clone(),
            rules: self.rules.clone(),
            rules_text: self.rules_text.clone(),
            endpoint: Endpoint(Arc::new(Mutex::new(NOWHERE.to_owned()))),
            running: None,
        }
        .started()
    }

    pub fn backend(&self) -> Backend {
        match self.store {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
            Store::Durable(_) => Backend::Durable,
        }
    }

    /// Start serving again on the same data (on a new port). With Postgres this is a new
    /// instance on the same Postgres database, which is what restarting a stateless primary means.
    pub fn start_again(&mut self) {
        if let Err(why) = self.try_start_again() {
            panic!("the primary did not start: {why}");
        }
    }

    /// Start serving, or answer why the primary refused to. It has started once it answers
    /// `/v1/health`, so a test never races the server's start.
    pub fn try_start_again(&mut self) -> Result<(), StartFailure> {
        assert!(self.running.is_none(), "the primary is already running");
        let (data_dir, store_url) = match &self.store {
            Store::Sqlite(_) => (self.data_dir(), None),
            Store::Postgres(db) => (
                PathBuf::from("unused-with-postgres"),
                Some(db.url().to_owned()),
            ),
            Store::Durable(objects) => {
                assert!(
                    self.databases.is_none() && self.static_dir.is_none(),
                    "a Durable Object namespace has an object for every name, and no files"
                );
                let rules = self.rules_text.as_deref();
                let serving = objects.serve(&self.schema_sql, &self.auth, rules);
                self.endpoint.set(serving.url());
                self.running = Some(Running::Command(serving));
                return Ok(());
            }
        };
        // As `outpost-primary` allows `/query` on Postgres: only without auth.
        let allow_queries = matches!(self.auth, Auth::None);
        let config = Config {
            data_dir,
            schema_sql: self.schema_sql.clone(),
            static_dir: self.static_dir.clone(),
            auth: self.auth.clone(),
            databases: self.databases.clone(),
            rules: self.rules.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (report, events) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let bound = report.clone();
            let served = runtime.block_on(async move {
                // As `outpost-primary serve`: Postgres checks the schema before anything listens.
                let postgres = match store_url {
                    None => None,
                    Some(url) => {
                        let store = PostgresStore::connect(&url, config.schema_sql.clone())
                            .await
                            .map_err(StartFailure::Connect)?
                            .allow_queries(allow_queries);
                        Some(match config.rules.clone() {
                            None => store,
                            Some(rules) => store
                                .with_rules(rules)
                                .await
                                .map_err(StartFailure::Connect)?,
                        })
                    }
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                let _ = bound.send(Event::Bound(listener.local_addr().unwrap()));
                let shutdown = async move {
                    let _ = stopped.await;
                };
                match postgres {
                    None => run(listener, config, shutdown).await,
                    Some(store) => serve(listener, store, config, shutdown).await,
                }
                .map_err(StartFailure::Serve)
            });
            if let Err(failure) = served {
                let _ = report.send(Event::Failed(failure));
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let address = match events.recv_timeout(START_TIMEOUT) {
            Ok(Event::Bound(address)) => address,
            Ok(Event::Failed(failure)) => {
                join(thread);
                return Err(failure);
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("the primary did not bind in {START_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                join(thread);
                unreachable!("the primary thread ended without a word")
            }
        };
        let url = format!("http://{address}");
        // Bound is not serving yet: wait until it answers, or says why it never will.
        while !crate::api::answers_health(&url) {
            match events.try_recv() {
                Ok(Event::Failed(failure)) => {
                    join(thread);
                    return Err(failure);
                }
                Ok(Event::Bound(_)) => unreachable!("the primary binds once"),
                Err(TryRecvError::Disconnected) => {
                    join(thread);
                    unreachable!("the primary thread ended without a word")
                }
                Err(TryRecvError::Empty) => {}
            }
            assert!(
                Instant::now() < deadline,
                "the primary at {url} did not answer /v1/health in {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.endpoint.set(&url);
        self.running = Some(Running::InProcess(InProcess {
            stop,
            thread,
            events: Mutex::new(events),
        }));
        Ok(())
    }

    /// Stop serving and wait until the server has let go of its databases.
    pub fn stop(&mut self) {
        self.endpoint.set(NOWHERE);
        let running = match self.running.take() {
            None => return,
            // Dropped, it closes the runtime's stdin, and waits until it has stopped.
            Some(Running::Command(serving)) => return drop(serving),
            Some(Running::InProcess(running)) => running,
        };
        let _ = running.stop.send(());
        let finished = running.thread.join();
        if std::thread::panicking() {
            return; // the test failed already; a second panic would abort
        }
        finished.expect("the primary thread panicked");
        if let Ok(Event::Failed(failure)) = running.events.into_inner().unwrap().try_recv() {
            panic!("the primary failed while serving: {failure}");
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Serve `schema_sql` from the next start on, as an operator ships a new `--schema` (with a
    /// new migration) and restarts: existing databases get the steps they lack.
    pub fn set_schema(&mut self, schema_sql: &str) {
        self.schema_sql = schema_sql.to_owned();
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
            Store::Durable(_) => !durable::tables(&self.running_url(), name).is_empty(),
        }
    }

    /// Every row `sql` returns from database `name`, read directly (not through the server).
    pub fn rows(&self, name: &str, sql: &str) -> Vec<Vec<Value>> {
        match &self.store {
            Store::Sqlite(_) => read_rows(&self.open_read_only(name), sql),
            Store::Postgres(db) => db.rows(name, sql),
            Store::Durable(_) => durable::rows(&self.running_url(), name, sql),
        }
    }

    /// Every row of every table of database `name`, Outpost's own included: equal dumps mean
    /// nothing changed.
    pub fn dump(&self, name: &str) -> Dump {
        match &self.store {
            Store::Sqlite(_) => Dump::of_sqlite(&self.open_read_only(name)),
            Store::Postgres(db) => db.dump(name),
            Store::Durable(_) => durable::dump(&self.running_url(), name),
        }
    }

    /// Run one statement on database `name` behind the server's back, as a backend job or a SQL
    /// shell would, whether or not the server runs (the Durable Object's only while it runs: the
    /// app's Worker code writes through the object); answers the rows it changed. Parameters are
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
            Store::Durable(_) => durable::write(&self.running_url(), name, sql, params),
        }
    }

    /// The URL of the running Durable Object primary: its storage is reached only through it.
    fn running_url(&self) -> String {
        assert!(
            self.is_running(),
            "the Durable Object primary is down: its storage is reached through the object"
        );
        self.url()
    }

    /// The Durable Object primary's storage, for backups.
    pub(crate) fn durable_objects(&self) -> &DurableObjects {
        match &self.store {
            Store::Durable(objects) => objects,
            _ => panic!("this primary is not the Durable Object primary"),
        }
    }

    /// The Postgres database under this primary, for what only Postgres has (its catalog,
    /// transactions in other isolation levels).
    pub fn postgres(&self) -> &PgDatabase {
        match &self.store {
            Store::Postgres(db) => db,
            _ => panic!("this primary does not keep its data in Postgres"),
        }
    }

    /// The SQLite store's data directory.
    pub fn data_dir(&self) -> PathBuf {
        match &self.store {
            Store::Sqlite(dir) => dir.path().join("data"),
            _ => panic!("only the SQLite store has a data directory"),
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

    /// The SQLite store's file of database `name`, read-only: reading never creates it.
    fn open_read_only(&self, name: &str) -> Connection {
        let path = self.database_path(name);
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {} read-only: {e}", path.display()));
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }
}

impl Drop for TestPrimary {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wait for the server thread, passing its panic on.
fn join(thread: JoinHandle<()>) {
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

pub fn read_rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn.prepare(sql).expect(sql);
    let width = stmt.column_count();
    stmt.query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
        .and_then(|rows| rows.collect())
        .expect(sql)
}
