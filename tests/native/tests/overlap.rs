//! A push whose answer is slow, overlapped by a pull that already holds its result and a newer
//! write from another replica: the default background loop does this (its long poll overlaps
//! its own push), and so does the Workers recipe (`waitUntil(push())`, then `ensureFresh()`).
//! However late the answer comes, the replica must end on the primary's row, and a refusal in
//! it must be reported once, without putting an old row back.

use outpost::sync::Transport;
use outpost_tests::replica::text;
use outpost_tests::{block_on, Replica, World};

const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";
const ALL_TODOS: &str = "SELECT id, title FROM todos ORDER BY id";

/// Pull once and apply the answer.
fn pull_once(world: &World, replica: &Replica) -> outpost::sync::PullOutcome {
    let request = replica.db().pull_request(0).unwrap();
    let response = block_on(world.transport.pull(&request)).unwrap();
    replica
        .db()
        .apply_pull_response(&request, &response)
        .unwrap()
}

#[test]
fn a_late_push_answer_does_not_keep_an_old_write_over_a_newer_pulled_row() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos VALUES ('x', 'first')");
    world.sync(&a);
    world.sync(&b);

    a.run("UPDATE todos SET title = 'from a' WHERE id = 'x'");
    let request = a.db().push_request(100).unwrap().expect("pending");
    // The primary applies A's push; its answer is on its way for a long time.
    let late_answer = block_on(world.transport.push(&request)).unwrap();
    b.sync(&world.transport).unwrap();
    b.run("UPDATE todos SET title = 'from b' WHERE id = 'x'");
    world.sync(&b);

    // A's pull holds both writes: A's own is in it, so it must not be replayed over B's.
    pull_once(&world, &a);
    assert_eq!(a.rows(ALL_TODOS), vec![vec![text("x"), text("from b")]]);
    let outcome = a.db().apply_push_response(&request, &late_answer).unwrap();
    assert!(outcome.rejected.is_empty());
    a.sync(&world.transport).unwrap();
    assert_eq!(a.pending(), 0);
    world.assert_converged(&[&a, &b], &[vec![text("x"), text("from b")]]);
}

#[test]
fn a_late_refusal_is_reported_once_and_does_not_put_an_older_row_back() {
    // The primary refuses titles over 8 characters; this replica's schema does not.
    let world = World::new_split(
        "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT CHECK (length(title) <= 8))",
        TODOS,
        ALL_TODOS,
    );
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos VALUES ('x', 'first')");
    world.sync(&a);
    world.sync(&b);

    a.run("UPDATE todos SET title = 'far too long a title' WHERE id = 'x'");
    let request = a.db().push_request(100).unwrap().expect("pending");
    let late_answer = block_on(world.transport.push(&request)).unwrap();
    assert_eq!(late_answer.rejected.len(), 1, "{late_answer:?}");
    b.sync(&world.transport).unwrap();
    b.run("UPDATE todos SET title = 'from b' WHERE id = 'x'");
    world.sync(&b);

    let outcome = pull_once(&world, &a);
    assert_eq!(outcome.rejected.len(), 1, "the pull settles and reports it");
    assert_eq!(outcome.rejected[0].code, "SQLITE_CONSTRAINT_CHECK");
    let pushed = a.db().apply_push_response(&request, &late_answer).unwrap();
    assert!(pushed.rejected.is_empty(), "reported once, not twice");
    assert_eq!(a.db().rejected_writes(10).unwrap().count, 1);
    world.assert_converged(&[&a, &b], &[vec![text("x"), text("from b")]]);
}

#[test]
fn a_pull_computed_before_the_push_landed_keeps_the_local_write_visible() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    a.run("INSERT INTO todos VALUES ('x', 'from a')");
    // The pull is read before the push lands, and applied after its answer: the write is in
    // neither the pulled state nor gone, so it stays visible.
    let pull = a.db().pull_request(0).unwrap();
    let early_state = block_on(world.transport.pull(&pull)).unwrap();
    let push = a.db().push_request(100).unwrap().expect("pending");
    let answer = block_on(world.transport.push(&push)).unwrap();
    a.db().apply_push_response(&push, &answer).unwrap();
    a.db().apply_pull_response(&pull, &early_state).unwrap();
    assert_eq!(a.rows(ALL_TODOS), vec![vec![text("x"), text("from a")]]);
    a.sync(&world.transport).unwrap();
    world.assert_converged(&[&a], &[vec![text("x"), text("from a")]]);
}

#[test]
fn a_refusal_whose_answer_was_lost_is_settled_by_a_pull_that_puts_the_row_back() {
    let world = World::new_split(
        "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT CHECK (length(title) <= 8))",
        TODOS,
        ALL_TODOS,
    );
    let a = world.replica("a");
    a.run("INSERT INTO todos VALUES ('x', 'first')");
    world.sync(&a);
    a.run("UPDATE todos SET title = 'far too long a title' WHERE id = 'x'");
    let request = a.db().push_request(100).unwrap().expect("pending");
    // Refused on the primary; the answer never arrives.
    let _lost = block_on(world.transport.push(&request)).unwrap();
    let outcome = pull_once(&world, &a);
    assert_eq!(outcome.rejected.len(), 1, "{outcome:?}");
    assert_eq!(a.pending(), 0);
    world.assert_converged(&[&a], &[vec![text("x"), text("first")]]);
}
