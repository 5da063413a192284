//! A mutation the primary refuses (its schema is stricter than the replica's) comes back in
//! `rejected` with SQLite's code, moves to `_outpost_rejected`, puts the row back to the
//! primary's state, and never blocks the good mutations around it.

use outpost::protocol::Op;
use outpost::sync::Transport;
use outpost::Value;
use outpost_tests::replica::text;
use outpost_tests::{block_on, HttpTransport, Replica, TestPrimary};

/// The primary insists on a title and a non-negative quantity...
const PRIMARY_SCHEMA: &str =
    "CREATE TABLE items(id TEXT PRIMARY KEY, title TEXT NOT NULL, qty INTEGER CHECK (qty >= 0))";
/// ...while the replicas' migrations do not.
const REPLICA_SCHEMA: &str = "CREATE TABLE items(id TEXT PRIMARY KEY, title TEXT, qty INTEGER)";
const ALL_ITEMS: &str = "SELECT id, title, qty FROM items ORDER BY id";

fn item(id: &str, title: &str, qty: i64) -> Vec<Value> {
    vec![text(id), text(title), Value::Integer(qty)]
}

#[test]
fn a_refused_mutation_comes_back_rejected_without_blocking_the_others() {
    let primary = TestPrimary::start(PRIMARY_SCHEMA);
    let dir = outpost_tests::scratch_dir();
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let a = Replica::open(dir.path(), "a", &[REPLICA_SCHEMA], &["items"]);
    let b = Replica::open(dir.path(), "b", &[REPLICA_SCHEMA], &["items"]);
    a.run("INSERT INTO items VALUES ('keep', 'kept', 1)");
    a.sync(&transport).unwrap();

    a.run("INSERT INTO items VALUES ('g1', 'good', 1)");
    a.run("INSERT INTO items VALUES ('bad', NULL, 1)");
    a.run("UPDATE items SET qty = -5 WHERE id = 'keep'");
    a.run("INSERT INTO items VALUES ('g2', 'good too', 2)");
    let request = a.db().push_request(100).unwrap().expect("four pending");
    let seqs: Vec<i64> = request.mutations.iter().map(|m| m.seq).collect();
    assert_eq!(seqs.len(), 4);

    let response = block_on(transport.push(&request)).unwrap();
    assert_eq!(response.acked_through, seqs[3]);
    let outcome = a.db().apply_push_response(&request, &response).unwrap();
    assert_eq!(outcome.pushed, 2, "the good ones landed");
    let rejected: Vec<(i64, Op, &str)> = outcome
        .rejected
        .iter()
        .map(|r| (r.seq, r.op, r.code.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (seqs[1], Op::Insert, "SQLITE_CONSTRAINT_NOTNULL"),
            (seqs[2], Op::Update, "SQLITE_CONSTRAINT_CHECK"),
        ]
    );
    let on_primary = vec![
        item("g1", "good", 1),
        item("g2", "good too", 2),
        item("keep", "kept", 1),
    ];
    assert_eq!(primary.rows("app", ALL_ITEMS), on_primary);
    // At once, without a pull: the refused insert is gone and the refused update undone.
    assert_eq!(a.rows(ALL_ITEMS), on_primary);
    assert_eq!(a.pending(), 0);
    assert_eq!(
        a.rows("SELECT seq, tbl, op, code FROM _outpost_rejected ORDER BY seq"),
        vec![
            vec![
                Value::Integer(seqs[1]),
                text("items"),
                text("insert"),
                text("SQLITE_CONSTRAINT_NOTNULL")
            ],
            vec![
                Value::Integer(seqs[2]),
                text("items"),
                text("update"),
                text("SQLITE_CONSTRAINT_CHECK")
            ],
        ]
    );

    // A retry of the same batch (its answer was lost) applies nothing and repeats the verdicts.
    let retry = block_on(transport.push(&request)).unwrap();
    assert_eq!(retry.acked_through, response.acked_through);
    assert_eq!(retry.rejected, response.rejected);
    assert_eq!(primary.rows("app", ALL_ITEMS), on_primary);

    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();
    assert_eq!(a.rows(ALL_ITEMS), on_primary);
    assert_eq!(b.rows(ALL_ITEMS), on_primary);
}
