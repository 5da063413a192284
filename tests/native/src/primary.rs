//! The real `outpost-primary`, served on 127.0.0.1:0 from a background thread with its own tokio
//! runtime. It can be stopped and started again on the same data directory, as a deployed primary
//! restarts; transports follow it through a shared [`Endpoint`].

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use outpost::Value;
use outpost_primary::{run, Auth, Config};
use rusqlite::{Connection, OpenFlags};
use tempfile::TempDir;
use tokio::sync::oneshot;

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

pub struct TestPrimary {
    /// Holds the data directory for the life of the primary, across restarts.
    dir: TempDir,
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

    pub fn start_with(schema_sql: &str, auth: Auth) -> TestPrimary {
        let mut primary = TestPrimary {
            dir: crate::scratch_dir(),
            schema_sql: schema_sql.to_owned(),
            auth,
            endpoint: Endpoint(Arc::new(Mutex::new(NOWHERE.to_owned()))),
            running: None,
        };
        primary.start_again();
        primary
    }

    /// Start serving again on the same data directory (on a new port).
    pub fn start_again(&mut self) {
        assert!(self.running.is_none(), "the primary is already running");
        let config = Config {
            data_dir: self.data_dir(),
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
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                bound.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                run(listener, config, shutdown)
                    .await
                    .expect("the primary failed");
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(10))
            .expect("the primary did not bind");
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

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The file of database `name`, as the store lays it out.
    pub fn database_path(&self, name: &str) -> PathBuf {
        self.data_dir().join(format!("{name}.sqlite3"))
    }

    /// A connection to the primary's file, as a backend job or a SQL shell would open it.
    pub fn open_file(&self, name: &str) -> Connection {
        let conn = Connection::open(self.database_path(name)).expect("open the primary's file");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// Every row `sql` returns from the primary's file, read directly (not through the server).
    pub fn rows(&self, name: &str, sql: &str) -> Vec<Vec<Value>> {
        let conn =
            Connection::open_with_flags(self.database_path(name), OpenFlags::SQLITE_OPEN_READ_ONLY)
                .expect("open the primary's file read-only");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        read_rows(&conn, sql)
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
