//! Push and pull: exactly-once application, rejections that do not block a batch, drops,
//! tombstones, paging, and queries that read but never write nor control transactions.

use outpost_tests::todos::insert_todo;
use outpost_tests::Backend;
use serde_json::json;

use super::{primary, rejection_codes, rows, v1_pull};

on_every_store!(
    pushed_rows_come_back_in_a_pull_and_a_retry_resends_them,
    a_retried_batch_is_applied_once,
    concurrent_pushes_of_many_clients_are_each_applied_once,
    a_rejection_does_not_block_the_batch_and_is_returned_on_retry,
    an_update_of_a_missing_row_is_dropped,
    a_delete_comes_down_as_a_tombstone,
    a_key_change_is_a_tombstone_and_a_new_row,
    pages_deliver_every_row_exactly_once,
    a_replica_that_asks_gets_rows_as_arrays,
    query_reads_but_never_writes,
    a_query_cannot_control_transactions,
);

fn pushed_rows_come_back_in_a_pull_and_a_retry_resends_them(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    let batch = json!([
        insert_todo(1, "a", "first"),
        {"seq": 2, "table": "tags", "op": "insert", "key": ["a", "x"]},
        {"seq": 3, "table": "notes", "op": "insert", "key": [7], "columns": {"body": {"blob": "AP8="}}},
    ]);
    let answer = app.push("c1", batch.clone());
    assert_eq!(
        answer,
        json!({"ackedThrough": 3, "version": 3, "rejected": []})
    );
    let pulled = app.pull(0, &["todos", "tags", "notes"]);
    assert_eq!(
        v1_pull(&pulled),
        json!({"changes": [
            {"version": 1, "table": "todos", "key": ["a"], "row": {"id": "a", "title": "first", "done": 0}},
            {"version": 2, "table": "tags", "key": ["a", "x"], "row": {"todo": "a", "tag": "x"}},
            {"version": 3, "table": "notes", "key": [7], "row": {"id": 7, "body": {"blob": "AP8="}}},
        ], "cursor": 3, "more": false})
    );
    assert_eq!(
        v1_pull(&app.pull(3, &["todos"])),
        json!({"changes": [], "cursor": 3, "more": false})
    );

    let before = primary.dump("app").without("_outpost_changes");
    let retried = app.push("c1", batch);
    assert_eq!(
        (&retried["ackedThrough"], &retried["rejected"]),
        (&answer["ackedThrough"], &answer["rejected"]),
        "a retry gets the same answer"
    );
    assert_eq!(
        primary.dump("app").without("_outpost_changes"),
        before,
        "a retry changes no row"
    );
    // The retried rows are marked changed again (their answer was lost, so the replica may have
    // replayed them over newer rows): the next pull resends their current state.
    assert_eq!(retried["version"], 6);
    assert_eq!(
        rows(&app.pull(3, &["todos", "tags", "notes"])),
        rows(&pulled)
    );

    // A batch overlapping what was applied: only the new seq runs.
    let overlapping = app.push(
        "c1",
        json!([
            {"seq": 3, "table": "todos", "op": "delete", "key": ["a"]},
            insert_todo(4, "b", "second"),
        ]),
    );
    assert_eq!(overlapping["ackedThrough"], 4);
    assert_eq!(
        app.query("SELECT id, done FROM todos ORDER BY id"),
        json!({"columns": ["id", "done"], "rows": [["a", 0], ["b", 0]]})
    );
}

fn a_replica_that_asks_gets_rows_as_arrays(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push(
        "c1",
        json!([
            insert_todo(1, "a", "first"),
            {"seq": 2, "table": "notes", "op": "insert", "key": [7], "columns": {"body": {"blob": "AP8="}}},
            insert_todo(3, "b", "second"),
            {"seq": 4, "table": "todos", "op": "delete", "key": ["a"]},
        ]),
    );
    let tables = ["todos", "notes"];
    let arrays = app.pull_arrays(0, &tables);
    assert_eq!(
        (&arrays["columns"], &arrays["changes"]),
        (
            &json!({"todos": ["id", "title", "done"], "notes": ["id", "body"]}),
            &json!([
                [2, "notes", [7], [7, {"blob": "AP8="}]],
                [3, "todos", ["b"], ["b", "second", 0]],
                [4, "todos", ["a"], null],
            ])
        )
    );
    // Everything but the rows is as in an answer with rows as objects.
    let later = app.pull_arrays(2, &tables);
    assert_eq!(
        (&later["columns"], &later["changes"]),
        (
            &json!({"todos": ["id", "title", "done"]}),
            &json!([
                [3, "todos", ["b"], ["b", "second", 0]],
                [4, "todos", ["a"], null]
            ])
        )
    );
    let objects = app.pull(2, &tables);
    assert_eq!(objects["changes"].as_array().map(Vec::len), Some(2));
    let rest = |answer: &serde_json::Value| {
        let mut rest = answer.clone();
        let fields = rest.as_object_mut().unwrap();
        fields.retain(|name, _| name != "changes" && name != "columns");
        rest
    };
    assert_eq!(rest(&later), rest(&objects));
}

