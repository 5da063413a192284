//! Several stateless primaries on one PostgreSQL: clients on different instances converge, an
//! instance restarted mid-run loses nothing and applies nothing twice, concurrent pushes on both
//! instances (and direct SQL writes) never hide a change from a puller, databases stay isolated,
//! and a commit anywhere wakes a long poll.

mod common_pg;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common_pg::{dump, fresh_database, insert_todo, sql, PgPrimary};
use serde_json::json;

#[test]
fn clients_on_two_instances_converge_across_a_restart() {
    let store = fresh_database();
    let mut a = PgPrimary::start(&store);
    let b = PgPrimary::start(&store);
    a.push("alice", json!([insert_todo(1, "a1", "from alice on A")]));
    b.push("bob", json!([insert_todo(1, "b1", "from bob on B")]));
    // Alice's next batch reaches B (a load balancer may send any request anywhere), then is
    // retried on A: applied once.
    let batch = json!([
        {"seq": 2, "table": "todos", "op": "update", "key": ["b1"], "columns": {"done": 1}},
        insert_todo(3, "a2", "second"),
    ]);
    let first = b.push("alice", batch.clone());
    let retried = a.push("alice", batch);
    assert_eq!(
        (&retried["ackedThrough"], &retried["rejected"]),
        (&first["ackedThrough"], &first["rejected"]),
        "a retry on the other instance is acknowledged, not applied again"
    );

    a.stop();
    b.push("bob", json!([insert_todo(2, "b2", "while A is down")]));
    let before_restart = dump(&store, "app");
    a.start_again().unwrap();
    assert_eq!(
        dump(&store, "app"),
        before_restart,
        "a restart changes nothing"
    );
    a.push(
        "bob",
        json!([
            insert_todo(2, "b2", "retried after the restart"),
            insert_todo(3, "b3", "new")
        ]),
    );

    let from_a = a.pull(0, &["todos"]);
    let from_b = b.pull(0, &["todos"]);
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
        common_pg::rows(
            &store,
            "SELECT client_id, acked_through FROM outpost_app._outpost_clients ORDER BY 1"
        ),
        ["(alice,3)", "(bob,3)"]
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
    let store = fresh_database();
    let instances = [PgPrimary::start(&store), PgPrimary::start(&store)];
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
                        let primary = &instances[(p + pulls) % 2];
                        let answer = primary.ok(
                            "/v1/db/app/pull",
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
                sql(
                    &store,
                    &format!("INSERT INTO outpost_app.todos(id, title) VALUES ('{key}', 'direct')"),
                );
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
    let store = fresh_database();
    let (a, b) = (PgPrimary::start(&store), PgPrimary::start(&store));
    a.push_to("app", "c1", json!([insert_todo(1, "mine", "in app")]));
    b.push_to("other", "c1", json!([insert_todo(1, "theirs", "in other")]));
    // The same client id in two databases has two histories.
    assert_eq!(
        b.push_to("other", "c1", json!([insert_todo(2, "more", "x")]))["ackedThrough"],
        2
    );
    let keys = |db: &str| -> Vec<String> {
        a.pull_from(db, 0, &["todos"], 0)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"][0].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys("app"), ["mine"]);
    assert_eq!(keys("other"), ["theirs", "more"]);
    assert_eq!(keys("third"), Vec::<String>::new());
    let schemas = common_pg::rows(
        &store,
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'outpost%' ORDER BY 1",
    );
    assert_eq!(schemas, ["outpost_app", "outpost_other", "outpost_third"]);
}

#[test]
fn a_commit_on_one_instance_or_in_sql_wakes_a_long_poll_on_another() {
    let store = fresh_database();
    let (a, b) = (PgPrimary::start(&store), PgPrimary::start(&store));
    a.push("c0", json!([insert_todo(1, "a", "create the database")]));
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let answer = b.pull_from("app", 1, &["todos"], 20_000);
            (answer, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let pushed_at = Instant::now();
        a.push("c1", json!([insert_todo(1, "b", "wake up")]));
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
        let waiter = scope.spawn(|| {
            let answer = b.pull_from("app", 2, &["todos"], 20_000);
            (answer, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let written_at = Instant::now();
        sql(
            &store,
            "UPDATE outpost_app.todos SET done = 1 WHERE id = 'a'",
        );
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
    let refused = common_pg::block_on(async {
        let client = common_pg::connect(&store).await;
        client
            .batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ; \
                 INSERT INTO outpost_app.todos(id, title) VALUES ('rr', 'x'); COMMIT;",
            )
            .await
            .unwrap_err()
    });
    assert!(refused.to_string().contains("db error"), "{refused}");
    assert!(
        format!("{refused:?}").contains("READ COMMITTED"),
        "{refused:?}"
    );
}
