//! One Postgres schema per database name: created from the schema SQL on first use, read back
//! from the catalog, checked against the type mapping, and given the capture triggers that record
//! every change in `_outpost_changes`. Only names read from the catalog are put into SQL, quoted.

use std::collections::BTreeMap;

use outpost::protocol::is_reserved_name;
use outpost::sql::quote_ident;
use tokio_postgres::Transaction;

use super::capture;
use super::values::ColumnKind;
use crate::store::migrations::{self, Applied};
use crate::store::table::{self, CatalogColumn};
use crate::store::StoreError;

/// The first half of every advisory lock Outpost takes ("outp"), so its locks never collide
/// with an application's single-key ones.
pub const LOCK_CLASS: i32 = 0x6f75_7470;
/// The lock class held while a database's schema is created or its triggers replaced.
const SETUP_LOCK_CLASS: i32 = LOCK_CLASS + 1;
/// Where schema names start; the rest is the database name (see [`schema_name`]).
const PREFIX: &str = "outpost_";
/// Postgres silently truncates longer identifiers, which could merge two databases.
const MAX_IDENTIFIER: usize = 63;

pub type Tables = table::Tables<ColumnKind>;
pub type PgTable = table::Table<ColumnKind>;

/// The Postgres schema of database `name`: `outpost_{name}`, or for names too long for an
/// identifier, a prefix of the name and a hash of all of it (`~` never occurs in a database name,
/// so the two forms cannot meet). `_outpost_meta` in each schema records whose it is.
pub fn schema_name(database: &str) -> String {
    object_name(PREFIX, database)
}

/// `prefix` + `name`, shortened with a hash when it would not fit in an identifier.
pub fn object_name(prefix: &str, name: &str) -> String {
    let whole = format!("{prefix}{name}");
    if whole.len() <= MAX_IDENTIFIER {
        return whole;
    }
    let hash = format!("~{:016x}", fnv1a(name));
    let keep = MAX_IDENTIFIER - prefix.len() - hash.len();
    format!("{prefix}{}{hash}", &name[..keep])
}

fn fnv1a(text: &str) -> u64 {
    outpost::protocol::fnv1a(text.as_bytes())
}

/// Make the schema of `database` ready to serve, in the transaction `tx` (the caller commits, or
/// rolls back for a dry run): create it and apply `schema_sql` with `search_path` set to it if it
/// has no tables yet, add the bookkeeping tables and triggers, and check every synced table.
pub async fn prepare(
    tx: &Transaction<'_>,
    database: &str,
    schema: &str,
    schema_sql: &str,
) -> Result<Tables, StoreError> {
    let sql_error = |e: tokio_postgres::Error| StoreError::Setup(describe_error(&e));
    // Two primaries opening a new database at once: the second waits, then finds it made.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&SETUP_LOCK_CLASS, &schema],
    )
    .await
    .map_err(sql_error)?;
    let quoted = quote_ident(schema);
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
        .await
        .map_err(sql_error)?;
    let objects: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1",
            &[&schema],
        )
        .await
        .map_err(sql_error)?
        .get(0);
    apply_migrations(tx, &quoted, schema_sql, objects > 0).await?;
    let tables = introspect(tx, schema).await?;
    let capture_sql = std::iter::once(capture::bookkeeping_sql(schema, database))
        .chain(tables.iter().map(|t| capture::table_triggers(schema, t)))
        .collect::<String>();
    let capture_hash = format!("{:016x}", fnv1a(&capture_sql));
    let meta: Option<(String, String)> = match tx
        .query_one(
            "SELECT to_regclass(quote_ident($1) || '._outpost_meta') IS NOT NULL",
            &[&schema],
        )
        .await
        .map_err(sql_error)?
        .get(0)
    {
        true => tx
            .query_opt(
                &format!("SELECT database_name, capture FROM {quoted}._outpost_meta"),
                &[],
            )
            .await
            .map_err(sql_error)?
            .map(|r| (r.get(0), r.get(1))),
        false => None,
    };
    if let Some((owner, _)) = meta.as_ref().filter(|(owner, _)| owner != database) {
        return Err(StoreError::Setup(format!(
            "Postgres schema {schema} belongs to database {owner:?}, not {database:?}"
        )));
    }
    // Replacing triggers takes locks that conflict with writes; once they are current (the
    // usual restart), no DDL runs at all. Otherwise wait for the database's writers first, in
    // the same order they take locks, so a push cannot deadlock with this.
    if meta.is_none_or(|(_, hash)| hash != capture_hash) {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2::text::regnamespace::oid::int4)",
            &[&LOCK_CLASS, &quoted],
        )
        .await
        .map_err(sql_error)?;
        tx.batch_execute(&capture_sql).await.map_err(sql_error)?;
        tx.execute(
            &format!(
                "INSERT INTO {quoted}._outpost_meta(database_name, capture) VALUES ($1, $2) \
                 ON CONFLICT (database_name) DO UPDATE SET capture = excluded.capture"
            ),
            &[&database, &capture_hash],
        )
        .await
        .map_err(sql_error)?;
    }
    Ok(tables)
}

