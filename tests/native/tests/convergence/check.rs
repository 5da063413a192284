//! Quiescence, and what must hold then: every replica equals the primary row for row, nothing
//! is left to push or staged, and every write is accounted for (`ledger.rs`).

use std::collections::{BTreeMap, BTreeSet};

use outpost::Value;
use outpost_tests::Faults;

use crate::ledger::{token_of, Audit};
use crate::schema;
use crate::sim::{Sim, DATABASE, REPLICAS};

impl Sim {
    /// Faults off, the primary up, every held request delivered, the answers still waiting
    /// applied (late, in any order), then every replica synced until nothing moves.
    pub fn quiesce(&mut self) {
        self.network.set_faults(Faults::NONE);
        if !self.primary.is_running() {
            self.primary.start_again();
        }
        self.primary_back_at = None;
        self.network.deliver_all();
        for r in 0..REPLICAS {
            while !self.in_flight[r].is_empty() {
                self.apply_in_flight(r);
            }
        }
        for _round in 0..2 {
            for r in 0..REPLICAS {
                let report = self.replicas[r]
                    .sync(&self.network)
                    .unwrap_or_else(|e| panic!("replica {r}: sync without faults: {e}"));
                self.took_rejections(r, &report.rejected);
            }
        }
        for r in 0..REPLICAS {
            let report = self.replicas[r].sync(&self.network).unwrap();
            assert!(
                report.pushed == 0 && report.pulled == 0 && report.rejected.is_empty(),
                "replica {r} still moves after quiescence: {report:?}"
            );
        }
    }

