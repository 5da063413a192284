//! The local database through the core's public API: migrations, values, params, batches, errors.
#![cfg(not(target_arch = "wasm32"))]

use outpost::db::OpenOptions;
use outpost::{Database, Error, Params, Statement, Storage, Value};

const TODOS: &str =
    "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

fn file_db(dir: &std::path::Path, migrations: &[&str]) -> outpost::Result<Database> {
    let options = OpenOptions {
        migrations: migrations.iter().map(|m| m.to_string()).collect(),
        ..OpenOptions::default()
    };
    Database::open(&Storage::File(dir.join("app.sqlite3")), &options)
}

fn memory_db(migrations: &[&str]) -> Database {
    let options = OpenOptions {
        migrations: migrations.iter().map(|m| m.to_string()).collect(),
        ..OpenOptions::default()
    };
    Database::open(&Storage::Memory, &options).unwrap()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "outpost-db-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn count(db: &Database, sql: &str) -> i64 {
    match db.query(sql, &Params::None).unwrap().rows[0][0] {
        Value::Integer(n) => n,
        ref other => panic!("not a count: {other:?}"),
    }
}

#[test]
fn migrations_apply_once_and_new_ones_apply_alone() {
    let dir = tempdir();
    let db = file_db(&dir, &[TODOS]).unwrap();
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('a1', 'Buy milk')",
        &Params::None,
    )
    .unwrap();
    db.close().unwrap();

    // Reopening with the same list applies nothing again (a second CREATE TABLE would fail).
    let db = file_db(&dir, &[TODOS]).unwrap();
    db.close().unwrap();

    let db = file_db(&dir, &[TODOS, "ALTER TABLE todos ADD COLUMN due TEXT"]).unwrap();
    let rows = db
        .query("SELECT id, title, due FROM todos", &Params::None)
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Text("a1".into()),
            Value::Text("Buy milk".into()),
            Value::Null
        ]]
    );
    assert_eq!(count(&db, "SELECT count(*) FROM _outpost_migrations"), 2);
}

#[test]
fn a_failing_migration_leaves_the_database_as_it_was() {
    let dir = tempdir();
    file_db(&dir, &[TODOS]).unwrap().close().unwrap();

    let err = file_db(
        &dir,
        &[
            TODOS,
            "CREATE TABLE lists (id TEXT PRIMARY KEY)",
            "ALTER TABLE nope ADD COLUMN x TEXT",
        ],
    )
    .err()
    .expect("the third migration must fail");
    assert_eq!(err.code(), "MIGRATION_FAILED");
    assert_eq!(err.sqlite_error_code(), Some("SQLITE_ERROR"));
    assert!(err.to_string().contains("migration 2"), "{err}");

    // The second migration, applied in the same open, was rolled back with the third.
    let db = file_db(&dir, &[TODOS]).unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'lists'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM _outpost_migrations"), 1);
}

#[test]
fn an_edited_migration_is_refused() {
    let dir = tempdir();
    file_db(&dir, &[TODOS]).unwrap().close().unwrap();
    let err = file_db(&dir, &["CREATE TABLE todos (id TEXT PRIMARY KEY)"])
        .err()
        .unwrap();
    assert_eq!(err, Error::MigrationChanged { index: 0 });
    assert_eq!(err.code(), "MIGRATION_CHANGED");
    let err = file_db(&dir, &[]).err().unwrap();
    assert_eq!(err.code(), "BAD_OPTIONS");
}

#[test]
fn every_value_type_round_trips() {
    let db = memory_db(&["CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, n)"]);
    let values = vec![
        Value::Integer(i64::MIN),
        Value::Real(0.1),
        Value::Text("naïve ✓ \u{0}zero".into()),
        Value::Blob(vec![0, 1, 254, 255]),
        Value::Null,
    ];
    db.execute(
        "INSERT INTO v VALUES (?, ?, ?, ?, ?)",
        &Params::Positional(values.clone()),
    )
    .unwrap();
    let result = db
        .query("SELECT i, r, t, b, n FROM v", &Params::None)
        .unwrap();
    assert_eq!(result.columns, ["i", "r", "t", "b", "n"]);
    assert_eq!(result.rows, vec![values]);
}

