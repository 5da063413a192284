//! The primary's schema is numbered migrations, applied to every database it serves, existing
//! ones included, each database recording what it has; on both stores. A failing step leaves the
//! database as it was and says why; an edited step is refused.

use outpost_primary::store::MIGRATION_MARKER;
use outpost_primary::Auth;
use outpost_tests::{Backend, TestPrimary};
use serde_json::json;

const V1_SQLITE: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL)";
const V1_PG: &str = "CREATE TABLE todos(id text PRIMARY KEY, title text NOT NULL)";

fn v1(store: Backend) -> &'static str {
    match store {
        Backend::Sqlite | Backend::Durable => V1_SQLITE,
        Backend::Postgres => V1_PG,
    }
}

/// v1, then `steps` as named migrations.
fn with_steps(store: Backend, steps: &[(&str, &str)]) -> String {
    let mut text = format!("{}\n", v1(store));
    for (name, sql) in steps {
        text.push_str(&format!("{MIGRATION_MARKER} {name}\n{sql}\n"));
    }
    text
}

fn insert(seq: i64, id: &str, columns: serde_json::Value) -> serde_json::Value {
    json!({"seq": seq, "table": "todos", "op": "insert", "key": [id], "columns": columns})
}

outpost_tests::on_every_store!(
    an_existing_database_gains_the_new_column_and_table,
    a_failing_migration_leaves_the_database_as_it_was_and_says_why,
    an_edited_migration_is_refused,
);

fn an_existing_database_gains_the_new_column_and_table(store: Backend) {
    let mut primary = TestPrimary::start_on(store, v1(store), Auth::None);
    let app = primary.api("app");
    app.push("c1", json!([insert(1, "a", json!({"title": "before"}))]));

    let (text_type, id_type) = match store {
        Backend::Sqlite | Backend::Durable => ("TEXT", "TEXT"),
        Backend::Postgres => ("text", "text"),
    };
    primary.set_schema(&with_steps(
        store,
        &[
            (
                "notes",
                &format!("ALTER TABLE todos ADD COLUMN note {text_type};"),
            ),
            (
                "lists",
                &format!("CREATE TABLE lists(id {id_type} PRIMARY KEY, name {text_type});"),
            ),
        ],
    ));
    primary.restart();
    let answer = app.push(
        "c2",
        json!([
            insert(1, "b", json!({"title": "after", "note": "new column"})),
            {"seq": 2, "table": "lists", "op": "insert", "key": ["l1"], "columns": {"name": "new table"}},
        ]),
    );
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    let pulled = app.pull(0, &["todos", "lists"]);
    let rows: Vec<&serde_json::Value> = pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["row"])
        .collect();
    assert_eq!(
        rows,
        [
            &json!({"id": "a", "title": "before", "note": null}),
            &json!({"id": "b", "title": "after", "note": "new column"}),
            &json!({"id": "l1", "name": "new table"}),
        ]
    );
    // Applied once: another restart changes nothing but the epoch it starts.
    let data = |primary: &TestPrimary| {
        let dump = primary.dump("app").without("_outpost_epochs");
        match store {
            Backend::Sqlite | Backend::Durable => dump.without("sqlite_sequence"),
            Backend::Postgres => dump,
        }
    };
    let before = data(&primary);
    primary.restart();
    app.pull(0, &["todos"]);
    assert_eq!(data(&primary), before);
}

fn a_failing_migration_leaves_the_database_as_it_was_and_says_why(store: Backend) {
    let mut primary = TestPrimary::start_on(store, v1(store), Auth::None);
    let app = primary.api("app");
    app.push(
        "c1",
        json!([
            insert(1, "a", json!({"title": "same"})),
            insert(2, "b", json!({"title": "same"})),
        ]),
    );
    // Dumped while it serves: the Durable Object's storage is reached only through the object.
    let before = primary.dump("app");
    primary.stop();
    // Fine on an empty database (so the primary starts), impossible on this one's rows.
    primary.set_schema(&with_steps(
        store,
        &[(
            "unique titles",
            "CREATE UNIQUE INDEX todos_title ON todos(title);",
        )],
    ));
    primary.start_again();
    let (status, answer) = app.post("pull", &json!({"v": 1, "cursor": 0, "tables": ["todos"]}));
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["error"]["code"], "MIGRATION_FAILED", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("unique titles"), "{message}");
    assert_eq!(
        primary.dump("app"),
        before,
        "nothing of the failed open remains"
    );
    primary.stop();

    // Back to the migrations the database can take: it serves again.
    primary.set_schema(v1(store));
    primary.start_again();
    assert_eq!(
        app.pull(0, &["todos"])["changes"].as_array().unwrap().len(),
        2
    );
}

fn an_edited_migration_is_refused(store: Backend) {
    let mut primary = TestPrimary::start_on(
        store,
        &with_steps(
            store,
            &[("index", "CREATE INDEX todos_title ON todos(title);")],
        ),
        Auth::None,
    );
    let app = primary.api("app");
    app.push("c1", json!([insert(1, "a", json!({"title": "x"}))]));
    primary.set_schema(&with_steps(
        store,
        &[("index", "CREATE INDEX todos_title ON todos(title, id);")],
    ));
    primary.restart();
    let (status, answer) = app.post("pull", &json!({"v": 1, "cursor": 0, "tables": ["todos"]}));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (500, Some("MIGRATION_CHANGED")),
        "{answer}"
    );
}

#[test]
fn a_database_made_before_migrations_were_recorded_counts_its_schema_as_step_one() {
    let mut primary = TestPrimary::start(V1_SQLITE);
    let app = primary.api("app");
    app.push("c1", json!([insert(1, "a", json!({"title": "old"}))]));
    primary.stop();
    // What a database from before this change looks like: no record of its steps.
    primary
        .open_file("app")
        .execute_batch("DROP TABLE _outpost_migrations")
        .unwrap();
    primary.set_schema(&with_steps(
        Backend::Sqlite,
        &[("notes", "ALTER TABLE todos ADD COLUMN note TEXT;")],
    ));
    primary.start_again();
    let pulled = app.pull(0, &["todos"]);
    assert_eq!(
        pulled["changes"][0]["row"],
        json!({"id": "a", "title": "old", "note": null})
    );
    let steps = primary.rows(
        "app",
        "SELECT step, name FROM _outpost_migrations ORDER BY step",
    );
    assert_eq!(steps.len(), 2, "{steps:?}");
}
