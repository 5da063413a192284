//! `execute_many_packed`: parameter lists packed into one buffer, as the package sends bulk
//! inserts. Every value type arrives as SQLite would store it from the unpacked call, and a
//! buffer that is malformed or does not fit the statement is refused before anything changes.
#![cfg(not(target_arch = "wasm32"))]

use outpost::db::packed::{BLOB, INTEGER_F64, INTEGER_I64, NULL, REAL, TEXT};
use outpost::db::OpenOptions;
use outpost::{Database, Params, Storage, Value};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v ANY, note TEXT)";
const INSERT: &str = "INSERT INTO items (id, v, note) VALUES (?, ?, ?)";

fn memory_db(synced: &[&str]) -> Database {
    let options = OpenOptions {
        migrations: vec![ITEMS.into()],
        synced_tables: synced.iter().map(|t| t.to_string()).collect(),
        ..OpenOptions::default()
    };
    Database::open(&Storage::Memory, &options).unwrap()
}

/// Packs lists as the package's packed.js does.
fn pack(lists: &[Vec<Value>]) -> Vec<u8> {
    let mut out = (lists.len() as u32).to_le_bytes().to_vec();
    for list in lists {
        out.extend((list.len() as u32).to_le_bytes());
        for value in list {
            match value {
                Value::Null => out.push(NULL),
                Value::Integer(i) if i.unsigned_abs() <= 1 << 53 => {
                    out.push(INTEGER_F64);
                    out.extend((*i as f64).to_le_bytes());
                }
                Value::Integer(i) => {
                    out.push(INTEGER_I64);
                    out.extend(i.to_le_bytes());
                }
                Value::Real(r) => {
                    out.push(REAL);
                    out.extend(r.to_le_bytes());
                }
                Value::Text(t) => {
                    out.push(TEXT);
                    out.extend((t.len() as u32).to_le_bytes());
                    out.extend(t.as_bytes());
                }
                Value::Blob(b) => {
                    out.push(BLOB);
                    out.extend((b.len() as u32).to_le_bytes());
                    out.extend(b);
                }
            }
        }
    }
    out
}

fn rows(db: &Database) -> Vec<Vec<Value>> {
    db.query("SELECT id, v, note FROM items ORDER BY id", &Params::None)
        .unwrap()
        .rows
}

fn every_type() -> Vec<Vec<Value>> {
    vec![
        vec![Value::Integer(1), Value::Null, Value::Text("null".into())],
        vec![
            Value::Integer(2),
            Value::Integer(-42),
            Value::Text("".into()),
        ],
        vec![
            Value::Integer(3),
            Value::Integer(i64::MAX),
            Value::Text("héllo, 世界 🌍".into()),
        ],
        vec![Value::Integer(4), Value::Real(0.25), Value::Null],
        vec![Value::Integer(5), Value::Blob(vec![0, 255, 7]), Value::Null],
        vec![Value::Integer(6), Value::Blob(vec![]), Value::Null],
        vec![Value::Integer(7), Value::Integer(i64::MIN), Value::Null],
    ]
}

#[test]
fn packed_lists_store_what_the_unpacked_call_stores() {
    let packed = memory_db(&[]);
    let plain = memory_db(&[]);
    let lists = every_type();
    let result = packed.execute_many_packed(INSERT, &pack(&lists)).unwrap();
    assert_eq!(result.rows_affected, 7);
    assert_eq!(result.last_insert_rowid, 7);
    let params: Vec<Params> = lists.iter().cloned().map(Params::Positional).collect();
    plain.execute_many(INSERT, &params).unwrap();
    assert_eq!(rows(&packed), rows(&plain));
    assert_eq!(rows(&packed), lists);
    let types = packed
        .query("SELECT typeof(v) FROM items ORDER BY id", &Params::None)
        .unwrap()
        .rows;
    let types: Vec<Value> = types.into_iter().flatten().collect();
    let expected = [
        "null", "integer", "integer", "real", "blob", "blob", "integer",
    ];
    assert_eq!(
        types,
        expected.map(|t| Value::Text(t.into())).to_vec(),
        "integers stay INTEGER, reals REAL"
    );
}

#[test]
fn packed_writes_to_a_synced_table_reach_the_outbox() {
    let db = memory_db(&["items"]);
    db.execute_many_packed(INSERT, &pack(&every_type()))
        .unwrap();
    assert_eq!(db.pending_count().unwrap(), 7);
}

#[test]
fn a_list_that_does_not_fit_the_statement_changes_nothing() {
    let db = memory_db(&[]);
    let mut lists = every_type();
    lists.push(vec![Value::Integer(8), Value::Null]);
    let err = db.execute_many_packed(INSERT, &pack(&lists)).unwrap_err();
    assert_eq!(err.code(), "BAD_PARAMS");
    assert!(
        err.to_string().contains("3 parameter(s) but 2 were given"),
        "{err}"
    );
    assert!(rows(&db).is_empty(), "the lists before it were rolled back");

    let duplicate = vec![
        vec![Value::Integer(1), Value::Null, Value::Null],
        vec![Value::Integer(1), Value::Null, Value::Null],
    ];
    let err = db
        .execute_many_packed(INSERT, &pack(&duplicate))
        .unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert!(rows(&db).is_empty());
}

#[test]
fn a_malformed_buffer_is_refused_before_anything_runs() {
    let db = memory_db(&[]);
    let good = pack(&every_type());
    let mut trailing = good.clone();
    trailing.push(0);
    let mut unknown_tag = pack(&[vec![Value::Integer(1), Value::Null, Value::Null]]);
    unknown_tag[8 + 9] = 9; // the second value's tag
    let mut not_utf8 = pack(&[vec![
        Value::Integer(1),
        Value::Null,
        Value::Text("ab".into()),
    ]]);
    let last = not_utf8.len() - 1;
    not_utf8[last] = 0xff;
    let mut fractional_integer = pack(&[vec![Value::Integer(1), Value::Null, Value::Null]]);
    fractional_integer[9..17].copy_from_slice(&1.5f64.to_le_bytes());
    let cases: [(&str, &[u8]); 6] = [
        ("empty", &[]),
        ("cut short", &good[..good.len() - 3]),
        ("trailing bytes", &trailing),
        ("an unknown tag", &unknown_tag),
        ("TEXT that is not UTF-8", &not_utf8),
        ("an INTEGER with a fraction", &fractional_integer),
    ];
    for (what, bytes) in cases {
        let err = db.execute_many_packed(INSERT, bytes).unwrap_err();
        assert_eq!(err.code(), "BAD_PARAMS", "{what}");
        assert!(err.to_string().contains("malformed"), "{what}: {err}");
        assert!(rows(&db).is_empty(), "{what}: nothing ran");
    }
}
