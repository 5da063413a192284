//! One Postgres schema per database name: created from the schema SQL on first use, read back
//! from the catalog, checked against the type mapping, and given the capture triggers that record
//! every change in `_outpost_changes`. Only names read from the catalog are put into SQL, quoted.

use std::collections::BTreeMap;

use outpost::protocol::{is_reserved_name, is_valid_name, quote_ident};
use tokio_postgres::Transaction;

use super::capture;
use super::values::ColumnKind;

/// The first half of every advisory lock Outpost takes ("outp"), so its locks never collide
/// with an application's single-key ones.
pub const LOCK_CLASS: i32 = 0x6f75_7470;
/// The lock class held while a database's schema is created or its triggers replaced.
const SETUP_LOCK_CLASS: i32 = LOCK_CLASS + 1;
/// Where schema names start; the rest is the database name (see [`schema_name`]).
const PREFIX: &str = "outpost_";
/// Postgres silently truncates longer identifiers, which could merge two databases.
const MAX_IDENTIFIER: usize = 63;

/// The synced tables of one database, by name.
#[derive(Clone, Debug, Default)]
pub struct Tables(BTreeMap<String, PgTable>);

#[derive(Clone, Debug)]
pub struct PgTable {
    pub name: String,
    pub columns: Vec<PgColumn>,
    /// Indices into `columns`, in primary-key order.
    pub key: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct PgColumn {
    pub name: String,
    pub kind: ColumnKind,
}

impl Tables {
    pub fn get(&self, name: &str) -> Option<&PgTable> {
        self.0.get(name)
    }
}

impl PgTable {
    pub fn column(&self, name: &str) -> Option<&PgColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &PgColumn> {
        self.key.iter().map(|&i| &self.columns[i])
    }

    pub fn is_key_column(&self, name: &str) -> bool {
        self.key_columns().any(|c| c.name == name)
    }

    /// `"a" = $1 AND "b" = $2`, numbering parameters from `first`.
    pub fn key_predicate(&self, first: usize) -> String {
        let terms: Vec<String> = self
            .key_columns()
            .enumerate()
            .map(|(i, c)| format!("{} = ${}", quote_ident(&c.name), first + i))
            .collect();
        terms.join(" AND ")
    }

    /// Every column, quoted and prefixed with `alias.`, in declaration order.
    pub fn column_list(&self, alias: &str) -> String {
        let quoted: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{alias}.{}", quote_ident(&c.name)))
            .collect();
        quoted.join(", ")
    }
}

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

/// FNV-1a: stable across Rust versions and machines, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Make the schema of `database` ready to serve, in the transaction `tx` (the caller commits, or
/// rolls back for a dry run): create it and apply `schema_sql` with `search_path` set to it if it
/// has no tables yet, add the bookkeeping tables and triggers, and check every synced table.
pub async fn prepare(
    tx: &Transaction<'_>,
    database: &str,
    schema: &str,
    schema_sql: &str,
) -> Result<Tables, String> {
    let sql_error = |e: tokio_postgres::Error| describe_error(&e);
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
    if objects == 0 {
        tx.batch_execute(&format!("SET LOCAL search_path TO {quoted}"))
            .await
            .map_err(sql_error)?;
        tx.batch_execute(schema_sql)
            .await
            .map_err(|e| format!("the schema failed: {}", describe_error(&e)))?;
    }
    let tables = introspect(tx, schema).await?;
    let capture_sql = std::iter::once(capture::bookkeeping_sql(schema, database))
        .chain(
            tables
                .0
                .values()
                .map(|t| capture::table_triggers(schema, t)),
        )
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
        return Err(format!(
            "Postgres schema {schema} belongs to database {owner:?}, not {database:?}"
        ));
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

/// Read the synced tables of `schema` from the catalog and refuse any the protocol cannot carry.
async fn introspect(tx: &Transaction<'_>, schema: &str) -> Result<Tables, String> {
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
        .map_err(|e| describe_error(&e))?;
    let mut tables: BTreeMap<String, (PgTable, Vec<(i64, usize)>)> = BTreeMap::new();
    for row in rows {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let (type_name, declared, generated): (String, String, bool) =
            (row.get(2), row.get(3), row.get(4));
        let key_position: i64 = row.get(5);
        if is_reserved_name(&table) {
            continue;
        }
        if !is_valid_name(&table) || !is_valid_name(&column) {
            return Err(format!(
                "table {table:?} (column {column:?}) cannot be synced: names must be letters, \
                 digits and _ (not starting with a digit)"
            ));
        }
        let kind = ColumnKind::from_type_name(&type_name).ok_or_else(|| {
            format!(
                "table {table}: column {column} is {declared}, which Outpost cannot carry \
                 faithfully; use bigint, integer, smallint, double precision, text, varchar, \
                 bytea or boolean (see docs/POSTGRES.md){}",
                type_hint(&type_name)
            )
        })?;
        if generated {
            return Err(format!(
                "table {table}: column {column} is generated; replicas write every column, \
                 so synced tables cannot have generated columns"
            ));
        }
        let (entry, key) = tables.entry(table.clone()).or_insert_with(|| {
            let empty = PgTable {
                name: table.clone(),
                columns: Vec::new(),
                key: Vec::new(),
            };
            (empty, Vec::new())
        });
        if key_position > 0 {
            if !kind.can_be_key() {
                return Err(format!(
                    "table {table}: primary-key column {column} is {declared}; synced keys \
                     must be integer or text columns"
                ));
            }
            key.push((key_position, entry.columns.len()));
        }
        entry.columns.push(PgColumn { name: column, kind });
    }
    let mut checked = Tables::default();
    for (name, (mut table, mut key)) in tables {
        if key.is_empty() {
            return Err(format!(
                "table {name} has no PRIMARY KEY; every synced table needs one (integer or \
                 text columns), since rows are identified by it on every replica"
            ));
        }
        key.sort();
        table.key = key.into_iter().map(|(_, i)| i).collect();
        checked.0.insert(name, table);
    }
    Ok(checked)
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
