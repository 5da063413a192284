//! Change capture and the sans-IO engine, fed hand-made primary answers: what the outbox records,
//! what a push settles, and what a pull does to local rows.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{row, run, text};
use outpost::db::OpenOptions;
use outpost::protocol::{Change, Op, PullResponse, PushResponse, Rejection};
use outpost::{Database, Params, Row, Storage, Value};

const TODOS: &str =
    "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

fn synced_db() -> Database {
    let options = OpenOptions {
        migrations: vec![TODOS.into(), "CREATE TABLE notes (body TEXT)".into()],
        synced_tables: vec!["todos".into()],
        ..OpenOptions::default()
    };
    Database::open(&Storage::Memory, &options).unwrap()
}

fn todos(db: &Database) -> Vec<Vec<Value>> {
    db.query(
        "SELECT id, title, done FROM todos ORDER BY id",
        &Params::None,
    )
    .unwrap()
    .rows
}

#[test]
fn each_changed_row_is_one_entry_and_updates_carry_only_changed_columns() {
    let db = synced_db();
    run(
        &db,
        "INSERT INTO todos (id, title) VALUES ('a', 'Buy milk'), ('b', 'Walk')",
    );
    run(&db, "UPDATE todos SET done = 1 WHERE id = 'a'");
    run(&db, "UPDATE todos SET done = done WHERE id = 'b'"); // changes nothing: no entry
    run(&db, "DELETE FROM todos WHERE id = 'b'");
    run(&db, "INSERT INTO notes VALUES ('not synced')");

    let request = db.push_request(100).unwrap().unwrap();
    let ops: Vec<(Op, Vec<Value>, Row)> = request
        .mutations
        .iter()
        .map(|m| (m.op, m.key.clone(), m.columns.clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (
                Op::Insert,
                vec![text("a")],
                row(&[
                    ("id", text("a")),
                    ("title", text("Buy milk")),
                    ("done", Value::Integer(0))
                ])
            ),
            (
                Op::Insert,
                vec![text("b")],
                row(&[
                    ("id", text("b")),
                    ("title", text("Walk")),
                    ("done", Value::Integer(0))
                ])
            ),
            (
                Op::Update,
                vec![text("a")],
                row(&[("done", Value::Integer(1))])
            ),
            (Op::Delete, vec![text("b")], Row::new()),
        ]
    );
    let seqs: Vec<i64> = request.mutations.iter().map(|m| m.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs increase: {seqs:?}"
    );
    assert_eq!(db.pending_count().unwrap(), 4);
}

#[test]
fn a_write_and_its_entry_commit_together_or_not_at_all() {
    let db = synced_db();
    // The second row violates NOT NULL: the statement fails, and neither row nor entry remains.
    let err = db.execute(
        "INSERT INTO todos (id, title) VALUES ('a', 'x'), ('b', NULL)",
        &Params::None,
    );
    assert_eq!(err.unwrap_err().code(), "SQLITE_CONSTRAINT_NOTNULL");
    assert!(todos(&db).is_empty());
    assert_eq!(db.pending_count().unwrap(), 0);

    db.begin().unwrap();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    db.rollback().unwrap();
    assert_eq!(db.pending_count().unwrap(), 0);
}

#[test]
fn changing_a_key_is_a_delete_and_an_insert() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    run(&db, "UPDATE todos SET id = 'z' WHERE id = 'a'");
    let request = db.push_request(100).unwrap().unwrap();
    let ops: Vec<(Op, Vec<Value>)> = request
        .mutations
        .iter()
        .map(|m| (m.op, m.key.clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (Op::Insert, vec![text("a")]),
            (Op::Delete, vec![text("a")]),
            (Op::Insert, vec![text("z")])
        ]
    );
}

#[test]
fn a_synced_table_needs_a_primary_key() {
    let options = OpenOptions {
        migrations: vec!["CREATE TABLE notes (body TEXT)".into()],
        synced_tables: vec!["notes".into()],
        ..OpenOptions::default()
    };
    let err = Database::open(&Storage::Memory, &options).err().unwrap();
    assert_eq!(err.code(), "BAD_OPTIONS");
    assert!(err.to_string().contains("PRIMARY KEY"), "{err}");
    let options = OpenOptions {
        synced_tables: vec!["missing".into()],
        ..OpenOptions::default()
    };
    assert_eq!(
        Database::open(&Storage::Memory, &options)
            .err()
            .unwrap()
            .code(),
        "BAD_OPTIONS"
    );
}

