//! What the outbox records for a write that removes other rows (INSERT OR REPLACE, a UNIQUE
//! column's ON CONFLICT REPLACE), or collides and does nothing (OR IGNORE, an upsert): checked by
//! replaying the outbox on a copy, as the primary would, and comparing it with the replica.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{row, run, text};
use outpost::db::OpenOptions;
use outpost::protocol::Op;
use outpost::{Database, Params, Row, Storage, Value};

const USERS: &str = "CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE,
    handle TEXT COLLATE NOCASE,
    name TEXT,
    UNIQUE (handle)
)";
const COUNTERS: &str = "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)";
const CODES: &str =
    "CREATE TABLE codes (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE ON CONFLICT REPLACE)";

fn replace_db() -> Database {
    let options = OpenOptions {
        migrations: vec![USERS.into(), COUNTERS.into(), CODES.into()],
        synced_tables: vec!["users".into(), "counters".into(), "codes".into()],
        ..OpenOptions::default()
    };
    Database::open(&Storage::Memory, &options).unwrap()
}

/// The outbox after entry `from`, as (op, table, key) in seq order.
fn entries_after(db: &Database, from: usize) -> Vec<(Op, String, Vec<Value>)> {
    let all = db.pending_writes(10_000).unwrap().writes;
    all[from..]
        .iter()
        .map(|w| (w.op, w.table.clone(), w.key.clone()))
        .collect()
}

fn outbox_len(db: &Database) -> usize {
    db.pending_count().unwrap() as usize
}

/// Applies the whole outbox to `mirror` as the primary would (an insert over an existing key
/// fails, an update or delete of a missing row does nothing), so the test can check that what
/// was recorded brings a copy to the replica's state. Every table here is keyed by `id`.
fn replay_outbox(db: &Database, mirror: &Database) {
    let key_column = "id";
    for write in db.pending_writes(10_000).unwrap().writes {
        match write.op {
            Op::Insert => {
                let names: Vec<&str> = write.columns.keys().map(String::as_str).collect();
                let marks = vec!["?"; names.len()].join(", ");
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({marks})",
                    write.table,
                    names.join(", ")
                );
                mirror
                    .execute(
                        &sql,
                        &Params::Positional(write.columns.values().cloned().collect()),
                    )
                    .unwrap_or_else(|e| panic!("{sql} over {:?}: {e}", write.key));
            }
            Op::Update => {
                let sets: Vec<String> = write.columns.keys().map(|c| format!("{c} = ?")).collect();
                let sql = format!(
                    "UPDATE {} SET {} WHERE {key_column} = ?",
                    write.table,
                    sets.join(", ")
                );
                let mut values: Vec<Value> = write.columns.values().cloned().collect();
                values.push(write.key[0].clone());
                mirror.execute(&sql, &Params::Positional(values)).unwrap();
            }
            Op::Delete => {
                let sql = format!("DELETE FROM {} WHERE {key_column} = ?", write.table);
                mirror
                    .execute(&sql, &Params::Positional(vec![write.key[0].clone()]))
                    .unwrap();
            }
        }
    }
}

fn rows_of(db: &Database, table: &str) -> Vec<Vec<Value>> {
    db.query(&format!("SELECT * FROM {table} ORDER BY id"), &Params::None)
        .unwrap()
        .rows
}

#[test]
fn a_replace_that_removes_other_rows_records_their_deletes_first() {
    let db = replace_db();
    run(
        &db,
        "INSERT INTO users (id, email, handle, name) VALUES
         ('u1', 'a@x', 'ann', 'Ann'), ('u2', 'b@x', 'bob', 'Bob'), ('u3', 'c@x', 'cy', 'Cy')",
    );
    let user = |id: &str| vec![text(id)];
    let mut from = outbox_len(&db);

    // A new row whose email is u1's: u1 goes, and its delete comes before the insert.
    run(
        &db,
        "INSERT OR REPLACE INTO users (id, email, handle, name) VALUES ('u4', 'a@x', 'dee', 'Dee')",
    );
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Delete, "users".into(), user("u1")),
            (Op::Insert, "users".into(), user("u4")),
        ]
    );
    from = outbox_len(&db);

    // The same key again: a delete and an insert (the primary refuses an insert over a key it has).
    run(
        &db,
        "REPLACE INTO users (id, email, handle, name) VALUES ('u2', 'b@x', 'bob', 'Robert')",
    );
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Delete, "users".into(), user("u2")),
            (Op::Insert, "users".into(), user("u2")),
        ]
    );
    from = outbox_len(&db);

    // Colliding with two rows at once, one under the index's collation (NOCASE): both deletes,
    // then the insert.
    run(
        &db,
        "INSERT OR REPLACE INTO users (id, email, handle, name) VALUES ('u5', 'c@x', 'DEE', 'Eve')",
    );
    let entries = entries_after(&db, from);
    assert_eq!(entries.len(), 3, "{entries:?}");
    let mut deleted: Vec<Vec<Value>> = entries[..2]
        .iter()
        .map(|(op, _, key)| {
            assert_eq!(*op, Op::Delete);
            key.clone()
        })
        .collect();
    deleted.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(deleted, vec![user("u3"), user("u4")]);
    assert_eq!(entries[2], (Op::Insert, "users".into(), user("u5")));
    from = outbox_len(&db);

    // An update that takes another row's email, and one that takes another row's key.
    run(
        &db,
        "UPDATE OR REPLACE users SET email = 'b@x' WHERE id = 'u5'",
    );
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Delete, "users".into(), user("u2")),
            (Op::Update, "users".into(), user("u5")),
        ]
    );
    from = outbox_len(&db);
    run(&db, "INSERT INTO users (id, email) VALUES ('u6', 'f@x')");
    run(&db, "UPDATE OR REPLACE users SET id = 'u6' WHERE id = 'u5'");
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Insert, "users".into(), user("u6")),
            (Op::Delete, "users".into(), user("u6")),
            (Op::Delete, "users".into(), user("u5")),
            (Op::Insert, "users".into(), user("u6")),
        ]
    );
    from = outbox_len(&db);

    // An integer key with no other unique column, and a constraint declared ON CONFLICT REPLACE
    // (a plain INSERT replaces there).
    run(&db, "INSERT INTO counters (id, n) VALUES (1, 10)");
    run(
        &db,
        "INSERT OR REPLACE INTO counters (id, n) VALUES (1, 11)",
    );
    run(&db, "INSERT INTO codes (id, code) VALUES ('k1', 'X')");
    run(&db, "INSERT INTO codes (id, code) VALUES ('k2', 'X')");
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Insert, "counters".into(), vec![Value::Integer(1)]),
            (Op::Delete, "counters".into(), vec![Value::Integer(1)]),
            (Op::Insert, "counters".into(), vec![Value::Integer(1)]),
            (Op::Insert, "codes".into(), vec![text("k1")]),
            (Op::Delete, "codes".into(), vec![text("k1")]),
            (Op::Insert, "codes".into(), vec![text("k2")]),
        ]
    );

    // What was recorded brings a copy, applied as the primary applies it, to the same rows.
    let mirror = Database::open(
        &Storage::Memory,
        &OpenOptions {
            migrations: vec![USERS.into(), COUNTERS.into(), CODES.into()],
            ..OpenOptions::default()
        },
    )
    .unwrap();
    replay_outbox(&db, &mirror);
    for table in ["users", "counters", "codes"] {
        assert_eq!(rows_of(&mirror, table), rows_of(&db, table), "{table}");
    }
}

