//! The SQL text of the SQLite dialects, written once: the embedded store's (`sqlite/`, over
//! rusqlite) and the Durable Object's (`durable/`, over `ctx.storage.sql`) run the same
//! statements on the same file layout, so a database moves between them unchanged.

use std::collections::BTreeMap;

use outpost::codes;
use outpost::protocol::{Mutation, Op};
use outpost::sql::{self, quote_ident, quote_literal, Placeholders::Question};
use outpost::Value;

use super::dialect::{key_exists_reason, Refusal};
use super::table::Table;

/// Outpost's own bookkeeping tables. Plain SQL, so a database file stays usable from the sqlite3 shell.
pub const BOOKKEEPING: &str = "
CREATE TABLE IF NOT EXISTS _outpost_migrations(
    step INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _outpost_changes(
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY(tbl, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS _outpost_changes_version ON _outpost_changes(version);
CREATE TABLE IF NOT EXISTS _outpost_clients(
    client_id TEXT PRIMARY KEY,
    acked_through INTEGER NOT NULL,
    acked_digest TEXT
);
CREATE TABLE IF NOT EXISTS _outpost_rejections(
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY(client_id, seq)
);
-- One epoch starts each time the store opens the database; a replica's cursor is checked against
-- the epoch it was given in, so a primary restored from a backup is told from the one it knew.
CREATE TABLE IF NOT EXISTS _outpost_epochs(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    first_version INTEGER NOT NULL
);
";

/// Columns added to the bookkeeping tables after their first release, for files made before.
pub const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("_outpost_clients", "acked_digest", "TEXT")];

/// Whether a column is there: table and column bound as ?1 and ?2.
pub const COLUMN_PRESENT: &str = "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2";

/// How many objects the file has: none before its first open.
pub const OBJECT_COUNT: &str = "SELECT count(*) FROM sqlite_master";

pub const APPLIED_MIGRATIONS: &str =
    "SELECT step, name, digest FROM _outpost_migrations ORDER BY step";

pub const RECORD_MIGRATION: &str =
    "INSERT INTO _outpost_migrations(step, name, digest) VALUES (?1, ?2, ?3)";

/// The tables a schema may sync (every table but virtual ones; `Tables::add` skips Outpost's).
pub const TABLE_NAMES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' \
     AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name";

/// The columns of `table`: name, declared type, 1-based key position (0 outside the key).
pub fn table_columns(table: &str) -> String {
    format!(
        "SELECT name, type, pk FROM pragma_table_info({})",
        quote_literal(table)
    )
}

/// Start an epoch at the version after the newest: every version from here on is in it.
pub const START_EPOCH: &str = "INSERT INTO _outpost_epochs(id, first_version) \
     VALUES ('e' || lower(hex(randomblob(8))), (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes))";

pub const CURRENT_VERSION: &str = "SELECT coalesce(max(version), 0) FROM _outpost_changes";

pub const CLIENT_STATE: &str =
    "SELECT acked_through, acked_digest FROM _outpost_clients WHERE client_id = ?1";

pub const SET_CLIENT_STATE: &str =
    "INSERT INTO _outpost_clients(client_id, acked_through, acked_digest) \
     VALUES (?1, ?2, ?3) ON CONFLICT(client_id) DO UPDATE SET \
     acked_through = excluded.acked_through, acked_digest = excluded.acked_digest \
     WHERE excluded.acked_through > acked_through";

pub const REFUSALS_BETWEEN: &str = "SELECT seq, code, reason FROM _outpost_rejections \
     WHERE client_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq";

pub const STORE_REFUSAL: &str =
    "INSERT OR REPLACE INTO _outpost_rejections(client_id, seq, code, reason) \
     VALUES (?1, ?2, ?3, ?4)";

pub const FORGET_REFUSALS: &str =
    "DELETE FROM _outpost_rejections WHERE client_id = ?1 AND seq < ?2";

pub const EPOCH_OF: &str = "SELECT id FROM _outpost_epochs WHERE first_version <= ?1 \
     ORDER BY first_version DESC, seq DESC LIMIT 1";

/// Record a new version for one row: the table bound as ?1, its `key_len` key values after it.
pub fn touch(key_len: usize) -> String {
    format!(
        "INSERT INTO _outpost_changes(tbl, key, version) \
         VALUES (?1, json_array({}), (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes)) \
         ON CONFLICT(tbl, key) DO UPDATE SET version = excluded.version",
        Question.list(2, key_len)
    )
}

/// Up to `limit` change-log entries (tbl, key, version) of each group's tables above the
/// group's cursor, in version order, and the values to bind.
pub fn changes_after(groups: &[(i64, Vec<&str>)], limit: usize) -> (String, Vec<Value>) {
    let mut params: Vec<Value> = vec![Value::Integer(limit as i64)];
    let mut terms = Vec::with_capacity(groups.len());
    for (cursor, tables) in groups {
        let first = params.len() + 1;
        params.push(Value::Integer(*cursor));
        params.extend(tables.iter().map(|t| Value::Text((*t).to_owned())));
        // `+tbl`: the range on the version index, never the key's index. Without statistics
        // SQLite took `tbl IN` on the primary key and sorted all the table's entries for every
        // page: a 1,000,000-row first sync read and sorted the whole log 200 times.
        terms.push(format!(
            "(version > ?{first} AND +tbl IN ({}))",
            Question.list(first + 1, tables.len())
        ));
    }
    let sql = format!(
        "SELECT tbl, key, version FROM _outpost_changes WHERE {} ORDER BY version LIMIT ?1",
        terms.join(" OR ")
    );
    (sql, params)
}

/// Whether a failed statement was the statement's own fault (a constraint, a type, a trigger's
/// RAISE), by the name of its primary SQLite code: then the mutation is refused. Anything else
/// is the store failing and must not be recorded as a permanent refusal.
pub fn is_refusal_code(primary: &str) -> bool {
    [
        codes::SQLITE_CONSTRAINT,
        codes::SQLITE_MISMATCH,
        codes::SQLITE_ERROR,
    ]
    .contains(&primary)
}

/// The refusal of a mutation whose statement failed with `code`. An insert over a key the table
/// already has is `KEY_EXISTS`: another replica created that row (two devices offline that both
/// took the next integer id, say), and overwriting it would lose that replica's write without a word.
pub fn refusal<K>(code: &str, message: String, table: &Table<K>, mutation: &Mutation) -> Refusal {
    let key_taken = mutation.op == Op::Insert
        && matches!(
            code,
            codes::SQLITE_CONSTRAINT_PRIMARYKEY | codes::SQLITE_CONSTRAINT_ROWID
        );
    if key_taken {
        return Refusal::new(codes::KEY_EXISTS, key_exists_reason(&table.name));
    }
    Refusal::new(code, message)
}

/// Keys must survive a trip through JSON unchanged and compare exactly: REAL and BLOB keys do not.
pub fn is_key_type(declared: &str) -> bool {
    let upper = declared.to_ascii_uppercase();
    let real = ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t));
    !upper.contains("BLOB") && (upper.contains("INT") || !real)
}

