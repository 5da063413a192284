// The board's schema, shared by every replica (the page's migrations) and by the primary
// (www-demo/schema.sql holds the same statements, step by step; tests/e2e/demo.test.mjs checks that).
// Ids are random UUIDs made on the device, so replicas never collide. `position` is a REAL so a
// task moves by changing one row: it takes the midpoint of its new neighbours.

export const MIGRATIONS = [
  `CREATE TABLE lists (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  position REAL NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  list_id TEXT NOT NULL,
  title TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  position REAL NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX tasks_by_list ON tasks (list_id, position);`,
  // Who made a list, and whether only they see it. The demo's sync rules (www-demo/rules.txt) read
  // both; a primary without rules ignores them, and every list is shared.
  `ALTER TABLE lists ADD COLUMN owner TEXT;
ALTER TABLE lists ADD COLUMN private INTEGER NOT NULL DEFAULT 0;`,
];

/** The tables kept in step with the primary. */
export const SYNCED_TABLES = ["lists", "tasks"];

/** The rule the primary enforces and the page deliberately does not, to show a rejection. */
export const MAX_TITLE_LENGTH = 80;