#[test]
fn pulled_rows_do_not_enter_the_outbox_and_pending_edits_stay_on_top() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'mine')");
    let request = db.pull_request(0).unwrap();
    let response = PullResponse {
        changes: vec![
            Change {
                version: 1,
                table: "todos".into(),
                key: vec![text("a")],
                row: Some(row(&[
                    ("id", text("a")),
                    ("title", text("theirs")),
                    ("done", Value::Integer(1)),
                ])),
            },
            Change {
                version: 2,
                table: "todos".into(),
                key: vec![text("b")],
                row: Some(row(&[
                    ("id", text("b")),
                    ("title", text("B")),
                    ("done", Value::Integer(0)),
                ])),
            },
            Change {
                version: 3,
                table: "todos".into(),
                key: vec![text("gone")],
                row: None,
            },
        ],
        cursor: 3,
        more: false,
        ..PullResponse::default()
    };
    let outcome = db.apply_pull_response(&request, &response).unwrap();
    assert_eq!(outcome.pulled, 3);
    assert_eq!(outcome.tables.into_iter().collect::<Vec<_>>(), ["todos"]);
    // The local insert of 'a' is still pending, so its title wins locally until pushed.
    assert_eq!(
        todos(&db),
        vec![
            vec![text("a"), text("mine"), Value::Integer(0)],
            vec![text("b"), text("B"), Value::Integer(0)]
        ]
    );
    assert_eq!(
        db.pending_count().unwrap(),
        1,
        "pulled rows were not captured"
    );
    assert_eq!(db.cursor().unwrap(), 3);

    // An answer to an older cursor is discarded, not applied over newer state.
    let stale = db.apply_pull_response(&request, &response).unwrap();
    assert!(stale.stale);
    assert_eq!(db.cursor().unwrap(), 3);
}

#[test]
fn acked_entries_stay_until_a_pulled_state_holds_them() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'mine')");
    let push = db.push_request(100).unwrap().unwrap();
    let outcome = db
        .apply_push_response(
            &push,
            &PushResponse {
                acked_through: push.mutations[0].seq,
                version: 7,
                rejected: vec![],
                ..PushResponse::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.pushed, 1);
    assert_eq!(db.pending_count().unwrap(), 0);
    assert!(
        db.push_request(100).unwrap().is_none(),
        "an acked entry is not pushed again"
    );

    // A pull read before the push landed (its state holds none of this client's writes) must
    // not undo the local write.
    let pull = db.pull_request(0).unwrap();
    let before = PullResponse {
        changes: vec![Change {
            version: 5,
            table: "todos".into(),
            key: vec![text("a")],
            row: None,
        }],
        cursor: 5,
        more: false,
        acked_through: Some(0),
        ..PullResponse::default()
    };
    db.apply_pull_response(&pull, &before).unwrap();
    assert_eq!(
        todos(&db),
        vec![vec![text("a"), text("mine"), Value::Integer(0)]]
    );

    let pull = db.pull_request(0).unwrap();
    let after = PullResponse {
        changes: vec![Change {
            version: 7,
            table: "todos".into(),
            key: vec![text("a")],
            row: Some(row(&[
                ("id", text("a")),
                ("title", text("mine")),
                ("done", Value::Integer(0)),
            ])),
        }],
        cursor: 7,
        more: false,
        acked_through: Some(push.mutations[0].seq),
        ..PullResponse::default()
    };
    db.apply_pull_response(&pull, &after).unwrap();
    let left = db
        .query("SELECT count(*) FROM _outpost_outbox", &Params::None)
        .unwrap()
        .rows;
    assert_eq!(
        left,
        vec![vec![Value::Integer(0)]],
        "the entry left once a pulled state held it"
    );
}

#[test]
fn a_rejected_mutation_moves_aside_and_its_row_returns_to_the_primary_state() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    run(&db, "INSERT INTO todos (id, title) VALUES ('b', 'y')");
    let push = db.push_request(100).unwrap().unwrap();
    let (first, second) = (push.mutations[0].seq, push.mutations[1].seq);
    let response = PushResponse {
        acked_through: second,
        version: 3,
        rejected: vec![Rejection {
            seq: first,
            code: "SQLITE_CONSTRAINT_CHECK".into(),
            reason: "no".into(),
            row: None,
        }],
        ..PushResponse::default()
    };
    let outcome = db.apply_push_response(&push, &response).unwrap();
    assert_eq!(
        outcome.pushed, 1,
        "the entry behind the rejected one went through"
    );
    assert_eq!(outcome.rejected.len(), 1);
    assert_eq!(outcome.rejected[0].code, "SQLITE_CONSTRAINT_CHECK");
    assert_eq!(
        todos(&db),
        vec![vec![text("b"), text("y"), Value::Integer(0)]],
        "row 'a' went back to absent"
    );
    let rejected = db
        .query("SELECT tbl, op, code FROM _outpost_rejected", &Params::None)
        .unwrap()
        .rows;
    assert_eq!(
        rejected,
        vec![vec![
            text("todos"),
            text("insert"),
            text("SQLITE_CONSTRAINT_CHECK")
        ]]
    );
    assert_eq!(db.pending_count().unwrap(), 0);
}

