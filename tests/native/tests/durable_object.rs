//! Replicas built from the core syncing through the primary as a Cloudflare Durable Object
//! (primary-do/), served in workerd by `node primary-do/serve.mjs` as `outpost-primary serve`
//! serves the server: offline writes, concurrent edits of one row, a delete racing an update, and
//! every acknowledged write kept across a restart of the runtime on its persisted storage.

use std::path::{Path, PathBuf};

use outpost::Value;
use outpost_primary::Auth;
use outpost_tests::durable::serve_command;
use outpost_tests::replica::{text, Replica};
use outpost_tests::{Endpoint, HttpTransport, ServingCommand};

const TODOS: &str =
    "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT, done INTEGER NOT NULL DEFAULT 0, note TEXT)";
const ALL_TODOS: &str = "SELECT id, title, done, note FROM todos ORDER BY id";

/// The Durable Object primary without tokens, its objects' storage in `persist`, as an operator
/// starts it (without the kit's routes).
fn serve(schema: &Path, persist: &Path) -> ServingCommand {
    ServingCommand::spawn_stopped_by_stdin(serve_command(schema, persist, &Auth::None, false))
}

fn transport(primary: &ServingCommand) -> HttpTransport {
    HttpTransport::new(Endpoint::fixed(primary.url()), "app")
}

fn todo(id: &str, title: &str, done: i64) -> Vec<Value> {
    vec![text(id), text(title), Value::Integer(done), Value::Null]
}

struct Setup {
    dir: tempfile::TempDir,
    schema: PathBuf,
}

fn setup() -> Setup {
    let dir = outpost_tests::scratch_dir();
    let schema = dir.path().join("schema.sql");
    std::fs::write(&schema, TODOS).unwrap();
    std::fs::create_dir(dir.path().join("objects")).unwrap();
    Setup { dir, schema }
}

impl Setup {
    fn serve(&self) -> ServingCommand {
        serve(&self.schema, &self.dir.path().join("objects"))
    }

    fn replica(&self, name: &str) -> Replica {
        Replica::open(self.dir.path(), name, &[TODOS], &["todos"])
    }
}

#[test]
fn replicas_converge_through_the_durable_object_primary() {
    let setup = setup();
    let primary = setup.serve();
    let http = transport(&primary);
    let (a, b) = (setup.replica("a"), setup.replica("b"));

    a.run("INSERT INTO todos(id, title) VALUES ('1', 'milk'), ('2', 'bread'), ('3', 'eggs')");
    a.run("UPDATE todos SET done = 1 WHERE id = '2'");
    a.run("DELETE FROM todos WHERE id = '3'");
    assert_eq!(a.sync(&http).expect("a syncs").pushed, 5);
    b.sync(&http).expect("b syncs");
    let both = vec![todo("1", "milk", 0), todo("2", "bread", 1)];
    assert_eq!(b.rows(ALL_TODOS), both);

    // Edits of different columns of one row both survive; a delete beats a later update.
    a.run("UPDATE todos SET title = 'oat milk' WHERE id = '1'");
    b.run("UPDATE todos SET done = 1 WHERE id = '1'");
    a.run("DELETE FROM todos WHERE id = '2'");
    b.run("UPDATE todos SET title = 'rye bread' WHERE id = '2'");
    for replica in [&a, &b, &a] {
        replica.sync(&http).expect("sync");
    }
    let settled = vec![todo("1", "oat milk", 1)];
    assert_eq!(a.rows(ALL_TODOS), settled);
    assert_eq!(b.rows(ALL_TODOS), settled);
    assert_eq!((a.pending(), b.pending()), (0, 0));
    let on_primary = http
        .post_raw(
            "query",
            r#"{"v":2,"sql":"SELECT id, title, done, note FROM todos ORDER BY id"}"#,
        )
        .expect("query the primary")
        .json();
    assert_eq!(
        on_primary["rows"],
        serde_json::json!([["1", "oat milk", 1, null]])
    );
}

#[test]
fn acknowledged_writes_survive_a_restart_and_offline_writes_follow() {
    let setup = setup();
    let a = setup.replica("a");
    let b = setup.replica("b");
    let primary = setup.serve();
    a.run("INSERT INTO todos(id, title) VALUES ('1', 'milk')");
    a.sync(&transport(&primary)).expect("a syncs");
    drop(primary);

    // The primary is down (nothing listens on port 1): writes wait in the outbox.
    a.run("INSERT INTO todos(id, title) VALUES ('2', 'bread')");
    let down = HttpTransport::new(Endpoint::fixed("http://127.0.0.1:1"), "app");
    let err = a.sync(&down).unwrap_err();
    assert_eq!(err.code(), "OFFLINE", "{err}");
    assert_eq!(a.pending(), 1);

    let primary = setup.serve();
    let after = transport(&primary);
    assert_eq!(a.sync(&after).expect("a syncs again").pushed, 1);
    b.sync(&after).expect("b syncs");
    let both = vec![todo("1", "milk", 0), todo("2", "bread", 0)];
    assert_eq!(b.rows(ALL_TODOS), both);
    assert_eq!(a.rows(ALL_TODOS), both);
}
