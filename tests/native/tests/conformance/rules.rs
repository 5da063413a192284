//! Sync rules (docs/RULES.md) through the real primary: several users of the team app with
//! different memberships write at random, memberships change and tasks move between lists, on
//! two primary instances where the store allows it. Every pull answer is checked against what
//! its user may read at that moment, every write is predicted from a model of the primary and
//! must be applied or refused (`NOT_PERMITTED`) as predicted, and after every sync the user's
//! replica holds exactly what the rules allow. Users also change at random which lists' tasks
//! their replica syncs (a subset), sometimes with writes to those tasks not pushed yet.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use outpost::codes;
use outpost::protocol::{PullRequest, PullResponse, PushRequest, PushResponse};
use outpost::sync::{SubsetChoice, TableSubset, Transport};
use outpost::{Params, Value};
use outpost_primary::{mint_token, Auth};
use outpost_tests::replica::text;
use outpost_tests::team::{self, LISTS, MEMBERS, TABLES, TASKS};
use outpost_tests::{Backend, HttpTransport, Replica, Rng, TestPrimary};

use super::SECRET;

on_every_store!(
    users_see_and_write_only_what_the_rules_allow,
    a_refused_write_is_put_back_and_never_blocks_the_queue,
    a_bad_rules_file_stops_the_primary_naming_the_line,
);

const USERS: [&str; 4] = ["ann", "bob", "cid", "dee"];
const LIST_IDS: [&str; 4] = ["l0", "l1", "l2", "l3"];
/// Steps of the randomized test, per store: enough for every kind of step many times over.
const STEPS: usize = 120;

/// What the primary should hold, kept by the test from what it predicted each write would do.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    /// id -> (owner, name)
    lists: BTreeMap<String, (String, String)>,
    members: BTreeSet<(String, String)>,
    /// id -> (list, owner, title)
    tasks: BTreeMap<String, (String, String, String)>,
}

impl Model {
    fn member(&self, list: &str, user: &str) -> bool {
        self.members.contains(&(list.to_owned(), user.to_owned()))
    }

    /// The rows `user` may read, table by table, as the replica's queries list them; of tasks,
    /// only those of the lists in the replica's subset, when it has one.
    fn visible(&self, user: &str, subset: Option<&[String]>) -> [Vec<Vec<Value>>; 3] {
        let lists = self
            .lists
            .iter()
            .filter(|(id, _)| self.member(id, user))
            .map(|(id, (owner, name))| vec![text(id), text(owner), text(name)])
            .collect();
        let members = self
            .members
            .iter()
            .filter(|(_, u)| u == user)
            .map(|(l, u)| vec![text(l), text(u)])
            .collect();
        let tasks = self
            .tasks
            .iter()
            .filter(|(_, (list, _, _))| self.member(list, user) && in_subset(subset, list))
            .map(|(id, (list, owner, title))| vec![text(id), text(list), text(owner), text(title)])
            .collect();
        [lists, members, tasks]
    }
}

fn in_subset(subset: Option<&[String]>, list: &str) -> bool {
    subset.is_none_or(|lists| lists.iter().any(|l| l == list))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Text(t) => t.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// The primary's state, read behind its back.
fn primary_state(primary: &TestPrimary) -> Model {
    let mut model = Model::default();
    for row in primary.rows("app", LISTS) {
        model
            .lists
            .insert(text_of(&row[0]), (text_of(&row[1]), text_of(&row[2])));
    }
    for row in primary.rows("app", MEMBERS) {
        model.members.insert((text_of(&row[0]), text_of(&row[1])));
    }
    for row in primary.rows("app", TASKS) {
        let task = (text_of(&row[1]), text_of(&row[2]), text_of(&row[3]));
        model.tasks.insert(text_of(&row[0]), task);
    }
    model
}

/// A user's transport that checks every pull answer: each row it carries must be one the user
/// may read in the primary's state as it is when the answer arrives (nothing else runs
/// meanwhile), so no replica ever receives a row it may not see, not even for a moment; and
/// of tasks only those in the replica's subset, the lists it chose to sync.
struct Watched<'p> {
    http: HttpTransport,
    user: &'static str,
    primary: &'p TestPrimary,
    pulls: RefCell<usize>,
    subset: RefCell<Option<Vec<String>>>,
}

