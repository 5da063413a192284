//! Making an object's storage ready to serve, as the embedded store does a file
//! (`sqlite/schema.rs`, the same statements from `sqlite_sql.rs`): the migrations it lacks, the
//! bookkeeping tables and capture triggers, and a new epoch, in the caller's transaction.

use std::collections::BTreeMap;

use js_sys::{Array, Reflect};
use outpost::Value;
use wasm_bindgen::prelude::*;

use super::dialect::Kind;
use super::storage::{SqlFailure, SqlStorage};
use crate::store::migrations::{self, Applied};
use crate::store::sqlite_sql as text;
use crate::store::table::{CatalogColumn, Tables};
use crate::store::{QueryAnswer, StoreError};

pub fn prepare(storage: &SqlStorage, schema_sql: &str) -> Result<Tables<Kind>, StoreError> {
    let setup = |e: SqlFailure| StoreError::Setup(format!("{} ({})", e.message, e.code));
    let objects = storage.select(text::OBJECT_COUNT, &[]).map_err(setup)?;
    let had_tables = !matches!(
        objects.first().map(Vec::as_slice),
        Some([Value::Integer(0)])
    );
    storage.execute(text::BOOKKEEPING, &[]).map_err(setup)?;
    apply_migrations(storage, schema_sql, had_tables)?;
    for (table, column, declared) in text::ADDED_COLUMNS {
        let names = [Value::Text((*table).into()), Value::Text((*column).into())];
        let present = storage
            .select(text::COLUMN_PRESENT, &[&names[0], &names[1]])
            .map_err(setup)?;
        if matches!(
            present.first().map(Vec::as_slice),
            Some([Value::Integer(0)])
        ) {
            let sql = format!("ALTER TABLE {table} ADD COLUMN {column} {declared}");
            storage.execute(&sql, &[]).map_err(setup)?;
        }
    }
    let tables = introspect(storage)?;
    let triggers: BTreeMap<String, String> = storage
        .select(text::TRIGGERS, &[])
        .map_err(setup)?
        .into_iter()
        .filter_map(|row| match <[Value; 2]>::try_from(row) {
            Ok([Value::Text(name), Value::Text(sql)]) => Some((name, sql)),
            _ => None,
        })
        .collect();
    for table in tables.iter() {
        let sql = text::capture_triggers(table, &triggers);
        if !sql.is_empty() {
            storage.execute(&sql, &[]).map_err(setup)?;
        }
    }
    storage.execute(text::START_EPOCH, &[]).map_err(setup)?;
    Ok(tables)
}

/// Run the steps the storage lacks and record them; one that has tables but no record was
/// made from a schema file, which was its step 1.
fn apply_migrations(
    storage: &SqlStorage,
    schema_sql: &str,
    had_tables: bool,
) -> Result<(), StoreError> {
    let steps = migrations::parse(schema_sql);
    let mut applied: Vec<Applied> = storage
        .select(text::APPLIED_MIGRATIONS, &[])?
        .into_iter()
        .map(|row| match row.as_slice() {
            [Value::Integer(step), Value::Text(name), Value::Text(digest)] => Ok(Applied {
                step: *step,
                name: name.clone(),
                digest: digest.clone(),
            }),
            other => Err(StoreError::Internal(format!(
                "unexpected row {other:?} in _outpost_migrations"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let record = |step: i64, name: &str, digest: &str| {
        let values = [
            Value::Integer(step),
            Value::Text(name.into()),
            Value::Text(digest.into()),
        ];
        storage.execute(text::RECORD_MIGRATION, &values.iter().collect::<Vec<_>>())
    };
    if applied.is_empty() && had_tables {
        if let Some(first) = steps.first() {
            record(first.step, &first.name, &first.digest)?;
            applied.push(Applied {
                step: first.step,
                name: first.name.clone(),
                digest: first.digest.clone(),
            });
        }
    }
    for step in migrations::pending(&steps, &applied)? {
        storage
            .execute(&step.sql, &[])
            .map_err(|e| migrations::failed(step, e.message))?;
        record(step.step, &step.name, &step.digest)?;
    }
    Ok(())
}

/// The synced tables, from `sqlite_master`; what can be synced is `Tables::add`'s to say.
fn introspect(storage: &SqlStorage) -> Result<Tables<Kind>, StoreError> {
    let mut tables = Tables::default();
    for row in storage.select(text::TABLE_NAMES, &[])? {
        let Some(Value::Text(name)) = row.into_iter().next() else {
            continue;
        };
        let columns = storage
            .select(&text::table_columns(&name), &[])?
            .into_iter()
            .map(|column| {
                let mut values = column.into_iter();
                let text = |v: Option<Value>| match v {
                    Some(Value::Text(t)) => t,
                    _ => String::new(),
                };
                let name = text(values.next());
                let declared = text(values.next());
                let key_position = match values.next() {
                    Some(Value::Integer(position)) => position,
                    _ => 0,
                };
                CatalogColumn {
                    name,
                    kind: (),
                    key_capable: text::is_key_type(&declared),
                    declared,
                    key_position,
                }
            })
            .collect();
        tables.add(&name, columns)?;
    }
    Ok(tables)
}

#[wasm_bindgen]
extern "C" {
    /// `{ columns, rows, written }` of one statement run in a transaction then rolled back.
    #[wasm_bindgen(method, catch)]
    fn query(this: &SqlStorage, sql: &str, params: Array) -> Result<JsValue, JsValue>;
}

/// A statement run and undone: its rows, or `READ_ONLY` when it wrote.
pub fn read_only_query(
    storage: &SqlStorage,
    sql: &str,
    params: &[Value],
) -> Result<QueryAnswer, StoreError> {
    let params: Vec<&Value> = params.iter().collect();
    let (sql, bound) = super::storage::integers_as_text(sql, &params);
    let answer = storage.query(&sql, bound).map_err(|e| {
        let failure = SqlFailure::from_js(e);
        StoreError::BadQuery {
            code: failure.code,
            message: failure.message,
        }
    })?;
    let field = |name: &str| Reflect::get(&answer, &JsValue::from_str(name)).unwrap_or_default();
    if field("written").as_f64().unwrap_or(0.0) > 0.0 {
        return Err(StoreError::ReadOnly);
    }
    let columns = Array::from(&field("columns"))
        .iter()
        .map(|c| c.as_string().unwrap_or_default())
        .collect();
    let rows = Array::from(&field("rows"))
        .iter()
        .map(|row| {
            Array::from(&row)
                .iter()
                .map(|v| super::storage::from_js(&v))
                .collect()
        })
        .collect();
    Ok(QueryAnswer { columns, rows })
}