/// Run the steps the schema lacks and record them (see `migrations.rs`), with `search_path` set
/// to it. A schema that has tables but no record was made from a schema file: its step 1.
async fn apply_migrations(
    tx: &Transaction<'_>,
    quoted: &str,
    schema_sql: &str,
    had_tables: bool,
) -> Result<(), StoreError> {
    let sql_error = |e: tokio_postgres::Error| StoreError::Setup(describe_error(&e));
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {quoted}._outpost_migrations( \
         step bigint PRIMARY KEY, name text NOT NULL, digest text NOT NULL)"
    ))
    .await
    .map_err(sql_error)?;
    let steps = migrations::parse(schema_sql);
    let mut applied: Vec<Applied> = tx
        .query(
            &format!("SELECT step, name, digest FROM {quoted}._outpost_migrations ORDER BY step"),
            &[],
        )
        .await
        .map_err(sql_error)?
        .iter()
        .map(|r| Applied {
            step: r.get(0),
            name: r.get(1),
            digest: r.get(2),
        })
        .collect();
    let record =
        format!("INSERT INTO {quoted}._outpost_migrations(step, name, digest) VALUES ($1, $2, $3)");
    if applied.is_empty() && had_tables {
        if let Some(first) = steps.first() {
            tx.execute(&record, &[&first.step, &first.name, &first.digest])
                .await
                .map_err(sql_error)?;
            applied.push(Applied {
                step: first.step,
                name: first.name.clone(),
                digest: first.digest.clone(),
            });
        }
    }
    let pending = migrations::pending(&steps, &applied)?;
    if pending.is_empty() {
        return Ok(());
    }
    tx.batch_execute(&format!("SET LOCAL search_path TO {quoted}"))
        .await
        .map_err(sql_error)?;
    for step in pending {
        tx.batch_execute(&step.sql)
            .await
            .map_err(|e| migrations::failed(step, describe_error(&e)))?;
        tx.execute(&record, &[&step.step, &step.name, &step.digest])
            .await
            .map_err(sql_error)?;
    }
    Ok(())
}

/// Read the synced tables of `schema` from the catalog and refuse any column type the protocol
/// cannot carry; the rules for names and keys are `Tables::add`'s.
async fn introspect(tx: &Transaction<'_>, schema: &str) -> Result<Tables, StoreError> {
    let setup = StoreError::Setup;
    let rows = tx
        .query(
            "SELECT c.relname::text, a.attname::text, t.typname::text, \
                    format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', \
                    coalesce((SELECT k.ord FROM unnest(i.indkey::int2[]) WITH ORDINALITY \
                              AS k(attnum, ord) WHERE k.attnum = a.attnum), 0) \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             ORDER BY c.relname, a.attnum",
            &[&schema],
        )
        .await
        .map_err(|e| setup(describe_error(&e)))?;
    let mut catalog: BTreeMap<String, Vec<CatalogColumn<ColumnKind>>> = BTreeMap::new();
    for row in rows {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let (type_name, declared, generated): (String, String, bool) =
            (row.get(2), row.get(3), row.get(4));
        if is_reserved_name(&table) {
            continue;
        }
        let kind = ColumnKind::from_type_name(&type_name).ok_or_else(|| {
            setup(format!(
                "table {table}: column {column} is {declared}, which Outpost cannot carry \
                 faithfully; use bigint, integer, smallint, double precision, text, varchar, \
                 bytea or boolean (see docs/POSTGRES.md){}",
                type_hint(&type_name)
            ))
        })?;
        if generated {
            return Err(setup(format!(
                "table {table}: column {column} is generated; replicas write every column, \
                 so synced tables cannot have generated columns"
            )));
        }
        catalog.entry(table).or_default().push(CatalogColumn {
            name: column,
            kind,
            declared,
            key_position: row.get(5),
            key_capable: kind.can_be_key(),
        });
    }
    let mut tables = Tables::default();
    for (name, columns) in catalog {
        tables.add(&name, columns)?;
    }
    Ok(tables)
}

fn type_hint(type_name: &str) -> &'static str {
    match type_name {
        "float4" => " (real keeps 6 digits of a replica's 64-bit REAL: use double precision)",
        "numeric" => " (numeric is not a 64-bit REAL: use double precision, bigint or text)",
        "bpchar" => " (char(n) pads with spaces, so text comes back changed: use text or varchar)",
        "json" | "jsonb" => " (store JSON in a text column)",
        _ => "",
    }
}

/// The server's message with its SQLSTATE, for set-up errors shown to an operator.
pub fn describe_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}