impl Transport for Watched<'_> {
    async fn push(&self, request: &PushRequest) -> outpost::Result<PushResponse> {
        self.http.push(request).await
    }

    async fn pull(&self, request: &PullRequest) -> outpost::Result<PullResponse> {
        let answer = self.http.pull(request).await?;
        let now = primary_state(self.primary);
        for change in &answer.changes {
            let Some(row) = &change.row else { continue };
            let field = |name: &str| text_of(&row[name]);
            let allowed = match change.table.as_str() {
                "lists" => now.member(&field("id"), self.user),
                "members" => field("user_id") == self.user,
                "tasks" => {
                    now.member(&field("list_id"), self.user)
                        && in_subset(self.subset.borrow().as_deref(), &field("list_id"))
                }
                other => panic!("a pull sent a row of {other}"),
            };
            assert!(
                allowed,
                "{} received {} row {row:?}, which the rules do not let it read or its subset leaves out",
                self.user, change.table
            );
        }
        *self.pulls.borrow_mut() += 1;
        Ok(answer)
    }
}

/// A user: their replica and transport.
struct User<'p> {
    name: &'static str,
    replica: Replica,
    transport: Watched<'p>,
}

impl User<'_> {
    /// Sync; answers the refusals reported, as `(table, key, code)`.
    fn sync(&self) -> Vec<(String, Vec<Value>, String)> {
        let report = self.replica.sync(&self.transport).expect("sync");
        assert_eq!(
            self.replica.pending(),
            0,
            "{}: everything was pushed",
            self.name
        );
        let mut refused: Vec<_> = report
            .rejected
            .into_iter()
            .map(|r| (r.table, r.key, r.code))
            .collect();
        refused.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        refused
    }

    fn holds(&self) -> [Vec<Vec<Value>>; 3] {
        [LISTS, MEMBERS, TASKS].map(|sql| self.replica.rows(sql))
    }

    /// What this user's replica should hold of `model`.
    fn should_hold(&self, model: &Model) -> [Vec<Vec<Value>>; 3] {
        model.visible(self.name, self.transport.subset.borrow().as_deref())
    }

    /// Sync only the tasks of `lists` (all of them with None).
    fn choose_lists(&self, lists: Option<Vec<String>>) {
        let choice: SubsetChoice = match &lists {
            None => SubsetChoice::new(),
            Some(lists) => [(
                "tasks".to_string(),
                TableSubset {
                    column: "list_id".into(),
                    values: lists.iter().map(|l| text(l)).collect(),
                },
            )]
            .into_iter()
            .collect(),
        };
        self.replica.db().set_subset(&choice).expect("a subset");
        *self.transport.subset.borrow_mut() = lists;
    }

    /// A local write; false when the replica's own SQLite refused it (a key it holds already).
    fn write(&self, sql: &str, params: Vec<Value>) -> bool {
        self.replica
            .execute(sql, Params::Positional(params))
            .is_ok_and(|changed| changed > 0)
    }
}

/// The app's backend adds `user` to `list` or removes them, behind the server.
fn set_member(primary: &TestPrimary, list: &str, user: &str, member: bool) {
    let sql = match member {
        true => "INSERT INTO members(list_id, user_id) VALUES ($1, $2)",
        false => "DELETE FROM members WHERE list_id = $1 AND user_id = $2",
    };
    primary
        .execute("app", sql, &[text(list), text(user)])
        .expect(sql);
}

fn token(user: &str) -> String {
    mint_token(SECRET, user, "app", Duration::from_secs(3600))
}

fn team_primary(store: Backend) -> TestPrimary {
    TestPrimary::new(store, team::SCHEMA, Auth::Secret(SECRET.to_vec()))
        .with_rules(team::RULES)
        .started()
}

