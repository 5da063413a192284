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
