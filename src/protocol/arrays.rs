//! A pull answer's rows as arrays, for a replica that asks for them ([`ROWS_AS_ARRAYS`]): each
//! change is `[version, table, key, values]` (`values` null for a tombstone) and the answer's
//! `columns` names each table's values once. Rows as objects repeat every column name in every
//! row: on a 100,000-row pull of three short columns that was two fifths of the bytes, which the
//! primary writes and the replica parses (bench/RESULTS.md).

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeSeq, SerializeTuple, Serializer};

use super::{Change, PullResponse, ROWS_AS_ARRAYS};
use crate::value::Row;

/// The changes of one answer, written as arrays.
pub struct ChangeArrays<'a>(&'a [Change]);

/// Each table's column names, in the order its rows' values are written.
pub type ColumnNames = BTreeMap<String, Vec<String>>;

impl<'a> ChangeArrays<'a> {
    /// `changes` as arrays, with the column names of their tables; None when the rows of one
    /// table do not all have the same columns (the answer is then sent with rows as objects).
    pub fn new(changes: &'a [Change]) -> Option<(Self, ColumnNames)> {
        let mut columns: BTreeMap<&str, &Row> = BTreeMap::new();
        for change in changes {
            let Some(row) = &change.row else { continue };
            let first = *columns.entry(&change.table).or_insert(row);
            // A row is a map: same length and same names in order is the same columns.
            if first.len() != row.len() || !first.keys().eq(row.keys()) {
                return None;
            }
        }
        let names = columns
            .into_iter()
            .map(|(table, row)| (table.to_owned(), row.keys().cloned().collect()))
            .collect();
        Some((ChangeArrays(changes), names))
    }
}

/// The JSON of a pull answer: its rows as arrays if `arrays` (the replica asked) and they can be.
pub fn pull_answer_json(mut answer: PullResponse, arrays: bool) -> serde_json::Result<Vec<u8>> {
    // About the size of a narrow row, so a page's buffer is not grown and copied a dozen times.
    let mut json = Vec::with_capacity(256 + 64 * answer.changes.len());
    if !arrays {
        serde_json::to_writer(&mut json, &answer)?;
        return Ok(json);
    }
    let changes = std::mem::take(&mut answer.changes);
    match ChangeArrays::new(&changes) {
        Some((rows, columns)) => {
            let mut answer = answer.with_changes(rows);
            answer.columns = columns;
            serde_json::to_writer(&mut json, &answer)?;
        }
        None => serde_json::to_writer(&mut json, &answer.with_changes(changes))?,
    }
    Ok(json)
}

/// Whether an `Accept` header asks for rows as arrays.
pub fn wants_arrays(accept: &str) -> bool {
    accept
        .split(',')
        .any(|range| range.trim() == ROWS_AS_ARRAYS)
}

impl Serialize for ChangeArrays<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for change in self.0 {
            seq.serialize_element(&ChangeArray(change))?;
        }
        seq.end()
    }
}

struct ChangeArray<'a>(&'a Change);

impl Serialize for ChangeArray<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let change = self.0;
        let mut tuple = serializer.serialize_tuple(4)?;
        tuple.serialize_element(&change.version)?;
        tuple.serialize_element(&change.table)?;
        tuple.serialize_element(&change.key)?;
        tuple.serialize_element(&change.row.as_ref().map(Values))?;
        tuple.end()
    }
}

/// A row's values, in the order of its column names.
struct Values<'a>(&'a Row);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.values())
    }
}
