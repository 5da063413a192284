//! What each store refuses at start, before anything listens: a table without a primary key,
//! broken SQL, and column types whose values would not come back as a replica wrote them; the
//! Durable Object primary refuses the same at the first request for a database. Then
//! the Postgres store's type mapping (docs/POSTGRES.md), which only it has: every accepted type
//! round-trips, and a value a column cannot hold exactly is rejected.

use outpost::Value;
use outpost_primary::store::StoreError;
use outpost_primary::{Auth, ServeError};
use outpost_tests::{Backend, StartFailure, TestPrimary};
use serde_json::json;

use super::{rejection_codes, rows};

on_both_stores!(a_schema_the_store_cannot_carry_is_refused_at_start);

/// Schemas `store` cannot carry, each with what its refusal names.
fn refused_schemas(store: Backend) -> Vec<(&'static str, &'static str)> {
    let mut cases = vec![("CREATE TABLE broken(", "migration 1 (schema) failed")];
    match store {
        Backend::Sqlite | Backend::Durable => cases.extend([
            (
                "CREATE TABLE ok(id INTEGER PRIMARY KEY); CREATE TABLE events(at TEXT, what TEXT);",
                "events has no declared PRIMARY KEY",
            ),
            ("CREATE TABLE prices(amount REAL PRIMARY KEY);", "prices"),
        ]),
        Backend::Postgres => cases.extend([
            ("CREATE TABLE ok(id bigint PRIMARY KEY); CREATE TABLE events(at text, what text);", "events has no declared PRIMARY KEY"),
            ("CREATE TABLE prices(id bigint PRIMARY KEY, amount real);", "amount is real"),
            ("CREATE TABLE prices(id bigint PRIMARY KEY, amount numeric(10,2));", "amount is numeric(10,2)"),
            ("CREATE TABLE codes(id bigint PRIMARY KEY, code char(3));", "code is character(3)"),
            ("CREATE TABLE docs(id bigint PRIMARY KEY, body jsonb);", "body is jsonb"),
            ("CREATE TABLE log(id bigint PRIMARY KEY, at timestamptz);", "at is timestamp with time zone"),
            ("CREATE TABLE keyed(id double precision PRIMARY KEY);", "primary-key column id"),
            ("CREATE TABLE g(id bigint PRIMARY KEY, twice bigint GENERATED ALWAYS AS (id * 2) STORED);", "twice is generated"),
        ]),
    }
    cases
}

fn a_schema_the_store_cannot_carry_is_refused_at_start(store: Backend) {
    for (schema, named) in refused_schemas(store) {
        let mut primary = TestPrimary::new(store, schema, Auth::None);
        // SQLite checks the schema when `run` opens the store, Postgres while connecting.
        let message = match (store, primary.try_start_again()) {
            (Backend::Sqlite, Err(StartFailure::Serve(ServeError::Setup(message)))) => message,
            (Backend::Postgres, Err(StartFailure::Connect(StoreError::Setup(message)))) => message,
            (_, other) => panic!("{schema}: {other:?}"),
        };
        assert!(message.contains(named), "{schema}: {message}");
        assert!(!primary.is_running());
        // The check is a dry run: it leaves nothing behind.
        match store {
            Backend::Durable => unreachable!("the Durable Object primary starts on any schema"),
            Backend::Sqlite => {
                let left: Vec<_> = std::fs::read_dir(primary.data_dir())
                    .map(|files| files.map(|f| f.unwrap().file_name()).collect())
                    .unwrap_or_default();
                assert!(left.is_empty(), "{schema}: {left:?}");
            }
            Backend::Postgres => {
                let left = primary.postgres().catalog_rows(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'outpost%'",
                );
                assert!(left.is_empty(), "{schema}: {left:?}");
            }
        }
    }
}

/// A Durable Object opens its store on the first request for its database, not when the runtime
/// starts: that request, and every one after it, is answered with the refusal the server gives
/// at start, and the object's storage keeps nothing of the attempt.
#[test]
fn a_schema_the_durable_object_cannot_carry_is_the_answer_to_every_request() {
    for (schema, named) in refused_schemas(Backend::Durable) {
        let primary = TestPrimary::start_on(Backend::Durable, schema, Auth::None);
        let app = primary.api("app");
        for (endpoint, body) in [
            ("pull", json!({"v": 1, "cursor": 0, "tables": ["ok"]})),
            ("push", json!({"v": 1, "clientId": "c1", "mutations": []})),
        ] {
            let (status, answer) = app.post(endpoint, &body);
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert_eq!(status, 500, "{schema}: {endpoint}: {answer}");
            assert!(message.contains(named), "{schema}: {endpoint}: {answer}");
        }
        assert!(
            !primary.has_database("app"),
            "{schema}: {:?}",
            primary.dump("app")
        );
    }
}

mod postgres_types {
    use super::*;

    #[test]
    fn the_type_mapping_round_trips_every_accepted_type() {
        let schema = "CREATE TABLE kinds(id bigint PRIMARY KEY, small smallint, medium integer, \
                      ratio double precision, name varchar(5), data bytea, flag boolean);";
        let primary = TestPrimary::start_on(Backend::Postgres, schema, Auth::None);
        let app = primary.api("app");
        let row = json!({"id": 9007199254740993i64, "small": -32768, "medium": 2147483647,
                         "ratio": 2.5e-300, "name": "héllo", "data": {"blob": "AAEC/w=="}, "flag": 1});
        let answer = app.push(
            "c1",
            json!([
                {"seq": 1, "table": "kinds", "op": "insert", "key": [row["id"]], "columns": row},
                {"seq": 2, "table": "kinds", "op": "insert", "key": [2], "columns": {"ratio": 3, "flag": 0, "small": 4.0}},
                {"seq": 3, "table": "kinds", "op": "insert", "key": [3], "columns": {"small": 32768}},
                {"seq": 4, "table": "kinds", "op": "insert", "key": [4], "columns": {"flag": 2}},
                {"seq": 5, "table": "kinds", "op": "insert", "key": [5], "columns": {"name": "too long"}},
                {"seq": 6, "table": "kinds", "op": "insert", "key": [6], "columns": {"ratio": 9007199254740993i64}},
            ]),
        );
        let mismatch = "SQLITE_MISMATCH".to_owned();
        assert_eq!(
            rejection_codes(&answer),
            [
                (3, mismatch.clone()),
                (4, mismatch.clone()),
                (5, mismatch.clone()),
                (6, mismatch)
            ]
        );
        let rows = rows(&app.pull(0, &["kinds"]));
        assert_eq!(rows[0], row, "every type comes back as it was written");
        assert_eq!(
            rows[1],
            json!({"id": 2, "small": 4, "medium": null, "ratio": 3.0, "name": null, "data": null, "flag": 0})
        );
        // And as Postgres holds them, read as a SQL shell would.
        assert_eq!(
            primary.rows("app", "SELECT id, small, flag FROM kinds WHERE id = 2"),
            [[Value::Integer(2), Value::Integer(4), Value::Integer(0)]]
        );
    }
}
