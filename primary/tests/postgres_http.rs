//! The HTTP behaviours of the SQLite store's tests, held by the PostgreSQL store: exactly-once
//! pushes, rejections that do not block, drops and tombstones, paging, refusals that change
//! nothing, and the type mapping (docs/POSTGRES.md), including what is refused at start-up.

mod common_pg;

use std::time::Duration;

use common_pg::{dump, fresh_database, insert_todo, PgPrimary, SCHEMA};
use outpost_primary::{mint_token, Auth};
use serde_json::json;

/// Every row of database `app` but the change log, whose versions a retry moves on purpose.
fn data(store: &str) -> Vec<String> {
    let mut rows = dump(store, "app");
    rows.retain(|r| !r.starts_with("_outpost_changes:"));
    rows
}

#[test]
fn pushed_rows_come_back_and_a_retried_batch_is_applied_once() {
    let store = fresh_database();
    let primary = PgPrimary::start(&store);
    let batch = json!([
        insert_todo(1, "a", "first"),
        {"seq": 2, "table": "tags", "op": "insert", "key": ["a", "x"]},
        {"seq": 3, "table": "notes", "op": "insert", "key": [7], "columns": {"body": {"blob": "AP8="}}},
    ]);
    let answer = primary.push("c1", batch.clone());
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
    let before = data(&store);
    let retried = primary.push("c1", batch);
    assert_eq!(
        (&retried["ackedThrough"], &retried["rejected"]),
        (&answer["ackedThrough"], &answer["rejected"]),
        "a retry gets the same answer"
    );
    assert_eq!(data(&store), before, "a retry changes no row");
    // The retried rows are marked changed again (their answer was lost, so the replica may have
    // replayed them over newer rows): the next pull resends their current state.
    assert_eq!(retried["version"], 6);
    let rows = |answer: &serde_json::Value| -> Vec<serde_json::Value> {
        let changes = answer["changes"].as_array().unwrap();
        changes.iter().map(|c| c["row"].clone()).collect()
    };
    assert_eq!(
        rows(&primary.pull(3, &["todos", "tags", "notes"])),
        rows(&pulled)
    );

    // A batch overlapping what was applied: only the new seq runs.
    let overlapping = primary.push(
        "c1",
        json!([
            {"seq": 3, "table": "todos", "op": "delete", "key": ["a"]},
            insert_todo(4, "b", "second"),
        ]),
    );
    assert_eq!(overlapping["ackedThrough"], 4);
    assert_eq!(
        primary.query("SELECT id, done FROM todos ORDER BY id"),
        json!({"columns": ["id", "done"], "rows": [["a", 0], ["b", 0]]})
    );
}

