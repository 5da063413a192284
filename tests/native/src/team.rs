//! The team app of docs/RULES.md: lists with an owner, who is a member of which list, and tasks
//! in lists. Each user reads the lists they are a member of, their own memberships and the tasks
//! of their lists; only a list's owner adds members; a member adds, edits and moves tasks
//! between their lists; only a task's owner deletes it. The schema is the same in both dialects.

pub const SCHEMA: &str = "
CREATE TABLE lists(id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE members(list_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY(list_id, user_id));
CREATE TABLE tasks(id TEXT PRIMARY KEY, list_id TEXT NOT NULL, owner TEXT NOT NULL, title TEXT NOT NULL);
";

/// The rules file, as docs/RULES.md shows it.
pub const RULES: &str = include_str!("../../../docs/team-rules.txt");

/// Every row of each synced table, in a stable order, the same query on primary and replicas.
pub const LISTS: &str = "SELECT id, owner, name FROM lists ORDER BY id";
pub const MEMBERS: &str = "SELECT list_id, user_id FROM members ORDER BY list_id, user_id";
pub const TASKS: &str = "SELECT id, list_id, owner, title FROM tasks ORDER BY id";

pub const TABLES: [&str; 3] = ["lists", "members", "tasks"];
