//! A pull moves a replica to a state the primary actually had, as a whole (invariant 8): a UNIQUE
//! column whose values two rows swap, or children whose parents come on a later page, must not
//! make a pull fail on every retry, and nothing of a pull shows before its last page.

use outpost::protocol::PullRequest;
use outpost::sync::PullOutcome;
use outpost::sync::Transport;
use outpost::{Error, Result, Value};
use outpost_tests::replica::text;
use outpost_tests::{block_on, scratch_dir, HttpTransport, Replica, TestPrimary};

const POSITIONS: &str = "CREATE TABLE items(id TEXT PRIMARY KEY, list TEXT NOT NULL, \
                         position INTEGER NOT NULL, UNIQUE(list, position))";
const ALL_ITEMS: &str = "SELECT id, list, position FROM items ORDER BY id";

const FAMILY: &str = "
CREATE TABLE parents(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE children(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parents(id) ON DELETE CASCADE, name TEXT);
";

#[test]
fn a_reorder_that_swaps_unique_positions_reaches_an_older_replica() {
    let primary = TestPrimary::start(POSITIONS);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let a = Replica::open(dir.path(), "a", &[POSITIONS], &["items"]);
    let b = Replica::open(dir.path(), "b", &[POSITIONS], &["items"]);
    a.run("INSERT INTO items VALUES ('x', 'l', 1), ('y', 'l', 2), ('z', 'l', 3)");
    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();

    // A reorders through a free slot, as an app must with UNIQUE(list, position): x and z swap.
    a.run("UPDATE items SET position = 99 WHERE id = 'x'");
    a.run("UPDATE items SET position = 1 WHERE id = 'z'");
    a.run("UPDATE items SET position = 3 WHERE id = 'x'");
    a.sync(&transport).unwrap();

    // B receives z at 1 (while its x still holds 1) before x at 3.
    b.sync(&transport).expect("the pull applies as a whole");
    let expected = vec![
        vec![text("x"), text("l"), Value::Integer(3)],
        vec![text("y"), text("l"), Value::Integer(2)],
        vec![text("z"), text("l"), Value::Integer(1)],
    ];
    assert_eq!(b.rows(ALL_ITEMS), expected);
    assert_eq!(primary.rows("app", ALL_ITEMS), expected);
}

/// One page of at most `limit` changes pulled and applied; a page before the last is staged as
/// the bytes it came in (`rows_an_older_version_staged...` stages them encoded again).
fn pull_one_page(replica: &Replica, transport: &HttpTransport, limit: u32) -> Result<PullOutcome> {
    let request = PullRequest {
        limit: Some(limit),
        ..replica.db().pull_request(0).unwrap()
    };
    let (response, body) = block_on(transport.pull_page(&request))?;
    replica
        .db()
        .apply_pull_page(&request, &response, body.as_deref())
}

/// Pull in pages of `page` changes until the primary has no more; answers how many pages.
fn pull_in_pages(replica: &Replica, transport: &HttpTransport, page: u32) -> usize {
    let mut pages = 0;
    loop {
        let outcome = pull_one_page(replica, transport, page).expect("every page applies");
        pages += 1;
        if !outcome.more {
            return pages;
        }
        if pages == 1 {
            // Nothing of an unfinished pull is visible.
            assert!(replica.rows("SELECT id FROM children").is_empty());
        }
    }
}

#[test]
fn a_first_pull_over_several_pages_holds_children_whose_parents_changed_later() {
    let primary = TestPrimary::start(FAMILY);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(dir.path(), "w", &[FAMILY], &["parents", "children"]);
    writer.run("INSERT INTO parents VALUES (1, 'p1'), (2, 'p2')");
    writer.run("INSERT INTO children VALUES (10, 1, 'c10'), (11, 1, 'c11'), (20, 2, 'c20')");
    writer.sync(&transport).unwrap();
    // The parents' newer versions put them after their children in version order.
    writer.run("UPDATE parents SET name = name || '!'");
    writer.sync(&transport).unwrap();

    let fresh = Replica::open(dir.path(), "fresh", &[FAMILY], &["parents", "children"]);
    let pages = pull_in_pages(&fresh, &transport, 2);
    assert!(pages >= 3, "the pull took {pages} pages");
    assert_eq!(
        fresh.rows("SELECT id, parent FROM children ORDER BY id"),
        primary.rows("app", "SELECT id, parent FROM children ORDER BY id")
    );
    assert_eq!(
        fresh.rows("SELECT id, name FROM parents ORDER BY id"),
        vec![
            vec![Value::Integer(1), text("p1!")],
            vec![Value::Integer(2), text("p2!")]
        ]
    );
    assert!(fresh.rows("PRAGMA foreign_key_check").is_empty());
    // Foreign keys are back on for the app's own writes.
    assert!(fresh
        .execute(
            "INSERT INTO children VALUES (99, 42, 'orphan')",
            outpost::Params::None
        )
        .is_err());
}

#[test]
fn a_pulled_parent_delete_does_not_cascade_past_the_primary_state() {
    let primary = TestPrimary::start(FAMILY);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let a = Replica::open(dir.path(), "a", &[FAMILY], &["parents", "children"]);
    let b = Replica::open(dir.path(), "b", &[FAMILY], &["parents", "children"]);
    a.run("INSERT INTO parents VALUES (1, 'p1')");
    a.run("INSERT INTO children VALUES (10, 1, 'c10')");
    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();
    // A parent replaced by a key change keeps its children on the primary only if they move too;
    // here the primary deletes the parent and cascades, and the pull brings both tombstones.
    a.run("DELETE FROM parents WHERE id = 1");
    a.sync(&transport).unwrap();
    b.sync(&transport).unwrap();
    assert!(b.rows("SELECT id FROM children").is_empty());
    assert!(primary.rows("app", "SELECT id FROM children").is_empty());
    assert_eq!(b.pending(), 0, "the pull's deletes were not captured");
}

/// A large pull applies with the capture triggers dropped (they cost a page copy per row even
/// with capture off) and creates them again before it commits: writes after it are captured,
/// a REPLACE's removal of a colliding row too, and reach the primary.
#[test]
fn writes_after_a_large_pull_are_captured_as_before() {
    let primary = TestPrimary::start(POSITIONS);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let a = Replica::open(dir.path(), "a", &[POSITIONS], &["items"]);
    a.run(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
         INSERT INTO items SELECT 'i' || i, 'l', i FROM n",
    );
    a.sync(&transport).unwrap();

    let b = Replica::open(dir.path(), "b", &[POSITIONS], &["items"]);
    b.sync(&transport).unwrap();
    assert_eq!(
        b.rows("SELECT count(*) FROM items"),
        vec![vec![Value::Integer(1500)]]
    );
    assert_eq!(b.pending(), 0, "nothing pulled enters the outbox");
    b.run("INSERT INTO items VALUES ('new', 'l', 2000)");
    // Takes position 1 from i1: the capture records i1's delete, then the new row.
    b.run("INSERT OR REPLACE INTO items VALUES ('taker', 'l', 1)");
    assert_eq!(b.pending(), 3);
    b.sync(&transport).unwrap();
    assert_eq!(b.pending(), 0);
    let on_primary = primary.rows("app", ALL_ITEMS);
    assert_eq!(on_primary, b.rows(ALL_ITEMS));
    assert_eq!(on_primary.len(), 1501);
    assert!(!on_primary.contains(&vec![text("i1"), text("l"), Value::Integer(1)]));
}

/// A replica upgraded in the middle of a long pull holds rows an older version staged one by
/// one: the pull goes on from where it was, and its last page applies those rows, then the pages
/// staged since, as one state.
#[test]
fn rows_an_older_version_staged_apply_with_the_pages_after_them() {
    let primary = TestPrimary::start(POSITIONS);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(dir.path(), "w", &[POSITIONS], &["items"]);
    writer.run(
        "INSERT INTO items VALUES ('a', 'l', 1), ('b', 'l', 2), ('c', 'l', 3), ('d', 'l', 4), \
         ('e', 'l', 5), ('f', 'l', 6)",
    );
    writer.sync(&transport).unwrap();
    // Later versions: a swap through a free slot, and a delete.
    writer.run("UPDATE items SET position = 99 WHERE id = 'a'");
    writer.run("UPDATE items SET position = 1 WHERE id = 'b'");
    writer.run("UPDATE items SET position = 2 WHERE id = 'a'");
    writer.run("DELETE FROM items WHERE id = 'c'");
    writer.sync(&transport).unwrap();

    let fresh = Replica::open(dir.path(), "fresh", &[POSITIONS], &["items"]);
    let mut pages = 0;
    loop {
        let request = PullRequest {
            limit: Some(2),
            ..fresh.db().pull_request(0).unwrap()
        };
        let response = block_on(transport.pull(&request)).unwrap();
        let outcome = fresh.db().apply_pull_response(&request, &response).unwrap();
        pages += 1;
        if !outcome.more {
            break;
        }
        if pages == 1 {
            // The first page, as the older version kept it: one stage row per change.
            fresh.run(
                "INSERT INTO _outpost_stage (tbl, key, row)
                 SELECT value ->> '$.table', value -> '$.key', json(value -> '$.row')
                 FROM _outpost_stage_pages, json_each(page, '$.changes') ORDER BY _outpost_stage_pages.ord, key",
            );
            fresh.run("DELETE FROM _outpost_stage_pages");
            assert!(!fresh.rows("SELECT 1 FROM _outpost_stage").is_empty());
        }
    }
    assert!(pages >= 3, "the pull took {pages} pages");
    let expected = vec![
        vec![text("a"), text("l"), Value::Integer(2)],
        vec![text("b"), text("l"), Value::Integer(1)],
        vec![text("d"), text("l"), Value::Integer(4)],
        vec![text("e"), text("l"), Value::Integer(5)],
        vec![text("f"), text("l"), Value::Integer(6)],
    ];
    assert_eq!(primary.rows("app", ALL_ITEMS), expected);
    assert_eq!(fresh.rows(ALL_ITEMS), expected);
    assert!(fresh
        .rows("SELECT 1 FROM _outpost_stage UNION ALL SELECT 1 FROM _outpost_stage_pages")
        .is_empty());
}

/// A staged page the last page cannot read (a primary that sent a malformed change in a page
/// before the last, or a stage written by a version this one cannot read) fails that pull once,
/// and is dropped with the rest of the stage: the next pull starts again from the cursor before
/// it, instead of failing on it from then on.
#[test]
fn a_staged_page_that_cannot_be_read_is_dropped_and_the_pull_starts_again() {
    let primary = TestPrimary::start(POSITIONS);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let writer = Replica::open(dir.path(), "w", &[POSITIONS], &["items"]);
    writer.run("INSERT INTO items VALUES ('a', 'l', 1), ('b', 'l', 2), ('c', 'l', 3)");
    writer.sync(&transport).unwrap();

    let fresh = Replica::open(dir.path(), "fresh", &[POSITIONS], &["items"]);
    assert!(pull_one_page(&fresh, &transport, 2).unwrap().more);
    assert!(!fresh.rows("SELECT 1 FROM _outpost_stage_pages").is_empty());
    fresh.run("UPDATE _outpost_stage_pages SET page = json_set(page, '$.changes[0]', 'a')");

    let failed = pull_one_page(&fresh, &transport, 2).unwrap_err();
    assert!(matches!(failed, Error::Protocol(_)), "{failed:?}");
    assert!(fresh.rows(ALL_ITEMS).is_empty());
    assert!(fresh.rows("SELECT 1 FROM _outpost_stage_pages").is_empty());
    assert_eq!(fresh.db().cursor().unwrap(), 0);

    // Started again: two pages, the first staged, then both applied.
    assert!(pull_one_page(&fresh, &transport, 2).unwrap().more);
    assert!(!pull_one_page(&fresh, &transport, 2).unwrap().more);
    assert_eq!(fresh.rows(ALL_ITEMS), primary.rows("app", ALL_ITEMS));
    assert_eq!(fresh.rows(ALL_ITEMS).len(), 3);
}
