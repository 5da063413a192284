//! Push and pull semantics: exactly-once application, rejections, drops, tombstones, paging.

mod common;

use common::{insert_todo, Primary};
use serde_json::json;

#[test]
fn pushed_rows_come_back_in_a_pull() {
    let primary = Primary::start();
    let answer = primary.push(
        "c1",
        json!([
            insert_todo(1, "a", "first"),
            {"seq": 2, "table": "tags", "op": "insert", "key": ["a", "x"]},
            {"seq": 3, "table": "notes", "op": "insert", "key": [7], "columns": {"body": {"blob": "AP8="}}},
        ]),
    );
    assert_eq!(
        answer,
        json!({"ackedThrough": 3, "version": 3, "rejected": []})
    );

    let pulled = primary.pull(0, &["todos", "tags", "notes"]);
    assert_eq!(
        pulled,
        json!({"changes": [
            {"version": 1, "table": "todos", "key": ["a"], "row": {"id": "a", "title": "first", "done": 0}},
            {"version": 2, "table": "tags", "key": ["a", "x"], "row": {"todo": "a", "tag": "x"}},
            {"version": 3, "table": "notes", "key": [7], "row": {"id": 7, "body": {"blob": "AP8="}}},
        ], "cursor": 3, "more": false})
    );
    assert_eq!(
        primary.pull(3, &["todos"]),
        json!({"changes": [], "cursor": 3, "more": false})
    );
}

