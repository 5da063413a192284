//! Integer keys made offline: two devices that each insert a row without an id both get id 1.
//! The second insert must not overwrite the first on the primary in silence: it is refused with
//! `KEY_EXISTS`, reported to its writer with its content, and its row becomes the primary's.
//! An `INSERT OR REPLACE` of a row the replica has, and a key change, still sync as before.

use outpost::Value;
use outpost_tests::replica::text;
use outpost_tests::World;

const NOTES: &str = "CREATE TABLE todos(id INTEGER PRIMARY KEY, body TEXT)";
const ALL_NOTES: &str = "SELECT id, body FROM todos ORDER BY id";

#[test]
fn two_offline_inserts_that_took_the_same_integer_id_are_not_merged_in_silence() {
    let world = World::new(NOTES, ALL_NOTES);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos(body) VALUES ('from a')");
    b.run("INSERT INTO todos(body) VALUES ('from b')");
    assert_eq!(
        a.rows("SELECT id FROM todos"),
        b.rows("SELECT id FROM todos")
    );

    world.sync(&a);
    let report = b.sync(&world.transport).unwrap();
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let refused = &report.rejected[0];
    assert_eq!(refused.code, "KEY_EXISTS");
    assert_eq!(refused.columns.get("body"), Some(&text("from b")));
    // Still readable by the app after the event.
    let kept = b.db().rejected_writes(10).unwrap();
    assert_eq!(kept.count, 1);
    assert_eq!(kept.writes[0].mutation.code, "KEY_EXISTS");

    world.sync(&a);
    world.assert_converged(&[&a, &b], &[vec![Value::Integer(1), text("from a")]]);
}

#[test]
fn replacing_a_row_the_replica_has_and_moving_a_key_still_sync() {
    let world = World::new(NOTES, ALL_NOTES);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos VALUES (1, 'one'), (2, 'two')");
    world.sync(&a);
    world.sync(&b);

    a.run("UPDATE todos SET id = 3 WHERE id = 2");
    a.run("DELETE FROM todos WHERE id = 1");
    a.run("INSERT INTO todos VALUES (1, 'one again')");
    let report = a.sync(&world.transport).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    world.sync(&b);
    world.assert_converged(
        &[&a, &b],
        &[
            vec![Value::Integer(1), text("one again")],
            vec![Value::Integer(3), text("two")],
        ],
    );
}
