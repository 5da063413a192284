//! A replica may sync a subset of a table, within what the primary's rules let it read: the rows
//! whose column holds one of some values (one project at a time, the lists a screen shows). The
//! choice is kept in `_outpost_meta` and sent with every pull (`PullRequest::subset`), and may
//! change at any time without pulling again what the replica already has:
//!
//! - values left out: their rows are deleted here, with capture off (the primary keeps them);
//! - values added: the table goes behind at cursor 0 with a fill (`SubsetFill`): its changes up to
//!   the cursor it had are sent only for rows of the added values, the rest as usual;
//! - a subset dropped (the whole table again): the table is backfilled whole.
//!
//! A write the app makes to a row outside its subset is pushed like any other; the row leaves
//! the replica when a pull brings its next change.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::behind::{self, Behind};
use super::capture::SyncedTable;
use super::settle::{meta_get, meta_json, set_meta_json, RESYNC};
use super::stage;
use crate::protocol::{Subset, SubsetFill, MAX_SUBSET_VALUES};
use crate::sql::quote_ident;
use crate::{Database, Error, Result, Value};

const SUBSET: &str = "subset";
const FILLS: &str = "subset_fill";

/// The rows of one table a replica syncs: those whose `column` holds one of `values`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableSubset {
    pub column: String,
    pub values: Vec<Value>,
}

/// The subset of each table synced in part; a synced table not named is synced whole.
pub type SubsetChoice = BTreeMap<String, TableSubset>;

type Fills = BTreeMap<String, SubsetFill>;

impl Database {
    /// The subsets this replica syncs.
    pub fn subset(&self) -> Result<SubsetChoice> {
        meta_json(self.conn(), SUBSET)
    }

    /// Sync only `choice`'s rows of the tables it names, and the tables it does not name whole.
    /// Rows that leave the subset are deleted here at once (the primary keeps them); rows that
    /// enter it come with the next pull, which pulls nothing else again. Returns the tables whose
    /// rows were deleted. A pull on its way is answered for the old subset and dropped.
    pub fn set_subset(&self, choice: &SubsetChoice) -> Result<Vec<String>> {
        self.require_autocommit()?;
        check(&self.synced, choice)?;
        let tx = self.conn().unchecked_transaction()?;
        // Pages staged for the old subset are read again for the new one.
        stage::clear(&tx)?;
        let old: SubsetChoice = meta_json(&tx, SUBSET)?;
        let mut fills: Fills = meta_json(&tx, FILLS)?;
        let mut behind = behind::stored(&tx)?;
        let cursor: i64 = meta_get(&tx, "cursor")?.unwrap_or(0);
        // Before the first pull, or while pulling everything again, the next pull sends the
        // whole subset anyway.
        let from_scratch = cursor == 0 || meta_get::<i64>(&tx, RESYNC)? == Some(1);
        let mut emptied = Vec::new();
        let _capture_off = self.capture_off();
        for table in &self.synced {
            let name = &table.name;
            let (before, after) = (old.get(name), choice.get(name));
            let filling = fills.remove(name).filter(|_| behind.contains_key(name));
            if before == after {
                // Unchanged: a fill on its way goes on.
                fills.extend(filling.map(|fill| (name.clone(), fill)));
                continue;
            }
            let deleted = match after {
                // The whole table again: what it lacks comes with a backfill.
                None => {
                    if !from_scratch {
                        behind.insert(name.clone(), 0);
                    }
                    0
                }
                Some(after) => {
                    let kept = |v: &Value| after.values.contains(v);
                    let same_column = before.is_some_and(|b| b.column == after.column);
                    let gained: Vec<Value> = match (before, same_column) {
                        (Some(before), true) => after
                            .values
                            .iter()
                            .filter(|v| !before.values.contains(v))
                            .chain(
                                filling
                                    .iter()
                                    .flat_map(|f| f.values.iter())
                                    .filter(|v| kept(v)),
                            )
                            .cloned()
                            .collect(),
                        (Some(_), false) => after.values.clone(),
                        (None, _) => Vec::new(),
                    };
                    if !from_scratch && !gained.is_empty() {
                        // Up to where the table had seen, only the gained values' rows are sent.
                        let through = match &filling {
                            Some(fill) => fill.through,
                            None => behind.get(name).copied().unwrap_or(cursor),
                        };
                        fills.insert(
                            name.clone(),
                            SubsetFill {
                                values: dedup(gained),
                                through,
                            },
                        );
                        behind.insert(name.clone(), 0);
                    }
                    delete_outside(&tx, name, after)?
                }
            };
            if deleted > 0 {
                emptied.push(name.clone());
            }
        }
        set_meta_json(&tx, SUBSET, choice)?;
        set_meta_json(&tx, FILLS, &fills)?;
        behind::store(&tx, &behind)?;
        tx.commit()?;
        Ok(emptied)
    }
}