#[test]
fn a_retried_batch_is_applied_once() {
    let primary = Primary::start();
    let batch = json!([
        insert_todo(1, "a", "first"),
        {"seq": 2, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": 1}},
    ]);
    let first = primary.push("c1", batch.clone());
    let before = primary.dump("app");
    let retried = primary.push("c1", batch);
    assert_eq!(retried["ackedThrough"], first["ackedThrough"]);
    assert_eq!(retried["rejected"], first["rejected"]);
    // The retry's answer was lost once, so the client may hold a stale copy of those rows: the
    // primary records them as changed again (a new version) so the next pull resends them, and
    // applies nothing twice.
    assert!(
        retried["version"].as_i64() > first["version"].as_i64(),
        "{retried}"
    );
    let data = |dump: Vec<String>| -> Vec<String> {
        dump.into_iter()
            .filter(|line| !line.starts_with("_outpost_changes"))
            .collect()
    };
    assert_eq!(
        data(primary.dump("app")),
        data(before),
        "a retry applies nothing again"
    );
    let resent = primary.pull(first["version"].as_i64().unwrap(), &["todos"]);
    assert_eq!(resent["changes"][0]["row"]["done"], 1, "{resent}");

    // A batch overlapping what was applied: only the new seq runs.
    let overlapping = primary.push(
        "c1",
        json!([
            {"seq": 2, "table": "todos", "op": "delete", "key": ["a"]},
            insert_todo(3, "b", "second"),
        ]),
    );
    assert_eq!(overlapping["ackedThrough"], 3);
    let rows = primary.ok(
        "/v1/db/app/query",
        &json!({"v": 1, "sql": "SELECT id, done FROM todos ORDER BY id"}),
    );
    assert_eq!(
        rows,
        json!({"columns": ["id", "done"], "rows": [["a", 1], ["b", 0]]})
    );

    // Another client's seqs are its own.
    assert_eq!(
        primary.push("c2", json!([insert_todo(1, "c", "third")]))["ackedThrough"],
        1
    );
}

#[test]
fn a_rejection_does_not_block_the_batch_and_is_returned_on_retry() {
    let primary = Primary::start();
    primary.push("c0", json!([insert_todo(1, "a", "kept")]));
    let batch = json!([
        {"seq": 10, "table": "todos", "op": "update", "key": ["a"], "columns": {"title": null}},
        insert_todo(11, "b", "after the refusal"),
        {"seq": 12, "table": "missing", "op": "insert", "key": [1]},
        {"seq": 13, "table": "todos", "op": "insert", "key": ["c"], "columns": {"nope": 1}},
        {"seq": 14, "table": "tags", "op": "delete", "key": ["only-one"]},
        {"seq": 15, "table": "todos", "op": "insert", "key": [1.5], "columns": {"title": "x"}},
    ]);
    let answer = primary.push("c1", batch.clone());
    assert_eq!(answer["ackedThrough"], 15);
    let rejected = answer["rejected"].as_array().unwrap();
    let codes: Vec<(i64, &str)> = rejected
        .iter()
        .map(|r| (r["seq"].as_i64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (10, "SQLITE_CONSTRAINT_NOTNULL"),
            (12, "UNKNOWN_TABLE"),
            (13, "UNKNOWN_COLUMN"),
            (14, "BAD_KEY"),
            (15, "BAD_KEY")
        ]
    );
    assert_eq!(
        rejected[0]["row"],
        json!({"id": "a", "title": "kept", "done": 0})
    );
    assert!(rejected[0]["reason"]
        .as_str()
        .unwrap()
        .contains("todos.title"));
    assert_eq!(rejected[1]["row"], json!(null));

    let pulled = primary.pull(0, &["todos"]);
    assert_eq!(
        pulled["changes"].as_array().unwrap().len(),
        2,
        "a and b: {pulled}"
    );
    let retried = primary.push("c1", batch);
    assert_eq!(retried["ackedThrough"], answer["ackedThrough"]);
    assert_eq!(
        retried["rejected"], answer["rejected"],
        "a retry gets the same rejections"
    );
}

#[test]
fn an_update_of_a_missing_row_is_dropped() {
    let primary = Primary::start();
    let answer = primary.push(
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
    assert_eq!(primary.pull(0, &["todos"])["changes"], json!([]));
}

#[test]
fn a_delete_comes_down_as_a_tombstone() {
    let primary = Primary::start();
    primary.push(
        "c1",
        json!([insert_todo(1, "a", "doomed"), insert_todo(2, "b", "stays")]),
    );
    primary.push(
        "c1",
        json!([{"seq": 3, "table": "todos", "op": "delete", "key": ["a"]}]),
    );
    let pulled = primary.pull(0, &["todos"]);
    assert_eq!(
        pulled["changes"],
        json!([
            {"version": 2, "table": "todos", "key": ["b"], "row": {"id": "b", "title": "stays", "done": 0}},
            {"version": 3, "table": "todos", "key": ["a"], "row": null},
        ])
    );
}

#[test]
fn a_key_change_is_a_tombstone_and_a_new_row() {
    let primary = Primary::start();
    primary.push("c1", json!([insert_todo(1, "a", "moving")]));
    primary.push(
        "c1",
        json!([{"seq": 2, "table": "todos", "op": "update", "key": ["a"], "columns": {"id": "z"}}]),
    );
    let changes = primary.pull(1, &["todos"])["changes"].clone();
    assert_eq!(changes[0]["key"], json!(["a"]));
    assert_eq!(changes[0]["row"], json!(null));
    assert_eq!(
        changes[1]["row"],
        json!({"id": "z", "title": "moving", "done": 0})
    );
}

#[test]
fn pages_deliver_every_row_exactly_once() {
    let primary = Primary::start();
    let mutations: Vec<_> = (1..=23)
        .map(|i| insert_todo(i, &format!("t{i:02}"), "x"))
        .collect();
    primary.push("c1", json!(mutations));
    // Noise in a table this replica does not sync must not stop or confuse it.
    primary.push(
        "c2",
        json!([{"seq": 1, "table": "notes", "op": "insert", "key": [1]}]),
    );

    let (mut cursor, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = primary.ok(
            "/v1/db/app/pull",
            &json!({"v": 1, "cursor": cursor, "tables": ["todos"], "limit": 5}),
        );
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
        cursor, 24,
        "the cursor passes the unsynced table's change too"
    );
}

#[test]
fn query_reads_but_never_writes() {
    let primary = Primary::start();
    primary.push("c1", json!([insert_todo(1, "a", "first")]));
    let answer = primary.ok(
        "/v1/db/app/query",
        &json!({"v": 1, "sql": "SELECT title, ?1 AS n FROM todos WHERE id = ?2", "params": [42, "a"]}),
    );
    assert_eq!(
        answer,
        json!({"columns": ["title", "n"], "rows": [["first", 42]]})
    );
    let before = primary.dump("app");
    for sql in ["DELETE FROM todos", "BEGIN", "PRAGMA user_version = 3"] {
        let (status, body) = primary.post("/v1/db/app/query", &json!({"v": 1, "sql": sql}));
        assert_eq!(status, 400, "{sql}: {body}");
    }
    let (status, body) = primary.post("/v1/db/app/query", &json!({"v": 1, "sql": "SELEC 1"}));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("SQLITE_ERROR"))
    );
    assert_eq!(primary.dump("app"), before);
    assert_eq!(
        primary.pull(0, &["todos"])["changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
