//! Breaking changes (a dropped column, a changed key) by the documented procedure
//! (docs/MIGRATIONS.md): the primary's breaking migration says which app schema version it needs,
//! a replica older than that is refused `UPGRADE_REQUIRED` with nothing applied and its writes
//! kept where the app reads them, and once the app upgrades those writes go out in the new shape
//! or, where they have none, are set aside with their content, never lost and never wedging the
//! queue.

use outpost::Error;
use outpost_primary::store::{MIGRATION_MARKER, MIN_REPLICA_SCHEMA_MARKER};
use outpost_tests::replica::text;
use outpost_tests::{scratch_dir, HttpTransport, Replica, TestPrimary};

const V1: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL)";
const ADD_NOTE: &str = "ALTER TABLE todos ADD COLUMN note TEXT";
const DROP_NOTE: &str = "ALTER TABLE todos DROP COLUMN note";

fn assert_upgrade_required<T: std::fmt::Debug>(result: outpost::Result<T>) {
    match result {
        Err(Error::Primary { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (409, "UPGRADE_REQUIRED"))
        }
        other => panic!("expected UPGRADE_REQUIRED, got {other:?}"),
    }
}

#[test]
fn a_replica_too_old_for_the_primary_is_told_to_upgrade_and_keeps_its_writes() {
    let mut primary = TestPrimary::start(&format!("{V1};\n{MIGRATION_MARKER} note\n{ADD_NOTE};\n"));
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let v2 = [V1, ADD_NOTE];
    let mut writer = Replica::open(dir.path(), "writer", &v2, &["todos"]);
    let reader = Replica::open(dir.path(), "reader", &v2, &["todos"]);
    writer.run("INSERT INTO todos VALUES ('a', 'first', 'a note')");
    writer.sync(&transport).unwrap();

    // Offline, the v2 app writes in the shape it knows.
    writer.run("INSERT INTO todos VALUES ('b', 'second', 'its note')");
    writer.run("UPDATE todos SET title = 'first, edited', note = 'edited note' WHERE id = 'a'");

    // Version 3 of the app drops the note: the primary takes the breaking migration first.
    primary.set_schema(&format!(
        "{V1};\n{MIGRATION_MARKER} note\n{ADD_NOTE};\n\
         {MIGRATION_MARKER} drop note\n{MIN_REPLICA_SCHEMA_MARKER} 3\n{DROP_NOTE};\n"
    ));
    primary.restart();
    let before = primary.dump("app");
    assert_upgrade_required(writer.sync(&transport));
    assert_upgrade_required(reader.sync(&transport));
    assert_eq!(
        primary.dump("app"),
        before,
        "nothing of a refused replica is applied"
    );
    let pending = writer.db().pending_writes(10).unwrap();
    assert_eq!(pending.count, 2, "the writes wait");
    assert_eq!(
        pending.writes[0].columns.get("note"),
        Some(&text("its note")),
        "readable as written"
    );
    assert_eq!(
        writer.rows("SELECT id, title, note FROM todos ORDER BY id"),
        vec![
            vec![text("a"), text("first, edited"), text("edited note")],
            vec![text("b"), text("second"), text("its note")],
        ],
        "the replica's rows are as the app left them"
    );

    // The app upgrades: its migration drops the column too, and the waiting writes go out
    // without it (neither side has a place for it now).
    drop(writer);
    writer = Replica::open(dir.path(), "writer", &[V1, ADD_NOTE, DROP_NOTE], &["todos"]);
    let report = writer.sync(&transport).unwrap();
    assert!(
        report.rejected.is_empty() && report.waiting.is_none(),
        "{report:?}"
    );
    assert_eq!(writer.pending(), 0);
    let expected = vec![
        vec![text("a"), text("first, edited")],
        vec![text("b"), text("second")],
    ];
    let all = "SELECT id, title FROM todos ORDER BY id";
    assert_eq!(primary.rows("app", all), expected);
    assert_eq!(writer.rows(all), expected);
}

const TAGS: &str = "CREATE TABLE tags(id TEXT PRIMARY KEY, name TEXT)";
/// A tag now belongs to a list: a new key is a new table (docs/MIGRATIONS.md).
const LABELS: &str = "CREATE TABLE labels(list TEXT NOT NULL, id TEXT NOT NULL, name TEXT, \
    PRIMARY KEY (list, id))";