/// What a pull sends of the subsets: each with its fill while its table is behind filling it.
pub(crate) fn for_pull(conn: &Connection, behind: &Behind) -> Result<BTreeMap<String, Subset>> {
    let choice: SubsetChoice = meta_json(conn, SUBSET)?;
    let fills: Fills = meta_json(conn, FILLS)?;
    Ok(choice
        .into_iter()
        .map(|(table, subset)| {
            let fill = fills
                .get(&table)
                .filter(|_| behind.contains_key(&table))
                .cloned();
            let wire = Subset {
                column: subset.column,
                values: subset.values,
                fill,
            };
            (table, wire)
        })
        .collect())
}

/// After a pull's last page: the fills of tables no longer behind are done.
pub(crate) fn end_fills(conn: &Connection, behind: &Behind) -> Result<()> {
    let mut fills: Fills = meta_json(conn, FILLS)?;
    let before = fills.len();
    fills.retain(|table, _| behind.contains_key(table));
    match fills.len() == before {
        true => Ok(()),
        false => set_meta_json(conn, FILLS, &fills),
    }
}

/// Delete every subset table's rows outside its subset (capture is off); returns those tables.
pub(crate) fn sweep(conn: &Connection) -> Result<Vec<String>> {
    let choice: SubsetChoice = meta_json(conn, SUBSET)?;
    let mut swept = Vec::new();
    for (table, subset) in &choice {
        if delete_outside(conn, table, subset)? > 0 {
            swept.push(table.clone());
        }
    }
    Ok(swept)
}

/// Delete the rows of `table` outside `subset`, with capture off (the caller turned it off).
fn delete_outside(conn: &Connection, table: &str, subset: &TableSubset) -> Result<usize> {
    let column = quote_ident(&subset.column);
    let slots: Vec<String> = (1..=subset.values.len()).map(|n| format!("?{n}")).collect();
    let sql = match slots.is_empty() {
        true => format!("DELETE FROM {}", quote_ident(table)),
        false => format!(
            "DELETE FROM {} WHERE {column} IS NULL OR {column} NOT IN ({})",
            quote_ident(table),
            slots.join(", ")
        ),
    };
    Ok(conn.execute(&sql, rusqlite::params_from_iter(&subset.values))?)
}

/// Each subset names a synced table and one of its columns, and values that are integers or
/// text, [`MAX_SUBSET_VALUES`] in all at most.
fn check(synced: &[SyncedTable], choice: &SubsetChoice) -> Result<()> {
    let mut count = 0;
    for (name, subset) in choice {
        let Some(table) = synced.iter().find(|t| t.name == *name) else {
            return Err(Error::bad_options(format!(
                "the subset names table {name}, which is not in sync.tables"
            )));
        };
        if !table.columns.contains(&subset.column) {
            return Err(Error::bad_options(format!(
                "the subset of {name} names column {}, which {name} does not have",
                subset.column
            )));
        }
        if let Some(value) = subset
            .values
            .iter()
            .find(|v| !matches!(v, Value::Integer(_) | Value::Text(_)))
        {
            return Err(Error::bad_options(format!(
                "the subset of {name} holds {value:?}: its values must be integers or text"
            )));
        }
        count += subset.values.len();
    }
    if count > MAX_SUBSET_VALUES {
        return Err(Error::bad_options(format!(
            "the subset names {count} values; the most is {MAX_SUBSET_VALUES}"
        )));
    }
    Ok(())
}

fn dedup(values: Vec<Value>) -> Vec<Value> {
    let mut unique: Vec<Value> = Vec::with_capacity(values.len());
    for value in values {
        if !unique.contains(&value) {
            unique.push(value);
        }
    }
    unique
}
