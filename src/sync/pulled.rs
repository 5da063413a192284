//! A pulled row state as the apply reads it: from a decoded answer (the last page), or borrowed
//! from the bytes of a staged page. A staged row's table and column names are not copied out of
//! those bytes and its columns are not sorted into a map: they are read once, by name, as the
//! row is written, and a map per row (its allocations, inserts and drops) was a tenth of a
//! 100,000-row pull in the wasm (bench/RESULTS.md).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::stage::key_json;
use crate::protocol::{Change, ColumnNames};
use crate::value::Row;
use crate::{Result, Value};

/// One pulled row state, from the stage or from the last page.
pub(crate) struct PulledRow<'a> {
    pub table: &'a str,
    pub key: &'a [Value],
    pub row: Option<RowRef<'a>>,
}

impl PulledRow<'_> {
    /// The row's table and key JSON, as outbox entries name rows.
    pub fn id(&self) -> Result<(String, String)> {
        Ok((self.table.to_owned(), key_json(self.key)?))
    }
}

impl<'a> From<&'a Change> for PulledRow<'a> {
    fn from(change: &'a Change) -> Self {
        PulledRow {
            table: &change.table,
            key: &change.key,
            row: change.row.as_ref().map(RowRef::from),
        }
    }
}

/// A row's columns by name: a map, the columns of a staged row in the order they came, or the
/// values of a row sent as an array with its table's column names.
#[derive(Clone, Copy)]
pub(crate) enum RowRef<'a> {
    Map(&'a Row),
    Columns(&'a [(Cow<'a, str>, Value)]),
    Values(&'a [String], &'a [Value]),
}

impl<'a> From<&'a Row> for RowRef<'a> {
    fn from(row: &'a Row) -> Self {
        RowRef::Map(row)
    }
}

impl<'a> RowRef<'a> {
    /// The value of `column`; of a name given twice, the last, as a map keeps it.
    pub fn get(self, column: &str) -> Option<&'a Value> {
        match self {
            RowRef::Map(row) => row.get(column),
            RowRef::Columns(columns) => columns
                .iter()
                .rev()
                .find(|(name, _)| name == column)
                .map(|(_, value)| value),
            RowRef::Values(names, values) => names
                .iter()
                .rposition(|name| name == column)
                .map(|i| &values[i]),
        }
    }
}

/// A pull answer's changes as a staged page is read back: from the answer it came in (other
/// fields ignored), or the changes alone, written as `{"changes": [...]}`. Rows come as objects,
/// or as arrays with `columns` naming their values (`protocol::ServedPage`).
#[derive(serde::Deserialize)]
pub(crate) struct StagedPage<'a> {
    #[serde(borrow)]
    changes: Vec<StagedChange<'a>>,
    #[serde(default)]
    columns: ColumnNames,
}

impl<'a> StagedPage<'a> {
    /// The changes of a pull answer read whole, with its column names.
    pub fn new(changes: Vec<StagedChange<'a>>, columns: ColumnNames) -> Self {
        StagedPage { changes, columns }
    }

    /// Each change of the page, in order, or what is wrong with it: an array row must have a
    /// value for each column name of its table.
    pub fn each(&self) -> impl Iterator<Item = std::result::Result<PulledRow<'_>, String>> {
        self.changes.iter().map(|change| {
            let row = match &change.row {
                None => None,
                Some(StagedRow::Columns(columns)) => Some(RowRef::Columns(columns)),
                Some(StagedRow::Values(values)) => Some(RowRef::Values(
                    names_of(&self.columns, &change.table, values)?,
                    values,
                )),
            };
            Ok(PulledRow {
                table: &change.table,
                key: &change.key,
                row,
            })
        })
    }

    /// The page's changes as changes of their own, its keys and values moved, not copied.
    pub fn into_changes(self) -> std::result::Result<Vec<Change>, String> {
        let columns = self.columns;
        self.changes
            .into_iter()
            .map(|change| {
                let row = match change.row {
                    None => None,
                    // Collected in order, so of a name given twice the last is kept.
                    Some(StagedRow::Columns(row)) => Some(
                        row.into_iter()
                            .map(|(name, value)| (name.into_owned(), value))
                            .collect(),
                    ),
                    Some(StagedRow::Values(values)) => {
                        let names = names_of(&columns, &change.table, &values)?;
                        Some(names.iter().cloned().zip(values).collect())
                    }
                };
                Ok(Change {
                    version: change.version,
                    table: change.table.into_owned(),
                    key: change.key,
                    row,
                })
            })
            .collect()
    }
}

