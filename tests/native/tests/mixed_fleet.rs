//! A mixed-version fleet, on both stores: replicas of version 1 and version 2 of an app (v2 adds a
//! nullable column, a defaulted column and a new synced table) sync with one primary, which is
//! upgraded to v2 in the middle of the run, and one v1 replica upgrades on the way. Every version
//! writes before, during and after the primary's upgrade. In the end every replica equals the
//! primary on the columns it knows, nothing any replica wrote is lost, what v2 wrote survives
//! v1's edits, and a fresh v2 replica gets everything.

use std::collections::BTreeMap;

use outpost::{Error, Value};
use outpost_primary::store::MIGRATION_MARKER;
use outpost_primary::Auth;
use outpost_tests::replica::text;
use outpost_tests::{scratch_dir, Backend, HttpTransport, Replica, TestPrimary};

const V1: &str = "CREATE TABLE todos(id TEXT PRIMARY KEY, title TEXT NOT NULL, \
    done INTEGER NOT NULL DEFAULT 0)";
const V2: [&str; 4] = [
    V1,
    "ALTER TABLE todos ADD COLUMN note TEXT",
    "ALTER TABLE todos ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
    "CREATE TABLE lists(id TEXT PRIMARY KEY, name TEXT NOT NULL)",
];

/// The primary's schema, v1 or v2, in the store's dialect.
fn primary_schema(store: Backend, v2: bool) -> String {
    let (text_type, int_type) = match store {
        Backend::Sqlite | Backend::Durable => ("TEXT", "INTEGER"),
        Backend::Postgres => ("text", "bigint"),
    };
    let mut schema = format!(
        "CREATE TABLE todos(id {text_type} PRIMARY KEY, title {text_type} NOT NULL, \
         done {int_type} NOT NULL DEFAULT 0);\n"
    );
    if v2 {
        schema.push_str(&format!(
            "{MIGRATION_MARKER} note\nALTER TABLE todos ADD COLUMN note {text_type};\n\
             {MIGRATION_MARKER} priority\n\
             ALTER TABLE todos ADD COLUMN priority {int_type} NOT NULL DEFAULT 0;\n\
             {MIGRATION_MARKER} lists\n\
             CREATE TABLE lists(id {text_type} PRIMARY KEY, name {text_type} NOT NULL);\n"
        ));
    }
    schema
}

/// What every todo must be in the end, by id: the model the writes below keep. No two replicas
/// set the same column of the same row, so the order their pushes arrive in does not matter.
#[derive(Clone, Debug, Default)]
struct Todo {
    title: String,
    done: i64,
    note: Option<String>,
    priority: i64,
}

#[derive(Default)]
struct Expected {
    todos: BTreeMap<String, Todo>,
    lists: BTreeMap<String, String>,
}

struct Member {
    name: &'static str,
    replica: Replica,
    v2: bool,
}

impl Member {
    fn open(dir: &std::path::Path, name: &'static str, v2: bool) -> Member {
        let replica = match v2 {
            true => Replica::open(dir, name, &V2, &["todos", "lists"]),
            false => Replica::open(dir, name, &[V1], &["todos"]),
        };
        Member { name, replica, v2 }
    }

    /// A new todo of this replica's own, in the shape its version knows.
    fn insert(&self, expected: &mut Expected, i: usize) -> String {
        let id = format!("{}-{i}", self.name);
        let title = format!("{} {i}", self.name);
        let todo = match self.v2 {
            true => {
                let note = format!("note by {} on {i}", self.name);
                let priority = i as i64 % 3 + 1;
                self.replica.run(&format!(
                    "INSERT INTO todos(id, title, note, priority) \
                     VALUES ('{id}', '{title}', '{note}', {priority})"
                ));
                self.replica.run(&format!(
                    "INSERT INTO lists VALUES ('{id}', 'list of {}')",
                    self.name
                ));
                expected
                    .lists
                    .insert(id.clone(), format!("list of {}", self.name));
                Todo {
                    title,
                    done: 0,
                    note: Some(note),
                    priority,
                }
            }
            false => {
                self.replica.run(&format!(
                    "INSERT INTO todos(id, title) VALUES ('{id}', '{title}')"
                ));
                Todo {
                    title,
                    ..Todo::default()
                }
            }
        };
        expected.todos.insert(id.clone(), todo);
        id
    }

    /// Sync, accepting only that the primary is down (it is restarting).
    fn sync(&self, transport: &HttpTransport, primary_up: bool) {
        match self.replica.sync(transport) {
            Ok(report) => assert!(report.rejected.is_empty(), "{}: {report:?}", self.name),
            Err(Error::Offline(_)) if !primary_up => {}
            Err(e) => panic!("{}: {e}", self.name),
        }
    }
}

fn todo_rows(expected: &Expected, v2: bool) -> Vec<Vec<Value>> {
    let optional = |v: &Option<String>| v.as_deref().map_or(Value::Null, text);
    expected
        .todos
        .iter()
        .map(|(id, t)| {
            let mut row = vec![text(id), text(&t.title), Value::Integer(t.done)];
            if v2 {
                row.extend([optional(&t.note), Value::Integer(t.priority)]);
            }
            row
        })
        .collect()
}