#[test]
fn named_and_positional_params() {
    let db = memory_db(&[TODOS]);
    let named = Params::Named(vec![
        ("id".into(), Value::Text("a1".into())),
        ("title".into(), Value::Text("x".into())),
    ]);
    let result = db
        .execute("INSERT INTO todos (id, title) VALUES (:id, @title)", &named)
        .unwrap();
    assert_eq!(result.rows_affected, 1);
    assert_eq!(result.last_insert_rowid, 1);
    let rows = db
        .query(
            "SELECT title FROM todos WHERE id = $id",
            &Params::Named(vec![("id".into(), Value::Text("a1".into()))]),
        )
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Text("x".into())]]);

    let missing = db
        .query("SELECT * FROM todos WHERE id = :id", &Params::Named(vec![]))
        .unwrap_err();
    assert_eq!(missing.code(), "BAD_PARAMS");
    assert!(missing.to_string().contains(":id"), "{missing}");
    let too_few = db.query(
        "SELECT * FROM todos WHERE id = ? AND done = ?",
        &Params::Positional(vec![Value::Null]),
    );
    assert_eq!(too_few.unwrap_err().code(), "BAD_PARAMS");
    let positional_as_named = db.query(
        "SELECT * FROM todos WHERE id = ?",
        &Params::Named(vec![("id".into(), Value::Null)]),
    );
    assert_eq!(positional_as_named.unwrap_err().code(), "BAD_PARAMS");
}

#[test]
fn sql_errors_carry_sqlite_extended_codes() {
    let db = memory_db(&[TODOS, "CREATE UNIQUE INDEX todos_title ON todos (title)"]);
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'x')",
        &Params::None,
    )
    .unwrap();
    let cases = [
        (
            "INSERT INTO todos (id, title) VALUES ('a', 'y')",
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        ),
        (
            "INSERT INTO todos (id, title) VALUES ('b', 'x')",
            "SQLITE_CONSTRAINT_UNIQUE",
        ),
        (
            "INSERT INTO todos (id, title) VALUES ('c', NULL)",
            "SQLITE_CONSTRAINT_NOTNULL",
        ),
        ("SELEC 1", "SQLITE_ERROR"),
        ("SELECT * FROM nope", "SQLITE_ERROR"),
        ("SELECT 1; SELECT 2", "SQLITE_ERROR"),
    ];
    for (sql, code) in cases {
        let err = db.execute(sql, &Params::None).unwrap_err();
        assert_eq!(err.code(), code, "{sql}: {err}");
        assert!(!err.to_string().is_empty());
    }
    // Nothing of the failed statements took effect.
    assert_eq!(count(&db, "SELECT count(*) FROM todos"), 1);
}

#[test]
fn a_batch_is_all_or_nothing() {
    let db = memory_db(&[TODOS]);
    let insert = |id: &str| Statement {
        sql: "INSERT INTO todos (id, title) VALUES (?, 'x')".into(),
        params: Params::Positional(vec![Value::Text(id.into())]),
    };
    let err = db
        .batch(&[insert("a"), insert("b"), insert("a")])
        .unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert_eq!(count(&db, "SELECT count(*) FROM todos"), 0);

    let results = db.batch(&[insert("a"), insert("b")]).unwrap();
    assert_eq!(
        results.iter().map(|r| r.rows_affected).collect::<Vec<_>>(),
        [1, 1]
    );
    assert_eq!(count(&db, "SELECT count(*) FROM todos"), 2);

    // Inside a transaction the app opened, a failing batch undoes only itself.
    db.begin().unwrap();
    db.execute("DELETE FROM todos WHERE id = 'a'", &Params::None)
        .unwrap();
    assert!(db.batch(&[insert("c"), insert("b")]).is_err());
    db.commit().unwrap();
    let ids = db
        .query("SELECT id FROM todos ORDER BY id", &Params::None)
        .unwrap()
        .rows;
    assert_eq!(ids, vec![vec![Value::Text("b".into())]]);
}

#[test]
fn execute_reports_changes_and_returning_rows_are_queryable() {
    let db = memory_db(&[TODOS]);
    let r = db
        .execute(
            "INSERT INTO todos (id, title) VALUES ('a', 'x'), ('b', 'y')",
            &Params::None,
        )
        .unwrap();
    assert_eq!(r.rows_affected, 2);
    let r = db.execute("SELECT * FROM todos", &Params::None).unwrap();
    assert_eq!(r.rows_affected, 0, "a read changes nothing");
    let rows = db
        .query("UPDATE todos SET done = 1 RETURNING id", &Params::None)
        .unwrap();
    assert_eq!(rows.rows.len(), 2);
}

