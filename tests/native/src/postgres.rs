//! A throwaway PostgreSQL server for the primary's Postgres store: one per test process, started
//! with scripts/postgres.sh (this is the only place the tests start one), and a fresh Postgres
//! database per primary so runs never see each other's data. Without PostgreSQL installed,
//! starting fails with a message saying so: the tests that need it fail, they are not skipped.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use bytes::BytesMut;
use outpost::Value;
use tokio::runtime::Runtime;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls};

use crate::dump::Dump;

pub type SqlError = Box<dyn std::error::Error + Send + Sync>;

/// The server's URL without a database name. `scripts/postgres.sh serve` keeps the server up as
/// long as the pipe to its stdin is open, so it stops and is deleted with this process, however
/// the process ends.
fn server() -> &'static str {
    // The child is kept only for the pipe to its stdin.
    static SERVER: OnceLock<(String, Child)> = OnceLock::new();
    &SERVER.get_or_init(start_server).0
}

fn start_server() -> (String, Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .args(["serve", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/postgres.sh");
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let Some(url) = line.trim().strip_prefix("ready ") else {
        let mut why = String::new();
        let _ = child.stderr.as_mut().unwrap().read_to_string(&mut why);
        panic!(
            "could not start PostgreSQL for the tests (scripts/postgres.sh): {why}\n\
             The Postgres variants of these tests need the Debian `postgresql` package \
             (scripts/setup.sh installs it)."
        );
    };
    let base = url.trim_end_matches("/postgres").to_owned();
    (base, child)
}

/// The Postgres schema the primary keeps database `name` in (docs/POSTGRES.md). Longer names
/// get a hashed form that these tests never need.
pub fn schema_name(name: &str) -> String {
    let schema = format!("outpost_{name}");
    assert!(
        schema.len() <= 63,
        "database name {name:?} is too long here"
    );
    schema
}

/// One new, empty Postgres database on the shared server, and a connection to it for reading
/// the primary's state and writing behind its back, as a SQL shell or backend job would.
pub struct PgDatabase {
    url: String,
    runtime: Runtime,
    client: Client,
    /// Held from setting the search path to the end of the statement it is set for, so threads
    /// sharing this connection never run in each other's schema.
    session: Mutex<()>,
}

impl PgDatabase {
    pub fn fresh() -> PgDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sim_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let admin = runtime.block_on(connect(&format!("{}/postgres", server())));
        runtime
            .block_on(admin.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let url = format!("{}/{name}", server());
        let client = runtime.block_on(connect(&url));
        PgDatabase {
            url,
            runtime,
            client,
            session: Mutex::new(()),
        }
    }

    /// The URL the primary's store connects to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the primary has created database `name` (on its first use).
    pub fn has_database(&self, name: &str) -> bool {
        let found = self.runtime.block_on(self.client.query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
            &[&schema_name(name)],
        ));
        found.expect("look for the schema").get::<_, i64>(0) > 0
    }

    /// Every row `sql` returns, with database `name`'s schema as the search path.
    pub fn rows(&self, name: &str, sql: &str) -> Vec<Vec<Value>> {
        let _session = self.session();
        self.runtime.block_on(async {
            self.use_schema(name).await;
            self.read(sql).await
        })
    }

    /// Every row `sql` returns, in no database's schema: for Postgres' own catalog
    /// (`pg_namespace`…) and fully qualified names.
    pub fn catalog_rows(&self, sql: &str) -> Vec<Vec<Value>> {
        let _session = self.session();
        self.runtime.block_on(async {
            self.client
                .batch_execute("RESET search_path")
                .await
                .unwrap();
            self.read(sql).await
        })
    }

    /// Every row of every table of database `name`'s schema, each rendered as a Postgres row
    /// literal, so any column type can be compared.
    pub fn dump(&self, name: &str) -> Dump {
        let schema = schema_name(name);
        let _session = self.session();
        self.runtime.block_on(async {
            let sql = "SELECT table_name::text FROM information_schema.tables \
                       WHERE table_schema = $1 ORDER BY 1";
            let found = self.client.query(sql, &[&schema]).await.expect(sql);
            assert!(!found.is_empty(), "database {name} has no tables");
            let mut tables = Vec::new();
            for table in found.iter().map(|r| r.get::<_, String>(0)) {
                let sql = format!("SELECT q::text FROM \"{schema}\".\"{table}\" q");
                let rows = self.client.query(&sql, &[]).await;
                let rows = rows.unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
                tables.push((table, rows.iter().map(|r| r.get(0)).collect()));
            }
            Dump::new(tables)
        })
    }

    /// Run one statement with `$1`… parameters in database `name`'s schema, in its own
    /// transaction, as software other than Outpost would. Answers the rows it changed.
    pub fn execute(&self, name: &str, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let params: Vec<PgValue> = params.iter().map(PgValue).collect();
        let params: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let _session = self.session();
        self.runtime.block_on(async {
            self.use_schema(name).await;
            self.client
                .execute(sql, &params)
                .await
                .map_err(|e| describe(&e).into())
        })
    }

    /// Run `statements` in database `name`'s schema as one simple query, transaction control
    /// included (`BEGIN ISOLATION LEVEL …; …; COMMIT`), as a SQL shell would. A failure rolls back
    /// whatever transaction it left open, so the connection stays usable.
    pub fn batch(&self, name: &str, statements: &str) -> Result<(), SqlError> {
        let _session = self.session();
        self.runtime.block_on(async {
            self.use_schema(name).await;
            let done = self.client.batch_execute(statements).await;
            if done.is_err() {
                self.client.batch_execute("ROLLBACK").await.unwrap();
            }
            done.map_err(|e| describe(&e).into())
        })
    }

    /// A failed assertion while the session was held poisons nothing that matters here.
    fn session(&self) -> MutexGuard<'_, ()> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn read(&self, sql: &str) -> Vec<Vec<Value>> {
        let rows = self.client.query(sql, &[]).await;
        let rows = rows.unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
        rows.iter().map(read_row).collect()
    }

    async fn use_schema(&self, name: &str) {
        let set = format!("SET search_path TO \"{}\"", schema_name(name));
        self.client.batch_execute(&set).await.expect(&set);
    }
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// The server's message with its SQLSTATE, which `Display` of a server error leaves out.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}

/// A row as the SQLite values a replica would hold (docs/POSTGRES.md, "Type mapping").
fn read_row(row: &tokio_postgres::Row) -> Vec<Value> {
    let value = |i: usize| -> Option<Value> {
        let ty = row.columns()[i].type_();
        Some(match *ty {
            Type::TEXT | Type::VARCHAR | Type::NAME => Value::Text(row.get::<_, Option<_>>(i)?),
            Type::INT8 => Value::Integer(row.get::<_, Option<i64>>(i)?),
            Type::INT4 => Value::Integer(row.get::<_, Option<i32>>(i)?.into()),
            Type::INT2 => Value::Integer(row.get::<_, Option<i16>>(i)?.into()),
            Type::FLOAT8 => Value::Real(row.get::<_, Option<f64>>(i)?),
            Type::BYTEA => Value::Blob(row.get::<_, Option<_>>(i)?),
            Type::BOOL => Value::Integer(row.get::<_, Option<bool>>(i)?.into()),
            _ => panic!("column {i} is {ty}, which these tests do not read"),
        })
    };
    (0..row.len())
        .map(|i| value(i).unwrap_or(Value::Null))
        .collect()
}

/// A SQLite value as a parameter: an integer for `bigint`, a real for `double precision`, and
/// so on, checked against the type Postgres inferred; null fits any column.
#[derive(Debug)]
struct PgValue<'a>(&'a Value);

impl ToSql for PgValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, SqlError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => i.to_sql_checked(ty, out),
            Value::Real(r) => r.to_sql_checked(ty, out),
            Value::Text(t) => t.to_sql_checked(ty, out),
            Value::Blob(b) => b.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
