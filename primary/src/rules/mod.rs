//! Sync rules (docs/RULES.md): for each synced table, which rows a token may read and which
//! inserts, updates and deletes it may make, as SQL predicates over the row (or the old and new
//! row of a write) and the verified token's claims. Read from the `--rules` file once, checked
//! against the schema by every store, and applied by the push and pull algorithms (written once,
//! in `store/`). Without a rules file every token reads and writes the whole database.
//!
//! A table the file does not name is neither read nor written by any token; a rule left out
//! allows nothing.

mod file;
mod predicate;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use outpost::Value;

pub use predicate::{Binding, Piece, Predicate};

use crate::store::table::Tables;

/// What a rule governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Insert,
    Update,
    Delete,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Read, Op::Insert, Op::Update, Op::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// The rules of one table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRules {
    pub read: Option<Predicate>,
    pub insert: Option<Predicate>,
    pub update: Option<Predicate>,
    pub delete: Option<Predicate>,
    /// The `table` line, for messages.
    pub line: usize,
    /// The other synced tables the read rule looks rows up in (`members` in
    /// `list_id IN (SELECT list_id FROM members WHERE user_id = :sub)`): a change to one of them
    /// can change which rows of this table a token sees without changing those rows.
    pub read_depends_on: Vec<String>,
}

impl TableRules {
    fn new(line: usize) -> Self {
        TableRules {
            read: None,
            insert: None,
            update: None,
            delete: None,
            line,
            read_depends_on: Vec::new(),
        }
    }

    pub fn rule(&self, op: Op) -> Option<&Predicate> {
        match op {
            Op::Read => self.read.as_ref(),
            Op::Insert => self.insert.as_ref(),
            Op::Update => self.update.as_ref(),
            Op::Delete => self.delete.as_ref(),
        }
    }

    fn rule_mut(&mut self, op: Op) -> &mut Option<Predicate> {
        match op {
            Op::Read => &mut self.read,
            Op::Insert => &mut self.insert,
            Op::Update => &mut self.update,
            Op::Delete => &mut self.delete,
        }
    }
}

/// The rules of every table, as read from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Where the rules came from, for messages.
    pub origin: String,
    tables: BTreeMap<String, TableRules>,
    /// A fingerprint of the file: a replica that pulled under other rules pulls again.
    digest: u64,
}

/// Why a rules file cannot be used: where, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct RulesError {
    pub line: usize,
    pub message: String,
}

impl RulesError {
    pub fn at(line: usize, message: String) -> Self {
        RulesError { line, message }
    }
}

impl Rules {
    /// Read a rules file's text; `origin` (its path) is named in every error.
    pub fn parse(text: &str, origin: &str) -> Result<Rules, String> {
        let tables =
            file::parse(text).map_err(|e| format!("{origin}:{}: {}", e.line, e.message))?;
        Ok(Rules {
            origin: origin.to_owned(),
            tables,
            digest: outpost::protocol::fnv1a(text.as_bytes()),
        })
    }

    pub fn table(&self, name: &str) -> Option<&TableRules> {
        self.tables.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &TableRules)> {
        self.tables.iter()
    }

    /// Check the rules against a store's synced tables (every table and `old.`/`new.` column
    /// named exists, no read rule looks up its own table) and note what each read rule looks
    /// up. The SQL itself is then prepared by the store, which knows its dialect.
    pub fn check_tables<K>(&mut self, tables: &Tables<K>) -> Result<(), String> {
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        let origin = self.origin.clone();
        let fail = |line: usize, message: String| format!("{origin}:{line}: {message}");
        for (name, rules) in &mut self.tables {
            let Some(table) = tables.get(name) else {
                return Err(fail(
                    rules.line,
                    format!(
                        "table {name} is not a synced table of the schema (synced: {})",
                        names.join(", ")
                    ),
                ));
            };
            for op in [Op::Insert, Op::Update, Op::Delete] {
                let Some(rule) = rules.rule(op) else { continue };
                for (is_new, column) in rule.row_columns() {
                    let row = if is_new { "new" } else { "old" };
                    if (op == Op::Insert && !is_new) || (op == Op::Delete && is_new) {
                        return Err(fail(
                            rule.line,
                            format!(
                                "table {name}: an {} rule has no {row} row (it names \
                                 {row}.{column}); an insert has only new, a delete only old",
                                op.name()
                            ),
                        ));
                    }
                    if table.column(column).is_none() {
                        return Err(fail(
                            rule.line,
                            format!(
                                "table {name}: {row}.{column}: the table has no column {column}"
                            ),
                        ));
                    }
                }
            }
            if let Some(read) = &rules.read {
                let read_from = read.tables_read(&names);
                if read_from.contains(name.as_str()) {
                    return Err(fail(
                        read.line,
                        format!(
                            "table {name}: a read rule may not look up rows of its own table \
                             (name the row's columns directly, or qualify them as {name}.column)"
                        ),
                    ));
                }
                rules.read_depends_on = read_from.into_iter().map(str::to_owned).collect();
            }
        }
        Ok(())
    }

    /// A fingerprint of what a caller may read: the rules and the claims the read rules use.
    /// Sent with the cursor (in the epoch), so a replica whose view changed (new rules, a token
    /// with other claims) pulls everything again instead of keeping rows it may no longer see.
    pub fn view_of(&self, caller: &Caller) -> String {
        let used: BTreeSet<&str> = self
            .tables
            .values()
            .filter_map(|t| t.read.as_ref())
            .flat_map(|r| r.claims())
            .collect();
        let claims: Vec<(&str, &Value)> = used
            .into_iter()
            .map(|name| (name, caller.claim(name)))
            .collect();
        let json = serde_json::to_vec(&(self.digest, claims)).expect("claims always serialize");
        format!("{:016x}", outpost::protocol::fnv1a(&json))
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Who is asking: the claims of the verified token (none without auth).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caller {
    claims: BTreeMap<String, Value>,
}

impl Caller {
    /// Claims as a JWT carries them: strings, numbers and booleans become SQL values (a boolean
    /// 1 or 0), arrays and objects their JSON text.
    pub fn from_claims(claims: &serde_json::Map<String, serde_json::Value>) -> Caller {
        let claims = claims
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    serde_json::Value::Null => Value::Null,
                    serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => Value::Integer(i),
                        None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
                    },
                    serde_json::Value::String(s) => Value::Text(s.clone()),
                    other => Value::Text(other.to_string()),
                };
                (name.clone(), value)
            })
            .collect();
        Caller { claims }
    }

    /// The claim `name`, NULL when the token has none: a rule comparing with it then holds for
    /// no row.
    pub fn claim(&self, name: &str) -> &Value {
        self.claims.get(name).unwrap_or(&Value::Null)
    }
}
