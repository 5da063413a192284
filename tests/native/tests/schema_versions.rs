//! Apps ship new schema versions while old replicas are still out there, and the primary is
//! upgraded at some moment in between. Additive changes (a new nullable column, a new table) must
//! work in both directions: a replica ahead of the primary keeps its writes waiting (never
//! refused, never deleted) until the primary has the migration; an old replica keeps syncing the
//! columns it knows and never clears the ones it does not; and a replica that begins to sync a
//! table, or gains a column, receives what the primary already has without pulling the rest again.

use outpost::Value;
use outpost_primary::store::MIGRATION_MARKER;
use outpost_tests::replica::text;
use outpost_tests::{scratch_dir, HttpTransport, Replica, TestPrimary};

const V1: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL)";
const ADD_NOTE: &str = "ALTER TABLE todos ADD COLUMN note TEXT";
const ADD_LISTS: &str = "CREATE TABLE lists(id TEXT PRIMARY KEY, name TEXT)";

/// The primary's schema: v1, then the named steps.
fn primary_schema(steps: &[&str]) -> String {
    let mut text = format!("{V1};\n");
    for (i, step) in steps.iter().enumerate() {
        text.push_str(&format!("{MIGRATION_MARKER} step{}\n{step};\n", i + 2));
    }
    text
}

#[test]
fn a_replica_a_migration_ahead_waits_then_pushes_and_old_replicas_keep_working() {
    let mut primary = TestPrimary::start(V1);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let old = Replica::open(dir.path(), "old", &[V1], &["todos"]);
    let new = Replica::open(
        dir.path(),
        "new",
        &[V1, ADD_NOTE, ADD_LISTS],
        &["todos", "lists"],
    );

    old.run("INSERT INTO todos VALUES ('o1', 'from old')");
    old.sync(&transport).unwrap();
    new.run("INSERT INTO todos VALUES ('n1', 'from new', 'a note')");
    new.run("INSERT INTO lists VALUES ('l1', 'a list')");
    let report = new.sync(&transport).expect("a replica ahead still syncs");
    let waiting = report.waiting.clone().expect("its writes wait");
    assert_eq!(waiting.code, "SCHEMA_AHEAD");
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(new.pending(), 2, "kept, not refused");
    assert_eq!(
        new.rows("SELECT id, note FROM todos ORDER BY id"),
        vec![
            vec![text("n1"), text("a note")],
            vec![text("o1"), Value::Null]
        ],
        "its own row stays, and the old replica's arrived"
    );

    // The primary is upgraded; the waiting writes go out in order.
    primary.set_schema(&primary_schema(&[ADD_NOTE, ADD_LISTS]));
    primary.restart();
    let report = new.sync(&transport).unwrap();
    assert!(
        report.waiting.is_none() && report.rejected.is_empty(),
        "{report:?}"
    );
    assert_eq!(new.pending(), 0);

    // The old replica edits the new replica's row: the note it does not know survives.
    old.sync(&transport).unwrap();
    old.run("UPDATE todos SET title = 'edited by old' WHERE id = 'n1'");
    old.sync(&transport).unwrap();
    new.sync(&transport).unwrap();
    let expected = vec![
        vec![text("n1"), text("edited by old"), text("a note")],
        vec![text("o1"), text("from old"), Value::Null],
    ];
    let all = "SELECT id, title, note FROM todos ORDER BY id";
    assert_eq!(primary.rows("app", all), expected);
    assert_eq!(new.rows(all), expected);
    assert_eq!(
        old.rows("SELECT id, title FROM todos ORDER BY id"),
        vec![
            vec![text("n1"), text("edited by old")],
            vec![text("o1"), text("from old")]
        ]
    );
    // A fresh replica of the new version gets everything, the new table included.
    let fresh = Replica::open(
        dir.path(),
        "fresh",
        &[V1, ADD_NOTE, ADD_LISTS],
        &["todos", "lists"],
    );
    fresh.sync(&transport).unwrap();
    assert_eq!(fresh.rows(all), expected);
    assert_eq!(
        fresh.rows("SELECT id, name FROM lists"),
        vec![vec![text("l1"), text("a list")]]
    );
}