fn a_retried_batch_is_applied_once(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    let batch = json!([
        insert_todo(1, "a", "first"),
        {"seq": 2, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": 1}},
    ]);
    let first = app.push("c1", batch.clone());
    let before = primary.dump("app").without("_outpost_changes");
    let retried = app.push("c1", batch);
    assert_eq!(retried["ackedThrough"], first["ackedThrough"]);
    assert_eq!(retried["rejected"], first["rejected"]);
    // The retry's answer was lost once, so the client may hold a stale copy of those rows: the
    // primary records them as changed again (a new version) so the next pull resends them, and
    // applies nothing twice.
    assert!(
        retried["version"].as_i64() > first["version"].as_i64(),
        "{retried}"
    );
    assert_eq!(
        primary.dump("app").without("_outpost_changes"),
        before,
        "a retry applies nothing again"
    );
    let resent = app.pull(first["version"].as_i64().unwrap(), &["todos"]);
    assert_eq!(resent["changes"][0]["row"]["done"], 1, "{resent}");

    // A batch overlapping what was applied: only the new seq runs.
    let overlapping = app.push(
        "c1",
        json!([
            {"seq": 2, "table": "todos", "op": "delete", "key": ["a"]},
            insert_todo(3, "b", "second"),
        ]),
    );
    assert_eq!(overlapping["ackedThrough"], 3);
    assert_eq!(
        app.query("SELECT id, done FROM todos ORDER BY id"),
        json!({"columns": ["id", "done"], "rows": [["a", 1], ["b", 0]]})
    );

    // Another client's seqs are its own.
    assert_eq!(
        app.push("c2", json!([insert_todo(1, "c", "third")]))["ackedThrough"],
        1
    );
}

fn a_rejection_does_not_block_the_batch_and_is_returned_on_retry(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push("c0", json!([insert_todo(1, "a", "kept")]));
    let mut batch = vec![
        json!({"seq": 10, "table": "todos", "op": "update", "key": ["a"], "columns": {"title": null}}),
        insert_todo(11, "b", "after the refusal"),
        json!({"seq": 12, "table": "missing", "op": "insert", "key": [1]}),
        json!({"seq": 13, "table": "todos", "op": "insert", "key": ["c"], "columns": {"nope": 1}}),
        json!({"seq": 14, "table": "tags", "op": "delete", "key": ["only-one"]}),
        json!({"seq": 15, "table": "todos", "op": "insert", "key": [1.5], "columns": {"title": "x"}}),
    ];
    let mut expected = vec![
        (10, "SQLITE_CONSTRAINT_NOTNULL"),
        (12, "UNKNOWN_TABLE"),
        (13, "UNKNOWN_COLUMN"),
        (14, "BAD_KEY"),
        (15, "BAD_KEY"),
    ];
    // A Postgres column holds only values of its type (docs/POSTGRES.md, "Type mapping"), where
    // SQLite's `INTEGER` column takes text and any 64-bit integer, as a replica's does.
    if store == Backend::Postgres {
        batch.extend([
            json!({"seq": 16, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": "yes"}}),
            json!({"seq": 17, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": 1i64 << 40}}),
        ]);
        expected.extend([(16, "SQLITE_MISMATCH"), (17, "SQLITE_MISMATCH")]);
    }
    // An insert over a key the primary has would overwrite another replica's row.
    batch.push(
        json!({"seq": 18, "table": "todos", "op": "insert", "key": ["b"], "columns": {"title": "not over b"}}),
    );
    expected.push((18, "KEY_EXISTS"));
    let batch = json!(batch);
    let answer = app.push("c1", batch.clone());
    assert_eq!(answer["ackedThrough"], 18);
    let expected: Vec<(i64, String)> = expected
        .into_iter()
        .map(|(seq, code)| (seq, code.to_owned()))
        .collect();
    assert_eq!(rejection_codes(&answer), expected);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(
        rejected[0]["row"],
        json!({"id": "a", "title": "kept", "done": 0})
    );
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("todos.title"));
    assert_eq!(rejected[1]["row"], json!(null));

    let pulled = app.pull(0, &["todos"]);
    assert_eq!(
        pulled["changes"].as_array().unwrap().len(),
        2,
        "a and b: {pulled}"
    );
    let before = primary.dump("app");
    let retried = app.push("c1", batch);
    assert_eq!(retried["ackedThrough"], answer["ackedThrough"]);
    assert_eq!(
        retried["rejected"], answer["rejected"],
        "a retry gets the same rejections"
    );
    assert_eq!(
        primary.dump("app").without("_outpost_changes"),
        before.without("_outpost_changes")
    );
    assert_eq!(
        app.query("SELECT id, title FROM todos ORDER BY id"),
        json!({"columns": ["id", "title"], "rows": [["a", "kept"], ["b", "after the refusal"]]})
    );
}

fn an_update_of_a_missing_row_is_dropped(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    let answer = app.push(
        "c1",
        json!([
            {"seq": 1, "table": "todos", "op": "update", "key": ["ghost"], "columns": {"done": 1}},
            {"seq": 2, "table": "todos", "op": "delete", "key": ["ghost"]},
            {"seq": 3, "table": "todos", "op": "update", "key": ["ghost"], "columns": {}},
        ]),
    );
    assert_eq!(
        answer,
        json!({"ackedThrough": 3, "version": 0, "rejected": []})
    );
    assert_eq!(app.pull(0, &["todos"])["changes"], json!([]));
}

fn a_delete_comes_down_as_a_tombstone(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push(
        "c1",
        json!([insert_todo(1, "a", "doomed"), insert_todo(2, "b", "stays")]),
    );
    app.push(
        "c1",
        json!([{"seq": 3, "table": "todos", "op": "delete", "key": ["a"]}]),
    );
    assert_eq!(
        app.pull(0, &["todos"])["changes"],
        json!([
            {"version": 2, "table": "todos", "key": ["b"], "row": {"id": "b", "title": "stays", "done": 0}},
            {"version": 3, "table": "todos", "key": ["a"], "row": null},
        ])
    );
}

/// In one batch with drops and a delete: the old key comes down as a tombstone before the row
/// under its new key, and the drops take no version.
fn a_key_change_is_a_tombstone_and_a_new_row(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push(
        "c0",
        json!([insert_todo(1, "a", "one"), insert_todo(2, "b", "two")]),
    );
    let answer = app.push(
        "c1",
        json!([
            {"seq": 1, "table": "todos", "op": "update", "key": ["gone"], "columns": {"done": 1}},
            {"seq": 2, "table": "todos", "op": "delete", "key": ["a"]},
            {"seq": 3, "table": "todos", "op": "update", "key": ["b"], "columns": {"id": "b2"}},
            {"seq": 4, "table": "todos", "op": "delete", "key": ["never-there"]},
        ]),
    );
    assert_eq!(
        answer,
        json!({"ackedThrough": 4, "version": 5, "rejected": []})
    );
    assert_eq!(
        app.pull(2, &["todos"])["changes"],
        json!([
            {"version": 3, "table": "todos", "key": ["a"], "row": null},
            {"version": 4, "table": "todos", "key": ["b"], "row": null},
            {"version": 5, "table": "todos", "key": ["b2"], "row": {"id": "b2", "title": "two", "done": 0}},
        ])
    );
}

/// Pushes that arrive together (the SQLite store commits them as one group) are each answered
/// for their own client, as if alone: own `ackedThrough`, own refusals, a retry applied once.
fn concurrent_pushes_of_many_clients_are_each_applied_once(store: Backend) {
    const CLIENTS: i64 = 8;
    const BATCHES: i64 = 4;
    let primary = primary(store);
    let app = primary.api("app");
    let answers: Vec<Vec<(serde_json::Value, serde_json::Value)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let app = app.clone();
                scope.spawn(move || {
                    // Seqs differ per client, so an answer sent to the wrong push would show.
                    let first = c * 100;
                    (0..BATCHES)
                        .map(|b| {
                            let seq = first + b * 3;
                            let batch = json!([
                                insert_todo(seq + 1, &format!("c{c}-{b}-a"), "x"),
                                // Every client inserts this key: one gets it, the rest KEY_EXISTS.
                                insert_todo(seq + 2, &format!("shared-{b}"), &format!("c{c}")),
                                insert_todo(seq + 3, &format!("c{c}-{b}-b"), "x"),
                            ]);
                            let client = format!("c{c}");
                            (app.push(&client, batch.clone()), app.push(&client, batch))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (c, client) in answers.iter().enumerate() {
        for (b, (answer, retry)) in client.iter().enumerate() {
            let seq = c as i64 * 100 + b as i64 * 3;
            assert_eq!(
                answer["ackedThrough"],
                seq + 3,
                "client {c} batch {b}: {answer}"
            );
            assert_eq!(retry["ackedThrough"], answer["ackedThrough"]);
            assert_eq!(rejection_codes(retry), rejection_codes(answer));
        }
    }
    for b in 0..BATCHES {
        let refused: Vec<_> = answers
            .iter()
            .map(|client| rejection_codes(&client[b as usize].0))
            .filter(|codes| !codes.is_empty())
            .collect();
        assert_eq!(
            refused.len(),
            CLIENTS as usize - 1,
            "batch {b}: one client made shared-{b}"
        );
        assert!(refused
            .iter()
            .all(|codes| codes.len() == 1 && codes[0].1 == "KEY_EXISTS"));
    }
    let count = app.query("SELECT count(*) AS n FROM todos");
    assert_eq!(count["rows"], json!([[CLIENTS * BATCHES * 2 + BATCHES]]));
}

fn pages_deliver_every_row_exactly_once(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    let mutations: Vec<_> = (1..=23)
        .map(|i| insert_todo(i, &format!("t{i:02}"), "x"))
        .collect();
    app.push("c1", json!(mutations));
    // Noise in tables this replica does not sync must not stop or confuse it.
    app.push(
        "c2",
        json!([{"seq": 1, "table": "notes", "op": "insert", "key": [1]}]),
    );
    app.push(
        "c3",
        json!([{"seq": 1, "table": "tags", "op": "insert", "key": ["t01", "t"]}]),
    );

    let (mut cursor, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = app.pull_page(cursor, &["todos"], 5);
        pages += 1;
        for change in page["changes"].as_array().unwrap() {
            seen.push(change["key"][0].as_str().unwrap().to_owned());
        }
        cursor = page["cursor"].as_i64().unwrap();
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    let expected: Vec<String> = (1..=23).map(|i| format!("t{i:02}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 5);
    assert_eq!(
        cursor, 25,
        "the last page moves past the other tables' changes too"
    );
}

fn query_reads_but_never_writes(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push("c1", json!([insert_todo(1, "a", "first")]));
    // `/query` speaks the store's dialect, placeholders included.
    let sql = match store {
        Backend::Sqlite | Backend::Durable => "SELECT title, ?1 AS n FROM todos WHERE id = ?2",
        Backend::Postgres => "SELECT title, $1::bigint AS n FROM todos WHERE id = $2",
    };
    assert_eq!(
        app.query_with(sql, json!([42, "a"])),
        json!({"columns": ["title", "n"], "rows": [["first", 42]]})
    );
    let before = primary.dump("app");
    for (sql, code) in [
        ("DELETE FROM todos", Some("READ_ONLY")),
        ("UPDATE todos SET done = 1", Some("READ_ONLY")),
        ("PRAGMA user_version = 3", None),
        ("SELEC 1", Some("SQLITE_ERROR")),
    ] {
        let (status, body) = app.post("query", &json!({"v": 1, "sql": sql}));
        assert_eq!(status, 400, "{sql}: {body}");
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code, "{sql}: {body}");
        }
    }
    assert_eq!(primary.dump("app"), before);
    assert_eq!(
        app.pull(0, &["todos"])["changes"].as_array().unwrap().len(),
        1
    );
}

fn a_query_cannot_control_transactions(store: Backend) {
    let primary = primary(store);
    let app = primary.api("app");
    app.push("c1", json!([insert_todo(1, "a", "first")]));
    let before = primary.dump("app");
    for sql in [
        "BEGIN",
        "SAVEPOINT inside",
        "COMMIT",
        "ROLLBACK",
        "END",
        "/* hidden */ begin",
        "-- hidden\nBEGIN",
        // A session setting would outlive the request on a pooled connection.
        "SET search_path TO public",
    ] {
        let (status, body) = app.post("query", &json!({"v": 1, "sql": sql}));
        assert_eq!(status, 400, "{sql}: {body}");
    }
    assert_eq!(primary.dump("app"), before);
    assert_eq!(
        app.query("SELECT id FROM todos"),
        json!({"columns": ["id"], "rows": [["a"]]})
    );
}
