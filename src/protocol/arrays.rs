//! A pull answer's changes as a primary serves them ([`ServedPage`]): each row's values in its
//! table's column order, the names once per table. A replica that asks ([`ROWS_AS_ARRAYS`]) gets
//! them that way, each change `[version, table, key, values]` (`values` null for a tombstone)
//! with the answer's `columns` naming each table's values; any other gets rows as objects,
//! which repeat every column name in every row: on a 100,000-row pull of three short columns
//! that was two fifths of the bytes, which the primary writes and the replica parses
//! (bench/RESULTS.md).
//!
//! The primary reads rows straight into this form, with no map per row: building, sizing and
//! dropping a map of names per row took its CPU serving 1,000,000 rows from 2.5 to 1.5 s once
//! removed (bench/RESULTS.md).

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeStruct, Serializer};

use super::{Change, PullResponse, ROWS_AS_ARRAYS};
use crate::value::Value;

/// Each table's column names, in the order its rows' values are written.
pub type ColumnNames = BTreeMap<String, Vec<String>>;

/// The changes of one pull answer, each row as its values in its table's column order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServedPage {
    /// The tables the changes name, each with its columns, in the order of a row's values.
    pub tables: Vec<PageTable>,
    pub changes: Vec<ServedChange>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PageTable {
    pub name: String,
    pub columns: Vec<String>,
}

/// One change of a [`ServedPage`].
#[derive(Clone, Debug, PartialEq)]
pub struct ServedChange {
    pub version: i64,
    /// The change's table: an index into [`ServedPage::tables`].
    pub table: usize,
    pub key: Vec<Value>,
    /// Every column's value, in the order of the table's columns; None for a tombstone.
    pub values: Option<Vec<Value>>,
}

impl ServedPage {
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes with each row as a map, as a replica decodes them.
    pub fn into_changes(self) -> Vec<Change> {
        let tables = self.tables;
        self.changes
            .into_iter()
            .map(|change| {
                let table = &tables[change.table];
                Change {
                    version: change.version,
                    table: table.name.clone(),
                    key: change.key,
                    row: change
                        .values
                        .map(|values| table.columns.iter().cloned().zip(values).collect()),
                }
            })
            .collect()
    }

    fn table_of(&self, change: &ServedChange) -> &PageTable {
        &self.tables[change.table]
    }
}

/// The JSON of a pull answer: its rows as arrays if `arrays` (the replica asked), else as objects.
pub fn pull_answer_json(
    mut answer: PullResponse<ServedPage>,
    arrays: bool,
) -> serde_json::Result<Vec<u8>> {
    // About the size of a narrow row, so a page's buffer is not grown and copied a dozen times.
    let mut json = Vec::with_capacity(256 + 64 * answer.changes.len());
    let page = std::mem::take(&mut answer.changes);
    match arrays {
        true => {
            let mut columns = ColumnNames::new();
            for table in &page.tables {
                columns.insert(table.name.clone(), table.columns.clone());
            }
            let mut answer = answer.with_changes(Arrays(&page));
            answer.columns = columns;
            serde_json::to_writer(&mut json, &answer)?;
        }
        false => serde_json::to_writer(&mut json, &answer.with_changes(Objects(&page)))?,
    }
    Ok(json)
}

/// Whether an `Accept` header asks for rows as arrays.
pub fn wants_arrays(accept: &str) -> bool {
    accept
        .split(',')
        .any(|range| range.trim() == ROWS_AS_ARRAYS)
}

/// A page's changes as arrays.
struct Arrays<'a>(&'a ServedPage);

impl Serialize for Arrays<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let page = self.0;
        let mut seq = serializer.serialize_seq(Some(page.changes.len()))?;
        for change in &page.changes {
            let table = &page.table_of(change).name;
            seq.serialize_element(&(change.version, table, &change.key, &change.values))?;
        }
        seq.end()
    }
}

/// A page's changes as objects, the form of [`Change`].
struct Objects<'a>(&'a ServedPage);

impl Serialize for Objects<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let page = self.0;
        let mut seq = serializer.serialize_seq(Some(page.changes.len()))?;
        for change in &page.changes {
            seq.serialize_element(&Object(page.table_of(change), change))?;
        }
        seq.end()
    }
}

struct Object<'a>(&'a PageTable, &'a ServedChange);

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Object(table, change) = self;
        let mut object = serializer.serialize_struct("Change", 4)?;
        object.serialize_field("version", &change.version)?;
        object.serialize_field("table", &table.name)?;
        object.serialize_field("key", &change.key)?;
        let row = change.values.as_deref().map(|values| Named(table, values));
        object.serialize_field("row", &row)?;
        object.end()
    }
}

/// A row's values under their column names.
struct Named<'a>(&'a PageTable, &'a [Value]);

impl Serialize for Named<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.1.len()))?;
        for (name, value) in self.0.columns.iter().zip(self.1) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
impl ServedPage {
    /// `changes` as a page, each table's columns those of its first row; every row of a table
    /// must have them.
    pub fn from_changes(changes: Vec<Change>) -> Self {
        let mut page = ServedPage::default();
        for change in changes {
            let table = match page.tables.iter().position(|t| t.name == change.table) {
                Some(table) => table,
                None => {
                    page.tables.push(PageTable {
                        name: change.table.clone(),
                        columns: Vec::new(),
                    });
                    page.tables.len() - 1
                }
            };
            let values = change.row.map(|row: crate::value::Row| {
                let columns = &mut page.tables[table].columns;
                if columns.is_empty() {
                    *columns = row.keys().cloned().collect();
                }
                assert!(row.keys().eq(columns.iter()), "a row of other columns");
                row.into_values().collect()
            });
            page.changes.push(ServedChange {
                version: change.version,
                table,
                key: change.key,
                values,
            });
        }
        page
    }
}
