//! Choosing the PostgreSQL store is one flag of `outpost-primary serve`, and a schema it cannot
//! carry stops the command before it listens.

mod common_pg;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common_pg::{fresh_database, SCHEMA};

const BINARY: &str = env!("CARGO_BIN_EXE_outpost-primary");

#[test]
fn serve_with_store_keeps_everything_in_postgres() {
    let store = fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.pg.sql");
    std::fs::write(&schema, SCHEMA).unwrap();
    let mut server = Command::new(BINARY)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
            "--store",
            &store,
            "--schema",
        ])
        .arg(&schema)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    let body = r#"{"v":1,"clientId":"c1","mutations":[{"seq":1,"table":"todos","op":"insert","key":["a"],"columns":{"title":"via-the-CLI"}}]}"#;
    let answer: serde_json::Value = ureq::post(format!("{url}/v1/db/app/push"))
        .send(body)
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(answer["ackedThrough"], 1, "{answer}");
    assert_eq!(
        common_pg::rows(&store, "SELECT title FROM outpost_app.todos"),
        ["via-the-CLI"]
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing was written to --data"
    );
}

#[test]
fn a_bad_store_or_schema_stops_the_command() {
    let store = fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.pg.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE prices(id bigint PRIMARY KEY, amount real);",
    )
    .unwrap();
    for (store, expected) in [
        (store.as_str(), "amount is real"),
        ("mysql://nope", "expected a postgres:// URL"),
        (
            "postgres://nobody@127.0.0.1:1/x",
            "cannot connect to PostgreSQL",
        ),
    ] {
        let out = Command::new(BINARY)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-auth",
                "--store",
                store,
                "--schema",
            ])
            .arg(&schema)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{store} started");
        assert!(stderr.contains(expected), "{store}: {stderr}");
        assert!(out.stdout.is_empty(), "{store}: listened before failing");
    }
}