/// Lists l0..l3, list i owned by user i, who is its member; and a few tasks. Written by the
/// app's backend, behind the server (its capture triggers record them like pushed writes).
fn seed(primary: &TestPrimary, model: &mut Model) {
    // The first request creates the database; a version-1 pull is refused under rules.
    let api = primary.api("app").with_token(&token("ann"));
    let v1 = serde_json::json!({"v": 1, "cursor": 0, "tables": ["tasks"]});
    let (status, answer) = api.post("pull", &v1);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("UNSUPPORTED_VERSION"))
    );
    api.ok(
        "pull",
        &serde_json::json!({"v": 2, "cursor": 0, "tables": ["tasks"]}),
    );
    let run = |sql: &str, params: &[&str]| {
        let params: Vec<Value> = params.iter().map(|p| text(p)).collect();
        primary.execute("app", sql, &params).expect(sql);
    };
    for (i, list) in LIST_IDS.iter().enumerate() {
        let owner = USERS[i];
        run(
            "INSERT INTO lists(id, owner, name) VALUES ($1, $2, $3)",
            &[list, owner, &format!("{owner}'s list")],
        );
        run(
            "INSERT INTO members(list_id, user_id) VALUES ($1, $2)",
            &[list, owner],
        );
        model
            .lists
            .insert(list.to_string(), (owner.into(), format!("{owner}'s list")));
        model.members.insert((list.to_string(), owner.into()));
        let task = format!("seed{i}");
        run(
            "INSERT INTO tasks(id, list_id, owner, title) VALUES ($1, $2, $3, 'first')",
            &[&task, list, owner],
        );
        model
            .tasks
            .insert(task, (list.to_string(), owner.into(), "first".into()));
    }
}

/// One write a user makes, and what the rules make of it on the primary's state `model`:
/// `Ok(())` applied (and `model` updated), `Err(code)` refused.
enum Write {
    AddTask { id: String, list: String },
    Retitle { id: String, title: String },
    Move { id: String, to: String },
    DeleteTask { id: String },
    AddMember { list: String, user: String },
    Leave { list: String },
    Rename { list: String, name: String },
}

impl Write {
    /// Make it on the user's replica; false if the replica had nothing to change.
    fn make(&self, user: &User) -> bool {
        match self {
            Write::AddTask { id, list } => user.write(
                "INSERT INTO tasks(id, list_id, owner, title) VALUES (?1, ?2, ?3, 'new')",
                vec![text(id), text(list), text(user.name)],
            ),
            Write::Retitle { id, title } => user.write(
                "UPDATE tasks SET title = ?2 WHERE id = ?1",
                vec![text(id), text(title)],
            ),
            Write::Move { id, to } => user.write(
                "UPDATE tasks SET list_id = ?2 WHERE id = ?1",
                vec![text(id), text(to)],
            ),
            Write::DeleteTask { id } => {
                user.write("DELETE FROM tasks WHERE id = ?1", vec![text(id)])
            }
            Write::AddMember { list, user: who } => user.write(
                "INSERT INTO members(list_id, user_id) VALUES (?1, ?2)",
                vec![text(list), text(who)],
            ),
            Write::Leave { list } => user.write(
                "DELETE FROM members WHERE list_id = ?1 AND user_id = ?2",
                vec![text(list), text(user.name)],
            ),
            Write::Rename { list, name } => user.write(
                "UPDATE lists SET name = ?2 WHERE id = ?1",
                vec![text(list), text(name)],
            ),
        }
    }

