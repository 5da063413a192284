-- The primary's schema for the demo board. The first part is the page's migration, verbatim
-- (www-demo/app/schema.js); the second is a rule only the primary enforces, so the page can show
-- what a rejected write looks like.
CREATE TABLE lists (
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
CREATE INDEX tasks_by_list ON tasks (list_id, position);

-- Server-side rule: task titles are at most 80 characters.
CREATE TRIGGER tasks_title_length_insert BEFORE INSERT ON tasks
WHEN length(NEW.title) > 80
BEGIN SELECT RAISE(ABORT, 'a task title is at most 80 characters'); END;
CREATE TRIGGER tasks_title_length_update BEFORE UPDATE OF title ON tasks
WHEN length(NEW.title) > 80
BEGIN SELECT RAISE(ABORT, 'a task title is at most 80 characters'); END;
-- outpost:migration lists-owner
-- The page's second migration, verbatim: who made a list and whether only they see it
-- (read by the demo's sync rules, www-demo/rules.txt).
ALTER TABLE lists ADD COLUMN owner TEXT;
ALTER TABLE lists ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
