//! Several stateless primaries on one PostgreSQL: clients on different instances converge, an
//! instance restarted mid-run loses nothing and applies nothing twice, concurrent pushes on both
//! instances (and direct SQL writes) never hide a change from a puller, databases stay isolated,
//! and a commit anywhere wakes a long poll.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use outpost::Value;
use outpost_primary::Auth;
use outpost_tests::replica::text;
use outpost_tests::todos::{insert_todo, PG_SCHEMA};
use outpost_tests::{Api, Backend, TestPrimary};
use serde_json::{json, Value as Json};

/// Two instances without auth on one new Postgres database.
fn two_instances() -> (TestPrimary, TestPrimary) {
    let a = TestPrimary::start_on(Backend::Postgres, PG_SCHEMA, Auth::None);
    let b = a.another_instance();
    (a, b)
}

#[test]
fn clients_on_two_instances_converge_across_a_restart() {
    let (mut a, b) = two_instances();
    let (on_a, on_b) = (a.api("app"), b.api("app"));
    on_a.push("alice", json!([insert_todo(1, "a1", "from alice on A")]));
    on_b.push("bob", json!([insert_todo(1, "b1", "from bob on B")]));
    // Alice's next batch reaches B (a load balancer may send any request anywhere), then is
    // retried on A: applied once.
    let batch = json!([
        {"seq": 2, "table": "todos", "op": "update", "key": ["b1"], "columns": {"done": 1}},
        insert_todo(3, "a2", "second"),
    ]);
    let first = on_b.push("alice", batch.clone());
    let retried = on_a.push("alice", batch);
    assert_eq!(
        (&retried["ackedThrough"], &retried["rejected"]),
        (&first["ackedThrough"], &first["rejected"]),
        "a retry on the other instance is acknowledged, not applied again"
    );

    a.stop();
    on_b.push("bob", json!([insert_todo(2, "b2", "while A is down")]));
    let before_restart = b.dump("app");
    a.start_again();
    assert_eq!(a.dump("app"), before_restart, "a restart changes nothing");
    on_a.push(
        "bob",
        json!([
            insert_todo(2, "b2", "retried after the restart"),
            insert_todo(3, "b3", "new")
        ]),
    );

    let from_a = on_a.pull(0, &["todos"]);
    let from_b = on_b.pull(0, &["todos"]);
    assert_eq!(from_a, from_b, "both instances serve the same state");
    let rows: Vec<(String, String, i64)> = from_a["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let row = &c["row"];
            (
                row["id"].as_str().unwrap().into(),
                row["title"].as_str().unwrap().into(),
                row["done"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<BTreeSet<_>>(),
        BTreeSet::from(["a1", "a2", "b1", "b2", "b3"])
    );
    assert!(
        rows.contains(&("b2".into(), "while A is down".into(), 0)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("b1".into(), "from bob on B".into(), 1)),
        "{rows:?}"
    );
    assert_eq!(
        a.rows(
            "app",
            "SELECT client_id, acked_through FROM _outpost_clients ORDER BY 1"
        ),
        [
            [text("alice"), Value::Integer(3)],
            [text("bob"), Value::Integer(3)]
        ]
    );
}

/// The trap: versions handed out in start order but committed in another order would let a
/// cursor pass a version that commits later. Writers on both instances and a direct SQL writer
/// race; pullers on both instances, each with its own cursor, must each see every key.
#[test]
fn concurrent_pushes_on_two_instances_never_hide_a_change_from_a_puller() {
    const WRITERS: usize = 4;
    const PUSHES: usize = 200;
    const DIRECT_WRITES: usize = 100;
    const PULLERS: usize = 4;
    let (a, b) = two_instances();
    let instances = [a.api("app"), b.api("app")];
    // Create the database, so the direct writer has its tables from the start.
    instances[0].pull(0, &["todos"]);
    let writing = AtomicBool::new(true);

    let (seen, expected) = std::thread::scope(|scope| {
        // Pullers stop once writing is over, even when a writer panicked.
        let _over = WritingOver(&writing);
        let pullers: Vec<_> = (0..PULLERS)
            .map(|p| {
                let (instances, writing) = (&instances, &writing);
                scope.spawn(move || {
                    let (mut cursor, mut keys, mut pulls) = (0i64, BTreeSet::new(), 0usize);
                    loop {
                        // Look at whether writing is over *before* pulling: the pull after the
                        // last write then sees everything.
                        let last_round = !writing.load(Ordering::SeqCst);
                        let answer = instances[(p + pulls) % 2].ok(
                            "pull",
                            &json!({"v": 1, "cursor": cursor, "tables": ["todos"],
                                    "waitMs": 200, "limit": 50 + p * 37}),
                        );
                        pulls += 1;
                        let mut previous = cursor;
                        for change in answer["changes"].as_array().unwrap() {
                            let version = change["version"].as_i64().unwrap();
                            assert!(version > previous, "versions out of order: {answer}");
                            previous = version;
                            keys.insert(change["key"][0].as_str().unwrap().to_owned());
                        }
                        let next = answer["cursor"].as_i64().unwrap();
                        assert!(next >= cursor, "the cursor went back");
                        cursor = next;
                        if last_round && !answer["more"].as_bool().unwrap() {
                            return (keys, pulls);
                        }
                    }
                })
            })
            .collect();

        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let instances = &instances;
                scope.spawn(move || {
                    let mut keys = Vec::new();
                    for i in 0..PUSHES {
                        // 1 to 3 rows per push, on alternating instances.
                        let rows: Vec<_> = (0..1 + i % 3)
                            .map(|r| (i * 3 + r, format!("w{w}-{i}-{r}")))
                            .collect();
                        let mutations: Vec<_> = rows
                            .iter()
                            .map(|(seq, key)| insert_todo(*seq as i64 + 1, key, "pushed"))
                            .collect();
                        let answer =
                            instances[(w + i) % 2].push(&format!("writer{w}"), json!(mutations));
                        assert_eq!(answer["rejected"], json!([]));
                        keys.extend(rows.into_iter().map(|(_, k)| k));
                    }
                    keys
                })
            })
            .collect();
        let direct = scope.spawn(|| {
            let mut keys = Vec::new();
            for i in 0..DIRECT_WRITES {
                let key = format!("sql-{i}");
                a.execute(
                    "app",
                    "INSERT INTO todos(id, title) VALUES ($1, 'direct')",
                    &[text(&key)],
                )
                .unwrap();
                keys.push(key);
            }
            keys
        });

        let mut expected: BTreeSet<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        expected.extend(direct.join().unwrap());
        writing.store(false, Ordering::SeqCst);
        let seen: Vec<_> = pullers.into_iter().map(|p| p.join().unwrap()).collect();
        (seen, expected)
    });

    assert_eq!(
        expected.len(),
        WRITERS * (PUSHES / 3 * 6 + [0, 1, 3][PUSHES % 3]) + DIRECT_WRITES
    );
    for (p, (keys, pulls)) in seen.iter().enumerate() {
        let missed: Vec<_> = expected.difference(keys).take(5).collect();
        assert!(
            missed.is_empty(),
            "puller {p} missed {} keys, e.g. {missed:?}",
            expected.len() - keys.len()
        );
        eprintln!("puller {p}: {} keys in {pulls} pulls", keys.len());
    }
}