    /// What the primary does with it, by the rules in docs/team-rules.txt, judged on `model`
    /// (then updated): None when applied or dropped, else the refusal `(table, key, code)`.
    fn judge(&self, by: &str, model: &mut Model) -> Option<(String, Vec<Value>, String)> {
        let refuse = |table: &str, key: Vec<Value>| {
            Some((table.to_owned(), key, codes::NOT_PERMITTED.to_owned()))
        };
        match self {
            Write::AddTask { id, list } => {
                if !model.member(list, by) {
                    return refuse("tasks", vec![text(id)]);
                }
                let task = (list.clone(), by.to_owned(), "new".to_owned());
                model.tasks.insert(id.clone(), task);
            }
            Write::Retitle { id, title } => {
                // Gone on the primary: dropped.
                let task = model.tasks.get_mut(id)?;
                if !model.members.contains(&(task.0.clone(), by.to_owned())) {
                    return refuse("tasks", vec![text(id)]);
                }
                task.2 = title.clone();
            }
            Write::Move { id, to } => {
                let task = model.tasks.get(id)?;
                if !(model.member(&task.0, by) && model.member(to, by)) {
                    return refuse("tasks", vec![text(id)]);
                }
                model.tasks.get_mut(id).unwrap().0 = to.clone();
            }
            Write::DeleteTask { id } => {
                let task = model.tasks.get(id)?;
                if task.1 != by {
                    return refuse("tasks", vec![text(id)]);
                }
                model.tasks.remove(id);
            }
            Write::AddMember { list, user } => {
                let key = vec![text(list), text(user)];
                if model.member(list, user) {
                    return Some(("members".into(), key, codes::KEY_EXISTS.into()));
                }
                if model.lists.get(list).is_none_or(|(owner, _)| owner != by) {
                    return refuse("members", key);
                }
                model.members.insert((list.clone(), user.clone()));
            }
            Write::Leave { list } => {
                model.members.remove(&(list.clone(), by.to_owned()));
            }
            Write::Rename { list, name } => {
                let entry = model.lists.get_mut(list)?;
                if entry.0 != by {
                    return refuse("lists", vec![text(list)]);
                }
                entry.1 = name.clone();
            }
        }
        None
    }
}

/// A write `user` could make now, from what their replica holds (and, for new rows and
/// members, from every list, so some are refused).
fn pick_write(rng: &mut Rng, user: &User, serial: usize) -> Write {
    let held = user.holds();
    let tasks: Vec<String> = held[2].iter().map(|r| text_of(&r[0])).collect();
    let lists: Vec<String> = held[0].iter().map(|r| text_of(&r[0])).collect();
    let any_list = || LIST_IDS[serial % LIST_IDS.len()].to_owned();
    let task = rng.pick(&tasks).cloned();
    match (rng.below(10), task) {
        (0..=2, _) | (_, None) => Write::AddTask {
            id: format!("t{serial}"),
            list: match rng.chance(0.7) {
                true => rng.pick(&lists).cloned().unwrap_or_else(any_list),
                false => any_list(),
            },
        },
        (3, Some(id)) => Write::Retitle {
            id,
            title: format!("title {serial}"),
        },
        (4 | 5, Some(id)) => {
            let at = held[2]
                .iter()
                .find(|r| text_of(&r[0]) == id)
                .map(|r| text_of(&r[1]));
            let to = LIST_IDS[(serial + rng.below(3)) % LIST_IDS.len()].to_owned();
            match at.as_deref() == Some(to.as_str()) {
                // A move to where it is changes nothing, so nothing is pushed.
                true => Write::Retitle {
                    id,
                    title: format!("title {serial}"),
                },
                false => Write::Move { id, to },
            }
        }
        (6, Some(id)) => Write::DeleteTask { id },
        (7, _) => Write::AddMember {
            list: rng.pick(&LIST_IDS).unwrap().to_string(),
            user: rng.pick(&USERS).unwrap().to_string(),
        },
        (8, _) if !lists.is_empty() && rng.chance(0.5) => Write::Leave {
            list: rng.pick(&lists).unwrap().clone(),
        },
        _ => Write::Rename {
            list: rng.pick(&lists).cloned().unwrap_or_else(any_list),
            name: format!("name {serial}"),
        },
    }
}