#[test]
fn a_rejection_does_not_block_the_batch_and_is_returned_on_retry() {
    let store = fresh_database();
    let primary = PgPrimary::start(&store);
    primary.push("c0", json!([insert_todo(1, "a", "kept")]));
    let batch = json!([
        {"seq": 10, "table": "todos", "op": "update", "key": ["a"], "columns": {"title": null}},
        insert_todo(11, "b", "after the refusal"),
        {"seq": 12, "table": "missing", "op": "insert", "key": [1]},
        {"seq": 13, "table": "todos", "op": "insert", "key": ["c"], "columns": {"nope": 1}},
        {"seq": 14, "table": "tags", "op": "delete", "key": ["only-one"]},
        {"seq": 15, "table": "todos", "op": "insert", "key": [1.5], "columns": {"title": "x"}},
        {"seq": 16, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": "yes"}},
        {"seq": 17, "table": "todos", "op": "update", "key": ["a"], "columns": {"done": 1i64 << 40}},
        {"seq": 18, "table": "todos", "op": "insert", "key": ["b"], "columns": {"title": "overwritten"}},
    ]);
    let answer = primary.push("c1", batch.clone());
    assert_eq!(answer["ackedThrough"], 18);
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
            (15, "BAD_KEY"),
            (16, "SQLITE_MISMATCH"),
            (17, "SQLITE_MISMATCH"),
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
    let before = data(&store);
    let retried = primary.push("c1", batch);
    assert_eq!(
        retried["rejected"], answer["rejected"],
        "a retry gets the same rejections"
    );
    assert_eq!(data(&store), before);
    assert_eq!(
        primary.query("SELECT id, title FROM todos ORDER BY id"),
        json!({"columns": ["id", "title"], "rows": [["a", "kept"], ["b", "overwritten"]]})
    );
}

#[test]
fn updates_of_missing_rows_are_dropped_and_deletes_and_key_moves_leave_tombstones() {
    let store = fresh_database();
    let primary = PgPrimary::start(&store);
    primary.push(
        "c0",
        json!([insert_todo(1, "a", "one"), insert_todo(2, "b", "two")]),
    );
    let answer = primary.push(
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
        primary.pull(2, &["todos"])["changes"],
        json!([
            {"version": 3, "table": "todos", "key": ["a"], "row": null},
            {"version": 4, "table": "todos", "key": ["b"], "row": null},
            {"version": 5, "table": "todos", "key": ["b2"], "row": {"id": "b2", "title": "two", "done": 0}},
        ])
    );
}

#[test]
fn paging_with_limit_delivers_every_changed_key_once() {
    let store = fresh_database();
    let primary = PgPrimary::start(&store);
    let batch: Vec<_> = (1..=25)
        .map(|i| insert_todo(i, &format!("k{i:02}"), "x"))
        .collect();
    primary.push("c1", json!(batch));
    primary.push(
        "c2",
        json!([{"seq": 1, "table": "tags", "op": "insert", "key": ["k01", "t"]}]),
    );
    let (mut cursor, mut keys) = (0, Vec::new());
    loop {
        let page = primary.ok(
            "/v1/db/app/pull",
            &json!({"v": 1, "cursor": cursor, "tables": ["todos"], "limit": 10}),
        );
        for change in page["changes"].as_array().unwrap() {
            keys.push(change["key"][0].as_str().unwrap().to_owned());
        }
        cursor = page["cursor"].as_i64().unwrap();
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    let expected: Vec<String> = (1..=25).map(|i| format!("k{i:02}")).collect();
    assert_eq!(keys, expected);
    assert_eq!(
        cursor, 26,
        "the last page moves past the other table's change"
    );
}

#[test]
fn every_refusal_has_its_code_and_changes_nothing() {
    const SECRET: &[u8] = b"test-secret-0123456789";
    let store = fresh_database();
    let primary = PgPrimary::start_with(&store, SCHEMA, Auth::Secret(SECRET.to_vec())).unwrap();
    let token = mint_token(SECRET, "alice", "app", Duration::from_secs(600));
    let first = json!({"v": 1, "clientId": "c0", "mutations": [insert_todo(1, "a", "existing")]});
    let (status, _) = primary.post_raw("/v1/db/app/push", &first.to_string(), Some(&token));
    assert_eq!(status, 200);
    let before = dump(&store, "app");
    let good =
        json!({"v": 1, "clientId": "c1", "mutations": [insert_todo(1, "new", "must not land")]});
    let too_many: Vec<_> = (1..=1001)
        .map(|i| insert_todo(i, &format!("k{i}"), "x"))
        .collect();
    let for_other = mint_token(SECRET, "alice", "other", Duration::from_secs(600));
    let cases: Vec<(String, String, Option<&str>, u16, &str)> = vec![
        ("/v1/db/app/push".into(), "{\"v\":1,".into(), Some(&token), 400, "BAD_REQUEST"),
        ("/v1/db/app/push".into(), json!({"v": 2, "clientId": "c1", "mutations": []}).to_string(), Some(&token), 400, "UNSUPPORTED_VERSION"),
        ("/v1/db/app/push".into(), json!({"v": 1, "clientId": "c1", "mutations": [{"seq": 1, "table": "bad name", "op": "insert", "key": ["x"]}]}).to_string(), Some(&token), 400, "BAD_NAME"),
        ("/v1/db/app/push".into(), json!({"v": 1, "clientId": "c1", "mutations": too_many}).to_string(), Some(&token), 413, "BATCH_TOO_LARGE"),
        ("/v1/db/app/push".into(), good.to_string(), None, 401, "UNAUTHORIZED"),
        ("/v1/db/app/push".into(), good.to_string(), Some(&for_other), 403, "FORBIDDEN"),
        ("/v1/db/Bad/push".into(), good.to_string(), Some(&token), 400, "BAD_DATABASE_NAME"),
        ("/v1/db/app/pull".into(), json!({"v": 1, "cursor": 0, "tables": ["missing"]}).to_string(), Some(&token), 400, "UNKNOWN_TABLE"),
        ("/v1/db/app/query".into(), json!({"v": 1, "sql": "SELECT * FROM outpost_other.todos"}).to_string(), Some(&token), 400, "QUERY_DISABLED"),
    ];
    for (path, body, token, status, code) in cases {
        let (got, answer) = primary.post_raw(&path, &body, token);
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {answer}"
        );
    }
    assert_eq!(
        dump(&store, "app"),
        before,
        "a refused request changed the data"
    );
}

#[test]
fn queries_are_read_only() {
    let store = fresh_database();
    let primary = PgPrimary::start(&store);
    primary.push("c0", json!([insert_todo(1, "a", "one")]));
    for (sql, code) in [
        ("DELETE FROM todos", "READ_ONLY"),
        ("UPDATE todos SET done = 1", "READ_ONLY"),
        ("SELEC 1", "SQLITE_ERROR"),
    ] {
        let (status, answer) = primary.post_raw(
            "/v1/db/app/query",
            &json!({"v": 1, "sql": sql}).to_string(),
            None,
        );
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{sql}"
        );
    }
    let answer = primary.ok(
        "/v1/db/app/query",
        &json!({"v": 1, "sql": "SELECT title FROM todos WHERE id = $1", "params": ["a"]}),
    );
    assert_eq!(answer, json!({"columns": ["title"], "rows": [["one"]]}));
}