/// The column names of `table`'s array rows, which must name each of `values`.
fn names_of<'c>(
    columns: &'c ColumnNames,
    table: &str,
    values: &[Value],
) -> std::result::Result<&'c [String], String> {
    let names = columns.get(table).map_or(&[][..], |names| &names[..]);
    match names.len() == values.len() {
        true => Ok(names),
        false => Err(format!(
            "a row of {table} has {} values for {} column names",
            values.len(),
            names.len()
        )),
    }
}

/// A [`Change`] read from a staged page, borrowing from its bytes: from an object
/// (`{"version", "table", "key", "row"}`) or an array (`[version, table, key, values]`).
pub(crate) struct StagedChange<'a> {
    version: i64,
    table: Cow<'a, str>,
    key: Vec<Value>,
    row: Option<StagedRow<'a>>,
}

enum StagedRow<'a> {
    Columns(Vec<(Cow<'a, str>, Value)>),
    Values(Vec<Value>),
}

impl<'de: 'a, 'a> Deserialize<'de> for StagedChange<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ChangeVisitor(PhantomData))
    }
}

struct ChangeVisitor<'a>(PhantomData<&'a ()>);

const ARRAY_CHANGE: &str = "an array [version, table, key, values]";

impl<'de: 'a, 'a> Visitor<'de> for ChangeVisitor<'a> {
    type Value = StagedChange<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a change: an object, or {ARRAY_CHANGE}")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<StagedChange<'a>, A::Error> {
        let short = |i| de::Error::invalid_length(i, &ARRAY_CHANGE);
        let version = seq.next_element()?.ok_or_else(|| short(0))?;
        let Name(table) = seq.next_element()?.ok_or_else(|| short(1))?;
        let key = seq.next_element()?.ok_or_else(|| short(2))?;
        let values: Option<Vec<Value>> = seq.next_element()?.ok_or_else(|| short(3))?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(short(5));
        }
        Ok(StagedChange {
            version,
            table,
            key,
            row: values.map(StagedRow::Values),
        })
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<StagedChange<'a>, A::Error> {
        let (mut version, mut table, mut key, mut row) = (None, None, None, None);
        while let Some(Name(field)) = map.next_key()? {
            match &*field {
                "version" => version = Some(map.next_value()?),
                "table" => table = Some(map.next_value::<Name>()?.0),
                "key" => key = Some(map.next_value()?),
                "row" => row = map.next_value::<Option<Columns>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(StagedChange {
            version: version.ok_or_else(|| de::Error::missing_field("version"))?,
            table: table.ok_or_else(|| de::Error::missing_field("table"))?,
            key: key.ok_or_else(|| de::Error::missing_field("key"))?,
            row: row.map(|Columns(columns)| StagedRow::Columns(columns)),
        })
    }
}

/// A row's columns in the order the page has them.
struct Columns<'a>(Vec<(Cow<'a, str>, Value)>);

impl<'de: 'a, 'a> Deserialize<'de> for Columns<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(ColumnsVisitor(PhantomData))
    }
}

struct ColumnsVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ColumnsVisitor<'a> {
    type Value = Columns<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row: an object of column values")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Columns<'a>, A::Error> {
        let mut columns = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some(Name(name)) = map.next_key()? {
            columns.push((name, map.next_value()?));
        }
        Ok(Columns(columns))
    }
}

