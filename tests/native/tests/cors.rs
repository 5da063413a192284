//! A browser app on another origin: its pushes and pulls carry `authorization` and a JSON body,
//! so each is preflighted (a pull's `accept`, which asks for rows as arrays, would not need it).
//! The preflight's answer must allow them, and be kept long enough that a push after a quiet
//! spell does not wait a round trip more for a new one.

use outpost_primary::http::PREFLIGHT_KEPT;
use outpost_tests::TestPrimary;

#[test]
fn a_preflight_allows_pushes_from_any_origin_and_is_kept_for_hours() {
    let primary = TestPrimary::start("CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT)");
    let url = format!("{}/v1/db/app/push", primary.url());
    let answer = ureq::options(&url)
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "accept,authorization,content-type",
        )
        .call()
        .expect("a preflight answer");
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} in {:?}", answer.headers()))
            .to_ascii_lowercase()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert!(header("access-control-allow-methods").contains("post"));
    let allowed = header("access-control-allow-headers");
    assert!(
        ["accept", "authorization", "content-type"]
            .iter()
            .all(|name| allowed.contains(name)),
        "{allowed}"
    );
    assert_eq!(
        header("access-control-max-age"),
        PREFLIGHT_KEPT.as_secs().to_string()
    );
    assert_eq!(
        PREFLIGHT_KEPT.as_secs(),
        7200,
        "Chromium keeps one for 2 hours at most"
    );
}
