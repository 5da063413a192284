//! The JS-facing `Database` in headless Chromium, in a dedicated worker (where OPFS lives):
//! persistence across close and reopen, every value type through the JS boundary, error codes.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use outpost::wasm::JsDatabase;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const TODOS: &str = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

fn options(name: &str, storage: &str, migrations: &[&str]) -> JsValue {
    let o = Object::new();
    set(&o, "name", &name.into());
    set(&o, "storage", &storage.into());
    let list: Array = migrations.iter().map(|m| JsValue::from_str(m)).collect();
    set(&o, "migrations", &list);
    o.into()
}

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &k.into(), v).unwrap();
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn code_of(err: &JsValue) -> String {
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "not an Error: {err:?}"
    );
    assert_eq!(
        get(err, "name").as_string().as_deref(),
        Some("OutpostError")
    );
    get(err, "code")
        .as_string()
        .expect("an OutpostError has a code")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Math::random().to_bits())
}

#[wasm_bindgen_test]
async fn opfs_keeps_rows_across_close_and_reopen() {
    let name = unique("persist");
    let db = JsDatabase::open(options(&name, "opfs", &[TODOS]))
        .await
        .unwrap();
    let params = Array::of2(&"a1".into(), &"Buy milk".into());
    let result = db
        .execute("INSERT INTO todos (id, title) VALUES (?, ?)", params.into())
        .unwrap();
    assert_eq!(get(&result, "rowsAffected").as_f64(), Some(1.0));
    db.close().unwrap();
    db.close().unwrap(); // closing twice is harmless
    assert_eq!(
        code_of(&db.query("SELECT 1", JsValue::UNDEFINED).unwrap_err()),
        "DATABASE_CLOSED"
    );

    let again = JsDatabase::open(options(&name, "opfs", &[TODOS]))
        .await
        .unwrap();
    let rows = again
        .query("SELECT id, title, done FROM todos", JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(rows.length(), 1);
    let row = rows.get(0);
    assert_eq!(get(&row, "id").as_string().as_deref(), Some("a1"));
    assert_eq!(get(&row, "title").as_string().as_deref(), Some("Buy milk"));
    assert_eq!(get(&row, "done").as_f64(), Some(0.0));
    again.close().unwrap();
}

#[wasm_bindgen_test]
async fn a_second_open_of_a_held_opfs_database_is_refused_clearly() {
    let name = unique("held");
    let first = JsDatabase::open(options(&name, "opfs", &[TODOS]))
        .await
        .unwrap();
    first
        .execute(
            "INSERT INTO todos (id, title) VALUES ('k', 'kept')",
            JsValue::UNDEFINED,
        )
        .unwrap();
    // Across tabs the browser refuses the access handles (the Playwright test covers that).
    let err = JsDatabase::open(options(&name, "opfs", &[TODOS]))
        .await
        .err()
        .expect("refused");
    assert_eq!(code_of(&err), "DATABASE_IN_USE");
    let rows = first
        .query("SELECT title FROM todos", JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(
        get(&rows.get(0), "title").as_string().as_deref(),
        Some("kept")
    );
    first.close().unwrap();
    // Once closed, it opens again.
    JsDatabase::open(options(&name, "opfs", &[TODOS]))
        .await
        .unwrap()
        .close()
        .unwrap();
}

#[wasm_bindgen_test]
async fn every_value_type_round_trips_through_js() {
    let db = JsDatabase::open(options(
        &unique("values"),
        "memory",
        &["CREATE TABLE v (i, big, r, t, b, n)"],
    ))
    .await
    .unwrap();
    let big = BigInt::from(i64::MAX);
    let blob = Uint8Array::from(&[0u8, 1, 254, 255][..]);
    let params: Array = [
        JsValue::from_f64(42.0),
        big.clone().into(),
        JsValue::from_f64(1.5),
        "héllo".into(),
        blob.into(),
        JsValue::NULL,
    ]
    .into_iter()
    .collect();
    db.execute("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)", params.into())
        .unwrap();
    let row = db
        .query("SELECT * FROM v", JsValue::UNDEFINED)
        .unwrap()
        .get(0);
    assert_eq!(get(&row, "i").as_f64(), Some(42.0));
    let big_back = get(&row, "big");
    assert!(
        big_back.is_bigint(),
        "an integer beyond 2^53 comes back as a BigInt"
    );
    assert_eq!(i64::try_from(big_back).unwrap(), i64::MAX);
    assert_eq!(get(&row, "r").as_f64(), Some(1.5));
    assert_eq!(get(&row, "t").as_string().as_deref(), Some("héllo"));
    let b: Uint8Array = get(&row, "b")
        .dyn_into()
        .expect("a BLOB comes back as a Uint8Array");
    assert_eq!(b.to_vec(), vec![0, 1, 254, 255]);
    assert!(get(&row, "n").is_null());

    let named = Object::new();
    set(&named, "t", &"héllo".into());
    let rows = db
        .query("SELECT count(*) AS c FROM v WHERE t = :t", named.into())
        .unwrap();
    assert_eq!(get(&rows.get(0), "c").as_f64(), Some(1.0));
    db.close().unwrap();
}

#[wasm_bindgen_test]
async fn errors_carry_stable_codes() {
    let db = JsDatabase::open(options(&unique("errors"), "memory", &[TODOS]))
        .await
        .unwrap();
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'x')",
        JsValue::UNDEFINED,
    )
    .unwrap();
    let dup = db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'y')",
        JsValue::UNDEFINED,
    );
    assert_eq!(code_of(&dup.unwrap_err()), "SQLITE_CONSTRAINT_PRIMARYKEY");
    let syntax = db.query("SELEC 1", JsValue::UNDEFINED);
    assert_eq!(code_of(&syntax.unwrap_err()), "SQLITE_ERROR");
    let bad_param = db.query("SELECT ?", Array::of1(&Object::new()).into());
    assert_eq!(code_of(&bad_param.unwrap_err()), "BAD_PARAMS");
    let batch: Array = [
        "INSERT INTO todos (id, title) VALUES ('b', 'x')",
        "INSERT INTO todos (id, title) VALUES ('a', 'x')",
    ]
    .iter()
    .map(|sql| {
        let s = Object::new();
        set(&s, "sql", &JsValue::from_str(sql));
        JsValue::from(s)
    })
    .collect();
    assert_eq!(
        code_of(&db.batch(batch.into()).unwrap_err()),
        "SQLITE_CONSTRAINT_PRIMARYKEY"
    );
    let count = db
        .query("SELECT count(*) AS c FROM todos", JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(
        get(&count.get(0), "c").as_f64(),
        Some(1.0),
        "the failed batch left nothing"
    );

    let bad_storage = JsDatabase::open(options("x", "disk", &[]))
        .await
        .err()
        .unwrap();
    assert_eq!(code_of(&bad_storage), "BAD_OPTIONS");
    let bad_migration = JsDatabase::open(options(&unique("mig"), "memory", &[TODOS, "NOT SQL"]))
        .await
        .err()
        .unwrap();
    assert_eq!(code_of(&bad_migration), "MIGRATION_FAILED");
    db.close().unwrap();
}