#[test]
fn writes_to_a_table_the_app_stopped_syncing_are_set_aside_with_their_content() {
    let mut primary = TestPrimary::start(&format!("{V1};\n{MIGRATION_MARKER} tags\n{TAGS};\n"));
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let mut replica = Replica::open(dir.path(), "r", &[V1, TAGS], &["todos", "tags"]);
    replica.run("INSERT INTO tags VALUES ('t1', 'synced')");
    replica.sync(&transport).unwrap();
    replica.run("INSERT INTO tags VALUES ('t2', 'made offline')");
    replica.run("INSERT INTO todos VALUES ('a', 'made offline too')");

    // The key change: a new table, filled on the primary by a statement after its migration
    // (captured like any write), for app version 3, which syncs it instead of tags.
    primary.set_schema(&format!(
        "{V1};\n{MIGRATION_MARKER} tags\n{TAGS};\n\
         {MIGRATION_MARKER} labels\n{MIN_REPLICA_SCHEMA_MARKER} 3\n{LABELS};\n"
    ));
    primary.restart();
    assert_upgrade_required(replica.sync(&transport));
    // A replica of version 3 is served (the database takes the migration as it opens), and a
    // backend job fills the new table.
    let v3 = Replica::open(dir.path(), "v3", &[V1, TAGS, LABELS], &["todos", "labels"]);
    v3.sync(&transport).unwrap();
    let copy = "INSERT INTO labels SELECT 'inbox', id, name FROM tags";
    assert_eq!(primary.execute("app", copy, &[]).unwrap(), 1);

    drop(replica);
    replica = Replica::open(dir.path(), "r", &[V1, TAGS, LABELS], &["todos", "labels"]);
    let rejected = replica.db().rejected_writes(10).unwrap();
    assert_eq!(rejected.count, 1, "{rejected:?}");
    let set_aside = &rejected.writes[0].mutation;
    assert_eq!(
        (set_aside.table.as_str(), set_aside.code.as_str()),
        ("tags", "SCHEMA_CHANGED")
    );
    assert_eq!(set_aside.key, vec![text("t2")]);
    assert_eq!(set_aside.columns.get("name"), Some(&text("made offline")));

    let report = replica.sync(&transport).unwrap();
    assert!(report.waiting.is_none(), "{report:?}");
    let reported: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.seq, r.code.as_str()))
        .collect();
    assert_eq!(
        reported,
        vec![(set_aside.seq, "SCHEMA_CHANGED")],
        "the first sync of the open reports what the open set aside"
    );
    assert_eq!(replica.pending(), 0, "the other write went out");
    assert_eq!(
        primary.rows("app", "SELECT id, title FROM todos"),
        vec![vec![text("a"), text("made offline too")]]
    );
    assert_eq!(
        replica.rows("SELECT list, id, name FROM labels"),
        vec![vec![text("inbox"), text("t1"), text("synced")]],
        "the new table arrives"
    );
}

#[test]
fn writes_made_before_a_migration_changed_their_tables_key_are_set_aside_at_open() {
    const TAGS_BY_LIST: &str = "CREATE TABLE tags2(list TEXT NOT NULL, id TEXT NOT NULL, \
        name TEXT, PRIMARY KEY (list, id)); \
        INSERT INTO tags2 SELECT 'inbox', id, name FROM tags; DROP TABLE tags; \
        ALTER TABLE tags2 RENAME TO tags";
    let dir = scratch_dir();
    let mut replica = Replica::open(dir.path(), "r", &[TAGS], &["tags"]);
    replica.run("INSERT INTO tags VALUES ('t1', 'unsent')");
    drop(replica);
    replica = Replica::open(dir.path(), "r", &[TAGS, TAGS_BY_LIST], &["tags"]);
    assert_eq!(replica.pending(), 0, "it no longer fits the table");
    let rejected = replica.db().rejected_writes(10).unwrap();
    assert_eq!(rejected.count, 1);
    let set_aside = &rejected.writes[0].mutation;
    assert_eq!(set_aside.code, "SCHEMA_CHANGED");
    assert!(
        set_aside.reason.contains("(list, id)"),
        "{}",
        set_aside.reason
    );
    assert_eq!(set_aside.columns.get("name"), Some(&text("unsent")));
    assert_eq!(
        replica.rows("SELECT list, id, name FROM tags"),
        vec![vec![text("inbox"), text("t1"), text("unsent")]],
        "the row itself is as the migration left it"
    );
}
