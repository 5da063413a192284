//! Bad input never changes state and always gets a clear error with a stable code (invariant 6):
//! raw HTTP a replica would never send, each answered 4xx, the primary's file unchanged after.

use outpost::protocol::{Mutation, Op, PushRequest, PROTOCOL_VERSION};
use outpost::sync::Transport;
use outpost::{Error, Row, Value};
use outpost_tests::replica::text;
use outpost_tests::{block_on, HttpTransport, Replica, TestPrimary};
use serde_json::{json, Value as Json};

const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";
/// Every table of the primary's file that a request could change, bookkeeping included.
const TABLES: [&str; 4] = [
    "todos",
    "_outpost_changes",
    "_outpost_clients",
    "_outpost_rejections",
];

fn dump(primary: &TestPrimary) -> Vec<Vec<Vec<Value>>> {
    TABLES
        .iter()
        .map(|t| primary.rows("app", &format!("SELECT * FROM {t} ORDER BY 1, 2")))
        .collect()
}

fn insert(seq: i64, id: &str) -> Mutation {
    let mut columns = Row::new();
    columns.insert("id".into(), text(id));
    columns.insert("title".into(), text("should never land"));
    Mutation {
        seq,
        table: "todos".into(),
        op: Op::Insert,
        key: vec![text(id)],
        columns,
    }
}

/// A push that would land if it were not spoiled, as JSON to spoil.
fn good_push(mutations: usize) -> Json {
    let request = PushRequest {
        v: PROTOCOL_VERSION,
        client_id: "intruder".into(),
        mutations: (1..=mutations as i64)
            .map(|seq| insert(seq, &format!("new{seq}")))
            .collect(),
        ..PushRequest::default()
    };
    serde_json::to_value(request).unwrap()
}

#[test]
fn bad_requests_are_refused_with_a_stable_code_and_change_nothing() {
    let primary = TestPrimary::start(TODOS);
    let dir = outpost_tests::scratch_dir();
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let replica = Replica::open(dir.path(), "a", &[TODOS], &["todos"]);
    replica.run("INSERT INTO todos VALUES ('1', 'one'), ('2', 'two')");
    replica.sync(&transport).unwrap();
    let before = dump(&primary);

    let spoiled = |edit: &dyn Fn(&mut Json)| {
        let mut body = good_push(3);
        edit(&mut body);
        body.to_string()
    };
    let too_many = good_push(outpost::protocol::MAX_PUSH_MUTATIONS + 1).to_string();
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "truncated JSON",
            "push",
            r#"{"v":1,"clientId":"x","mutations":[{"#.into(),
            400,
            "BAD_REQUEST",
        ),
        (
            "not JSON",
            "push",
            "DROP TABLE todos".into(),
            400,
            "BAD_REQUEST",
        ),
        (
            "no version",
            "push",
            spoiled(&|b| {
                b.as_object_mut().unwrap().remove("v");
            }),
            400,
            "BAD_REQUEST",
        ),
        (
            "unknown version",
            "push",
            spoiled(&|b| b["v"] = json!(PROTOCOL_VERSION + 1)),
            400,
            "UNSUPPORTED_VERSION",
        ),
        ("oversized batch", "push", too_many, 413, "BATCH_TOO_LARGE"),
        (
            "bad table name after good mutations",
            "push",
            spoiled(&|b| b["mutations"][2]["table"] = json!("todos; DROP TABLE todos")),
            400,
            "BAD_NAME",
        ),
        (
            "bad column name",
            "push",
            spoiled(&|b| b["mutations"][1]["columns"]["title\" = 1; --"] = json!("x")),
            400,
            "BAD_NAME",
        ),
        (
            "seqs out of order",
            "push",
            spoiled(&|b| b["mutations"][2]["seq"] = json!(1)),
            400,
            "BAD_REQUEST",
        ),
        (
            "unknown field",
            "push",
            spoiled(&|b| b["mutations"][0]["extra"] = json!(true)),
            400,
            "BAD_REQUEST",
        ),
        (
            "unknown op",
            "push",
            spoiled(&|b| b["mutations"][0]["op"] = json!("truncate")),
            400,
            "BAD_REQUEST",
        ),
        (
            "empty client id",
            "push",
            spoiled(&|b| b["clientId"] = json!("")),
            400,
            "BAD_REQUEST",
        ),
        (
            "pull of a bad table name",
            "pull",
            json!({"v": 1, "cursor": 0, "tables": ["todos--"]}).to_string(),
            400,
            "BAD_NAME",
        ),
        (
            "pull of an unknown table",
            "pull",
            json!({"v": 1, "cursor": 0, "tables": ["nope"]}).to_string(),
            400,
            "UNKNOWN_TABLE",
        ),
        (
            "pull with a negative cursor",
            "pull",
            json!({"v": 1, "cursor": -1, "tables": ["todos"]}).to_string(),
            400,
            "BAD_REQUEST",
        ),
    ];
    for (what, endpoint, body, status, code) in cases {
        let answer = transport.post_raw(endpoint, &body).unwrap();
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{what}: {}",
            answer.body
        );
        assert_eq!(dump(&primary), before, "{what} changed the primary");
    }

    let bad_database = HttpTransport::new(primary.endpoint(), "Bad.Name");
    let answer = bad_database
        .post_raw("push", &good_push(1).to_string())
        .unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "BAD_DATABASE_NAME")
    );

    // The typed transport surfaces the same verdicts as `Error::Primary`.
    let mut newer = replica.db().pull_request(0).unwrap();
    newer.v = PROTOCOL_VERSION + 1;
    match block_on(transport.pull(&newer)) {
        Err(Error::Primary { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (400, "UNSUPPORTED_VERSION"))
        }
        other => panic!("expected UNSUPPORTED_VERSION, got {other:?}"),
    }
    assert_eq!(dump(&primary), before);

    // And the primary still serves honest replicas.
    replica.run("INSERT INTO todos VALUES ('3', 'three')");
    replica.sync(&transport).unwrap();
    assert_eq!(
        primary.rows("app", "SELECT count(*) FROM todos"),
        vec![vec![Value::Integer(3)]]
    );
}

#[test]
fn a_body_over_the_size_limit_is_refused() {
    let primary = TestPrimary::start(TODOS);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let huge = "x".repeat(outpost_primary::MAX_BODY_BYTES + 1);
    let body = json!({"v": 1, "clientId": "big", "mutations": [], "pad": huge}).to_string();
    let answer = transport.post_raw("push", &body).unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (413, "BATCH_TOO_LARGE"),
        "{}",
        answer.body
    );
    assert!(
        !primary.database_path("app").exists(),
        "a refused request does not even create the database"
    );
}
