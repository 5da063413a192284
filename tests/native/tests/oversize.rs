//! Large rows: a write that could never fit in a push is refused when it is made, with a stable
//! code and no change; writes that fit go out in pushes bounded by bytes as well as by count, so
//! one large row never blocks the small writes behind it; and pulls are paged by bytes too.

use outpost::protocol::{MAX_PULL_BYTES, MAX_PUSH_BYTES};
use outpost::{Params, Value};
use outpost_tests::World;

const BLOBS: &str = "CREATE TABLE todos(id INTEGER PRIMARY KEY, body TEXT)";
const ALL: &str = "SELECT id, length(body) FROM todos ORDER BY id";

fn body(bytes: usize) -> Value {
    Value::Text("x".repeat(bytes))
}

#[test]
fn a_write_too_large_to_push_is_refused_when_made_and_changes_nothing() {
    let world = World::new(BLOBS, ALL);
    let a = world.replica("a");
    let err = a
        .execute(
            "INSERT INTO todos VALUES (1, ?1)",
            Params::Positional(vec![body(MAX_PUSH_BYTES + 1)]),
        )
        .unwrap_err();
    assert_eq!(err.code(), "MUTATION_TOO_LARGE", "{err}");
    assert!(a.rows(ALL).is_empty());
    assert_eq!(a.pending(), 0);
    // An update that would make an existing row too large is refused the same way.
    a.run("INSERT INTO todos VALUES (2, 'small')");
    let err = a
        .execute(
            "UPDATE todos SET body = ?1 WHERE id = 2",
            Params::Positional(vec![body(MAX_PUSH_BYTES + 1)]),
        )
        .unwrap_err();
    assert_eq!(err.code(), "MUTATION_TOO_LARGE");
    assert_eq!(
        a.rows(ALL),
        vec![vec![Value::Integer(2), Value::Integer(5)]]
    );
}

#[test]
fn large_rows_push_in_batches_bounded_by_bytes_and_pull_in_pages_bounded_by_bytes() {
    let world = World::new(BLOBS, ALL);
    let a = world.replica("a");
    let b = world.replica("b");
    // Six rows of a third of a batch each, then small ones: more than one push's worth of bytes.
    let third = MAX_PUSH_BYTES / 3;
    for id in 1..=6 {
        a.execute(
            "INSERT INTO todos VALUES (?1, ?2)",
            Params::Positional(vec![Value::Integer(id), body(third)]),
        )
        .unwrap();
    }
    a.run("INSERT INTO todos VALUES (7, 'small'), (8, 'small')");
    let first = a.db().push_request(1000).unwrap().expect("pending");
    assert!(
        first.mutations.len() < 8,
        "{} in one push",
        first.mutations.len()
    );
    world.sync(&a);

    let pulled = b.sync(&world.transport).unwrap();
    assert_eq!(pulled.pulled, 8);
    assert!(
        6 * third > MAX_PULL_BYTES,
        "the rows span more than one pull page"
    );
    let expected: Vec<Vec<Value>> = (1..=8)
        .map(|id| {
            let len = if id <= 6 { third } else { 5 };
            vec![Value::Integer(id), Value::Integer(len as i64)]
        })
        .collect();
    world.assert_converged(&[&a, &b], &expected);
}