#[test]
fn pending_writes_lists_the_outbox_oldest_first_until_it_is_acknowledged() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    run(&db, "UPDATE todos SET done = 1 WHERE id = 'a'");
    run(&db, "DELETE FROM todos WHERE id = 'a'");
    run(&db, "INSERT INTO notes VALUES ('not synced')");

    let all = db.pending_writes(100).unwrap();
    assert_eq!(all.count, 3);
    let listed: Vec<(Op, Vec<Value>, Row)> = all
        .writes
        .iter()
        .map(|w| (w.op, w.key.clone(), w.columns.clone()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                Op::Insert,
                vec![text("a")],
                row(&[
                    ("id", text("a")),
                    ("title", text("x")),
                    ("done", Value::Integer(0))
                ])
            ),
            (
                Op::Update,
                vec![text("a")],
                row(&[("done", Value::Integer(1))])
            ),
            (Op::Delete, vec![text("a")], Row::new()),
        ]
    );
    assert!(all.writes.iter().all(|w| w.table == "todos"));
    assert_eq!(
        all.writes,
        db.push_request(100).unwrap().unwrap().mutations,
        "listed exactly as they will be pushed"
    );

    let first = db.pending_writes(1).unwrap();
    assert_eq!(first.count, 3, "the count is of all of them");
    assert_eq!(first.writes, all.writes[..1]);
    assert!(db.pending_writes(0).unwrap().writes.is_empty());

    // Acknowledged entries stay in the outbox until a pull reaches them, but are no longer pending.
    let push = db.push_request(100).unwrap().unwrap();
    let acked_through = push.mutations[1].seq;
    db.apply_push_response(
        &push,
        &PushResponse {
            acked_through,
            version: 4,
            rejected: vec![],
            ..PushResponse::default()
        },
    )
    .unwrap();
    let left = db.pending_writes(100).unwrap();
    assert_eq!(left.count, 1);
    assert_eq!(left.writes, all.writes[2..]);
}

#[test]
fn rejected_writes_keep_their_content_until_discarded() {
    let db = synced_db();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    run(&db, "INSERT INTO todos (id, title) VALUES ('b', 'y')");
    run(&db, "INSERT INTO todos (id, title) VALUES ('c', 'z')");
    let push = db.push_request(100).unwrap().unwrap();
    let seqs: Vec<i64> = push.mutations.iter().map(|m| m.seq).collect();
    let refuse = |seq: i64, code: &str| Rejection {
        seq,
        code: code.into(),
        reason: format!("{code} on {seq}"),
        row: None,
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    db.apply_push_response(
        &push,
        &PushResponse {
            acked_through: seqs[2],
            version: 3,
            rejected: vec![
                refuse(seqs[0], "SQLITE_CONSTRAINT_CHECK"),
                refuse(seqs[2], "UNKNOWN_COLUMN"),
            ],
            ..PushResponse::default()
        },
    )
    .unwrap();

    let rejected = db.rejected_writes(100).unwrap();
    assert_eq!(rejected.count, 2);
    let listed: Vec<(i64, &str, Op, Vec<Value>, &str)> = rejected
        .writes
        .iter()
        .map(|w| {
            let m = &w.mutation;
            (
                m.seq,
                m.table.as_str(),
                m.op,
                m.key.clone(),
                m.code.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (
                seqs[2],
                "todos",
                Op::Insert,
                vec![text("c")],
                "UNKNOWN_COLUMN"
            ),
            (
                seqs[0],
                "todos",
                Op::Insert,
                vec![text("a")],
                "SQLITE_CONSTRAINT_CHECK"
            ),
        ],
        "newest first"
    );
    let newest = &rejected.writes[0];
    assert_eq!(
        newest.mutation.reason,
        format!("UNKNOWN_COLUMN on {}", seqs[2])
    );
    assert_eq!(
        newest.mutation.columns,
        row(&[
            ("id", text("c")),
            ("title", text("z")),
            ("done", Value::Integer(0))
        ]),
        "the refused content is still readable"
    );
    assert!(newest.rejected_at_ms >= before * 1000 && newest.rejected_at_ms % 1000 == 0);
    assert!(newest.rejected_at_ms <= (before + 60) * 1000);
    assert_eq!(db.rejected_writes(1).unwrap().writes, rejected.writes[..1]);
    assert_eq!(db.pending_writes(100).unwrap().count, 0);

    assert_eq!(db.discard_rejected(Some(seqs[2])).unwrap(), 1);
    assert_eq!(
        db.discard_rejected(Some(seqs[2])).unwrap(),
        0,
        "already gone"
    );
    assert_eq!(
        db.discard_rejected(Some(seqs[1])).unwrap(),
        0,
        "never rejected"
    );
    let left = db.rejected_writes(100).unwrap();
    assert_eq!(left.count, 1);
    assert_eq!(left.writes, rejected.writes[1..]);
    assert_eq!(db.discard_rejected(None).unwrap(), 1);
    assert_eq!(db.rejected_writes(100).unwrap().count, 0);
}

#[test]
fn a_database_without_synced_tables_has_no_pending_or_rejected_writes() {
    let db = Database::open(
        &Storage::Memory,
        &OpenOptions {
            migrations: vec![TODOS.into()],
            ..OpenOptions::default()
        },
    )
    .unwrap();
    run(&db, "INSERT INTO todos (id, title) VALUES ('a', 'x')");
    assert_eq!(db.pending_writes(10).unwrap().count, 0);
    assert!(db.pending_writes(10).unwrap().writes.is_empty());
    assert_eq!(db.rejected_writes(10).unwrap().count, 0);
    assert_eq!(db.discard_rejected(None).unwrap(), 0);
}
