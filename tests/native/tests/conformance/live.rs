//! Long polls and capture: a waiting pull wakes on a push from another client, answers empty at
//! its deadline when nothing changed, and sees writes made behind the server's back (a backend job
//! or a SQL shell on the SQLite file or in the Postgres schema).

use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use outpost_tests::todos::insert_todo;
use outpost_tests::{Api, Backend};
use serde_json::{json, Value as Json};

use super::{primary, v1_pull};

on_every_store!(
    a_waiting_pull_wakes_soon_after_a_push,
    a_waiting_pull_with_nothing_new_answers_empty_at_its_deadline,
    writes_made_behind_the_servers_back_reach_pulls,
);

/// A long poll of `todos` after `cursor` on another thread, answering the pull's answer and when
/// it came. Once it has had time to reach the primary it must still be waiting, since nothing
/// changed yet. No answer tells a client that a pull is parked, so the caller's write may still
/// beat it there; the pull then answers at once and the test holds all the same.
fn waiting_pull<'scope>(
    scope: &'scope Scope<'scope, '_>,
    app: &'scope Api,
    cursor: i64,
    wait: Duration,
) -> ScopedJoinHandle<'scope, (Json, Instant)> {
    let waiter = scope.spawn(move || {
        let answer = app.pull_waiting(cursor, &["todos"], wait);
        (answer, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "a pull with nothing new answered before its deadline"
    );
    waiter
}

fn a_waiting_pull_wakes_soon_after_a_push(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push("c0", json!([insert_todo(1, "a", "create the database")]));
    std::thread::scope(|scope| {
        let waiter = waiting_pull(scope, &app, 1, Duration::from_secs(30));
        let pushed_at = Instant::now();
        app.push("c1", json!([insert_todo(1, "b", "wake up")]));
        let (answer, answered_at) = waiter.join().unwrap();
        let delay = answered_at.duration_since(pushed_at);
        assert_eq!(answer["changes"][0]["key"], json!(["b"]), "{answer}");
        // The push wakes it, long before its 30 s deadline. How soon is a benchmark's business
        // (bench/: write-to-visible latency); a bound here would only measure machine load.
        assert!(
            delay < Duration::from_secs(5),
            "woke {delay:?} after the push"
        );
        eprintln!("long poll answered {delay:?} after the push");
    });
}

fn a_waiting_pull_with_nothing_new_answers_empty_at_its_deadline(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    let started = Instant::now();
    let answer = app.pull_waiting(0, &["todos"], Duration::from_millis(400));
    assert_eq!(
        v1_pull(&answer),
        json!({"changes": [], "cursor": 0, "more": false})
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
}

fn writes_made_behind_the_servers_back_reach_pulls(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push("c0", json!([insert_todo(1, "a", "pushed")]));
    let shell = |sql: &str| {
        primary
            .execute("app", sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };

    std::thread::scope(|scope| {
        let waiter = waiting_pull(scope, &app, 1, Duration::from_secs(10));
        let written_at = Instant::now();
        shell("INSERT INTO todos(id, title) VALUES ('s', 'from the shell')");
        let (answer, answered_at) = waiter.join().unwrap();
        assert_eq!(answer["changes"][0]["key"], json!(["s"]), "{answer}");
        let delay = answered_at.duration_since(written_at);
        assert!(
            delay < Duration::from_secs(1),
            "saw the shell's write after {delay:?}"
        );
    });

    shell("UPDATE todos SET done = 1 WHERE id = 'a'");
    shell("DELETE FROM todos WHERE id = 's'");
    assert_eq!(
        app.pull(2, &["todos"])["changes"],
        json!([
            {"version": 3, "table": "todos", "key": ["a"], "row": {"id": "a", "title": "pushed", "done": 1}},
            {"version": 4, "table": "todos", "key": ["s"], "row": null},
        ])
    );
    // A push after the shell's writes continues the same version sequence.
    assert_eq!(
        app.push("c0", json!([insert_todo(2, "b", "next")]))["version"],
        5
    );
}
