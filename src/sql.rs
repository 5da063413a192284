//! SQL text for the row statements sync runs, written once for the replica and for both of the
//! primary's dialects (SQLite and PostgreSQL), which differ only in how parameters are numbered.
//! Every name given here must already be checked against a schema: names are quoted, not validated.

/// How a dialect numbers statement parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholders {
    /// SQLite: `?1`, `?2`, …
    Question,
    /// PostgreSQL: `$1`, `$2`, …
    Dollar,
}

impl Placeholders {
    /// The parameter numbered `n` (from 1).
    pub fn nth(self, n: usize) -> String {
        match self {
            Placeholders::Question => format!("?{n}"),
            Placeholders::Dollar => format!("${n}"),
        }
    }

    /// `count` parameters numbered from `first`, comma-separated.
    pub fn list(self, first: usize, count: usize) -> String {
        let slots: Vec<String> = (first..first + count).map(|n| self.nth(n)).collect();
        slots.join(", ")
    }
}

/// Quote an identifier. Callers have checked it with `protocol::is_valid_name` or against the schema.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal, for SQL that cannot take parameters (trigger bodies, DDL).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"a" = ?1 AND "b" = ?2`: the key columns equal to parameters numbered from `first`.
pub fn key_predicate<S: AsRef<str>>(key: &[S], first: usize, p: Placeholders) -> String {
    let terms: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", quote_ident(c.as_ref()), p.nth(first + i)))
        .collect();
    terms.join(" AND ")
}

/// `INSERT … ON CONFLICT (key) DO UPDATE` of `columns` (the key columns first, as many as `key`
/// has), bound in that order from 1. `table` is the table as SQL text, quoted (and qualified).
pub fn upsert<S: AsRef<str>>(table: &str, key: &[S], columns: &[&str], p: Placeholders) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let updates: Vec<String> = quoted[key.len()..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let conflict = if updates.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    let key: Vec<String> = key.iter().map(|c| quote_ident(c.as_ref())).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {conflict}",
        quoted.join(", "),
        p.list(1, columns.len()),
        key.join(", "),
    )
}

/// A plain `INSERT` of `columns`, bound in that order from 1: it fails on a key already taken.
pub fn insert(table: &str, columns: &[&str], p: Placeholders) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        quoted.join(", "),
        p.list(1, columns.len())
    )
}

/// `UPDATE … SET` of `columns` bound from 1, then the key bound after them.
pub fn update<S: AsRef<str>>(table: &str, key: &[S], columns: &[&str], p: Placeholders) -> String {
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", quote_ident(c), p.nth(i + 1)))
        .collect();
    format!(
        "UPDATE {table} SET {} WHERE {}",
        sets.join(", "),
        key_predicate(key, columns.len() + 1, p)
    )
}

/// `DELETE` of the row whose key is bound from 1.
pub fn delete<S: AsRef<str>>(table: &str, key: &[S], p: Placeholders) -> String {
    format!("DELETE FROM {table} WHERE {}", key_predicate(key, 1, p))
}
