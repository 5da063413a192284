//! A replica that syncs a subset of a table (one list at a time), within what the rules let it
//! read: it receives exactly the rows of its subset, rows moving in and out of it follow, and a
//! changed subset brings the rows it gained without pulling again what the replica holds.

use std::time::Duration;

use outpost::codes;
use outpost::sync::{SubsetChoice, TableSubset};
use outpost::Value;
use outpost_primary::{mint_token, Auth};
use outpost_tests::replica::text;
use outpost_tests::team::{self, TABLES, TASKS};
use outpost_tests::{scratch_dir, Backend, HttpTransport, Replica, TestPrimary};
use serde_json::json;

use super::SECRET;

on_every_store!(
    a_replica_syncs_its_subset_and_changes_it_without_pulling_again,
    a_subset_narrows_what_the_rules_allow_and_never_widens_it,
    a_bad_subset_is_refused_and_changes_nothing,
);

/// More tasks in list l1 than one pull page holds, so that gaining l1 takes several pages.
const L1_TASKS: usize = outpost::protocol::MAX_PULL_CHANGES as usize + 200;

/// Sync only the rows of each table whose column holds one of the values.
fn only(subsets: &[(&str, &str, &[&str])]) -> SubsetChoice {
    subsets
        .iter()
        .map(|(table, column, values)| {
            let subset = TableSubset {
                column: column.to_string(),
                values: values.iter().map(|v| text(v)).collect(),
            };
            (table.to_string(), subset)
        })
        .collect()
}

/// The primary's tasks of the given lists, as the replica's TASKS query lists them.
fn tasks_of(primary: &TestPrimary, lists: &[&str]) -> Vec<Vec<Value>> {
    let all = primary.rows("app", TASKS);
    all.into_iter()
        .filter(|row| lists.iter().any(|l| row[1] == text(l)))
        .collect()
}

fn a_replica_syncs_its_subset_and_changes_it_without_pulling_again(store: Backend) {
    let primary = TestPrimary::start_on(store, team::SCHEMA, Auth::None);
    let http = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(dir.path(), "writer", &[team::SCHEMA], &TABLES);
    writer.run("INSERT INTO lists VALUES ('l0', 'ann', 'zero'), ('l1', 'ann', 'one'), ('l2', 'ann', 'two')");
    writer.run(
        "INSERT INTO tasks VALUES ('a0', 'l0', 'ann', 'a'), ('a1', 'l0', 'ann', 'b'), \
         ('a2', 'l0', 'ann', 'c'), ('c0', 'l2', 'ann', 'x')",
    );
    writer.run(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {L1_TASKS}) \
         INSERT INTO tasks SELECT 'b' || i, 'l1', 'ann', 'task ' || i FROM n"
    ));
    writer.sync(&http).unwrap();

    // Chosen before the first pull: list l0 and its tasks only.
    let reader = Replica::open(dir.path(), "reader", &[team::SCHEMA], &TABLES);
    let l0 = only(&[("lists", "id", &["l0"]), ("tasks", "list_id", &["l0"])]);
    reader.db().set_subset(&l0).unwrap();
    let report = reader.sync(&http).unwrap();
    assert_eq!(report.pulled, 4, "one list and its three tasks: {report:?}");
    assert_eq!(reader.rows(TASKS), tasks_of(&primary, &["l0"]));
    assert_eq!(reader.db().subset().unwrap(), l0);

    // Rows move in and out of the subset on the primary.
    writer.run("UPDATE tasks SET list_id = 'l2' WHERE id = 'a0'");
    writer.run("UPDATE tasks SET list_id = 'l0' WHERE id = 'b1'");
    writer.run("UPDATE tasks SET title = 'renamed' WHERE id = 'b2'");
    writer.sync(&http).unwrap();
    reader.sync(&http).unwrap();
    assert_eq!(reader.rows(TASKS), tasks_of(&primary, &["l0"]));

    // Gaining l1 (several pages of it) brings its tasks and nothing else again.
    let l0_l1 = only(&[
        ("lists", "id", &["l0"]),
        ("tasks", "list_id", &["l0", "l1"]),
    ]);
    assert!(reader.db().set_subset(&l0_l1).unwrap().is_empty());
    let report = reader.sync(&http).unwrap();
    let l1 = tasks_of(&primary, &["l1"]);
    assert_eq!(
        report.pulled,
        l1.len(),
        "only the tasks of l1 come: {report:?}"
    );
    assert_eq!(reader.rows(TASKS), tasks_of(&primary, &["l0", "l1"]));

    // A write the replica has not pushed yet survives its row leaving the subset.
    reader.run("UPDATE tasks SET title = 'edited offline' WHERE id = 'a1'");
    let l1_only = only(&[("lists", "id", &["l0"]), ("tasks", "list_id", &["l1"])]);
    assert_eq!(reader.db().set_subset(&l1_only).unwrap(), vec!["tasks"]);
    assert_eq!(reader.rows(TASKS), l1, "l0's tasks leave at once");
    assert_eq!(
        reader.pending(),
        1,
        "leaving the subset writes nothing of its own"
    );
    let report = reader.sync(&http).unwrap();
    assert_eq!(
        report.pulled, 1,
        "narrowing pulls nothing; the edited task's own change comes back as a tombstone: {report:?}"
    );
    assert_eq!(reader.rows(TASKS), l1);
    assert_eq!(
        primary.rows("app", "SELECT title FROM tasks WHERE id = 'a1'"),
        vec![vec![text("edited offline")]]
    );

    // The replica moves a task out of its own subset: it is pushed, then leaves the replica.
    reader.run("UPDATE tasks SET list_id = 'l2' WHERE id = 'b3'");
    reader.sync(&http).unwrap();
    assert_eq!(reader.rows(TASKS), tasks_of(&primary, &["l1"]));
    assert_eq!(
        primary.rows("app", "SELECT list_id FROM tasks WHERE id = 'b3'"),
        vec![vec![text("l2")]]
    );

    // Tasks whole again: everything comes, and the replica equals the primary.
    let lists_only = only(&[("lists", "id", &["l0"])]);
    reader.db().set_subset(&lists_only).unwrap();
    reader.sync(&http).unwrap();
    assert_eq!(reader.rows(TASKS), primary.rows("app", TASKS));
    assert_eq!(
        reader.rows(team::LISTS),
        primary.rows("app", "SELECT id, owner, name FROM lists WHERE id = 'l0'")
    );
    assert_eq!(reader.pending(), 0);
}

