//! A pulled row state as the apply reads it: from a decoded answer (the last page), or borrowed
//! from the bytes of a staged page. A staged row's table and column names are not copied out of
//! those bytes and its columns are not sorted into a map: they are read once, by name, as the
//! row is written, and a map per row (its allocations, inserts and drops) was a tenth of a
//! 100,000-row pull in the wasm (bench/RESULTS.md).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::stage::key_json;
use crate::protocol::Change;
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

impl<'a> From<&'a StagedChange<'a>> for PulledRow<'a> {
    fn from(change: &'a StagedChange<'a>) -> Self {
        PulledRow {
            table: &change.table,
            key: &change.key,
            row: change.row.as_ref().map(|row| RowRef::Columns(&row.0)),
        }
    }
}

/// A row's columns by name: a map, or the columns of a staged row in the order they came.
#[derive(Clone, Copy)]
pub(crate) enum RowRef<'a> {
    Map(&'a Row),
    Columns(&'a [(Cow<'a, str>, Value)]),
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
        }
    }
}

/// A staged page as it is read back: the pull answer it came in (other fields ignored), or the
/// changes alone, written as `{"changes": [...]}`.
#[derive(serde::Deserialize)]
pub(crate) struct StagedPage<'a> {
    #[serde(borrow)]
    pub changes: Vec<StagedChange<'a>>,
}

/// A [`Change`] read from a staged page, borrowing from its bytes.
#[derive(serde::Deserialize)]
pub(crate) struct StagedChange<'a> {
    #[serde(borrow)]
    table: Cow<'a, str>,
    key: Vec<Value>,
    #[serde(borrow)]
    row: Option<Columns<'a>>,
}

/// A row's columns in the order the page has them.
pub(crate) struct Columns<'a>(Vec<(Cow<'a, str>, Value)>);

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

    #[test]
    fn a_staged_row_reads_as_its_map_would() {
        let page = br#"{"changes":[
            {"version":1,"table":"items","key":[1],"row":{"id":1,"\u0074":"x","a":2,"a":3}},
            {"version":2,"table":"it\u0065ms","key":[2],"row":null}],"cursor":2,"more":true}"#;
        let staged: StagedPage = serde_json::from_slice(page).unwrap();
        let decoded: Vec<Change> = serde_json::from_slice::<serde_json::Value>(page)
            .map(|v| serde_json::from_value(v["changes"].clone()).unwrap())
            .unwrap();
        for (staged, decoded) in staged.changes.iter().zip(&decoded) {
            let (staged, decoded) = (PulledRow::from(staged), PulledRow::from(decoded));
            assert_eq!((staged.table, staged.key), (decoded.table, decoded.key));
            for column in ["id", "t", "a", "missing"] {
                assert_eq!(
                    staged.row.and_then(|r| r.get(column)),
                    decoded.row.and_then(|r| r.get(column)),
                    "{column}"
                );
            }
        }
        assert_eq!(
            PulledRow::from(&staged.changes[0]).row.unwrap().get("a"),
            Some(&Value::Integer(3))
        );
        assert!(PulledRow::from(&staged.changes[1]).row.is_none());
    }
}