#[test]
fn statement_tables_are_what_sqlite_touches() {
    let db = memory_db(&[
        TODOS,
        "CREATE TABLE lists (id TEXT PRIMARY KEY)",
        "CREATE TABLE log (what TEXT)",
        "CREATE VIEW open_todos AS SELECT * FROM todos WHERE done = 0",
        "CREATE TRIGGER todo_log AFTER INSERT ON todos BEGIN INSERT INTO log VALUES (NEW.id); END",
    ]);
    let names = |set: &std::collections::BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
    let read = db
        .statement_tables("SELECT count(*) FROM open_todos JOIN lists ON 1")
        .unwrap();
    assert_eq!(names(&read.reads), ["lists", "todos"]);
    assert!(read.writes.is_empty() && !read.schema && !read.rollback);

    let write = db
        .statement_tables("INSERT INTO todos (id, title) VALUES ('a', 'x')")
        .unwrap();
    assert_eq!(
        names(&write.writes),
        ["log", "todos"],
        "the trigger's write counts"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM todos", &Params::None)
            .unwrap()
            .rows[0][0],
        Value::Integer(0),
        "compiled, not run"
    );

    assert!(db.statement_tables("DROP TABLE lists").unwrap().schema);
    assert!(db.statement_tables("ROLLBACK").unwrap().rollback);
    assert_eq!(
        db.statement_tables("SELECT * FROM nope")
            .unwrap_err()
            .code(),
        "SQLITE_ERROR"
    );
}

#[test]
fn execute_many_runs_one_statement_over_many_params_all_or_nothing() {
    let db = memory_db(&[TODOS]);
    let rows = |ids: &[&str]| -> Vec<Params> {
        ids.iter()
            .map(|id| {
                Params::Positional(vec![
                    Value::Text(id.to_string()),
                    Value::Text(format!("task {id}")),
                ])
            })
            .collect()
    };
    let sql = "INSERT INTO todos (id, title) VALUES (?, ?)";
    let result = db.execute_many(sql, &rows(&["a", "b", "c"])).unwrap();
    assert_eq!(result.rows_affected, 3);
    assert_eq!(result.last_insert_rowid, 3);

    let err = db.execute_many(sql, &rows(&["d", "e", "a"])).unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert_eq!(
        count(&db, "SELECT count(*) FROM todos"),
        3,
        "d and e were rolled back with a"
    );
    let bad = db
        .execute_many(sql, &[Params::Positional(vec![Value::Null])])
        .unwrap_err();
    assert_eq!(bad.code(), "BAD_PARAMS");
}

#[test]
fn a_bulk_execute_many_on_a_wal_database_commits_and_keeps_the_wal() {
    let dir = tempdir();
    let options = OpenOptions {
        migrations: vec![TODOS.into()],
        exclusive: true,
        ..OpenOptions::default()
    };
    let db = Database::open(&Storage::File(dir.join("bulk.sqlite3")), &options).unwrap();
    let journal = |db: &Database| db.query("PRAGMA journal_mode", &Params::None).unwrap().rows;
    let wal = vec![vec![Value::Text("wal".into())]];
    assert_eq!(journal(&db), wal);
    let lists = |prefix: &str| -> Vec<Params> {
        (0..outpost::db::BULK_LISTS)
            .map(|i| {
                Params::Positional(vec![
                    Value::Text(format!("{prefix}{i}")),
                    Value::Text(format!("task {i}")),
                ])
            })
            .collect()
    };
    let sql = "INSERT INTO todos (id, title) VALUES (?, ?)";

    let done = db.execute_many(sql, &lists("a")).unwrap();
    assert_eq!(done.rows_affected as usize, outpost::db::BULK_LISTS);
    assert_eq!(journal(&db), wal, "the WAL is back after a bulk load");

    // A failing bulk load leaves nothing behind, and the WAL too.
    let mut failing = lists("b");
    failing.push(Params::Positional(vec![
        Value::Text("a0".into()),
        Value::Text("duplicate".into()),
    ]));
    let err = db.execute_many(sql, &failing).unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert_eq!(journal(&db), wal);

    // Inside a transaction the app opened, the journal cannot change: the load still works there.
    db.begin().unwrap();
    db.execute_many(sql, &lists("c")).unwrap();
    db.commit().unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) FROM todos"),
        2 * outpost::db::BULK_LISTS as i64
    );
    db.close().unwrap();

    // All of it is on disk.
    let reopened = Database::open(&Storage::File(dir.join("bulk.sqlite3")), &options).unwrap();
    assert_eq!(
        count(&reopened, "SELECT count(*) FROM todos"),
        2 * outpost::db::BULK_LISTS as i64
    );
    drop(reopened);
    let _ = std::fs::remove_dir_all(dir);
}