fn token(user: &str) -> String {
    mint_token(SECRET, user, "app", Duration::from_secs(3600))
}

fn a_subset_narrows_what_the_rules_allow_and_never_widens_it(store: Backend) {
    let primary = TestPrimary::new(store, team::SCHEMA, Auth::Secret(SECRET.to_vec()))
        .with_rules(team::RULES)
        .started();
    // Written by the app's backend, behind the server: ann is in l0 and l1, not in l2.
    let seed = [
        "INSERT INTO lists VALUES ('l0', 'ann', 'zero'), ('l1', 'ann', 'one'), ('l2', 'bob', 'two')",
        "INSERT INTO members VALUES ('l0', 'ann'), ('l1', 'ann'), ('l2', 'bob')",
        "INSERT INTO tasks VALUES ('a', 'l0', 'ann', 'a'), ('b', 'l1', 'ann', 'b'), \
         ('c', 'l2', 'bob', 'c'), ('d', 'l1', 'ann', 'd')",
    ];
    // The first request creates the database.
    let first = json!({"v": 2, "cursor": 0, "tables": ["tasks"]});
    primary
        .api("app")
        .with_token(&token("ann"))
        .post("pull", &first);
    for sql in seed {
        primary.execute("app", sql, &[]).expect(sql);
    }
    let http = HttpTransport::new(primary.endpoint(), "app").with_token(&token("ann"));
    let dir = scratch_dir();
    let ann = Replica::open(dir.path(), "ann", &[team::SCHEMA], &TABLES);
    // She asks for l1 and l2; the rules give her l1 only.
    ann.db()
        .set_subset(&only(&[("tasks", "list_id", &["l1", "l2"])]))
        .unwrap();
    ann.sync(&http).unwrap();
    assert_eq!(ann.rows(TASKS), tasks_of(&primary, &["l1"]));

    // Gaining l0 brings its task; l2 stays out of reach.
    ann.db()
        .set_subset(&only(&[("tasks", "list_id", &["l0", "l1", "l2"])]))
        .unwrap();
    let report = ann.sync(&http).unwrap();
    assert_eq!(report.pulled, 1, "{report:?}");
    assert_eq!(ann.rows(TASKS), tasks_of(&primary, &["l0", "l1"]));

    // bob adds her to l2: within her subset, its task moves in.
    primary
        .execute("app", "INSERT INTO members VALUES ('l2', 'ann')", &[])
        .unwrap();
    ann.sync(&http).unwrap();
    assert_eq!(ann.rows(TASKS), primary.rows("app", TASKS));
}

fn a_bad_subset_is_refused_and_changes_nothing(store: Backend) {
    let primary = TestPrimary::start_on(store, team::SCHEMA, Auth::None);
    let api = primary.api("app");
    let cases = [
        (
            json!({"lists": {"column": "id", "values": ["l0"]}}),
            codes::BAD_REQUEST,
        ),
        (
            json!({"tasks": {"column": "colour", "values": ["red"]}}),
            codes::UNKNOWN_COLUMN,
        ),
        (
            json!({"tasks": {"column": "list_id", "values": [1.5]}}),
            codes::BAD_REQUEST,
        ),
        (
            json!({"tasks": {"column": "list id", "values": ["l0"]}}),
            codes::BAD_NAME,
        ),
    ];
    for (subset, code) in cases {
        let body = json!({"v": 2, "cursor": 0, "tables": ["tasks"], "subset": subset});
        let (status, answer) = api.post("pull", &body);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{subset}: {answer}"
        );
    }

    let dir = scratch_dir();
    let replica = Replica::open(dir.path(), "r", &[team::SCHEMA], &["tasks"]);
    let kept = only(&[("tasks", "list_id", &["l0"])]);
    replica.db().set_subset(&kept).unwrap();
    let bad = [
        only(&[("lists", "id", &["l0"])]),
        only(&[("tasks", "colour", &["red"])]),
        [(
            "tasks".to_string(),
            TableSubset {
                column: "list_id".into(),
                values: vec![Value::Real(1.5)],
            },
        )]
        .into_iter()
        .collect(),
    ];
    for choice in bad {
        let err = replica.db().set_subset(&choice).unwrap_err();
        assert_eq!(err.code(), codes::BAD_OPTIONS, "{choice:?}: {err}");
        assert_eq!(replica.db().subset().unwrap(), kept);
    }
}