#[test]
fn a_table_the_primary_gains_later_is_backfilled_to_a_replica_that_waited_for_it() {
    let mut primary = TestPrimary::start(V1);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let early = Replica::open(dir.path(), "early", &[V1, ADD_LISTS], &["todos", "lists"]);
    early.run("INSERT INTO todos VALUES ('t1', 'one')");
    early.sync(&transport).unwrap();

    primary.set_schema(&primary_schema(&[ADD_LISTS]));
    primary.restart();
    // Someone else fills the new table; the early replica's cursor is long past those rows'
    // versions by the time it asks.
    let other = Replica::open(dir.path(), "other", &[V1, ADD_LISTS], &["todos", "lists"]);
    other.run("INSERT INTO lists VALUES ('l1', 'made after the upgrade')");
    other.sync(&transport).unwrap();
    early.sync(&transport).unwrap();
    assert_eq!(
        early.rows("SELECT id, name FROM lists"),
        vec![vec![text("l1"), text("made after the upgrade")]]
    );
}

#[test]
fn a_table_added_to_sync_later_and_a_column_gained_later_are_backfilled_alone() {
    let primary = TestPrimary::start(&primary_schema(&[ADD_NOTE, ADD_LISTS]));
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(
        dir.path(),
        "w",
        &[V1, ADD_NOTE, ADD_LISTS],
        &["todos", "lists"],
    );
    for i in 0..20 {
        writer.run(&format!(
            "INSERT INTO todos VALUES ('t{i}', 'title', 'note {i}')"
        ));
    }
    writer.run("INSERT INTO lists VALUES ('l1', 'one'), ('l2', 'two')");
    writer.sync(&transport).unwrap();

    // An old app version: no note column, and it syncs todos only.
    let mut late = Replica::open(dir.path(), "late", &[V1], &["todos"]);
    late.sync(&transport).unwrap();
    assert_eq!(
        late.rows("SELECT count(*) FROM todos"),
        vec![vec![Value::Integer(20)]]
    );
    drop(late);

    // The app upgrades: it now syncs lists too. Only the lists rows come.
    late = Replica::open(dir.path(), "late", &[V1, ADD_LISTS], &["todos", "lists"]);
    let report = late.sync(&transport).unwrap();
    assert_eq!(report.pulled, 2, "{report:?}");
    assert_eq!(
        late.rows("SELECT count(*) FROM lists"),
        vec![vec![Value::Integer(2)]]
    );
    drop(late);

    // It upgrades again and gains the note column: the values the primary has arrive.
    late = Replica::open(
        dir.path(),
        "late",
        &[V1, ADD_LISTS, ADD_NOTE],
        &["todos", "lists"],
    );
    late.sync(&transport).unwrap();
    assert_eq!(
        late.rows("SELECT note FROM todos WHERE id = 't7'"),
        vec![vec![text("note 7")]]
    );
    assert_eq!(late.pending(), 0, "a backfill writes nothing of its own");
}

#[test]
fn a_backfill_longer_than_one_page_arrives_whole_and_sync_goes_on() {
    let primary = TestPrimary::start(&primary_schema(&[ADD_LISTS]));
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(dir.path(), "w", &[V1, ADD_LISTS], &["todos", "lists"]);
    // More lists than one pull page holds (MAX_PULL_CHANGES), all older than the todos after them.
    let lists = outpost::protocol::MAX_PULL_CHANGES + 700;
    writer.run(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {lists}) \
         INSERT INTO lists SELECT 'l' || i, 'list ' || i FROM n"
    ));
    writer.sync(&transport).unwrap();
    for i in 0..5 {
        writer.run(&format!("INSERT INTO todos VALUES ('t{i}', 'title')"));
    }
    writer.sync(&transport).unwrap();

    let mut late = Replica::open(dir.path(), "late", &[V1], &["todos"]);
    late.sync(&transport).unwrap();
    drop(late);
    late = Replica::open(dir.path(), "late", &[V1, ADD_LISTS], &["todos", "lists"]);
    late.sync(&transport).unwrap();
    assert_eq!(
        late.rows("SELECT count(*) FROM lists"),
        vec![vec![Value::Integer(lists as i64)]]
    );

    // Sync goes on for both tables after the backfill.
    writer.run("INSERT INTO todos VALUES ('t9', 'later')");
    writer.run("UPDATE lists SET name = 'renamed' WHERE id = 'l1'");
    writer.sync(&transport).unwrap();
    late.sync(&transport).unwrap();
    assert_eq!(
        late.rows("SELECT (SELECT count(*) FROM todos), (SELECT name FROM lists WHERE id = 'l1')"),
        vec![vec![Value::Integer(6), text("renamed")]]
    );
}