    /// Nothing is left to push or staged, every write is accounted for (`ledger.rs`), and every
    /// replica equals the primary, in that order: the first failure says most about the cause.
    pub fn check(&mut self) {
        for (r, replica) in self.replicas.iter().enumerate() {
            for table in ["_outpost_outbox", "_outpost_stage"] {
                let left = replica.rows(&format!("SELECT count(*) FROM {table}"));
                assert_eq!(left, vec![vec![Value::Integer(0)]], "replica {r}: {table}");
            }
        }
        let primary: Vec<Vec<Row>> = schema::TABLES
            .iter()
            .map(|table| sorted(self.primary.rows(DATABASE, &all_rows(table))))
            .collect();
        let in_tables: BTreeSet<String> = primary
            .iter()
            .flatten()
            .filter_map(|row| match row.last() {
                Some(Value::Text(token)) => Some(token.clone()),
                _ => None,
            })
            .collect();
        let listed: Vec<BTreeMap<String, String>> = self
            .replicas
            .iter()
            .map(|replica| {
                let list = replica.db().rejected_writes(usize::MAX).unwrap();
                assert_eq!(list.count as usize, list.writes.len());
                list.writes
                    .iter()
                    .filter_map(|w| {
                        token_of(&w.mutation).map(|t| (t.to_owned(), w.mutation.code.clone()))
                    })
                    .collect()
            })
            .collect();
        let outcomes = self.ledger.check(&self.audit(), &listed, &in_tables);
        self.counts.add_outcomes(&outcomes);
        for (table, primary) in schema::TABLES.iter().zip(&primary) {
            for (r, replica) in self.replicas.iter().enumerate() {
                let local = sorted(replica.rows(&all_rows(table)));
                let primary = &in_subset(replica.db(), table, primary);
                assert!(
                    local == *primary,
                    "replica {r} differs from the primary in {} (replica's row, primary's row):\n{}",
                    table.name,
                    differences(&local, primary)
                        .iter()
                        .map(|pair| format!("  {pair:?}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }

    fn audit(&self) -> Audit {
        let rows = |sql: &str| self.primary.rows(DATABASE, sql);
        let text = |v: &Value| match v {
            Value::Text(t) => t.clone(),
            other => panic!("expected text in audit, found {other:?}"),
        };
        let pairs = |sql: &str| -> BTreeSet<(String, String)> {
            rows(sql)
                .iter()
                .map(|row| (text(&row[0]), text(&row[1])))
                .collect()
        };
        let applied = rows(
            "SELECT tok, count(*) FROM audit WHERE kind <> 'delete' AND tok IS NOT NULL GROUP BY tok",
        )
        .iter()
        .map(|row| match &row[1] {
            Value::Integer(n) => (text(&row[0]), *n as u64),
            other => panic!("a count is an integer: {other:?}"),
        })
        .collect();
        let mut deleted = pairs("SELECT DISTINCT tbl, item FROM audit WHERE kind = 'delete'");
        deleted.extend(pairs(
            "SELECT DISTINCT tbl, old_item FROM audit \
             WHERE kind = 'update' AND old_item IS DISTINCT FROM item",
        ));
        let inserted = pairs("SELECT DISTINCT tbl, item FROM audit WHERE kind = 'insert'");
        let updated_tokens =
            rows("SELECT DISTINCT tok FROM audit WHERE kind = 'update' AND tok IS NOT NULL")
                .iter()
                .map(|row| text(&row[0]))
                .collect();
        let mut history: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut presence: BTreeMap<(String, String), Vec<crate::ledger::Presence>> =
            BTreeMap::new();
        for row in rows("SELECT n, tbl, kind, item, old_item, tok FROM audit ORDER BY n") {
            let n = match &row[0] {
                Value::Integer(n) => *n,
                other => panic!("audit's n is an integer: {other:?}"),
            };
            let table = text(&row[1]);
            let keyed = |v: &Value| match v {
                Value::Text(key) => Some((table.clone(), key.clone())),
                _ => None,
            };
            match text(&row[2]).as_str() {
                "delete" => presence
                    .entry(keyed(&row[3]).unwrap())
                    .or_default()
                    .push((n, false, None)),
                _ => {
                    if let (Some(old), Some(new)) = (keyed(&row[4]), keyed(&row[3])) {
                        if old != new {
                            presence.entry(old).or_default().push((n, false, None));
                        }
                    }
                    let tok = match &row[5] {
                        Value::Text(tok) => Some(tok.clone()),
                        _ => None,
                    };
                    presence
                        .entry(keyed(&row[3]).unwrap())
                        .or_default()
                        .push((n, true, tok));
                }
            }
            let entry = format!("{:?}", row);
            for key in [&row[3], &row[4]] {
                if let Value::Text(key) = key {
                    let id = (text(&row[1]), key.clone());
                    let seen = history.entry(id).or_default();
                    if seen.last() != Some(&entry) {
                        seen.push(entry.clone());
                    }
                }
            }
        }
        Audit {
            applied,
            deleted,
            inserted,
            updated_tokens,
            history,
            presence,
        }
    }
}

type Row = Vec<Value>;

/// The primary's `rows` of `table` that a replica syncing a subset of it holds.
fn in_subset(db: &outpost::Database, table: &schema::Table, rows: &[Row]) -> Vec<Row> {
    let subset = db.subset().unwrap();
    let Some(subset) = subset.get(table.name) else {
        return rows.to_vec();
    };
    let at = table
        .columns
        .split(", ")
        .position(|c| c == subset.column)
        .expect("the subset's column is one the check reads");
    rows.iter()
        .filter(|row| subset.values.contains(&row[at]))
        .cloned()
        .collect()
}

fn all_rows(table: &schema::Table) -> String {
    format!("SELECT {} FROM {}", table.columns, table.name)
}

/// Rows in one order on both stores (Postgres sorts text by its collation, SQLite by bytes).
fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_cached_key(|row| format!("{row:?}"));
    rows
}

/// The rows that differ, by their first column: (replica's row, primary's row).
fn differences(replica: &[Row], primary: &[Row]) -> Vec<(Option<Row>, Option<Row>)> {
    let by_key = |rows: &[Row]| -> BTreeMap<String, Row> {
        rows.iter()
            .map(|row| (format!("{:?}", &row[..2]), row.clone()))
            .collect()
    };
    let (mine, theirs) = (by_key(replica), by_key(primary));
    let keys: BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .filter(|k| mine.get(*k) != theirs.get(*k))
        .map(|k| (mine.get(k).cloned(), theirs.get(k).cloned()))
        .collect()
}
