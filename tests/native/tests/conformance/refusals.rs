//! Bad input and bad tokens never change state and always get a clear error with a stable code;
//! a token opens its own database and no other.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use outpost::protocol::PROTOCOL_VERSION;
use outpost_primary::mint_token;
use outpost_primary::token::Claims;
use outpost_tests::todos::insert_todo;
use outpost_tests::{Api, Backend};
use serde_json::{json, Value as Json};

use super::{guarded_primary, SECRET};

on_every_store!(
    every_refusal_has_its_code_and_changes_nothing,
    a_body_over_eight_mebibytes_is_refused,
    a_token_opens_only_its_own_database,
);

/// A token for `app` signed with the primary's secret that expired ten seconds ago.
fn expired_token() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let claims = Claims {
        sub: "alice".into(),
        db: "app".into(),
        exp: now.as_secs() - 10,
        extra: Default::default(),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

fn every_refusal_has_its_code_and_changes_nothing(store: Backend) {
    let (primary, app) = guarded_primary(store);
    let ten_minutes = Duration::from_secs(600);
    let anonymous = primary.api("app");
    let with = |token: &str| anonymous.with_token(token);
    let foreign = mint_token(b"another-secret-0123456789", "alice", "app", ten_minutes);
    let for_other = mint_token(SECRET, "alice", "other", ten_minutes);
    let for_third = mint_token(SECRET, "alice", "third", ten_minutes);

    let push = |mutations: Json| json!({"v": 1, "clientId": "c1", "mutations": mutations});
    let good = insert_todo(1, "new", "must not land");
    let too_many: Vec<_> = (1..=1001)
        .map(|i| insert_todo(i, &format!("k{i}"), "x"))
        .collect();
    let pull = |tables: Json| json!({"v": 1, "cursor": 0, "tables": tables});
    let body = |json: Json| json.to_string();

    let mut cases: Vec<(Api, &str, String, u16, &str)> = vec![
        (app.clone(), "push", "{\"v\":1,".into(), 400, "BAD_REQUEST"),
        (
            app.clone(),
            "push",
            body(json!({"v": 1, "clientId": "c1", "mutations": {}})),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([good, {"seq": 2, "table": "todos", "op": "insert", "key": ["b"], "extra": 1}]),
            )),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([good, {"seq": 2, "table": "todos", "op": "upsert", "key": ["b"]}]),
            )),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([{"seq": 1, "table": "todos", "op": "insert", "key": ["b"], "columns": {"title": {"blob": "!!"}}}]),
            )),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(json!({"clientId": "c1", "mutations": [good]})),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(json!({"v": PROTOCOL_VERSION + 1, "clientId": "c1", "mutations": [good]})),
            400,
            "UNSUPPORTED_VERSION",
        ),
        (
            app.clone(),
            "push",
            body(json!({"v": PROTOCOL_VERSION + 1, "clientId": "c1", "mutations": []})),
            400,
            "UNSUPPORTED_VERSION",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([{"seq": 1, "table": "bad name", "op": "insert", "key": ["x"]}]),
            )),
            400,
            "BAD_NAME",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([good, {"seq": 2, "table": "bad name", "op": "delete", "key": [1]}]),
            )),
            400,
            "BAD_NAME",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([good, {"seq": 2, "table": "_outpost_clients", "op": "delete", "key": ["c1"]}]),
            )),
            400,
            "BAD_NAME",
        ),
        (
            app.clone(),
            "push",
            body(push(
                json!([good, {"seq": 2, "table": "todos", "op": "update", "key": ["a"], "columns": {"title\"; --": "x"}}]),
            )),
            400,
            "BAD_NAME",
        ),
        (
            app.clone(),
            "push",
            body(push(json!([good, insert_todo(1, "b", "same seq")]))),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(json!({"v": 1, "clientId": "", "mutations": [good]})),
            400,
            "BAD_REQUEST",
        ),
        (
            app.clone(),
            "push",
            body(push(json!(too_many))),
            413,
            "BATCH_TOO_LARGE",
        ),
        (
            app.clone(),
            "pull",
            body(pull(json!(["todos", "sqlite_master"]))),
            400,
            "BAD_NAME",
        ),
        (
            app.clone(),
            "pull",
            body(pull(json!(["todos", "nope"]))),
            400,
            "UNKNOWN_TABLE",
        ),
        (
            app.clone(),
            "pull",
            body(pull(json!(["missing"]))),
            400,
            "UNKNOWN_TABLE",
        ),
        (
            app.on("App"),
            "push",
            body(push(json!([good]))),
            400,
            "BAD_DATABASE_NAME",
        ),
        (
            app.on("Bad"),
            "push",
            body(push(json!([good]))),
            400,
            "BAD_DATABASE_NAME",
        ),
        (
            anonymous.clone(),
            "push",
            body(push(json!([good]))),
            401,
            "UNAUTHORIZED",
        ),
        (
            with("not.a.jwt"),
            "push",
            body(push(json!([good]))),
            401,
            "UNAUTHORIZED",
        ),
        (
            with(&expired_token()),
            "push",
            body(push(json!([good]))),
            401,
            "UNAUTHORIZED",
        ),
        (
            with(&foreign),
            "push",
            body(push(json!([good]))),
            401,
            "UNAUTHORIZED",
        ),
        (
            with(&for_other),
            "push",
            body(push(json!([good]))),
            403,
            "FORBIDDEN",
        ),
        (
            with(&for_other),
            "pull",
            body(pull(json!(["todos"]))),
            403,
            "FORBIDDEN",
        ),
    ];
    // A Durable Object namespace has an object for every name: no list of databases to be out of.
    if store != Backend::Durable {
        cases.push((
            with(&for_third).on("third"),
            "push",
            body(push(json!([good]))),
            404,
            "UNKNOWN_DATABASE",
        ));
    }
    // With tokens, a Postgres primary answers no queries, since one could name another
    // database's schema (docs/POSTGRES.md); SQLite keeps each database in its own file.
    cases.push(match store {
        Backend::Sqlite | Backend::Durable => (
            app.clone(),
            "query",
            body(json!({"v": 1, "sql": "DELETE FROM todos"})),
            400,
            "READ_ONLY",
        ),
        Backend::Postgres => (
            app.clone(),
            "query",
            body(json!({"v": 1, "sql": "SELECT * FROM outpost_other.todos"})),
            400,
            "QUERY_DISABLED",
        ),
    });

    let before = primary.dump("app");
    for (client, endpoint, body, status, code) in cases {
        let (got_status, answer) = client.post_raw(endpoint, &body);
        let short: String = body.chars().take(120).collect();
        assert_eq!(
            (got_status, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{endpoint} {short}: {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        primary.dump("app"),
        before,
        "a refused request changed the data"
    );
    assert!(!primary.has_database("third"));
    assert!(
        !primary.has_database("other"),
        "a refused request does not create a database"
    );
}

fn a_body_over_eight_mebibytes_is_refused(store: Backend) {
    let (primary, app) = guarded_primary(store);
    let token = app.token().unwrap().to_owned();
    let before = primary.dump("app");
    let size = outpost_primary::MAX_BODY_BYTES + 1;
    let url = primary.url();
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/db/app/push HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    // The server may answer and close before it has read everything: ignore write errors.
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            if writer.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n;
        }
    });
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("BATCH_TOO_LARGE"), "{text}");
    assert_eq!(primary.dump("app"), before);
}

fn a_token_opens_only_its_own_database(store: Backend) {
    let (primary, app) = guarded_primary(store);
    let bob = mint_token(SECRET, "bob", "other", Duration::from_secs(600));
    let body = json!({"v": 1, "cursor": 0, "tables": ["todos"]}).to_string();
    let other = primary.api("other");
    assert_eq!(other.with_token(&bob).post_raw("pull", &body).0, 200);
    assert_eq!(app.on("other").post_raw("pull", &body).0, 403);
    let (status, answer) = app.post_raw("pull", &body);
    assert_eq!(status, 200);
    assert_eq!(answer["changes"].as_array().unwrap().len(), 1);
}