/// AFTER triggers that upsert `(table, json key, next version)`. Plain SQL with no custom
/// functions, so writes made by any SQLite client on the file are captured too. SQLite has one
/// writer at a time, so versions commit in increasing order and a pull cursor never skips one.
///
/// Each record is an `INSERT ... VALUES`: as `INSERT ... SELECT`, whose SELECT reads the table it
/// inserts into (for the next version), SQLite first copied the row into an ephemeral table it
/// opened and closed for every change (~10% of the primary's CPU in a push, perf). A moved key's
/// old record is conditional, so its condition is the upsert's: should the key not have moved and
/// have no record yet, the record made is at once given the next version by the new key's, which
/// only leaves a version unused, as every second change of a row does.
///
/// Only the triggers `existing` (name → SQL, from [`TRIGGERS`]) lacks or holds in another form
/// (an older release's) are dropped and made again, so an open that finds them current writes
/// nothing (a Durable Object prepares its storage at every wake).
pub fn capture_triggers<K>(table: &Table<K>, existing: &BTreeMap<String, String>) -> String {
    let key_of = |row: &str| {
        let parts: Vec<String> = table
            .key_names
            .iter()
            .map(|c| format!("{row}.{}", quote_ident(c)))
            .collect();
        format!("json_array({})", parts.join(", "))
    };
    let record = |key: &str, condition: &str| {
        format!(
            "INSERT INTO _outpost_changes(tbl, key, version) \
             VALUES ({tbl}, {key}, (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes)) \
             ON CONFLICT(tbl, key) DO UPDATE SET version = excluded.version WHERE {condition};",
            tbl = quote_literal(&table.name),
        )
    };
    let trigger = |event: &str, body: String| {
        let name = format!("_outpost_capture_{}_{}", table.name, event.to_lowercase());
        let quoted = quote_ident(&name);
        let create = format!(
            "CREATE TRIGGER {quoted} AFTER {event} ON {} BEGIN {body} END",
            quote_ident(&table.name),
        );
        match existing.get(&name) {
            Some(sql) if *sql == create => String::new(),
            _ => format!("DROP TRIGGER IF EXISTS {quoted};\n{create};\n"),
        }
    };
    let (old, new) = (key_of("OLD"), key_of("NEW"));
    let key_moved = format!("{old} IS NOT {new}");
    [
        trigger("INSERT", record(&new, "true")),
        // A key change moves the row: the old key becomes a tombstone, the new key a row.
        trigger("UPDATE", record(&old, &key_moved) + &record(&new, "true")),
        trigger("DELETE", record(&old, "true")),
    ]
    .concat()
}

