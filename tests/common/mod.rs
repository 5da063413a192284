//! Helpers the core's test files share.

use outpost::{Database, Params, Row, Value};

pub fn run(db: &Database, sql: &str) {
    db.execute(sql, &Params::None).unwrap();
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

pub fn row(pairs: &[(&str, Value)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
