//! What the suite's tests start from: a primary over the shared todo schema on a given store,
//! with or without tokens; and reading answers: a push's rejections, a pull's rows and the
//! fields of a pull a version-1 replica reads.

mod live;
mod push_pull;
mod refusals;
mod rules;
mod schemas;
mod subsets;

use std::time::Duration;

use outpost_primary::{mint_token, Auth};
use outpost_tests::todos::{self, insert_todo};
use outpost_tests::{Api, Backend, TestPrimary};
use serde_json::Value as Json;

pub const SECRET: &[u8] = b"test-secret-0123456789";

/// A primary without auth over the shared schema.
pub fn primary(store: Backend) -> TestPrimary {
    TestPrimary::start_on(store, todos::schema(store), Auth::None)
}

/// A primary that needs tokens and serves only `app` and `other` (any database, on the Durable
/// Object primary), with todo `a` in `app` already; answers it and a client of `app` holding a
/// token for `app`.
pub fn guarded_primary(store: Backend) -> (TestPrimary, Api) {
    let primary = TestPrimary::new(store, todos::schema(store), Auth::Secret(SECRET.to_vec()));
    let primary = match store {
        Backend::Durable => primary,
        _ => primary.with_databases(&["app", "other"]),
    }
    .started();
    let token = mint_token(SECRET, "alice", "app", Duration::from_secs(600));
    let app = primary.api("app").with_token(&token);
    app.push("c0", serde_json::json!([insert_todo(1, "a", "existing")]));
    (primary, app)
}

/// The `(seq, code)` of every rejection in a push answer, in order.
pub fn rejection_codes(answer: &Json) -> Vec<(i64, String)> {
    answer["rejected"]
        .as_array()
        .unwrap_or_else(|| panic!("no rejections in {answer}"))
        .iter()
        .map(|r| {
            (
                r["seq"].as_i64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The fields of a pull answer that a version-1 replica reads. An answer may carry more within a
/// version (docs/PROTOCOL.md, "Versioning"), such as version 2's `epoch`.
pub fn v1_pull(answer: &Json) -> Json {
    let read = |field: &str| {
        let value = answer.get(field);
        value
            .unwrap_or_else(|| panic!("no {field} in {answer}"))
            .clone()
    };
    serde_json::json!({"changes": read("changes"), "cursor": read("cursor"), "more": read("more")})
}

/// The row of each change in a pull answer, in order.
pub fn rows(pulled: &Json) -> Vec<Json> {
    let changes = pulled["changes"].as_array().expect("changes");
    changes.iter().map(|c| c["row"].clone()).collect()
}
