//! The Durable Object primary (primary-do/) for [`crate::TestPrimary`]: `node primary-do/serve.mjs`
//! in workerd through miniflare, its objects' storage persisted in a temporary directory, so a
//! restart keeps every database as a Durable Object's restart does. What a test does behind the
//! server's back goes through the object itself, over routes only `--test-routes` adds
//! (primary-do/js/test-routes.js): a write through its `write()` RPC, as the app's own Worker code
//! makes one, and reads of its SQL storage. The object is the only way into its storage, so these
//! need the server running; a backup is a copy of the storage while it is stopped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use outpost::Value;
use outpost_primary::Auth;
use serde_json::{json, Value as Json};
use tempfile::TempDir;

use crate::postgres::SqlError;
use crate::{Dump, ServingCommand};

/// The repository's root, where `primary-do/` is.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The module (primary-do/pkg/), built once per test process when its sources are newer.
pub fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .args([
                "-c",
                "source scripts/lib/ensure-built.sh && ensure_primary_do_built",
            ])
            .current_dir(root())
            .status()
            .expect("run bash");
        assert!(status.success(), "primary-do/build.sh failed");
    });
}

/// `node primary-do/serve.mjs` on `schema` with its objects' storage in `persist`, with tokens
/// signed by the secret of `auth` or without tokens; `test_routes` adds the routes of
/// primary-do/js/test-routes.js.
pub fn serve_command(schema: &Path, persist: &Path, auth: &Auth, test_routes: bool) -> Command {
    ensure_built();
    let mut command = Command::new("node");
    command
        .current_dir(root())
        .env("XDG_CONFIG_HOME", root().join(".config"))
        .arg("primary-do/serve.mjs")
        .arg("--schema")
        .arg(schema)
        .arg("--persist")
        .arg(persist);
    match auth {
        Auth::None => command.arg("--no-auth"),
        Auth::Secret(secret) => command.env(
            "OUTPOST_SECRET",
            String::from_utf8(secret.clone()).expect("a Worker secret is text"),
        ),
    };
    if test_routes {
        command.arg("--test-routes");
    }
    command
}

/// One Durable Object namespace's storage, kept across restarts of the runtime.
pub struct DurableObjects {
    dir: TempDir,
}

impl DurableObjects {
    pub fn fresh() -> DurableObjects {
        let dir = crate::scratch_dir();
        std::fs::create_dir(dir.path().join("objects")).expect("a folder for the objects");
        DurableObjects { dir }
    }

    /// Where workerd keeps every object's SQLite storage (`--persist`).
    pub fn persist_dir(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    /// Serve the objects with `schema_sql` (and the sync rules in `rules`), and the routes the
    /// kit reaches them by.
    pub fn serve(&self, schema_sql: &str, auth: &Auth, rules: Option<&str>) -> ServingCommand {
        let schema = self.dir.path().join("schema.sql");
        std::fs::write(&schema, schema_sql).expect("write the schema file");
        let mut command = serve_command(&schema, &self.persist_dir(), auth, true);
        if let Some(rules) = rules {
            let file = self.dir.path().join("rules.txt");
            std::fs::write(&file, rules).expect("write the rules file");
            command.arg("--rules").arg(file);
        }
        ServingCommand::spawn_stopped_by_stdin(command)
    }

    /// A copy of every object's storage into `into`, taken while the runtime is stopped.
    pub fn copy_storage(&self, into: &Path) {
        copy_dir(&self.persist_dir(), into);
    }

    /// Every object's storage replaced by the copy in `from`, while the runtime is stopped.
    pub fn restore_storage(&self, from: &Path) {
        let persist = self.persist_dir();
        std::fs::remove_dir_all(&persist).expect("remove the objects' storage");
        copy_dir(from, &persist);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        match entry.file_type().expect("a file type").is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => {
                std::fs::copy(entry.path(), &target)
                    .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
            }
        }
    }
}

