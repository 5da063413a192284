//! Choosing the PostgreSQL store is one flag of `outpost-primary serve`, and a schema it cannot
//! carry stops the command before it listens.

use std::process::Command;

use outpost_tests::postgres::PgDatabase;
use outpost_tests::replica::text;
use outpost_tests::todos::{insert_todo, PG_SCHEMA};
use outpost_tests::ServingCommand;
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_outpost-primary");

#[test]
fn serve_with_store_keeps_everything_in_postgres() {
    let store = PgDatabase::fresh();
    let dir = outpost_tests::scratch_dir();
    let schema = dir.path().join("schema.pg.sql");
    std::fs::write(&schema, PG_SCHEMA).unwrap();
    let mut serve = Command::new(BINARY);
    serve
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-auth",
            "--store",
            store.url(),
            "--schema",
        ])
        .arg(&schema)
        .current_dir(dir.path());
    let server = ServingCommand::spawn(serve);
    let answer = server
        .api("app")
        .push("c1", json!([insert_todo(1, "a", "via-the-CLI")]));
    drop(server);
    assert_eq!(answer["ackedThrough"], 1, "{answer}");
    assert_eq!(
        store.rows("app", "SELECT title FROM todos"),
        [[text("via-the-CLI")]]
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing was written to --data"
    );
}

#[test]
fn a_bad_store_or_schema_stops_the_command() {
    let store = PgDatabase::fresh();
    let dir = outpost_tests::scratch_dir();
    let schema = dir.path().join("schema.pg.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE prices(id bigint PRIMARY KEY, amount real);",
    )
    .unwrap();
    for (store, expected) in [
        (store.url(), "amount is real"),
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
