//! What the primary knows about a database's synced tables, read from SQLite itself, and the
//! capture triggers that record every change to them in `_outpost_changes`. Only names found here
//! are ever put into SQL, always through `quote_ident`.

use std::collections::BTreeMap;

use outpost::protocol::{is_reserved_name, is_valid_name, quote_ident};
use rusqlite::Connection;

/// Outpost's own bookkeeping tables. Plain SQL, so a database file stays usable from the sqlite3 shell.
const BOOKKEEPING_SQL: &str = "
CREATE TABLE IF NOT EXISTS _outpost_changes(
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY(tbl, key)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS _outpost_changes_version ON _outpost_changes(version);
CREATE TABLE IF NOT EXISTS _outpost_clients(
    client_id TEXT PRIMARY KEY,
    acked_through INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS _outpost_rejections(
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY(client_id, seq)
);
";

/// The synced tables of one database, by name.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    tables: BTreeMap<String, Table>,
}

/// One synced table: its columns in declaration order and its primary key in key order.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub primary_key: Vec<String>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }
}

impl Table {
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    pub fn is_key_column(&self, name: &str) -> bool {
        self.primary_key.iter().any(|c| c == name)
    }

    /// `"a" = ?1 AND "b" = ?2`, numbering parameters from `first`.
    pub fn key_predicate(&self, first: usize) -> String {
        let terms: Vec<String> = self
            .primary_key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = ?{}", quote_ident(c), first + i))
            .collect();
        terms.join(" AND ")
    }

    /// Every column, quoted and comma-separated, in declaration order.
    pub fn column_list(&self) -> String {
        let quoted: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
        quoted.join(", ")
    }
}

/// Make `conn` ready to serve: apply `schema_sql` if the database is empty, create the bookkeeping
/// tables and capture triggers if missing, and check every synced table. All in one transaction,
/// so a failure leaves the file as it was.
pub fn prepare(conn: &mut Connection, schema_sql: &str) -> Result<Schema, String> {
    let sql_error = |e: rusqlite::Error| e.to_string();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sql_error)?;
    if objects == 0 {
        tx.execute_batch(schema_sql)
            .map_err(|e| format!("the schema failed: {e}"))?;
    }
    tx.execute_batch(BOOKKEEPING_SQL).map_err(sql_error)?;
    let schema = introspect(&tx)?;
    for table in schema.tables.values() {
        tx.execute_batch(&capture_triggers(table))
            .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)?;
    Ok(schema)
}

/// Read the synced tables from `sqlite_master` and refuse any the protocol cannot carry.
fn introspect(conn: &Connection) -> Result<Schema, String> {
    let sql_error = |e: rusqlite::Error| e.to_string();
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        )
        .map_err(sql_error)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(sql_error)?;
    let mut schema = Schema::default();
    for name in names.into_iter().filter(|n| !is_reserved_name(n)) {
        let table = read_table(conn, &name)?;
        schema.tables.insert(name, table);
    }
    Ok(schema)
}

fn read_table(conn: &Connection, name: &str) -> Result<Table, String> {
    if !is_valid_name(name) {
        return Err(format!(
            "table {name:?} cannot be synced: names must be letters, digits and _ (not starting with a digit)"
        ));
    }
    let sql = format!(
        "SELECT name, type, pk FROM pragma_table_info({})",
        quote_literal(name)
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| e.to_string())?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(|e| e.to_string())?;
    let mut key: Vec<(i64, String)> = Vec::new();
    for (column, declared_type, pk) in &rows {
        if !is_valid_name(column) {
            return Err(format!(
                "column {column:?} of table {name} cannot be synced: bad name"
            ));
        }
        if *pk > 0 {
            if !is_key_type(declared_type) {
                return Err(format!(
                    "table {name}: primary-key column {column} is declared {declared_type}; \
                     synced keys must be INTEGER or TEXT"
                ));
            }
            key.push((*pk, column.clone()));
        }
    }
    if key.is_empty() {
        return Err(format!(
            "table {name} has no declared PRIMARY KEY; every synced table needs one \
             (INTEGER or TEXT columns), since rows are identified by it on every replica"
        ));
    }
    key.sort();
    Ok(Table {
        name: name.to_owned(),
        columns: rows.into_iter().map(|(c, _, _)| c).collect(),
        primary_key: key.into_iter().map(|(_, c)| c).collect(),
    })
}

/// Keys must survive a trip through JSON unchanged and compare exactly: REAL and BLOB keys do not.
fn is_key_type(declared: &str) -> bool {
    let upper = declared.to_ascii_uppercase();
    let real = ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t));
    !upper.contains("BLOB") && (upper.contains("INT") || !real)
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// AFTER triggers that upsert `(table, json key, next version)`. Plain SQL with no custom
/// functions, so writes made by any SQLite client on the file are captured too. SQLite has one
/// writer at a time, so versions commit in increasing order and a pull cursor never skips one.
fn capture_triggers(table: &Table) -> String {
    let key_of = |row: &str| {
        let parts: Vec<String> = table
            .primary_key
            .iter()
            .map(|c| format!("{row}.{}", quote_ident(c)))
            .collect();
        format!("json_array({})", parts.join(", "))
    };
    let record = |key: &str, condition: &str| {
        format!(
            "INSERT INTO _outpost_changes(tbl, key, version) \
             SELECT {tbl}, {key}, (SELECT coalesce(max(version), 0) + 1 FROM _outpost_changes) \
             WHERE {condition} \
             ON CONFLICT(tbl, key) DO UPDATE SET version = excluded.version;",
            tbl = quote_literal(&table.name),
        )
    };
    let trigger = |event: &str, body: String| {
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER {event} ON {} BEGIN {body} END;\n",
            quote_ident(&format!(
                "_outpost_capture_{}_{}",
                table.name,
                event.to_lowercase()
            )),
            quote_ident(&table.name),
        )
    };
    let (old, new) = (key_of("OLD"), key_of("NEW"));
    let key_moved = format!("{old} IS NOT {new}");
    [
        trigger("INSERT", record(&new, "true")),
        // A key change moves the row: the old key becomes a tombstone, the new key a row.
        trigger("UPDATE", record(&old, &key_moved) + &record(&new, "true")),
        trigger("DELETE", record(&old, "true")),
    ]
    .concat()
}