const V1_ROWS: &str = "SELECT id, title, done FROM todos ORDER BY id";
const V2_ROWS: &str = "SELECT id, title, done, note, priority FROM todos ORDER BY id";
const LIST_ROWS: &str = "SELECT id, name FROM lists ORDER BY id";

fn list_rows(expected: &Expected) -> Vec<Vec<Value>> {
    expected
        .lists
        .iter()
        .map(|(id, name)| vec![text(id), text(name)])
        .collect()
}

outpost_tests::on_every_store!(a_fleet_of_two_app_versions_converges_across_the_primarys_upgrade);

fn a_fleet_of_two_app_versions_converges_across_the_primarys_upgrade(store: Backend) {
    let mut primary = TestPrimary::start_on(store, &primary_schema(store, false), Auth::None);
    let transport = HttpTransport::new(primary.endpoint(), "app");
    let dir = scratch_dir();
    let mut fleet = vec![
        Member::open(dir.path(), "old1", false),
        Member::open(dir.path(), "old2", false),
        Member::open(dir.path(), "upgrader", false),
        Member::open(dir.path(), "new1", true),
        Member::open(dir.path(), "new2", true),
    ];
    let mut expected = Expected::default();
    let round = |fleet: &[Member], up: bool| {
        for member in fleet {
            member.sync(&transport, up);
        }
    };

    // Before: the primary is v1. The v2 replicas' writes wait for it, in order.
    for i in 0..3 {
        for member in &fleet {
            member.insert(&mut expected, i);
        }
        round(&fleet, true);
    }
    for member in fleet.iter().filter(|m| m.v2) {
        assert_eq!(member.replica.pending(), 6, "{}: waiting", member.name);
    }

    // During: the primary is down for its upgrade while everyone writes.
    primary.stop();
    for member in &fleet {
        member.insert(&mut expected, 3);
    }
    round(&fleet, false);
    primary.set_schema(&primary_schema(store, true));
    primary.start_again();

    // After: one v1 replica upgrades, and each version edits the others' rows.
    let upgrader = fleet.iter().position(|m| m.name == "upgrader").unwrap();
    fleet[upgrader] = Member::open(dir.path(), "upgrader", true);
    for member in &fleet {
        member.insert(&mut expected, 4);
    }
    round(&fleet, true);
    round(&fleet, true);
    for member in &fleet {
        // v1 edits the title and done of a v2 row: the note and priority it does not know stay.
        // v2 sets the note of a v1 row made before the upgrade.
        let (id, column, value) = match (member.name, member.v2) {
            ("old1", _) => ("new1-0", "title", "retitled by old1"),
            ("old2", _) => ("new2-3", "done", "1"),
            ("new1", _) => ("old1-1", "note", "noted by new1"),
            ("new2", _) => ("old2-3", "priority", "5"),
            _ => ("new1-4", "note", "noted by upgrader"),
        };
        let sql_value = match column {
            "done" | "priority" => value.to_owned(),
            _ => format!("'{value}'"),
        };
        let changed = member
            .replica
            .execute(
                &format!("UPDATE todos SET {column} = {sql_value} WHERE id = '{id}'"),
                outpost::Params::None,
            )
            .unwrap();
        assert_eq!(changed, 1, "{} edits {id}", member.name);
        let todo = expected.todos.get_mut(id).unwrap();
        match column {
            "title" => todo.title = value.to_owned(),
            "done" => todo.done = value.parse().unwrap(),
            "priority" => todo.priority = value.parse().unwrap(),
            _ => todo.note = Some(value.to_owned()),
        }
    }
    fleet[0]
        .replica
        .run("DELETE FROM todos WHERE id = 'old1-2'");
    expected.todos.remove("old1-2");
    round(&fleet, true);
    round(&fleet, true);

    assert_eq!(primary.rows("app", V2_ROWS), todo_rows(&expected, true));
    assert_eq!(primary.rows("app", LIST_ROWS), list_rows(&expected));
    for member in &fleet {
        let replica = &member.replica;
        assert_eq!(replica.pending(), 0, "{}", member.name);
        assert_eq!(
            replica.db().rejected_writes(10).unwrap().count,
            0,
            "{}",
            member.name
        );
        match member.v2 {
            true => {
                assert_eq!(
                    replica.rows(V2_ROWS),
                    todo_rows(&expected, true),
                    "{}",
                    member.name
                );
                assert_eq!(
                    replica.rows(LIST_ROWS),
                    list_rows(&expected),
                    "{}",
                    member.name
                );
            }
            false => assert_eq!(
                replica.rows(V1_ROWS),
                todo_rows(&expected, false),
                "{}",
                member.name
            ),
        }
    }
    let fresh = Member::open(dir.path(), "fresh", true);
    fresh.sync(&transport, true);
    assert_eq!(fresh.replica.rows(V2_ROWS), todo_rows(&expected, true));
    assert_eq!(fresh.replica.rows(LIST_ROWS), list_rows(&expected));
}
