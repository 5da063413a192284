//! The app's schema, as real apps write one: lists and their items (a foreign key with ON DELETE
//! CASCADE, and UNIQUE positions within a list), notes with integer keys the replica assigns
//! (`INSERT` without an id), and marks with a composite key. The primary also has a CHECK the
//! replicas lack, so some writes are refused there and only there.
//!
//! Every row carries `tok`, a token unique to the write that made it. The primary's own
//! triggers append each insert and update (with its token) and each delete to `audit`: a token
//! there twice is a write applied twice, a token missing is a write lost or refused.

use outpost_tests::Backend;

/// A synced table: its name, its key as one text (as `audit` records it) and what is compared.
pub struct Table {
    pub name: &'static str,
    /// The key columns, in key order.
    pub key: &'static [&'static str],
    /// The key as one text in SQLite: `tok` suffixes and `audit.item` use it.
    pub key_text: &'static str,
    /// Every column, for comparing replicas with the primary.
    pub columns: &'static str,
}

pub const LISTS: Table = Table {
    name: "lists",
    key: &["id"],
    key_text: "id",
    columns: "id, name, tok",
};
pub const ITEMS: Table = Table {
    name: "items",
    key: &["id"],
    key_text: "id",
    columns: "id, list, position, b, c, tok",
};
pub const NOTES: Table = Table {
    name: "notes",
    key: &["id"],
    key_text: "CAST(id AS TEXT)",
    columns: "id, body, tok",
};
pub const MARKS: Table = Table {
    name: "marks",
    key: &["owner", "n"],
    key_text: "owner || '/' || n",
    columns: "owner, n, tok",
};
pub const TABLES: [&Table; 4] = [&LISTS, &ITEMS, &NOTES, &MARKS];
pub const SYNCED: [&str; 4] = ["lists", "items", "notes", "marks"];

/// The replicas' one migration.
pub const REPLICA: &str = "
CREATE TABLE lists(id TEXT PRIMARY KEY, name TEXT, tok TEXT);
CREATE TABLE items(
  id TEXT PRIMARY KEY,
  list TEXT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  b INTEGER, c TEXT, tok TEXT,
  UNIQUE(list, position));
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, tok TEXT);
CREATE TABLE marks(owner TEXT NOT NULL, n INTEGER NOT NULL, tok TEXT, PRIMARY KEY(owner, n));
";

/// The CHECK only the primary makes: a negative `b` is refused there.
const SQLITE_PRIMARY: &str = "
CREATE TABLE lists(id TEXT PRIMARY KEY, name TEXT, tok TEXT);
CREATE TABLE items(
  id TEXT PRIMARY KEY,
  list TEXT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  b INTEGER CHECK (b IS NULL OR b >= 0), c TEXT, tok TEXT,
  UNIQUE(list, position));
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, tok TEXT);
CREATE TABLE marks(owner TEXT NOT NULL, n INTEGER NOT NULL, tok TEXT, PRIMARY KEY(owner, n));
CREATE TABLE audit(n INTEGER PRIMARY KEY, tbl TEXT NOT NULL, kind TEXT NOT NULL, item TEXT,
  old_item TEXT, tok TEXT);
";

/// The same in Postgres' dialect. The trigger function keeps the search path it was created with
/// (the database's schema, docs/POSTGRES.md), since the primary writes with no particular one;
/// it reads the key columns named in its arguments, so one function serves every table.
const POSTGRES_PRIMARY: &str = "
CREATE TABLE lists(id text PRIMARY KEY, name text, tok text);
CREATE TABLE items(
  id text PRIMARY KEY,
  list text NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
  position bigint NOT NULL,
  b bigint CHECK (b IS NULL OR b >= 0), c text, tok text,
  UNIQUE(list, position));
CREATE TABLE notes(id bigint PRIMARY KEY, body text, tok text);
CREATE TABLE marks(owner text NOT NULL, n bigint NOT NULL, tok text, PRIMARY KEY(owner, n));
CREATE TABLE audit(n bigserial PRIMARY KEY, tbl text NOT NULL, kind text NOT NULL, item text,
  old_item text, tok text);
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  new_key text;
  old_key text;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT string_agg(to_jsonb(OLD) ->> c, '/' ORDER BY i) INTO old_key
      FROM unnest(TG_ARGV) WITH ORDINALITY AS k(c, i);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    SELECT string_agg(to_jsonb(NEW) ->> c, '/' ORDER BY i) INTO new_key
      FROM unnest(TG_ARGV) WITH ORDINALITY AS k(c, i);
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit(tbl, kind, item) VALUES (TG_TABLE_NAME, 'delete', old_key);
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO audit(tbl, kind, item, tok) VALUES (TG_TABLE_NAME, 'insert', new_key, NEW.tok);
  ELSE
    INSERT INTO audit(tbl, kind, item, old_item, tok)
      VALUES (TG_TABLE_NAME, 'update', new_key, old_key, NEW.tok);
  END IF;
  RETURN NULL;
END $$;
";

/// The primary's schema on `backend`: the tables, `audit` and the triggers that fill it. The
/// Durable Object's storage is SQLite.
pub fn primary(backend: Backend) -> String {
    let mut sql = match backend {
        Backend::Sqlite | Backend::Durable => SQLITE_PRIMARY.to_owned(),
        Backend::Postgres => POSTGRES_PRIMARY.to_owned(),
    };
    for table in TABLES {
        sql += &match backend {
            Backend::Sqlite | Backend::Durable => sqlite_audit(table),
            Backend::Postgres => {
                let args: Vec<String> = table.key.iter().map(|c| format!("'{c}'")).collect();
                format!(
                    "CREATE TRIGGER audit_{t} AFTER INSERT OR UPDATE OR DELETE ON {t}
                       FOR EACH ROW EXECUTE FUNCTION audit_row({});\n",
                    args.join(", "),
                    t = table.name
                )
            }
        };
    }
    sql
}

fn sqlite_audit(table: &Table) -> String {
    let key = |side: &str| {
        let parts: Vec<String> = table.key.iter().map(|c| format!("{side}.{c}")).collect();
        format!("CAST({} AS TEXT)", parts.join(" || '/' || "))
    };
    format!(
        "CREATE TRIGGER audit_{t}_insert AFTER INSERT ON {t} BEGIN
           INSERT INTO audit(tbl, kind, item, tok) VALUES ('{t}', 'insert', {new}, NEW.tok);
         END;
         CREATE TRIGGER audit_{t}_update AFTER UPDATE ON {t} BEGIN
           INSERT INTO audit(tbl, kind, item, old_item, tok)
             VALUES ('{t}', 'update', {new}, {old}, NEW.tok);
         END;
         CREATE TRIGGER audit_{t}_delete AFTER DELETE ON {t} BEGIN
           INSERT INTO audit(tbl, kind, item) VALUES ('{t}', 'delete', {old});
         END;\n",
        t = table.name,
        new = key("NEW"),
        old = key("OLD"),
    )
}