fn synced_memory_db() -> Database {
    let options = OpenOptions {
        migrations: vec![TODOS.to_string()],
        synced_tables: vec!["todos".into()],
        ..OpenOptions::default()
    };
    Database::open(&Storage::Memory, &options).unwrap()
}

fn todo_ids(db: &Database) -> Vec<Vec<Value>> {
    db.query("SELECT id FROM todos ORDER BY id", &Params::None)
        .unwrap()
        .rows
}

#[test]
fn transaction_statements_are_refused_before_anything_runs() {
    let db = synced_memory_db();
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'kept')",
        &Params::None,
    )
    .unwrap();
    let refused = [
        "BEGIN",
        "BEGIN IMMEDIATE TRANSACTION",
        "begin deferred",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT s",
        "RELEASE s",
        "RELEASE SAVEPOINT s",
        "ROLLBACK TO s",
    ];
    let insert_b = Statement {
        sql: "INSERT INTO todos (id, title) VALUES ('b', 'undone')".into(),
        params: Params::None,
    };
    for sql in refused {
        let stmt = Statement {
            sql: sql.into(),
            params: Params::None,
        };
        let errors = [
            db.execute(sql, &Params::None).map(drop),
            db.query(sql, &Params::None).map(drop),
            db.batch(&[insert_b.clone(), stmt]).map(drop),
            db.execute_many(sql, &[Params::None]).map(drop),
        ];
        for err in errors {
            let err = err.expect_err(sql);
            assert_eq!(err.code(), "TRANSACTION_STATEMENT", "{sql}: {err}");
            assert!(err.to_string().contains("transaction"), "{err}");
            assert!(matches!(err, Error::TransactionStatement(_)));
        }
        // Refused every time: a refused statement never reaches the statement cache.
        assert_eq!(
            db.execute(sql, &Params::None).unwrap_err().code(),
            "TRANSACTION_STATEMENT"
        );
        assert!(!db.in_transaction(), "{sql} opened nothing");
        assert_eq!(todo_ids(&db), vec![vec![Value::Text("a".into())]], "{sql}");
        assert_eq!(
            db.pending_count().unwrap(),
            1,
            "{sql}: only 'a' is in the outbox"
        );
    }
    // What the statements look like to watch() is unchanged: they are compiled, not refused.
    assert!(db.statement_tables("ROLLBACK TO s").unwrap().rollback);
}

#[test]
fn the_core_runs_its_own_savepoints_and_migrations_as_before() {
    // A migration may use savepoints: the core runs migrations in its own transaction.
    let db = memory_db(&[
        TODOS,
        "SAVEPOINT m; INSERT INTO todos (id, title) VALUES ('m', 'seed'); RELEASE m",
    ]);
    assert_eq!(todo_ids(&db), vec![vec![Value::Text("m".into())]]);
    // batch and execute_many open savepoints of their own, inside a transaction too.
    db.transaction(|db| {
        db.batch(&[Statement {
            sql: "INSERT INTO todos (id, title) VALUES ('n', 'x')".into(),
            params: Params::None,
        }])?;
        db.execute_many(
            "INSERT INTO todos (id, title) VALUES (?, 'y')",
            &[Params::Positional(vec![Value::Text("o".into())])],
        )
    })
    .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM todos"), 3);
}