/// A column name, borrowed from the page unless it has escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_borrowed_str<E>(self, name: &'de str) -> std::result::Result<Name<'de>, E> {
        Ok(Name(Cow::Borrowed(name)))
    }

    fn visit_str<E>(self, name: &str) -> std::result::Result<Name<'de>, E> {
        Ok(Name(Cow::Owned(name.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{pull_answer_json, PullResponse, ServedPage};

    fn decoded(page: &[u8]) -> Vec<Change> {
        serde_json::from_slice::<PullResponse>(page)
            .unwrap()
            .changes
    }

    #[test]
    fn a_staged_row_reads_as_its_map_would() {
        let page = br#"{"changes":[
            {"version":1,"table":"items","key":[1],"row":{"id":1,"\u0074":"x","a":2,"a":3}},
            {"version":2,"table":"it\u0065ms","key":[2],"row":null}],"cursor":2,"more":true}"#;
        let staged: StagedPage = serde_json::from_slice(page).unwrap();
        let decoded = decoded(page);
        let rows: Vec<PulledRow> = staged.each().map(|r| r.unwrap()).collect();
        for (staged, decoded) in rows.iter().zip(&decoded) {
            let decoded = PulledRow::from(decoded);
            assert_eq!((staged.table, staged.key), (decoded.table, decoded.key));
            for column in ["id", "t", "a", "missing"] {
                assert_eq!(
                    staged.row.and_then(|r| r.get(column)),
                    decoded.row.and_then(|r| r.get(column)),
                    "{column}"
                );
            }
        }
        assert_eq!(rows[0].row.unwrap().get("a"), Some(&Value::Integer(3)));
        assert!(rows[1].row.is_none());
        assert_eq!(staged.into_changes().unwrap(), decoded);
    }

    #[test]
    fn rows_as_arrays_read_as_the_same_rows_as_objects() {
        let objects = br#"{"changes":[
            {"version":4,"table":"items","key":[1],"row":{"a":null,"id":1,"t":"x\"y"}},
            {"version":5,"table":"tags","key":["k"],"row":{"name":"k","n":2.5}},
            {"version":6,"table":"items","key":[2],"row":null},
            {"version":7,"table":"items","key":[3],"row":{"a":{"blob":"AAE="},"id":3,"t":""}}],
            "cursor":7,"more":false}"#;
        let changes = decoded(objects);
        let served = |arrays| {
            let answer = PullResponse {
                changes: ServedPage::from_changes(changes.clone()),
                cursor: 7,
                ..PullResponse::default()
            };
            pull_answer_json(answer, arrays).unwrap()
        };
        let page = served(true);
        assert!(
            page.len() < objects.len() * 3 / 4,
            "{}",
            String::from_utf8_lossy(&page)
        );
        let staged: StagedPage = serde_json::from_slice(&page).unwrap();
        assert_eq!(staged.columns["items"], ["a", "id", "t"]);
        let row = staged.each().next().unwrap().unwrap().row.unwrap();
        assert_eq!(row.get("t"), Some(&Value::Text("x\"y".into())));
        assert_eq!(row.get("missing"), None);
        assert_eq!(staged.into_changes().unwrap(), changes);
        // Served as objects, the page is the answer it was decoded from.
        assert_eq!(decoded(&served(false)), changes);
    }

    #[test]
    fn an_array_row_must_match_its_column_names() {
        let short = br#"{"columns":{"items":["id","t"]},"changes":[[1,"items",[1],[1]]]}"#;
        let unnamed = br#"{"columns":{"tags":["id"]},"changes":[[1,"items",[1],[1]]]}"#;
        for page in [&short[..], &unnamed[..]] {
            let staged: StagedPage = serde_json::from_slice(page).unwrap();
            let refused = staged.into_changes().unwrap_err();
            assert!(refused.contains("values for"), "{refused}");
        }
        // A tombstone names no columns; a change of the wrong length is not a change.
        let tombstone = br#"{"changes":[[1,"items",[1],null]]}"#;
        let staged: StagedPage = serde_json::from_slice(tombstone).unwrap();
        assert!(staged.into_changes().unwrap()[0].row.is_none());
        for bad in [
            &br#"{"changes":[[1,"items",[1]]]}"#[..],
            br#"{"changes":[[1,"items",[1],null,2]]}"#,
        ] {
            assert!(serde_json::from_slice::<StagedPage>(bad).is_err());
        }
    }
}
