//! A pull under sync rules beside the same pull without them. The schema (a file, the primary's
//! `--schema` too) has `members(list_id, user_id)` and `items(id, owner_id, list_id, a, b, t)`;
//! the token's `sub` is `bench`. bench/run.mjs starts the primary with each rules file in turn
//! on the same data, so every variant sends the same rows.
//!
//! - `fill`: pushes MINE items owned by `bench`, in lists it is a member of, and OTHERS owned by
//!   `other` in lists it is not (interleaved with the first, so a rule has to pick them out).
//! - `pull`: an empty replica pulls everything it is sent; it must end with EXPECTED items.

use std::path::PathBuf;
use std::time::Instant;

use outpost::{Database, Params, Value};
use serde_json::json;

use crate::transport::HttpTransport;

const TABLES: [&str; 2] = ["members", "items"];
/// Lists per user: `bench` is a member of lists 0..LISTS, `other` of LISTS..2*LISTS.
const LISTS: i64 = 100;

fn replica(schema_file: &str) -> (PathBuf, Database) {
    let schema = std::fs::read_to_string(schema_file).unwrap_or_else(|e| panic!("cannot read {schema_file}: {e}"));
    let path = crate::scratch();
    let db = crate::replica_of(&path, &schema, &TABLES);
    (path, db)
}

pub fn fill(url: &str, name: &str, schema_file: &str, mine: u64, others: u64) -> serde_json::Value {
    let (path, db) = replica(schema_file);
    db.begin().unwrap();
    for (user, lists) in [("bench", 0..LISTS), ("other", LISTS..2 * LISTS)] {
        for list in lists {
            let row = vec![Value::Integer(list), Value::Text(user.into())];
            db.execute("INSERT INTO members (list_id, user_id) VALUES (?, ?)", &Params::Positional(row)).unwrap();
        }
    }
    let total = (mine + others) as i64;
    for id in 1..=total {
        // The first 2 × OTHERS ids alternate between the two owners; the rest are bench's.
        let theirs = id <= 2 * others as i64 && id % 2 == 0;
        let (owner, list) = if theirs { ("other", LISTS + id % LISTS) } else { ("bench", id % LISTS) };
        let row = vec![
            Value::Integer(id),
            Value::Text(owner.into()),
            Value::Integer(list),
            Value::Integer(id * 31),
            Value::Real(id as f64 * 0.25),
            Value::Text(format!("synced row {id} payload")),
        ];
        db.execute(
            "INSERT INTO items (id, owner_id, list_id, a, b, t) VALUES (?, ?, ?, ?, ?, ?)",
            &Params::Positional(row),
        )
        .unwrap();
    }
    db.commit().unwrap();
    let transport = HttpTransport::new(url, name);
    let started = Instant::now();
    let (pushed, requests, _) = crate::push_all(&db, &transport);
    assert_eq!(pushed as i64, total + 2 * LISTS, "every row pushed");
    let _ = std::fs::remove_file(&path);
    json!({ "items": total, "mine": mine, "others": others, "requests": requests, "seconds": started.elapsed().as_secs_f64() })
}

pub fn pull(url: &str, name: &str, schema_file: &str, expected: u64) -> serde_json::Value {
    let (path, db) = replica(schema_file);
    let transport = HttpTransport::new(url, name);
    let report = crate::pull_all(&db, &transport, expected);
    let _ = std::fs::remove_file(&path);
    report
}
