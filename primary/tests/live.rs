//! Long polls and capture: a waiting pull wakes on a push from another client, and writes made
//! directly on the database file (as a backend job or the sqlite3 shell would) reach replicas.

mod common;

use std::time::{Duration, Instant};

use common::{insert_todo, Primary};
use serde_json::json;

fn waiting_pull(primary: &Primary, cursor: i64, wait_ms: u64) -> (serde_json::Value, Instant) {
    let answer = primary.ok(
        "/v1/db/app/pull",
        &json!({"v": 1, "cursor": cursor, "tables": ["todos"], "waitMs": wait_ms}),
    );
    (answer, Instant::now())
}

#[test]
fn a_waiting_pull_wakes_soon_after_a_push() {
    let primary = Primary::start();
    primary.push("c0", json!([insert_todo(1, "a", "create the database")]));
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| waiting_pull(&primary, 1, 30_000));
        std::thread::sleep(Duration::from_millis(300));
        let pushed_at = Instant::now();
        primary.push("c1", json!([insert_todo(1, "b", "wake up")]));
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

#[test]
fn a_waiting_pull_with_nothing_new_answers_empty_at_its_deadline() {
    let primary = Primary::start();
    let started = Instant::now();
    let (answer, answered_at) = waiting_pull(&primary, 0, 400);
    assert_eq!(answer, json!({"changes": [], "cursor": 0, "more": false}));
    assert!(answered_at.duration_since(started) >= Duration::from_millis(400));
}

#[test]
fn direct_writes_on_the_file_reach_pulls() {
    let primary = Primary::start();
    primary.push("c0", json!([insert_todo(1, "a", "pushed")]));
    let shell = rusqlite::Connection::open(primary.db_path("app")).unwrap();
    shell.busy_timeout(Duration::from_secs(5)).unwrap();

    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| waiting_pull(&primary, 1, 10_000));
        std::thread::sleep(Duration::from_millis(300));
        let written_at = Instant::now();
        shell
            .execute(
                "INSERT INTO todos(id, title) VALUES ('s', 'from the shell')",
                [],
            )
            .unwrap();
        let (answer, answered_at) = waiter.join().unwrap();
        assert_eq!(answer["changes"][0]["key"], json!(["s"]), "{answer}");
        let delay = answered_at.duration_since(written_at);
        assert!(
            delay < Duration::from_secs(1),
            "saw the shell's write after {delay:?}"
        );
    });

    shell
        .execute_batch(
            "UPDATE todos SET done = 1 WHERE id = 'a';
             DELETE FROM todos WHERE id = 's';",
        )
        .unwrap();
    let pulled = primary.pull(2, &["todos"]);
    assert_eq!(
        pulled["changes"],
        json!([
            {"version": 3, "table": "todos", "key": ["a"], "row": {"id": "a", "title": "pushed", "done": 1}},
            {"version": 4, "table": "todos", "key": ["s"], "row": null},
        ])
    );
    // A push after the shell's writes continues the same version sequence.
    assert_eq!(
        primary.push("c0", json!([insert_todo(2, "b", "next")]))["version"],
        5
    );
}
