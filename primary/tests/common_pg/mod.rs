//! A throwaway PostgreSQL server (one per test binary, through scripts/postgres.sh), a fresh
//! Postgres database per test, and real `outpost-primary` instances on it, each on 127.0.0.1:0 in
//! a background thread, which can be stopped and started again.
#![allow(dead_code)] // each test binary uses part of this

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use outpost_primary::{serve, Auth, Config, PostgresStore};
use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

pub const SCHEMA: &str = "
CREATE TABLE todos(id text PRIMARY KEY, title text NOT NULL, done integer NOT NULL DEFAULT 0);
CREATE TABLE tags(todo text NOT NULL, tag text NOT NULL, PRIMARY KEY(todo, tag));
CREATE TABLE notes(id bigint PRIMARY KEY, body bytea);
";

/// The server's URL without a database name; `scripts/postgres.sh serve` holds it up as long as
/// the pipe to its stdin is open, so it stops with this process however the process ends.
fn server() -> &'static str {
    static SERVER: OnceLock<(String, Mutex<Child>)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
            let mut child = Command::new("bash")
                .arg(&script)
                .args(["serve", &port.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run scripts/postgres.sh");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let Some(url) = line.trim().strip_prefix("ready ") else {
                let mut why = String::new();
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut why);
                panic!(
                    "could not start PostgreSQL for the tests (scripts/postgres.sh): {why}\n\
                     These tests need the Debian `postgresql` package (scripts/setup.sh installs it)."
                );
            };
            let base = url.trim_end_matches("/postgres").to_owned();
            (base, Mutex::new(child))
        })
        .0
}

/// A new, empty Postgres database on the shared server: tests never see each other's data.
pub fn fresh_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    sql(
        &format!("{}/postgres", server()),
        &format!("CREATE DATABASE {name}"),
    );
    format!("{}/{name}", server())
}

/// Run statements on the database at `url`, as a backend job or a SQL shell would.
pub fn sql(url: &str, statements: &str) {
    block_on(async {
        let client = connect(url).await;
        client.batch_execute(statements).await.expect(statements);
    })
}

/// The rows of one query, each rendered as a Postgres row literal: `(a,1)`, or `a` for one column.
pub fn rows(url: &str, query: &str) -> Vec<String> {
    block_on(async {
        let client = connect(url).await;
        let sql = format!("SELECT q::text FROM ({query}) q");
        let rows = client.query(&sql, &[]).await.expect(query);
        rows.iter()
            .map(|r| {
                let text: String = r.get(0);
                // A one-column row literal is `(x)`: unwrap it for readable assertions.
                match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
                    Some(inner) if !inner.contains(',') => inner.to_owned(),
                    _ => text,
                }
            })
            .collect()
    })
}

/// Every row of every table of database `name`'s schema, Outpost's own included, sorted:
/// equal dumps mean nothing changed.
pub fn dump(url: &str, name: &str) -> Vec<String> {
    let schema = format!("outpost_{name}");
    let tables: Vec<String> = block_on(async {
        let client = connect(url).await;
        let sql = "SELECT table_name::text FROM information_schema.tables \
                   WHERE table_schema = $1 ORDER BY 1";
        let found = client.query(sql, &[&schema]).await.expect(sql);
        found.iter().map(|r| r.get(0)).collect()
    });
    let mut lines = Vec::new();
    for table in tables {
        let mut found = rows(url, &format!("SELECT * FROM \"{schema}\".\"{table}\""));
        found.sort();
        lines.extend(found.into_iter().map(|r| format!("{table}: {r}")));
    }
    lines
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// One `outpost-primary` instance with the Postgres store.
pub struct PgPrimary {
    pub store_url: String,
    schema_sql: String,
    auth: Auth,
    url: String,
    agent: ureq::Agent,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl PgPrimary {
    /// An instance without auth over [`SCHEMA`].
    pub fn start(store_url: &str) -> PgPrimary {
        PgPrimary::start_with(store_url, SCHEMA, Auth::None).expect("the primary started")
    }

    /// Start an instance, or answer why it refused to (a bad schema).
    pub fn start_with(store_url: &str, schema_sql: &str, auth: Auth) -> Result<PgPrimary, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut primary = PgPrimary {
            store_url: store_url.to_owned(),
            schema_sql: schema_sql.to_owned(),
            auth,
            url: String::new(),
            agent,
            running: None,
        };
        primary.start_again()?;
        Ok(primary)
    }

    /// Serve again on a new port, as a restarted or replaced instance would.
    pub fn start_again(&mut self) -> Result<(), String> {
        assert!(self.running.is_none(), "already running");
        let (store_url, schema_sql) = (self.store_url.clone(), self.schema_sql.clone());
        let allow_queries = matches!(self.auth, Auth::None);
        let config = Config {
            data_dir: PathBuf::from("unused-with-postgres"),
            schema_sql: schema_sql.clone(),
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
                .unwrap();
            runtime.block_on(async move {
                let store = match PostgresStore::connect(&store_url, schema_sql).await {
                    Ok(store) => store.allow_queries(allow_queries),
                    Err(why) => return bound.send(Err(why.to_string())).unwrap(),
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(Ok(listener.local_addr().unwrap())).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                serve(listener, store, config, shutdown).await.unwrap();
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("the primary did not start")?;
        self.url = format!("http://{address}");
        self.running = Some((stop, thread));
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            thread.join().expect("the primary thread panicked");
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POST a raw body; answers the status and the parsed JSON body.
    pub fn post_raw(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Json) {
        let mut request = self.agent.post(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"));
        (status, json)
    }

    /// POST that must succeed; answers the JSON body.
    pub fn ok(&self, path: &str, body: &Json) -> Json {
        let (status, answer) = self.post_raw(path, &body.to_string(), None);
        assert_eq!(status, 200, "{path} {body} -> {answer}");
        answer
    }

    pub fn push_to(&self, db: &str, client: &str, mutations: Json) -> Json {
        self.ok(
            &format!("/v1/db/{db}/push"),
            &json!({"v": 1, "clientId": client, "mutations": mutations}),
        )
    }

    pub fn push(&self, client: &str, mutations: Json) -> Json {
        self.push_to("app", client, mutations)
    }

    pub fn pull_from(&self, db: &str, cursor: i64, tables: &[&str], wait_ms: u64) -> Json {
        self.ok(
            &format!("/v1/db/{db}/pull"),
            &json!({"v": 1, "cursor": cursor, "tables": tables, "waitMs": wait_ms}),
        )
    }

    pub fn pull(&self, cursor: i64, tables: &[&str]) -> Json {
        self.pull_from("app", cursor, tables, 0)
    }

    pub fn query(&self, sql: &str) -> Json {
        self.ok("/v1/db/app/query", &json!({"v": 1, "sql": sql}))
    }
}

impl Drop for PgPrimary {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn insert_todo(seq: i64, id: &str, title: &str) -> Json {
    json!({"seq": seq, "table": "todos", "op": "insert", "key": [id], "columns": {"title": title}})
}
