//! Replicas syncing through the real primary over HTTP: offline writes, concurrent edits of one
//! row, and deletes racing updates. Each replica is its own file; the primary is read from its file.

use outpost::Value;
use outpost_tests::replica::text;
use outpost_tests::World;

const TODOS: &str =
    "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT, done INTEGER NOT NULL DEFAULT 0, note TEXT)";
const ALL_TODOS: &str = "SELECT id, title, done, note FROM todos ORDER BY id";

fn todo(id: &str, title: &str, done: i64, note: Option<&str>) -> Vec<Value> {
    vec![
        text(id),
        text(title),
        Value::Integer(done),
        note.map_or(Value::Null, text),
    ]
}

#[test]
fn writes_made_offline_are_kept_and_reach_other_replicas_once_back_online() {
    let mut world = World::new(TODOS, ALL_TODOS);
    let mut a = world.replica("a");
    let b = world.replica("b");
    world.sync(&a); // creates the database on the primary

    world.primary.stop();
    a.run("INSERT INTO todos(id, title) VALUES ('1', 'milk'), ('2', 'bread'), ('3', 'eggs')");
    a.run("UPDATE todos SET done = 1 WHERE id = '2'");
    a.run("DELETE FROM todos WHERE id = '3'");
    let err = a.sync(&world.transport).unwrap_err();
    assert_eq!(err.code(), "OFFLINE", "{err}");
    let local = vec![todo("1", "milk", 0, None), todo("2", "bread", 1, None)];
    assert_eq!(a.rows(ALL_TODOS), local, "local writes are visible offline");
    assert_eq!(a.pending(), 5, "three inserts, an update and a delete wait");

    // The app is closed while offline: the outbox is in the file.
    a.reopen();
    assert_eq!(a.pending(), 5);
    assert_eq!(a.rows(ALL_TODOS), local);

    world.primary.start_again();
    let report = a.sync(&world.transport).expect("sync once back online");
    assert_eq!(report.pushed, 5);
    assert!(report.rejected.is_empty());
    assert_eq!(a.pending(), 0);
    world.sync(&b);
    world.assert_converged(&[&a, &b], &local);
}

#[test]
fn concurrent_edits_of_different_columns_of_one_row_both_survive() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos(id, title) VALUES ('x', 'draft')");
    world.sync(&a);
    world.sync(&b);

    // Neither has seen the other's edit when making its own.
    a.run("UPDATE todos SET title = 'final' WHERE id = 'x'");
    b.run("UPDATE todos SET done = 1 WHERE id = 'x'");
    // The same column on both: the later arrival at the primary wins.
    a.run("UPDATE todos SET note = 'from a' WHERE id = 'x'");
    b.run("UPDATE todos SET note = 'from b' WHERE id = 'x'");
    world.sync(&a);
    world.sync(&b);
    world.sync(&a);
    world.assert_converged(&[&a, &b], &[todo("x", "final", 1, Some("from b"))]);
}

#[test]
fn a_delete_wins_over_an_update_that_arrives_after_it() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos(id, title) VALUES ('x', 'draft'), ('y', 'keep')");
    world.sync(&a);
    world.sync(&b);

    a.run("DELETE FROM todos WHERE id = 'x'");
    b.run("UPDATE todos SET title = 'edited' WHERE id = 'x'");
    world.sync(&a);
    // B's update finds no row on the primary: dropped, and B's copy goes with the tombstone.
    let report = b.sync(&world.transport).unwrap();
    assert!(
        report.rejected.is_empty(),
        "a dropped update is not a rejection"
    );
    assert_eq!(b.pending(), 0);
    world.sync(&a);
    world.assert_converged(&[&a, &b], &[todo("y", "keep", 0, None)]);
}

#[test]
fn a_delete_that_arrives_after_an_update_removes_the_row() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos(id, title) VALUES ('x', 'draft'), ('y', 'keep')");
    world.sync(&a);
    world.sync(&b);

    a.run("DELETE FROM todos WHERE id = 'x'");
    b.run("UPDATE todos SET title = 'edited' WHERE id = 'x'");
    world.sync(&b);
    assert_eq!(
        world
            .primary
            .rows("app", "SELECT title FROM todos WHERE id = 'x'"),
        vec![vec![text("edited")]],
        "the update landed first"
    );
    world.sync(&a);
    world.sync(&b);
    world.assert_converged(&[&a, &b], &[todo("y", "keep", 0, None)]);
}

#[test]
fn a_wal_replica_applies_answers_without_changing_the_apps_durability_setting() {
    // A pull's or push answer's commit need not wait for the disk (src/sync/apply_mode.rs); the
    // app's own writes keep whatever `synchronous` the app has.
    let world = World::new(TODOS, ALL_TODOS);
    let mut a = world.wal_replica("a");
    let mut b = world.wal_replica("b");
    let setting =
        |r: &outpost_tests::replica::Replica, pragma: &str| r.rows(&format!("PRAGMA {pragma}"));
    assert_eq!(setting(&a, "journal_mode"), vec![vec![text("wal")]]);
    let full = vec![vec![Value::Integer(2)]];
    assert_eq!(
        setting(&a, "synchronous"),
        full,
        "FULL unless the app says otherwise"
    );

    a.run("INSERT INTO todos(id, title) VALUES ('1', 'milk')");
    world.sync(&a);
    assert_eq!(setting(&a, "synchronous"), full, "after a push and a pull");
    assert_eq!(setting(&a, "foreign_keys"), vec![vec![Value::Integer(1)]]);

    b.run("PRAGMA synchronous = EXTRA");
    world.sync(&b);
    assert_eq!(
        setting(&b, "synchronous"),
        vec![vec![Value::Integer(3)]],
        "the app's own setting stays"
    );
    let expected = vec![todo("1", "milk", 0, None)];
    assert_eq!(b.rows(ALL_TODOS), expected);

    // Committed: a new connection on the files sees the pulled row and the moved cursor.
    a.reopen();
    b.reopen();
    assert_eq!(b.rows(ALL_TODOS), expected);
    assert_eq!(
        setting(&b, "synchronous"),
        full,
        "a setting is the connection's"
    );
    world.assert_converged(&[&a, &b], &expected);
}
