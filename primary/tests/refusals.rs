//! Bad input never changes state and always gets a clear error with a stable code.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{insert_todo, Primary, SECRET};
use outpost_primary::token::Claims;
use outpost_primary::{mint_token, Auth};
use serde_json::json;

fn guarded_primary() -> (Primary, String) {
    let databases = Some(vec!["app".to_owned(), "other".to_owned()]);
    let primary = Primary::start_with(Auth::Secret(SECRET.to_vec()), databases, None);
    let token = mint_token(SECRET, "alice", "app", Duration::from_secs(600));
    let (status, body) = primary.post_raw(
        "/v1/db/app/push",
        &json!({"v": 1, "clientId": "c0", "mutations": [insert_todo(1, "a", "existing")]})
            .to_string(),
        Some(&token),
    );
    assert_eq!(status, 200, "{body}");
    (primary, token)
}

#[test]
fn every_refusal_has_its_code_and_changes_nothing() {
    let (primary, token) = guarded_primary();
    let push = |mutations: serde_json::Value| {
        json!({"v": 1, "clientId": "c1", "mutations": mutations}).to_string()
    };
    let good = insert_todo(1, "new", "must not land");
    let too_many: Vec<_> = (1..=1001)
        .map(|i| insert_todo(i, &format!("k{i}"), "x"))
        .collect();
    let expired = {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 10;
        let claims = Claims {
            sub: "alice".into(),
            db: "app".into(),
            exp,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    };
    let foreign = mint_token(
        b"another-secret-0123456789",
        "alice",
        "app",
        Duration::from_secs(600),
    );
    let for_other = mint_token(SECRET, "alice", "other", Duration::from_secs(600));
    let for_third = mint_token(SECRET, "alice", "third", Duration::from_secs(600));
    let pull =
        |tables: serde_json::Value| json!({"v": 1, "cursor": 0, "tables": tables}).to_string();

    let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
        (
            "/v1/db/app/push",
            "{\"v\":1,".into(),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            json!({"v": 1, "clientId": "c1", "mutations": {}}).to_string(),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            push(
                json!([good, {"seq": 2, "table": "todos", "op": "insert", "key": ["b"], "extra": 1}]),
            ),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            push(json!([good, {"seq": 2, "table": "todos", "op": "upsert", "key": ["b"]}])),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            push(
                json!([{"seq": 1, "table": "todos", "op": "insert", "key": ["b"], "columns": {"title": {"blob": "!!"}}}]),
            ),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            json!({"clientId": "c1", "mutations": [good]}).to_string(),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            json!({"v": 2, "clientId": "c1", "mutations": [good]}).to_string(),
            Some(&token),
            400,
            "UNSUPPORTED_VERSION",
        ),
        (
            "/v1/db/app/push",
            push(json!([good, {"seq": 2, "table": "bad name", "op": "delete", "key": [1]}])),
            Some(&token),
            400,
            "BAD_NAME",
        ),
        (
            "/v1/db/app/push",
            push(
                json!([good, {"seq": 2, "table": "_outpost_clients", "op": "delete", "key": ["c1"]}]),
            ),
            Some(&token),
            400,
            "BAD_NAME",
        ),
        (
            "/v1/db/app/push",
            push(
                json!([good, {"seq": 2, "table": "todos", "op": "update", "key": ["a"], "columns": {"title\"; --": "x"}}]),
            ),
            Some(&token),
            400,
            "BAD_NAME",
        ),
        (
            "/v1/db/app/push",
            push(json!([good, insert_todo(1, "b", "same seq")])),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            json!({"v": 1, "clientId": "", "mutations": [good]}).to_string(),
            Some(&token),
            400,
            "BAD_REQUEST",
        ),
        (
            "/v1/db/app/push",
            push(json!(too_many)),
            Some(&token),
            413,
            "BATCH_TOO_LARGE",
        ),
        (
            "/v1/db/app/pull",
            pull(json!(["todos", "sqlite_master"])),
            Some(&token),
            400,
            "BAD_NAME",
        ),
        (
            "/v1/db/app/pull",
            pull(json!(["todos", "nope"])),
            Some(&token),
            400,
            "UNKNOWN_TABLE",
        ),
        (
            "/v1/db/app/query",
            json!({"v": 1, "sql": "DELETE FROM todos"}).to_string(),
            Some(&token),
            400,
            "READ_ONLY",
        ),
        (
            "/v1/db/App/push",
            push(json!([good])),
            Some(&token),
            400,
            "BAD_DATABASE_NAME",
        ),
        (
            "/v1/db/app/push",
            push(json!([good])),
            None,
            401,
            "UNAUTHORIZED",
        ),
        (
            "/v1/db/app/push",
            push(json!([good])),
            Some("not.a.jwt"),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/v1/db/app/push",
            push(json!([good])),
            Some(&expired),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/v1/db/app/push",
            push(json!([good])),
            Some(&foreign),
            401,
            "UNAUTHORIZED",
        ),
        (
            "/v1/db/app/push",
            push(json!([good])),
            Some(&for_other),
            403,
            "FORBIDDEN",
        ),
        (
            "/v1/db/app/pull",
            pull(json!(["todos"])),
            Some(&for_other),
            403,
            "FORBIDDEN",
        ),
        (
            "/v1/db/third/push",
            push(json!([good])),
            Some(&for_third),
            404,
            "UNKNOWN_DATABASE",
        ),
    ];

    let before = primary.dump("app");
    for (path, body, token, status, code) in cases {
        let (got_status, answer) = primary.post_raw(path, &body, token);
        let short: String = body.chars().take(120).collect();
        assert_eq!(
            (got_status, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {short}: {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(primary.dump("app"), before);
    assert!(!primary.db_path("third").exists());
    assert!(
        !primary.db_path("other").exists(),
        "a refused request does not create a database"
    );
}

#[test]
fn a_body_over_eight_mebibytes_is_refused() {
    let (primary, token) = guarded_primary();
    let before = primary.dump("app");
    let size = outpost_primary::MAX_BODY_BYTES + 1;
    let address = primary.url.trim_start_matches("http://");
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

#[test]
fn a_token_opens_only_its_own_database() {
    let (primary, token) = guarded_primary();
    let other = mint_token(SECRET, "bob", "other", Duration::from_secs(600));
    let body = json!({"v": 1, "cursor": 0, "tables": ["todos"]}).to_string();
    assert_eq!(
        primary.post_raw("/v1/db/other/pull", &body, Some(&other)).0,
        200
    );
    assert_eq!(
        primary.post_raw("/v1/db/other/pull", &body, Some(&token)).0,
        403
    );
    let (status, answer) = primary.post_raw("/v1/db/app/pull", &body, Some(&token));
    assert_eq!(status, 200);
    assert_eq!(answer["changes"].as_array().unwrap().len(), 1);
}
