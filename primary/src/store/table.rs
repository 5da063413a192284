//! The synced tables of one database as every dialect describes them: names, columns in
//! declaration order, the primary key, and each column's storage kind in that dialect. The rules
//! for what can be synced (names, a key of INTEGER or TEXT columns) are checked here, once.

use std::collections::BTreeMap;

use outpost::protocol::{is_reserved_name, is_valid_name};
use outpost::{Row, Value};

use super::StoreError;

/// The synced tables of one database, by name.
#[derive(Clone, Debug)]
pub struct Tables<K>(BTreeMap<String, Table<K>>);

/// One synced table. `K` is how the dialect stores a column (nothing for SQLite, which stores any
/// value in any column; a Postgres type for Postgres).
#[derive(Clone, Debug)]
pub struct Table<K> {
    pub name: String,
    pub columns: Vec<Column<K>>,
    /// Indices into `columns`, in primary-key order.
    pub key: Vec<usize>,
    /// The key's column names in key order, kept for building statements.
    pub key_names: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Column<K> {
    pub name: String,
    pub kind: K,
}

/// A column as a dialect's catalog describes it, before the sync rules are checked.
pub struct CatalogColumn<K> {
    pub name: String,
    pub kind: K,
    /// The type as declared, for messages.
    pub declared: String,
    /// 1-based position in the primary key; 0 when not part of it.
    pub key_position: i64,
    /// Whether the dialect can carry this kind as a key exactly (integers and text).
    pub key_capable: bool,
}

impl<K> Default for Tables<K> {
    fn default() -> Self {
        Tables(BTreeMap::new())
    }
}

impl<K> Tables<K> {
    pub fn get(&self, name: &str) -> Option<&Table<K>> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Table<K>> {
        self.0.values()
    }

    /// Check one table from the catalog and add it. Outpost's own and SQLite's tables are skipped.
    pub fn add(&mut self, name: &str, columns: Vec<CatalogColumn<K>>) -> Result<(), StoreError> {
        if is_reserved_name(name) {
            return Ok(());
        }
        let table = Table::checked(name, columns)?;
        self.0.insert(name.to_owned(), table);
        Ok(())
    }
}

impl<K> Table<K> {
    /// A row of this table from its values in column order (as a dialect reads them).
    pub fn row_of(&self, values: Vec<Value>) -> Row {
        self.columns
            .iter()
            .map(|c| c.name.clone())
            .zip(values)
            .collect()
    }

    /// The index of column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    fn checked(name: &str, catalog: Vec<CatalogColumn<K>>) -> Result<Self, StoreError> {
        let setup = |message: String| StoreError::Setup(message);
        if !is_valid_name(name) {
            return Err(setup(format!(
                "table {name:?} cannot be synced: names must be letters, digits and _ \
                 (not starting with a digit)"
            )));
        }
        let mut key: Vec<(i64, usize)> = Vec::new();
        let mut columns = Vec::with_capacity(catalog.len());
        for (i, column) in catalog.into_iter().enumerate() {
            if !is_valid_name(&column.name) {
                return Err(setup(format!(
                    "column {:?} of table {name} cannot be synced: names must be letters, \
                     digits and _ (not starting with a digit)",
                    column.name
                )));
            }
            if column.key_position > 0 {
                if !column.key_capable {
                    return Err(setup(format!(
                        "table {name}: primary-key column {} is declared {}; synced keys must \
                         be INTEGER or TEXT columns",
                        column.name, column.declared
                    )));
                }
                key.push((column.key_position, i));
            }
            columns.push(Column {
                name: column.name,
                kind: column.kind,
            });
        }
        if key.is_empty() {
            return Err(setup(format!(
                "table {name} has no declared PRIMARY KEY; every synced table needs one \
                 (INTEGER or TEXT columns), since rows are identified by it on every replica"
            )));
        }
        key.sort();
        let key: Vec<usize> = key.into_iter().map(|(_, i)| i).collect();
        let key_names = key.iter().map(|&i| columns[i].name.clone()).collect();
        Ok(Table {
            name: name.to_owned(),
            columns,
            key,
            key_names,
        })
    }

    pub fn column(&self, name: &str) -> Option<&Column<K>> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &Column<K>> {
        self.key.iter().map(|&i| &self.columns[i])
    }

    pub fn is_key_column(&self, name: &str) -> bool {
        self.key_names.iter().any(|c| c == name)
    }

    /// Every column, quoted, prefixed with `alias.` when one is given, in declaration order.
    pub fn column_list(&self, alias: Option<&str>) -> String {
        let quoted: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let name = outpost::sql::quote_ident(&c.name);
                match alias {
                    Some(alias) => format!("{alias}.{name}"),
                    None => name,
                }
            })
            .collect();
        quoted.join(", ")
    }
}