/// Every trigger of the file, as `(name, sql)`; SQLite keeps a CREATE TRIGGER's text as written.
pub const TRIGGERS: &str = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'";

/// The statement that applies `mutation` to `table`, and its values in placeholder order; None
/// for an update that sets nothing. An update or delete that changes no row (the primary no
/// longer has it) is dropped, not refused.
#[cfg(feature = "durable-object")]
pub fn mutation_statement<'m, K>(
    table: &'m Table<K>,
    mutation: &'m Mutation,
) -> Option<(String, Vec<&'m Value>)> {
    let mut memo = StatementMemo::default();
    let (sql, values) = memo.statement(table, mutation)?;
    Some((sql.to_owned(), values))
}

/// The text of the last shape of mutation built (its table, op and columns), so a push of a
/// thousand writes of one shape builds it once: building and looking up each mutation's text was
/// ~10% of the primary's CPU in a push (perf).
#[derive(Default)]
pub struct StatementMemo {
    table: String,
    op: Option<Op>,
    columns: Vec<String>,
    sql: String,
}

impl StatementMemo {
    /// [`mutation_statement`], its text kept for the next mutation of the same shape.
    pub fn statement<'s, 'm, K>(
        &'s mut self,
        table: &'m Table<K>,
        mutation: &'m Mutation,
    ) -> Option<(&'s str, Vec<&'m Value>)> {
        if mutation.op == Op::Update && mutation.columns.is_empty() {
            return None;
        }
        let named = || named_columns(table, mutation).map(|(c, _)| c.as_str());
        let same = self.op == Some(mutation.op)
            && self.table == table.name
            && self.columns.iter().map(String::as_str).eq(named());
        if !same {
            let columns: Vec<&str> = named().collect();
            self.sql = statement_text(table, mutation.op, &columns);
            self.columns = columns.into_iter().map(str::to_owned).collect();
            self.table.clone_from(&table.name);
            self.op = Some(mutation.op);
        }
        let set = named_columns(table, mutation).map(|(_, v)| v);
        let values = match mutation.op {
            // The key is authoritative for key columns; `columns` supplies the rest.
            Op::Insert => mutation.key.iter().chain(set).collect(),
            Op::Update => set.chain(&mutation.key).collect(),
            Op::Delete => mutation.key.iter().collect(),
        };
        Some((&self.sql, values))
    }
}

/// The columns `mutation` sets by name, in its statement's order: an insert takes its key
/// columns from its key, and a delete sets none.
fn named_columns<'a, K>(
    table: &'a Table<K>,
    mutation: &'a Mutation,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    mutation
        .columns
        .iter()
        .filter(move |(c, _)| match mutation.op {
            Op::Insert => !table.is_key_column(c),
            Op::Update => true,
            Op::Delete => false,
        })
}

fn statement_text<K>(table: &Table<K>, op: Op, columns: &[&str]) -> String {
    let name = quote_ident(&table.name);
    match op {
        Op::Insert => {
            let keys = table.key_names.iter().map(String::as_str);
            let all: Vec<&str> = keys.chain(columns.iter().copied()).collect();
            sql::insert(&name, &all, Question)
        }
        Op::Update => sql::update(&name, &table.key_names, columns, Question),
        Op::Delete => sql::delete(&name, &table.key_names, Question),
    }
}

/// Whether every statement that fails on this database undoes all it did (SQLite's default
/// conflict resolution, ABORT, including what its triggers and foreign-key actions did), so a
/// refused mutation needs no savepoint of its own. Not where a conflict resolution or a trigger's
/// RAISE keeps part of a failed statement or ends the transaction (`ON CONFLICT FAIL`, `OR
/// ROLLBACK`, `RAISE(FAIL, ...)`): any table, index or trigger whose SQL says "fail" or
/// "rollback" anywhere keeps the savepoints. A trigger that raises ABORT or IGNORE, or writes
/// with the default, needs none.
#[cfg(feature = "server")]
pub const STATEMENTS_UNDO_THEMSELVES: &str = "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master
 WHERE type IN ('table', 'index', 'trigger') AND (sql LIKE '%fail%' OR sql LIKE '%rollback%'))";
