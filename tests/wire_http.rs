//! The HTTP rules every transport shares (`outpost::sync::http`): what a request carries, and what
//! each kind of answer means to the sync engine (an answer, a refusal, offline, or nonsense).
#![cfg(not(target_arch = "wasm32"))]

use outpost::protocol::{PullRequest, PullResponse, PROTOCOL_VERSION};
use outpost::sync::http::{self, HttpRequest};
use outpost::Error;

fn pull_request() -> PullRequest {
    PullRequest {
        v: PROTOCOL_VERSION,
        cursor: 7,
        tables: vec!["todos".into()],
        wait_ms: 0,
        limit: None,
        ..PullRequest::default()
    }
}

fn decode(status: u16, body: &str) -> outpost::Result<PullResponse> {
    http::decode(http::PULL, status, body.as_bytes())
}

const ERROR_BODY: &str = r#"{"error":{"code":"UNKNOWN_TABLE","message":"no table \"nope\""}}"#;

#[test]
fn a_request_is_a_json_post_to_the_endpoint_under_the_database_url() {
    let database = http::database_url("http://127.0.0.1:8787/", "app");
    assert_eq!(database, "http://127.0.0.1:8787/v1/db/app");

    let request = HttpRequest::json(&database, http::PULL, None, &pull_request()).unwrap();
    assert_eq!(HttpRequest::METHOD, "POST");
    assert_eq!(request.url, "http://127.0.0.1:8787/v1/db/app/pull");
    // A pull asks for rows as arrays; any primary may answer them as objects.
    assert_eq!(
        request.headers,
        [
            ("content-type", "application/json".to_owned()),
            ("accept", "application/json; rows=arrays".to_owned())
        ]
    );
    let sent: PullRequest = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, pull_request());
}

#[test]
fn a_token_travels_as_a_bearer_authorization() {
    let request = HttpRequest::new(
        "http://h/v1/db/app/",
        http::PUSH,
        Some("t0k"),
        b"{}".to_vec(),
    );
    assert_eq!(request.url, "http://h/v1/db/app/push");
    assert!(request
        .headers
        .contains(&("authorization", "Bearer t0k".to_owned())));
    assert_eq!(request.body, b"{}");
}

#[test]
fn a_2xx_answer_is_parsed() {
    let answer = decode(200, r#"{"changes":[],"cursor":9,"more":false}"#).unwrap();
    assert_eq!(answer.cursor, 9);
    assert!(!answer.more);
    assert!(decode(204, r#"{"changes":[],"cursor":9,"more":false}"#).is_ok());
}

#[test]
fn a_2xx_answer_that_is_not_the_expected_json_is_a_protocol_error() {
    for body in ["", "<html>ok</html>", r#"{"cursor":"nine"}"#, ERROR_BODY] {
        let err = decode(200, body).unwrap_err();
        assert!(matches!(err, Error::Protocol(_)), "{body:?} gave {err:?}");
        assert_eq!(err.code(), "PROTOCOL_ERROR");
    }
}

#[test]
fn an_error_body_is_the_primarys_refusal_with_its_status_and_code() {
    for status in [400, 401, 403, 404, 413, 500, 503] {
        let err = decode(status, ERROR_BODY).unwrap_err();
        assert_eq!(
            err,
            Error::Primary {
                status,
                code: "UNKNOWN_TABLE".into(),
                message: "no table \"nope\"".into()
            }
        );
        assert_eq!(err.code(), "UNKNOWN_TABLE");
    }
}

#[test]
fn a_5xx_without_an_error_body_is_offline() {
    // What a proxy or load balancer says when the primary is down or restarting.
    for (status, body) in [
        (500, ""),
        (502, "<html><body>502 Bad Gateway</body></html>"),
        (503, "Service Unavailable"),
        (504, r#"{"message":"upstream timed out"}"#),
    ] {
        let err = decode(status, body).unwrap_err();
        assert!(
            matches!(err, Error::Offline(_)),
            "{status} {body:?} gave {err:?}"
        );
        assert_eq!(err.code(), "OFFLINE");
    }
}

#[test]
fn any_other_status_without_an_error_body_is_a_protocol_error() {
    for (status, body) in [(400, ""), (404, "Not Found"), (302, ""), (418, "{}")] {
        let err = decode(status, body).unwrap_err();
        assert!(
            matches!(err, Error::Protocol(_)),
            "{status} {body:?} gave {err:?}"
        );
        assert_eq!(err.code(), "PROTOCOL_ERROR");
    }
}

#[test]
fn a_protocol_error_quotes_the_start_of_the_body() {
    let page = format!("<html>{}</html>", "x".repeat(1000));
    let Error::Protocol(message) = decode(404, &page).unwrap_err() else {
        panic!()
    };
    assert!(
        message.contains("404") && message.contains("<html>xxx"),
        "{message}"
    );
    assert!(message.len() < 400, "{message}");
}

#[test]
fn a_pull_page_before_the_last_keeps_its_changes_in_its_bytes() {
    // The changes are not read on arrival: they are staged as they came and decoded by the last
    // page (a malformed one is found there, and the stage dropped: whole_pull.rs).
    let page = r#"{"changes":[{"not":"a change"}],"cursor":9,"more":true,"epoch":"e1"}"#;
    let (response, body) = http::decode_pull(200, page.as_bytes().to_vec()).unwrap();
    assert!(response.changes.is_empty());
    assert_eq!((response.cursor, response.more), (9, true));
    assert_eq!(response.epoch.as_deref(), Some("e1"));
    assert_eq!(body.as_deref(), Some(page.as_bytes()));

    // The last page is decoded whole, as any answer is.
    let last = r#"{"changes":[{"not":"a change"}],"cursor":9,"more":false}"#;
    let refused = http::decode_pull(200, last.as_bytes().to_vec()).unwrap_err();
    assert!(matches!(refused, Error::Protocol(_)), "{refused:?}");
    let good = r#"{"changes":[{"version":9,"table":"todos","key":["a"],"row":null}],"cursor":9,"more":false}"#;
    let (response, body) = http::decode_pull(200, good.as_bytes().to_vec()).unwrap();
    assert_eq!(response.changes.len(), 1);
    assert!(body.is_none());
    // The same last page with its rows as arrays reads as the same changes.
    let arrays = r#"{"changes":[[9,"todos",["a"],null],[8,"todos",["b"],["b",1]]],"columns":{"todos":["id","done"]},"cursor":9,"more":false}"#;
    let objects = r#"{"changes":[{"version":9,"table":"todos","key":["a"],"row":null},{"version":8,"table":"todos","key":["b"],"row":{"id":"b","done":1}}],"cursor":9,"more":false}"#;
    let (from_arrays, _) = http::decode_pull(200, arrays.as_bytes().to_vec()).unwrap();
    let (from_objects, _) = http::decode_pull(200, objects.as_bytes().to_vec()).unwrap();
    assert_eq!(from_arrays, from_objects);
    let short = arrays.replace(r#"["b",1]"#, r#"["b"]"#);
    let refused = http::decode_pull(200, short.into_bytes()).unwrap_err();
    assert!(matches!(refused, Error::Protocol(_)), "{refused:?}");

    // Not JSON at all, or an error body, is what it is for any answer.
    let cut = http::decode_pull(200, page.as_bytes()[..30].to_vec()).unwrap_err();
    assert!(matches!(cut, Error::Protocol(_)), "{cut:?}");
    let refusal = http::decode_pull(404, ERROR_BODY.as_bytes().to_vec()).unwrap_err();
    assert!(
        matches!(refusal, Error::Primary { status: 404, .. }),
        "{refusal:?}"
    );
}
