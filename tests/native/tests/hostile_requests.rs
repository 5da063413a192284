//! Requests no replica sends, from someone who holds a valid token for one database: none may
//! reach another tenant's data, change anything, or get an answer that is not the protocol's JSON.

use std::time::Duration;

use outpost_primary::{mint_token, Auth};
use outpost_tests::TestPrimary;
use serde_json::json;

const SECRET: &[u8] = b"hostile-requests-secret-0123456789";
const TODOS: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)";

fn token(db: &str) -> String {
    mint_token(SECRET, "mallory", db, Duration::from_secs(600))
}

fn primary() -> TestPrimary {
    TestPrimary::start_with(TODOS, Auth::Secret(SECRET.to_vec()))
}

#[test]
fn a_query_cannot_attach_another_tenants_file_or_reach_outside_its_database() {
    let primary = primary();
    let beta = primary.api("beta").with_token(&token("beta"));
    beta.push(
        "b1",
        json!([{"seq": 1, "table": "todos", "op": "insert", "key": ["secret"], "columns": {"title": "beta's"}}]),
    );
    let alpha = primary.api("alpha").with_token(&token("alpha"));
    alpha.pull(0, &["todos"]);
    let beta_file = primary.database_path("beta");
    assert!(beta_file.exists());

    for sql in [
        format!("ATTACH DATABASE '{}' AS other", beta_file.display()),
        "ATTACH DATABASE 'data/beta.sqlite3' AS other".to_owned(),
        "ATTACH DATABASE ':memory:' AS scratch".to_owned(),
        "PRAGMA database_list".to_owned(),
        "PRAGMA temp_store_directory".to_owned(),
        "SELECT load_extension('x')".to_owned(),
        "SELECT * FROM pragma_database_list".to_owned(),
    ] {
        let (status, answer) = alpha.post("query", &json!({"v": 1, "sql": sql}));
        assert_eq!(status, 400, "{sql}: {answer}");
        let text = answer.to_string();
        assert!(!text.contains("beta's"), "{sql}: {answer}");
        assert!(
            !text.contains(&*beta_file.to_string_lossy()),
            "{sql}: {answer}"
        );
    }
    // The attachment never happened, so a later query cannot name it either.
    let (status, _) = alpha.post(
        "query",
        &json!({"v": 1, "sql": "SELECT * FROM other.todos"}),
    );
    assert_eq!(status, 400);
    // What a query may do still works.
    let rows = alpha.query("SELECT count(*) AS n FROM todos");
    assert_eq!(rows["rows"], json!([[0]]));
}

#[test]
fn integers_beyond_64_bits_are_refused_whole() {
    let primary = primary();
    let alpha = primary.api("alpha").with_token(&token("alpha"));
    for number in [
        "18446744073709551616",
        "-9223372036854775809",
        "9223372036854775808",
        "123456789012345678901234567890",
    ] {
        let body = format!(
            r#"{{"v":1,"clientId":"c","mutations":[{{"seq":1,"table":"todos","op":"insert","key":["k"],"columns":{{"title":{number}}}}}]}}"#
        );
        let (status, answer) = alpha.post_raw("push", &body);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("BAD_REQUEST")),
            "{number}: {answer}"
        );
    }
    let pulled = alpha.pull(0, &["todos"]);
    assert_eq!(pulled["changes"], json!([]), "nothing was stored");
    // The edges of the range are fine.
    let body = r#"{"v":1,"clientId":"c","mutations":[{"seq":1,"table":"todos","op":"insert","key":[-9223372036854775808],"columns":{"title":"x"}}]}"#;
    let (status, answer) = alpha.post_raw("push", body);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_pull_naming_a_huge_list_is_refused_briefly_and_errors_never_quote_sql() {
    let primary = primary();
    let alpha = primary.api("alpha").with_token(&token("alpha"));
    let tables: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    let (status, answer) = alpha.post("pull", &json!({"v": 1, "cursor": 0, "tables": tables}));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{answer}"
    );
    let text = answer.to_string();
    assert!(text.len() < 1000, "a {} byte answer", text.len());
    assert!(!text.contains("SELECT"), "{text}");
}

#[test]
fn a_wrong_method_answers_json_with_a_stable_code() {
    let primary = primary();
    for (method, path) in [
        ("GET", "/v1/db/alpha/push"),
        ("GET", "/v1/db/alpha/pull"),
        ("PUT", "/v1/db/alpha/query"),
        ("POST", "/v1/health"),
        ("DELETE", "/v1/health"),
    ] {
        let answer = primary.request(method, path, &[]);
        assert_eq!(answer.status().as_u16(), 405, "{method} {path}");
        let body: serde_json::Value = serde_json::from_slice(answer.body())
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert_eq!(
            body["error"]["code"], "METHOD_NOT_ALLOWED",
            "{method} {path}"
        );
    }
}