fn users_see_and_write_only_what_the_rules_allow(store: Backend) {
    let primary = team_primary(store);
    // On Postgres, half the users talk to a second stateless instance on the same data.
    let second = (store == Backend::Postgres).then(|| primary.another_instance());
    let mut model = Model::default();
    seed(&primary, &mut model);
    let dir = outpost_tests::scratch_dir();
    let users: Vec<User> = USERS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let endpoint = match (&second, i % 2) {
                (Some(other), 1) => other.endpoint(),
                _ => primary.endpoint(),
            };
            User {
                name,
                replica: Replica::open(dir.path(), name, &[team::SCHEMA], &TABLES),
                transport: Watched {
                    http: HttpTransport::new(endpoint, "app").with_token(&token(name)),
                    user: name,
                    primary: &primary,
                    pulls: RefCell::new(0),
                    subset: RefCell::new(None),
                },
            }
        })
        .collect();
    let mut rng = Rng::new(0x5eed_0014 + store as u64);
    let mut refusals = 0;
    let mut applied = 0;
    let mut subset_changes = 0;
    for step in 0..STEPS {
        let user = &users[rng.below(users.len())];
        if rng.chance(0.1) {
            // The backend changes who is in which list behind the server.
            let list = rng.pick(&LIST_IDS).unwrap().to_string();
            let who = rng.pick(&USERS).unwrap().to_string();
            let member = !model.members.remove(&(list.clone(), who.clone()));
            set_member(&primary, &list, &who, member);
            if member {
                model.members.insert((list, who));
            }
        }
        // Up to three writes made offline, some of which the rules refuse, pushed together.
        let mut expected = Vec::new();
        for n in 0..1 + rng.below(3) {
            let write = pick_write(&mut rng, user, step * 4 + n);
            if write.make(user) {
                match write.judge(user.name, &mut model) {
                    Some(refusal) => expected.push(refusal),
                    None => applied += 1,
                }
            }
        }
        expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        if rng.chance(0.2) {
            // The user opens other lists, with those writes not pushed yet: some of their rows
            // leave the replica before their writes reach the primary.
            let lists = match rng.chance(0.25) {
                true => None,
                false => Some(
                    LIST_IDS
                        .iter()
                        .filter(|_| rng.chance(0.5))
                        .map(|l| l.to_string())
                        .collect(),
                ),
            };
            user.choose_lists(lists);
            subset_changes += 1;
        }
        let refused = user.sync();
        assert_eq!(refused, expected, "step {step}: {}'s refusals", user.name);
        refusals += refused.len();
        assert_eq!(primary_state(&primary), model, "step {step}: the primary");
        assert_eq!(
            user.holds(),
            user.should_hold(&model),
            "step {step}: {} holds exactly what the rules and its subset allow",
            user.name
        );
        // Someone else catches up now and then, so replicas fall behind by many versions.
        let other = &users[rng.below(users.len())];
        if rng.chance(0.4) {
            other.sync();
        }
    }
    for user in &users {
        user.sync();
        assert_eq!(
            user.holds(),
            user.should_hold(&model),
            "{} at the end",
            user.name
        );
        assert!(*user.transport.pulls.borrow() > 0);
    }
    // The run exercised both sides of the rules.
    assert!(
        refusals > 10 && applied > 50 && subset_changes > 10,
        "{refusals} refused, {applied} applied, {subset_changes} subsets chosen"
    );
}

fn a_refused_write_is_put_back_and_never_blocks_the_queue(store: Backend) {
    let primary = team_primary(store);
    let mut model = Model::default();
    seed(&primary, &mut model);
    let dir = outpost_tests::scratch_dir();
    let ann = Replica::open(dir.path(), "ann", &[team::SCHEMA], &TABLES);
    let transport = HttpTransport::new(primary.endpoint(), "app").with_token(&token("ann"));
    ann.sync(&transport).unwrap();
    // ann is in l0 only: a move of her task to bob's list is refused, the writes around it are not.
    ann.run("INSERT INTO tasks VALUES ('a1', 'l0', 'ann', 'one')");
    ann.run("UPDATE tasks SET list_id = 'l1' WHERE id = 'seed0'");
    ann.run("INSERT INTO tasks VALUES ('a2', 'l0', 'ann', 'two')");
    let report = ann.sync(&transport).unwrap();
    let codes: Vec<&str> = report.rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, [codes::NOT_PERMITTED]);
    assert!(report.rejected[0]
        .reason
        .contains("update rule of table tasks"));
    let tasks = ann.rows("SELECT id, list_id FROM tasks ORDER BY id");
    let expected: Vec<Vec<Value>> = [("a1", "l0"), ("a2", "l0"), ("seed0", "l0")]
        .iter()
        .map(|(id, list)| vec![text(id), text(list)])
        .collect();
    assert_eq!(tasks, expected, "the refused move is undone on the replica");
    // A membership added behind the server brings l1 and its task whole, though neither changed;
    // removed again, both leave as tombstones.
    set_member(&primary, "l1", "ann", true);
    ann.sync(&transport).unwrap();
    assert_eq!(
        ann.rows("SELECT id FROM tasks WHERE list_id = 'l1'"),
        [vec![text("seed1")]]
    );
    assert_eq!(
        ann.rows("SELECT id FROM lists ORDER BY id"),
        [vec![text("l0")], vec![text("l1")]]
    );
    set_member(&primary, "l1", "ann", false);
    ann.sync(&transport).unwrap();
    assert_eq!(ann.rows("SELECT id FROM lists"), [vec![text("l0")]]);
    assert!(ann
        .rows("SELECT id FROM tasks WHERE list_id = 'l1'")
        .is_empty());
    // With rules, /query would read past them.
    let api = primary.api("app").with_token(&token("ann"));
    let (status, answer) = api.post(
        "query",
        &serde_json::json!({"v": 2, "sql": "SELECT * FROM tasks"}),
    );
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("QUERY_DISABLED"))
    );
}