#[test]
fn the_type_mapping_round_trips_every_accepted_type() {
    let store = fresh_database();
    let schema = "CREATE TABLE kinds(id bigint PRIMARY KEY, small smallint, medium integer, \
                  ratio double precision, name varchar(5), data bytea, flag boolean);";
    let primary = PgPrimary::start_with(&store, schema, Auth::None).unwrap();
    let row = json!({"id": 9007199254740993i64, "small": -32768, "medium": 2147483647,
                     "ratio": 2.5e-300, "name": "héllo", "data": {"blob": "AAEC/w=="}, "flag": 1});
    let answer = primary.push(
        "c1",
        json!([
            {"seq": 1, "table": "kinds", "op": "insert", "key": [row["id"]], "columns": row},
            {"seq": 2, "table": "kinds", "op": "insert", "key": [2], "columns": {"ratio": 3, "flag": 0, "small": 4.0}},
            {"seq": 3, "table": "kinds", "op": "insert", "key": [3], "columns": {"small": 32768}},
            {"seq": 4, "table": "kinds", "op": "insert", "key": [4], "columns": {"flag": 2}},
            {"seq": 5, "table": "kinds", "op": "insert", "key": [5], "columns": {"name": "too long"}},
            {"seq": 6, "table": "kinds", "op": "insert", "key": [6], "columns": {"ratio": 9007199254740993i64}},
        ]),
    );
    let codes: Vec<(i64, &str)> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].as_i64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            (3, "SQLITE_MISMATCH"),
            (4, "SQLITE_MISMATCH"),
            (5, "SQLITE_MISMATCH"),
            (6, "SQLITE_MISMATCH")
        ]
    );
    let pulled = primary.pull(0, &["kinds"]);
    let rows: Vec<&serde_json::Value> = pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["row"])
        .collect();
    assert_eq!(rows[0], &row, "every type comes back as it was written");
    assert_eq!(
        rows[1],
        &json!({"id": 2, "small": 4, "medium": null, "ratio": 3.0, "name": null, "data": null, "flag": 0})
    );
}

#[test]
fn a_schema_outpost_cannot_carry_is_refused_at_start() {
    let store = fresh_database();
    for (schema, named) in [
        ("CREATE TABLE ok(id bigint PRIMARY KEY); CREATE TABLE events(at text, what text);", "events has no declared PRIMARY KEY"),
        ("CREATE TABLE prices(id bigint PRIMARY KEY, amount real);", "amount is real"),
        ("CREATE TABLE prices(id bigint PRIMARY KEY, amount numeric(10,2));", "amount is numeric(10,2)"),
        ("CREATE TABLE codes(id bigint PRIMARY KEY, code char(3));", "code is character(3)"),
        ("CREATE TABLE docs(id bigint PRIMARY KEY, body jsonb);", "body is jsonb"),
        ("CREATE TABLE log(id bigint PRIMARY KEY, at timestamptz);", "at is timestamp with time zone"),
        ("CREATE TABLE keyed(id double precision PRIMARY KEY);", "primary-key column id"),
        ("CREATE TABLE g(id bigint PRIMARY KEY, twice bigint GENERATED ALWAYS AS (id * 2) STORED);", "twice is generated"),
        ("CREATE TABLE broken(", "schema failed"),
    ] {
        match PgPrimary::start_with(&store, schema, Auth::None) {
            Err(message) => assert!(message.contains(named), "{schema}: {message}"),
            Ok(_) => panic!("{schema} was accepted"),
        }
    }
    // The dry runs left nothing behind.
    let left = common_pg::rows(
        &store,
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'outpost%'",
    );
    assert!(left.is_empty(), "{left:?}");
}
