//! A real primary on 127.0.0.1:0 in a background thread, and a small blocking HTTP client for it.
#![allow(dead_code)] // each test binary uses part of this

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use outpost_primary::{run, Auth, Config};
use serde_json::{json, Value as Json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const SECRET: &[u8] = b"test-secret-0123456789";

pub const SCHEMA: &str = "
CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tags(todo TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(todo, tag)) WITHOUT ROWID;
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
";

pub struct Primary {
    pub url: String,
    pub dir: TempDir,
    agent: ureq::Agent,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Primary {
    /// A primary without auth over [`SCHEMA`].
    pub fn start() -> Primary {
        Primary::start_with(Auth::None, None, None)
    }

    pub fn start_with(
        auth: Auth,
        databases: Option<Vec<String>>,
        static_dir: Option<PathBuf>,
    ) -> Primary {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            schema_sql: SCHEMA.to_owned(),
            static_dir,
            auth,
            databases,
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
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                run(listener, config, shutdown).await.unwrap();
            });
        });
        let address = address
            .recv_timeout(Duration::from_secs(10))
            .expect("server did not bind");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Primary {
            url: format!("http://{address}"),
            dir,
            agent,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// POST a raw body; answers the status and the parsed JSON body.
    pub fn post_raw(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Json) {
        let mut request = self.agent.post(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request
            .header("content-type", "application/json")
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} with non-JSON {text:?}: {e}"));
        (status, json)
    }

    pub fn post(&self, path: &str, body: &Json) -> (u16, Json) {
        self.post_raw(path, &body.to_string(), None)
    }

    /// POST that must succeed; answers the JSON body.
    pub fn ok(&self, path: &str, body: &Json) -> Json {
        let (status, answer) = self.post(path, body);
        assert_eq!(status, 200, "{path} {body} -> {answer}");
        answer
    }

    pub fn push(&self, client: &str, mutations: Json) -> Json {
        self.ok(
            "/v1/db/app/push",
            &json!({"v": 1, "clientId": client, "mutations": mutations}),
        )
    }

    pub fn pull(&self, cursor: i64, tables: &[&str]) -> Json {
        self.ok(
            "/v1/db/app/pull",
            &json!({"v": 1, "cursor": cursor, "tables": tables}),
        )
    }

    pub fn get(&self, path: &str) -> ureq::http::Response<ureq::Body> {
        self.agent
            .get(format!("{}{path}", self.url))
            .call()
            .unwrap()
    }

    pub fn db_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("data").join(format!("{name}.sqlite3"))
    }

    /// Every row of every table of database `name`, Outpost's own included, in a stable order:
    /// equal dumps mean nothing changed.
    pub fn dump(&self, name: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.db_path(name)).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut lines = Vec::new();
        for table in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let width = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let values: Vec<outpost::Value> =
                        (0..width).map(|i| r.get(i)).collect::<Result<_, _>>()?;
                    Ok(format!("{table}: {values:?}"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            lines.extend(rows);
        }
        lines
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn insert_todo(seq: i64, id: &str, title: &str) -> Json {
    json!({"seq": seq, "table": "todos", "op": "insert", "key": [id], "columns": {"title": title}})
}