fn a_bad_rules_file_stops_the_primary_naming_the_line(store: Backend) {
    // Refused by the file's own shape, before any store sees it.
    for (text, said) in [
        ("read: true", "rules.txt:1: expected `table NAME`"),
        (
            "table tasks\n  write: true",
            "rules.txt:2: expected `read:`",
        ),
        (
            "table tasks\n  read: true\n  read: false",
            "rules.txt:3: table tasks has a read rule",
        ),
        (
            "table tasks\n  read:",
            "rules.txt:2: table tasks: the read rule is empty",
        ),
    ] {
        let error = outpost_primary::Rules::parse(text, "rules.txt").unwrap_err();
        assert!(error.starts_with(said), "{text:?}: {error}");
    }
    // Refused by the store, against the schema, before it listens.
    let cases = [
        (
            "table nope\n  read: true",
            "rules.txt:1: table nope is not a synced table",
        ),
        (
            "table tasks\n  insert: old.owner = :sub",
            "rules.txt:2: table tasks: an insert rule has no old row",
        ),
        (
            "table tasks\n  update: new.ownr = :sub",
            "rules.txt:2: table tasks: new.ownr: the table has no column ownr",
        ),
        (
            "table tasks\n  read: id IN (SELECT id FROM tasks)",
            "rules.txt:2: table tasks: a read rule may not look up rows of its own table",
        ),
        (
            "\ntable tasks\n\n  read: ownr = :sub",
            "rules.txt:4: table tasks: the read rule does not work",
        ),
    ];
    for (text, said) in cases {
        let error = refusal_of_rules(store, text);
        assert!(error.contains(said), "{text:?}: {error}");
    }
}

/// Why a primary with rules `text` will not serve. The server refuses to start. A Durable Object
/// primary starts, and each object, which opens its store on the first request for its database,
/// answers every request with the refusal; it names its `OUTPOST_RULES` binding where the server
/// names the file (here `rules.txt`).
fn refusal_of_rules(store: Backend, text: &str) -> String {
    let mut primary =
        TestPrimary::new(store, team::SCHEMA, Auth::Secret(SECRET.to_vec())).with_rules(text);
    if store != Backend::Durable {
        let error = primary.try_start_again().expect_err("the primary refused");
        return error.to_string();
    }
    primary.try_start_again().expect("the runtime starts");
    let api = primary.api("app").with_token(&token("ann"));
    let pull = serde_json::json!({"v": 2, "tables": ["tasks"], "cursor": 0});
    let push = serde_json::json!({"v": 2, "clientId": "c", "lastSeq": 1, "mutations": [
        {"seq": 1, "table": "tasks", "op": "delete", "key": ["t"], "columns": {}}
    ]});
    let mut said = None;
    for (endpoint, body) in [("pull", pull), ("push", push)] {
        let (status, answer) = api.post(endpoint, &body);
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (500, Some("INTERNAL")),
            "{endpoint}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(said.get_or_insert_with(|| message.to_owned()), message);
    }
    said.unwrap_or_default()
        .replace("OUTPOST_RULES:", "rules.txt:")
}
