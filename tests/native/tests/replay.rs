//! A replica re-applies its own unpushed writes over pulled rows so they stay visible. A write
//! the primary already applied must not be re-applied over a newer state of its row, or the
//! replica keeps an old value that no later pull corrects (invariant 4). Two ways to get there:
//! a pull that arrives after the push was acknowledged, and a push whose answer was lost.

use outpost::sync::Transport;
use outpost_tests::replica::text;
use outpost_tests::{block_on, Replica, World};

const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";
const ALL_TODOS: &str = "SELECT id, title FROM todos ORDER BY id";

#[test]
fn an_acknowledged_write_is_not_replayed_over_a_newer_pulled_row() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos VALUES ('x', 'from a')");
    push_only(&world, &a, true); // acknowledged, not yet pulled back
    b.sync(&world.transport).unwrap();
    b.run("UPDATE todos SET title = 'from b' WHERE id = 'x'");
    b.sync(&world.transport).unwrap();

    a.sync(&world.transport).unwrap();
    a.sync(&world.transport).unwrap();
    world.assert_converged(&[&a, &b], &[vec![text("x"), text("from b")]]);
}

#[test]
fn a_write_whose_push_answer_was_lost_is_not_kept_over_a_newer_row() {
    let world = World::new(TODOS, ALL_TODOS);
    let a = world.replica("a");
    let b = world.replica("b");
    a.run("INSERT INTO todos VALUES ('x', 'from a')");
    push_only(&world, &a, false); // applied on the primary, but A never hears of it
    b.sync(&world.transport).unwrap();
    b.run("UPDATE todos SET title = 'from b' WHERE id = 'x'");
    b.sync(&world.transport).unwrap();

    // A pulls before retrying: from where A stands its insert is still pending, so it is
    // rightly re-applied over B's row for now.
    let request = a.db().pull_request(0).unwrap();
    let response = block_on(world.transport.pull(&request)).unwrap();
    a.db().apply_pull_response(&request, &response).unwrap();
    // The retry is acknowledged without effect (applied before), and the next pull has no
    // change to `x` to bring: nothing puts B's title back unless the sync engine does.
    a.sync(&world.transport).unwrap();
    a.sync(&world.transport).unwrap();
    world.assert_converged(&[&a, &b], &[vec![text("x"), text("from b")]]);
}

/// Push everything, without pulling; the answer is applied only if `answer_arrives`.
fn push_only(world: &World, replica: &Replica, answer_arrives: bool) {
    let request = replica.db().push_request(100).unwrap().expect("pending");
    let response = block_on(world.transport.push(&request)).unwrap();
    if answer_arrives {
        replica
            .db()
            .apply_push_response(&request, &response)
            .unwrap();
    }
}
