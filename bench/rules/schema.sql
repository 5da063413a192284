-- The schema of the benchmark of pulls under sync rules (bench/native/src/ruled.rs): items owned
-- by users and kept in lists, and who is a member of which list. The indexes are the ones the
-- read rules (bench/rules/*.txt) are checked by.
CREATE TABLE members (list_id INTEGER NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (list_id, user_id));
CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, list_id INTEGER NOT NULL, a INTEGER, b REAL, t TEXT);
CREATE INDEX items_by_owner ON items (owner_id);
CREATE INDEX items_by_list ON items (list_id);
CREATE INDEX members_by_user ON members (user_id, list_id);