/// Run `sql` on database `name` through the object's `write()` RPC; the rows it changed.
pub fn write(url: &str, name: &str, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
    let (sql, params) = numbered(sql, params);
    let answer = test_route(url, name, "write", json!({"sql": sql, "params": params}))?;
    answer
        .as_u64()
        .ok_or_else(|| format!("not a count of rows: {answer}").into())
}

/// Every row `sql` reads from database `name`, each value as SQLite holds it.
pub fn rows(url: &str, name: &str, sql: &str) -> Vec<Vec<Value>> {
    let answer =
        test_route(url, name, "rows", json!({"sql": sql})).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = answer.as_array().expect("rows");
    rows.iter()
        .map(|row| row.as_array().expect("a row").iter().map(value).collect())
        .collect()
}

/// The tables of database `name`, Outpost's own included; none before its object first opened
/// its store.
pub fn tables(url: &str, name: &str) -> Vec<String> {
    let answer = test_route(url, name, "tables", json!({})).unwrap_or_else(|e| panic!("{e}"));
    let names = answer.as_array().expect("table names");
    names
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect()
}

fn test_route(url: &str, name: &str, what: &str, body: Json) -> Result<Json, SqlError> {
    let url = format!("{url}/test/db/{name}/{what}");
    let mut answer = crate::api::agent()
        .post(&url)
        .send_json(&body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = answer.status();
    let json: Json = answer
        .body_mut()
        .read_json()
        .unwrap_or_else(|e| panic!("POST {url}: {status} without JSON: {e}"));
    match status.as_u16() {
        200 => Ok(json),
        _ => Err(json["error"].as_str().unwrap_or("no message").into()),
    }
}

/// `sql` with the kit's `$1`, `$2`… as the object's `?1`, `?2`…, and the values to bind. A JS
/// number is a double, so an INTEGER is bound as its decimal text and read as
/// `CAST(?N AS INTEGER)`, as the Durable Object store binds one.
fn numbered(sql: &str, params: &[Value]) -> (String, Vec<Json>) {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    let mut quote = None;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') => {
                let digits =
                    rest.len() - rest.trim_start_matches(|d: char| d.is_ascii_digit()).len();
                let n: usize = rest[..digits]
                    .parse()
                    .expect("a parameter's number after $");
                rest = &rest[digits..];
                out += &match params.get(n - 1) {
                    Some(Value::Integer(_)) => format!("CAST(?{n} AS INTEGER)"),
                    _ => format!("?{n}"),
                };
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    let bound = params
        .iter()
        .map(|value| match value {
            Value::Null => Json::Null,
            Value::Integer(n) => json!(n.to_string()),
            Value::Real(r) => json!(r),
            Value::Text(t) => json!(t),
            Value::Blob(b) => json!({"blob": b}),
        })
        .collect();
    (out, bound)
}

/// A value as the test route sends it: `[type, value]`, an integer as its decimal text.
fn value(typed: &Json) -> Value {
    let read = match (typed[0].as_str(), &typed[1]) {
        (Some("null"), _) => Some(Value::Null),
        (Some("integer"), Json::String(digits)) => digits.parse().ok().map(Value::Integer),
        (Some("real"), Json::Number(r)) => r.as_f64().map(Value::Real),
        (Some("text"), Json::String(t)) => Some(Value::Text(t.clone())),
        (Some("blob"), blob) => blob["blob"].as_array().and_then(|bytes| {
            let bytes: Option<Vec<u8>> = bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            bytes.map(Value::Blob)
        }),
        _ => None,
    };
    read.unwrap_or_else(|| panic!("not a typed value: {typed}"))
}

/// Every row of every table of database `name`, Outpost's own included.
pub fn dump(url: &str, name: &str) -> Dump {
    Dump::new(tables(url, name).into_iter().map(|table| {
        let rows = rows(url, name, &format!("SELECT * FROM \"{table}\""));
        let rows = rows.iter().map(|row| format!("{row:?}")).collect();
        (table, rows)
    }))
}