struct WritingOver<'a>(&'a AtomicBool);

impl Drop for WritingOver<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[test]
fn databases_are_isolated_from_each_other() {
    let (a, b) = two_instances();
    a.api("app")
        .push("c1", json!([insert_todo(1, "mine", "in app")]));
    let other = b.api("other");
    other.push("c1", json!([insert_todo(1, "theirs", "in other")]));
    // The same client id in two databases has two histories.
    assert_eq!(
        other.push("c1", json!([insert_todo(2, "more", "x")]))["ackedThrough"],
        2
    );
    let keys = |db: &str| -> Vec<String> {
        a.api(db).pull(0, &["todos"])["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"][0].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys("app"), ["mine"]);
    assert_eq!(keys("other"), ["theirs", "more"]);
    assert_eq!(keys("third"), Vec::<String>::new());
    let schemas = a.postgres().catalog_rows(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'outpost%' ORDER BY 1",
    );
    assert_eq!(
        schemas,
        [
            [text("outpost_app")],
            [text("outpost_other")],
            [text("outpost_third")]
        ]
    );
}

/// A long poll of `todos` after `cursor` on another thread, which must still be waiting once it
/// has had time to reach the primary (nothing changed yet); answers the pull and when it came.
fn waiting_pull<'scope>(
    scope: &'scope Scope<'scope, '_>,
    api: &'scope Api,
    cursor: i64,
) -> ScopedJoinHandle<'scope, (Json, Instant)> {
    let waiter = scope.spawn(move || {
        let answer = api.pull_waiting(cursor, &["todos"], Duration::from_secs(20));
        (answer, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished(), "the pull did not wait");
    waiter
}

#[test]
fn a_commit_on_one_instance_or_in_sql_wakes_a_long_poll_on_another() {
    let (a, b) = two_instances();
    let (on_a, on_b) = (a.api("app"), b.api("app"));
    on_a.push("c0", json!([insert_todo(1, "a", "create the database")]));
    std::thread::scope(|scope| {
        let waiter = waiting_pull(scope, &on_b, 1);
        let pushed_at = Instant::now();
        on_a.push("c1", json!([insert_todo(1, "b", "wake up")]));
        let (answer, answered_at) = waiter.join().unwrap();
        assert_eq!(answer["changes"][0]["key"], json!(["b"]), "{answer}");
        let delay = answered_at.duration_since(pushed_at);
        // NOTIFY wakes it long before the 20 s deadline; well under the 250 ms re-check too,
        // but a bound that tight would measure machine load.
        assert!(
            delay < Duration::from_secs(2),
            "woke {delay:?} after the push"
        );
        eprintln!("a long poll on B answered {delay:?} after a push on A");
    });
    std::thread::scope(|scope| {
        let waiter = waiting_pull(scope, &on_b, 2);
        let written_at = Instant::now();
        a.execute("app", "UPDATE todos SET done = 1 WHERE id = 'a'", &[])
            .unwrap();
        let (answer, answered_at) = waiter.join().unwrap();
        assert_eq!(
            answer["changes"],
            json!([{"version": 3, "table": "todos", "key": ["a"],
                    "row": {"id": "a", "title": "create the database", "done": 1}}])
        );
        let delay = answered_at.duration_since(written_at);
        assert!(
            delay < Duration::from_secs(2),
            "saw the SQL write after {delay:?}"
        );
        eprintln!("a long poll answered {delay:?} after a direct SQL write");
    });
    // Direct writes in a stricter isolation level are refused rather than risk a version order
    // that a cursor could skip.
    let refused = a
        .postgres()
        .batch(
            "app",
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             INSERT INTO todos(id, title) VALUES ('rr', 'x'); COMMIT;",
        )
        .unwrap_err()
        .to_string();
    // A refusal by the server (it has a SQLSTATE), not a lost connection.
    assert!(refused.contains("SQLSTATE"), "{refused}");
    assert!(refused.contains("READ COMMITTED"), "{refused}");
}
