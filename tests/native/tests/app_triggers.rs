//! The app's own triggers on a synced table while a pull is applied: they fire, so local data
//! they keep (here a search table) follows pulled rows, but what they write into synced tables
//! is undone, since the primary ran the same trigger and its result is in the pull. Otherwise a
//! trigger such as "count the edits" leaves every other replica one edit ahead, for good.

use outpost::Value;
use outpost_tests::replica::text;
use outpost_tests::{scratch_dir, HttpTransport, Replica, TestPrimary};

const SCHEMA: &str = "
CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL, edits INTEGER NOT NULL DEFAULT 0);
CREATE TABLE search(id TEXT PRIMARY KEY, title TEXT);
CREATE TRIGGER todos_indexed AFTER INSERT ON todos BEGIN
  INSERT INTO search VALUES (NEW.id, NEW.title);
END;
CREATE TRIGGER todos_edited AFTER UPDATE OF title ON todos BEGIN
  UPDATE search SET title = NEW.title WHERE id = NEW.id;
  UPDATE todos SET edits = edits + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER todos_unindexed AFTER DELETE ON todos BEGIN
  DELETE FROM search WHERE id = OLD.id;
END;
";
const ALL_TODOS: &str = "SELECT id, title, edits FROM todos ORDER BY id";

#[test]
fn triggers_keep_local_tables_in_step_and_never_change_pulled_rows() {
    let primary = TestPrimary::start(SCHEMA);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let a = Replica::open(dir.path(), "a", &[SCHEMA], &["todos"]);
    let b = Replica::open(dir.path(), "b", &[SCHEMA], &["todos"]);
    a.run("INSERT INTO todos(id, title) VALUES ('x', 'first'), ('y', 'other')");
    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();
    a.run("UPDATE todos SET title = 'second' WHERE id = 'x'");
    a.sync(&transport).unwrap();
    // B has a pending write of its own on another row while the pull is applied.
    b.run("UPDATE todos SET title = 'mine' WHERE id = 'y'");
    b.sync(&transport).unwrap();
    a.sync(&transport).unwrap();
    a.run("DELETE FROM todos WHERE id = 'x'");
    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();

    let expected = vec![vec![text("y"), text("mine"), Value::Integer(1)]];
    assert_eq!(primary.rows("app", ALL_TODOS), expected);
    assert_eq!(a.rows(ALL_TODOS), expected);
    assert_eq!(b.rows(ALL_TODOS), expected);
    assert_eq!(
        b.pending(),
        0,
        "the pull's trigger writes were not captured"
    );
    // The local table followed every pulled insert, update and delete.
    assert_eq!(
        b.rows("SELECT id, title FROM search ORDER BY id"),
        vec![vec![text("y"), text("mine")]]
    );
    assert_eq!(
        a.rows("SELECT id, title FROM search ORDER BY id"),
        vec![vec![text("y"), text("mine")]]
    );
}

/// The primary's own check, a trigger that writes an audit row and then refuses: the refused
/// write leaves nothing on the primary, neither its row nor its audit row, no replica gets it,
/// and the writes around it land. `RAISE(FAIL)` keeps what the statement did before it, so the
/// store takes a savepoint per mutation; `RAISE(ABORT)` undoes it all by itself. The replicas'
/// schema has no such trigger, as an app's server-side check would be.
#[test]
fn a_trigger_that_refuses_after_writing_leaves_nothing_of_the_write() {
    const TABLES: &str = "
CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE audit(id TEXT PRIMARY KEY, title TEXT NOT NULL);
";
    for raise in ["FAIL", "ABORT"] {
        let checked = format!(
            "{TABLES}
CREATE TRIGGER todos_audited AFTER INSERT ON todos BEGIN
  INSERT INTO audit VALUES (NEW.id, NEW.title);
  SELECT RAISE({raise}, 'no shouting') WHERE NEW.title = upper(NEW.title);
END;"
        );
        let primary = TestPrimary::start(&checked);
        let transport = HttpTransport::new(primary.endpoint(), "app");
        let dir = scratch_dir();
        let a = Replica::open(dir.path(), "a", &[TABLES], &["todos"]);
        let b = Replica::open(dir.path(), "b", &[TABLES], &["todos"]);
        a.run("INSERT INTO todos VALUES ('x', 'quiet'), ('y', 'LOUD'), ('z', 'calm')");
        let report = a.sync(&transport).unwrap();
        let refused: Vec<_> = report.rejected.iter().map(|r| r.key.clone()).collect();
        assert_eq!(refused, vec![vec![text("y")]], "{raise}");
        b.sync(&transport).unwrap();

        let kept = vec![
            vec![text("x"), text("quiet")],
            vec![text("z"), text("calm")],
        ];
        let rows = |sql| primary.rows("app", sql);
        assert_eq!(
            rows("SELECT id, title FROM todos ORDER BY id"),
            kept,
            "{raise}"
        );
        assert_eq!(
            rows("SELECT id, title FROM audit ORDER BY id"),
            kept,
            "{raise}"
        );
        assert_eq!(
            a.rows("SELECT id, title FROM todos ORDER BY id"),
            kept,
            "{raise}"
        );
        assert_eq!(
            b.rows("SELECT id, title FROM todos ORDER BY id"),
            kept,
            "{raise}"
        );
    }
}