#[test]
fn an_insert_or_ignore_that_collides_records_nothing() {
    let db = replace_db();
    run(
        &db,
        "INSERT INTO users (id, email, handle) VALUES ('u1', 'a@x', 'ann')",
    );
    let from = outbox_len(&db);
    run(
        &db,
        "INSERT OR IGNORE INTO users (id, email) VALUES ('u2', 'a@x')",
    );
    run(
        &db,
        "INSERT OR IGNORE INTO users (id, email) VALUES ('u1', 'other@x')",
    );
    run(
        &db,
        "INSERT INTO users (id, email, handle) VALUES ('u1', 'a@x', 'x') ON CONFLICT DO NOTHING",
    );
    assert_eq!(
        entries_after(&db, from),
        vec![],
        "nothing was written, nothing recorded"
    );

    // What the ignored inserts noted is never recorded later: not by an unrelated insert, nor
    // by a fresh insert of the same key after a delete.
    run(&db, "INSERT INTO users (id, email) VALUES ('u3', 'c@x')");
    run(&db, "DELETE FROM users WHERE id = 'u1'");
    run(
        &db,
        "INSERT INTO users (id, email) VALUES ('u1', 'again@x')",
    );
    assert_eq!(
        entries_after(&db, from),
        vec![
            (Op::Insert, "users".into(), vec![text("u3")]),
            (Op::Delete, "users".into(), vec![text("u1")]),
            (Op::Insert, "users".into(), vec![text("u1")]),
        ]
    );
}

#[test]
fn an_upsert_that_updates_records_one_update() {
    let db = replace_db();
    run(
        &db,
        "INSERT INTO users (id, email, name) VALUES ('u1', 'a@x', 'Ann')",
    );
    run(
        &db,
        "INSERT INTO users (id, email, name) VALUES ('u2', 'b@x', 'Bob')",
    );
    let from = outbox_len(&db);
    run(
        &db,
        "INSERT INTO users (id, email, name) VALUES ('u1', 'a@x', 'Anne')
         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
    );
    // On another unique column, setting that column too.
    run(
        &db,
        "INSERT INTO users (id, email, name) VALUES ('new', 'b@x', 'Bobby')
         ON CONFLICT (email) DO UPDATE SET name = excluded.name, email = 'bob@x'",
    );
    run(
        &db,
        "INSERT INTO counters (id, n) VALUES (1, 1) ON CONFLICT DO UPDATE SET n = n + 1",
    );
    run(
        &db,
        "INSERT INTO counters (id, n) VALUES (1, 1) ON CONFLICT DO UPDATE SET n = n + 1",
    );
    let writes = db.pending_writes(100).unwrap().writes;
    let after: Vec<(Op, Vec<Value>, Row)> = writes[from..]
        .iter()
        .map(|w| (w.op, w.key.clone(), w.columns.clone()))
        .collect();
    assert_eq!(
        after,
        vec![
            (Op::Update, vec![text("u1")], row(&[("name", text("Anne"))])),
            (
                Op::Update,
                vec![text("u2")],
                row(&[("email", text("bob@x")), ("name", text("Bobby"))])
            ),
            (
                Op::Insert,
                vec![Value::Integer(1)],
                row(&[("id", Value::Integer(1)), ("n", Value::Integer(1))])
            ),
            (
                Op::Update,
                vec![Value::Integer(1)],
                row(&[("n", Value::Integer(2))])
            ),
        ]
    );
}
