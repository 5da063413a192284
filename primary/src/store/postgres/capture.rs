//! The bookkeeping tables and capture triggers of one database's schema, as SQL.
//!
//! The visibility-order rule: every transaction that assigns versions first takes the database's
//! transaction-level advisory lock (`_outpost_lock()`), and assigns `max(version) + 1` only after
//! that. The previous holder released the lock after its commit became visible, so versions
//! commit in increasing order and a cursor can never pass a version that commits later. Pushes
//! take the lock before anything else; the triggers take it for writes made by other software.

use outpost::sql::{quote_ident, quote_literal};

use super::schema::{object_name, PgTable, LOCK_CLASS};

/// The LISTEN/NOTIFY channel; the payload is the database name.
pub const CHANNEL: &str = "outpost_changes";

/// Everything a schema needs besides the per-table triggers. Idempotent: run at every open, so a
/// newer primary replaces older function bodies.
pub fn bookkeeping_sql(schema: &str, database: &str) -> String {
    let s = quote_ident(schema);
    let namespace = quote_literal(&s);
    let payload = quote_literal(database);
    format!(
        "
CREATE TABLE IF NOT EXISTS {s}._outpost_meta(database_name text PRIMARY KEY, capture text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}._outpost_changes(
    tbl text NOT NULL,
    key text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY(tbl, key)
);
CREATE UNIQUE INDEX IF NOT EXISTS _outpost_changes_version ON {s}._outpost_changes(version);
CREATE TABLE IF NOT EXISTS {s}._outpost_clients(
    client_id text PRIMARY KEY,
    acked_through bigint NOT NULL
);
ALTER TABLE {s}._outpost_clients ADD COLUMN IF NOT EXISTS acked_digest text;
-- One epoch starts each time a primary opens the database (see the SQLite store's schema).
CREATE TABLE IF NOT EXISTS {s}._outpost_epochs(
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    first_version bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}._outpost_rejections(
    client_id text NOT NULL,
    seq bigint NOT NULL,
    code text NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY(client_id, seq)
);

-- Under REPEATABLE READ or SERIALIZABLE a writer's snapshot may predate the previous holder's
-- commit, so max(version) + 1 could repeat a version: refuse loudly instead.
CREATE OR REPLACE FUNCTION {s}._outpost_lock() RETURNS void LANGUAGE plpgsql AS $outpost$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'writes to Outpost''s synced tables need READ COMMITTED isolation'
            USING HINT = 'Outpost assigns change versions in commit order under an advisory lock';
    END IF;
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, {namespace}::regnamespace::oid::int4);
END $outpost$;

-- Volatile, so the INSERT takes a fresh snapshot: it sees every version committed before the
-- lock was granted.
CREATE OR REPLACE FUNCTION {s}._outpost_record(changed_table text, changed_key text)
RETURNS void LANGUAGE sql AS $outpost$
INSERT INTO {s}._outpost_changes(tbl, key, version)
VALUES (changed_table, changed_key,
        (SELECT coalesce(max(version), 0) + 1 FROM {s}._outpost_changes))
ON CONFLICT (tbl, key) DO UPDATE SET version = excluded.version;
SELECT pg_notify('{CHANNEL}', {payload});
$outpost$;

-- Before any row is touched: taking the lock only in the row trigger could deadlock with a push
-- that holds the lock and waits for a row this statement already changed.
CREATE OR REPLACE FUNCTION {s}._outpost_before_write() RETURNS trigger LANGUAGE plpgsql AS $outpost$
BEGIN
    PERFORM {s}._outpost_lock();
    IF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no row triggers: delete the rows instead, so each leaves a tombstone.
        EXECUTE format('DELETE FROM %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $outpost$;
"
    )
}

/// The row trigger of one synced table: records `(table, JSON key, next version)` for the new
/// key, and for the old one too when a delete or a key change leaves a tombstone.
pub fn table_triggers(schema: &str, table: &PgTable) -> String {
    let s = quote_ident(schema);
    let t = quote_ident(&table.name);
    let function = quote_ident(&object_name("_outpost_capture_", &table.name));
    let name = quote_literal(&table.name);
    let key_of = |row: &str| {
        let parts: Vec<String> = table
            .key_columns()
            .map(|c| format!("{row}.{}", quote_ident(&c.name)))
            .collect();
        format!("jsonb_build_array({})::text", parts.join(", "))
    };
    let (old, new) = (key_of("OLD"), key_of("NEW"));
    format!(
        "
CREATE OR REPLACE FUNCTION {s}.{function}() RETURNS trigger LANGUAGE plpgsql AS $outpost$
BEGIN
    PERFORM {s}._outpost_lock();
    IF TG_OP = 'INSERT' THEN
        PERFORM {s}._outpost_record({name}, {new});
    ELSIF TG_OP = 'UPDATE' THEN
        IF {old} IS DISTINCT FROM {new} THEN
            PERFORM {s}._outpost_record({name}, {old});
        END IF;
        PERFORM {s}._outpost_record({name}, {new});
    ELSE
        PERFORM {s}._outpost_record({name}, {old});
    END IF;
    RETURN NULL;
END $outpost$;
CREATE OR REPLACE TRIGGER _outpost_before_write
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {s}.{t}
    FOR EACH STATEMENT EXECUTE FUNCTION {s}._outpost_before_write();
CREATE OR REPLACE TRIGGER _outpost_capture
    AFTER INSERT OR UPDATE OR DELETE ON {s}.{t}
    FOR EACH ROW EXECUTE FUNCTION {s}.{function}();
"
    )
}