#[test]
fn begin_commit_and_rollback_make_the_apps_transactions() {
    let db = memory_db(&[TODOS]);
    let insert = |id: &str| {
        db.execute(
            "INSERT INTO todos (id, title) VALUES (?, 'x')",
            &Params::Positional(vec![Value::Text(id.into())]),
        )
    };
    db.begin().unwrap();
    assert!(db.in_transaction());
    insert("a").unwrap();
    let nested = db.begin().unwrap_err();
    assert_eq!(nested.code(), "TRANSACTION_STATEMENT");
    assert!(nested.to_string().contains("do not nest"), "{nested}");
    db.rollback().unwrap();
    assert!(!db.in_transaction());
    assert!(todo_ids(&db).is_empty(), "rolled back");
    db.rollback().unwrap(); // nothing open: nothing to do
    assert_eq!(db.commit().unwrap_err().code(), "TRANSACTION_STATEMENT");

    db.begin().unwrap();
    insert("b").unwrap();
    db.commit().unwrap();
    assert_eq!(todo_ids(&db), vec![vec![Value::Text("b".into())]]);

    // The closure helper: committed on Ok, rolled back on an error, which is passed on.
    let made = db.transaction(|_| {
        insert("c")?;
        Ok("done")
    });
    assert_eq!(made.unwrap(), "done");
    let failed = db.transaction(|_| {
        insert("d")?;
        insert("b") // a duplicate key
    });
    assert_eq!(failed.unwrap_err().code(), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert!(!db.in_transaction());
    let ids: Vec<Vec<Value>> = ["b", "c"]
        .iter()
        .map(|id| vec![Value::Text((*id).into())])
        .collect();
    assert_eq!(todo_ids(&db), ids, "d was rolled back with its transaction");
    // A panic inside rolls back too.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = db.transaction(|_| -> outpost::Result<()> {
            insert("e")?;
            panic!("the app's code failed");
        });
    }));
    assert!(panicked.is_err());
    assert!(!db.in_transaction());
    assert_eq!(todo_ids(&db), ids);
}

#[test]
fn a_commit_that_fails_rolls_back() {
    let db = memory_db(&[
        "CREATE TABLE lists (id TEXT PRIMARY KEY)",
        "CREATE TABLE items (id TEXT PRIMARY KEY, list TEXT REFERENCES lists (id) DEFERRABLE INITIALLY DEFERRED)",
    ]);
    db.begin().unwrap();
    db.execute(
        "INSERT INTO items VALUES ('i', 'no such list')",
        &Params::None,
    )
    .unwrap();
    let err = db.commit().unwrap_err();
    assert_eq!(err.code(), "SQLITE_CONSTRAINT_FOREIGNKEY");
    assert!(!db.in_transaction(), "the transaction ended");
    assert_eq!(count(&db, "SELECT count(*) FROM items"), 0);
}

#[test]
fn sync_keeps_out_of_an_open_transaction_and_never_sees_what_it_rolled_back() {
    use outpost::protocol::{PullResponse, PushResponse};
    let db = synced_memory_db();
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'pushed')",
        &Params::None,
    )
    .unwrap();
    let push = db.push_request(100).unwrap().unwrap();
    let acked_through = push.mutations[0].seq;
    let response = PushResponse {
        acked_through,
        version: 1,
        ..PushResponse::default()
    };
    db.apply_push_response(&push, &response).unwrap();

    db.begin().unwrap();
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('b', 'undone')",
        &Params::None,
    )
    .unwrap();
    assert_eq!(db.push_request(100).unwrap_err().code(), "TRANSACTION_OPEN");
    assert_eq!(
        db.apply_push_response(&push, &response).unwrap_err().code(),
        "TRANSACTION_OPEN"
    );
    let pull = db.pull_request(0).unwrap();
    let err = db
        .apply_pull_response(
            &pull,
            &PullResponse {
                cursor: 1,
                ..PullResponse::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "TRANSACTION_OPEN");
    assert!(matches!(err, Error::TransactionOpen));
    db.rollback().unwrap();

    // Nothing of the rolled-back write is left to push.
    assert_eq!(db.pending_count().unwrap(), 0);
    assert!(db.push_request(100).unwrap().is_none());

    // The next write gets a seq the primary has not acknowledged, so it is applied, not taken
    // for a retry of something already applied.
    db.execute(
        "INSERT INTO todos (id, title) VALUES ('c', 'next')",
        &Params::None,
    )
    .unwrap();
    let next = db.push_request(100).unwrap().unwrap();
    assert_eq!(next.mutations.len(), 1);
    assert_eq!(next.mutations[0].key, vec![Value::Text("c".into())]);
    assert!(next.mutations[0].seq > acked_through);
}
