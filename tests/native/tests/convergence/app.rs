//! The app's writes, made the way apps make them: on rows the replica shows, with the id the
//! replica picks (`INSERT` without an id for notes), positions reordered through a free slot,
//! `INSERT OR REPLACE`, `INSERT OR IGNORE`, upserts, key changes, parents renamed after their
//! children and deleted with them. Each statement's rows carry `{token}:{key}`, so what a
//! statement wrote is read back from the replica itself, not from Outpost's tables.

use outpost::protocol::MAX_PUSH_BYTES;
use outpost::{Database, Error, Params, Value};

use crate::ledger::Write;
use crate::schema::{Table, ITEMS, LISTS, MARKS, NOTES};
use crate::sim::Sim;

/// One statement of the app, with what it needs to find the rows it wrote.
pub struct Stmt {
    pub sql: String,
    pub params: Vec<Value>,
    /// Every row this statement writes carries `{token}:…` in `tok`.
    pub token: String,
    /// The tables whose rows may carry the token.
    pub tables: &'static [&'static Table],
    /// An UPDATE that keeps the key (the only write the primary may drop).
    pub update: bool,
    /// Rows an `INSERT OR REPLACE` removes here: their deletes must reach the primary too.
    pub removes: Vec<Removed>,
    /// For an upsert: a query of whether its row exists (the key bound to `?1`, as in the
    /// statement). Asked just before the statement runs, it says whether the statement updates.
    pub upserts: Option<&'static str>,
}

/// A row an `INSERT OR REPLACE` removed on its replica: its table, its key, and its `tok` then
/// (whose write the primary may have applied).
pub type Removed = (&'static str, String, Option<String>);

/// The row `SELECT key, tok …` picked, as removed.
fn removed(table: &'static str, row: &[Value]) -> Removed {
    let tok = match row.last() {
        Some(Value::Text(tok)) => Some(tok.clone()),
        _ => None,
    };
    (table, as_text(&row[0]), tok)
}

/// A row a statement wrote: its token, and the write as the ledger keeps it.
pub type Written = (String, Write);

/// Local refusals an app meets and handles; anything else is a failure of the run.
pub fn refused_locally(error: &Error) -> bool {
    matches!(
        error.code(),
        "SQLITE_CONSTRAINT_PRIMARYKEY"
            | "SQLITE_CONSTRAINT_UNIQUE"
            | "SQLITE_CONSTRAINT_FOREIGNKEY"
            | "MUTATION_TOO_LARGE"
    )
}

/// Run `stmt` as replica `r` at `step`, and read back the rows it wrote.
pub fn run(db: &Database, stmt: &Stmt, r: usize, step: u64) -> Result<Vec<Written>, Error> {
    if crate::sim::tracing() {
        println!("  {} {:?}", stmt.sql, stmt.params);
    }
    let update = match stmt.upserts {
        Some(exists) => {
            let key = Params::Positional(stmt.params[..1].to_vec());
            !db.query(exists, &key)?.rows.is_empty()
        }
        None => stmt.update,
    };
    db.execute(&stmt.sql, &Params::Positional(stmt.params.clone()))?;
    let prefix = format!("{}:", stmt.token);
    let mut written = Vec::new();
    for table in stmt.tables {
        let sql = format!(
            "SELECT tok, {} FROM {} WHERE substr(tok, 1, ?2) = ?1",
            table.key_text, table.name
        );
        let params = vec![text(&prefix), Value::Integer(prefix.len() as i64)];
        for row in db.query(&sql, &Params::Positional(params))?.rows {
            let write = Write {
                replica: Some(r),
                step,
                table: table.name,
                key: as_text(&row[1]),
                update,
                removed: stmt.removes.clone(),
            };
            written.push((as_text(&row[0]), write));
        }
    }
    Ok(written)
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn as_text(value: &Value) -> String {
    match value {
        Value::Text(t) => t.clone(),
        Value::Integer(i) => i.to_string(),
        other => panic!("expected text, found {other:?}"),
    }
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

impl Sim {
    /// A token for the `n`th statement of this step on replica `r`.
    pub fn token(&self, r: usize, n: usize) -> String {
        format!("r{r}.{}.{n}", self.step)
    }

    /// Record what a statement outside any transaction wrote.
    pub fn made(&mut self, written: Vec<Written>) {
        for (token, write) in written {
            self.counts.bump(&format!("writes made: {}", write.table));
            self.ledger.made(token, write);
        }
    }

    /// One write of the app, on its own.
    pub fn app_write(&mut self, r: usize) {
        let stmts = self.some_write(r, 0);
        for stmt in &stmts {
            match run(self.db(r), stmt, r, self.step) {
                Ok(written) => self.made(written),
                Err(e) if refused_locally(&e) => {
                    self.counts.bump(&format!("refused locally: {}", e.code()));
                    // The app stops at the first refusal, as code with `?` does.
                    return;
                }
                Err(e) => panic!("step {}: replica {r}: {}: {e}", self.step, stmt.sql),
            }
        }
    }

    /// The statements of one write the app makes now (several for a reorder), numbered from `n`.
    pub fn some_write(&mut self, r: usize, n: usize) -> Vec<Stmt> {
        let roll = self.rng.below(100);
        let stmt = match roll {
            0..=4 => self.new_list(r, n),
            5..=9 => self.rename_list(r, n),
            10..=11 => self.delete_list(r),
            12 => self.replace_list(r, n),
            13..=30 => self.new_item(r, n),
            31..=44 => self.update_items(r, n),
            45..=51 => return self.reorder(r, n),
            52..=56 => self.delete_items(r),
            57..=59 => self.rekey_item(r, n),
            60..=62 => self.replace_item(r, n, false),
            63..=65 => self.replace_item(r, n, true),
            66..=67 => self.move_item(r, n),
            68..=75 => self.new_note(r, n, "a note".to_owned()),
            76..=79 => self.upsert_note(r, n),
            80..=83 => self.edit_note(r, n),
            84..=85 => self.delete_note(r),
            86..=91 => self.new_mark(r, n, "INSERT"),
            92..=94 => self.new_mark(r, n, "INSERT OR IGNORE"),
            95..=97 => self.rekey_mark(r, n),
            _ => self.delete_mark(r),
        };
        stmt.into_iter().collect()
    }

    fn pick_local(&mut self, r: usize, sql: &str) -> Option<Vec<Value>> {
        let rows = self.local(r, sql, vec![]);
        self.rng.pick(&rows).cloned()
    }

    /// A list to put an item in: one whose items the replica syncs, as an app showing a few
    /// lists writes into those (it numbers positions from the items it holds).
    fn pick_list_for_items(&mut self, r: usize) -> Option<Vec<Value>> {
        let subset = self.db(r).subset().unwrap();
        let mut lists = self.local(r, "SELECT id FROM lists ORDER BY id", vec![]);
        if let Some(items) = subset.get("items") {
            lists.retain(|row| items.values.contains(&row[0]));
        }
        self.rng.pick(&lists).cloned()
    }

    fn new_list(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let id = match self.rng.chance(0.1) {
            true => self.rng.pick(&self.known_lists).cloned(),
            false => None,
        }
        .unwrap_or_else(|| format!("L{}.{n}", self.step));
        self.known_lists.push(id.clone());
        Some(Stmt {
            sql: "INSERT INTO lists(id, name, tok) VALUES (?1, ?2, ?3 || ':' || ?1)".into(),
            params: vec![
                text(&id),
                text(&format!("list {}", self.step)),
                text(&self.token(r, n)),
            ],
            token: self.token(r, n),
            tables: &[&LISTS],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// A parent changed after its children: its new version comes after theirs in a pull.
    fn rename_list(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let list = self.pick_local(r, "SELECT id FROM lists ORDER BY id")?;
        Some(Stmt {
            sql: "UPDATE lists SET name = ?1, tok = ?2 || ':' || id WHERE id = ?3".into(),
            params: vec![
                text(&format!("renamed {}", self.step)),
                text(&self.token(r, n)),
                list[0].clone(),
            ],
            token: self.token(r, n),
            tables: &[&LISTS],
            update: true,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// Its items go with it (ON DELETE CASCADE), here and on the primary.
    fn delete_list(&mut self, r: usize) -> Option<Stmt> {
        let list = self.pick_local(r, "SELECT id FROM lists ORDER BY id")?;
        Some(Stmt {
            sql: "DELETE FROM lists WHERE id = ?1".into(),
            params: list,
            token: String::new(),
            tables: &[],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// `INSERT OR REPLACE` of a list the replica has: SQLite deletes the old row first, and with
    /// it (foreign keys cascade) every item of the list.
    fn replace_list(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let list = self.pick_local(r, "SELECT id, tok FROM lists ORDER BY id")?;
        Some(Stmt {
            sql: "INSERT OR REPLACE INTO lists(id, name, tok) VALUES (?1, ?2, ?3 || ':' || ?1)"
                .into(),
            params: vec![list[0].clone(), text("replaced"), text(&self.token(r, n))],
            token: self.token(r, n),
            tables: &[&LISTS],
            update: false,
            removes: vec![removed("lists", &list)],
            upserts: None,
        })
    }

    /// A value of `b`, now and then one the primary's CHECK refuses.
    fn some_b(&mut self) -> Value {
        match self.rng.chance(0.05) {
            true => int(-1),
            false => int(self.rng.below(100) as i64),
        }
    }

    fn some_c(&mut self) -> Value {
        match self.rng.chance(0.5) {
            true => text(&format!("c{}", self.step)),
            false => Value::Null,
        }
    }

    /// At the end of a list, as apps number positions: two replicas offline take the same one.
    fn new_item(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let Some(list) = self.pick_list_for_items(r) else {
            return self.new_list(r, n);
        };
        let id = match self.rng.chance(0.04) {
            true => self.rng.pick(&self.known_items).cloned(),
            false => None,
        }
        .unwrap_or_else(|| format!("i{}.{n}", self.step));
        self.known_items.push(id.clone());
        let (b, c) = (self.some_b(), self.some_c());
        Some(Stmt {
            sql: "INSERT INTO items(id, list, position, b, c, tok) \
                  SELECT ?1, ?2, coalesce(max(position), 0) + 1, ?3, ?4, ?5 || ':' || ?1 \
                  FROM items WHERE list = ?2"
                .into(),
            params: vec![text(&id), list[0].clone(), b, c, text(&self.token(r, n))],
            token: self.token(r, n),
            tables: &[&ITEMS],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// One to three items; `b` and `c` at random, so concurrent updates touch different columns.
    fn update_items(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let items = self.local(r, "SELECT id FROM items ORDER BY id", vec![]);
        if items.is_empty() {
            return None;
        }
        let mut params = vec![text(&self.token(r, n)), self.some_b(), self.some_c()];
        let mut sets = vec!["tok = ?1 || ':' || id"];
        if self.rng.chance(0.5) {
            sets.push("b = ?2");
        }
        if self.rng.chance(0.5) {
            sets.push("c = ?3");
        }
        let count = 1 + self.rng.below(3);
        for _ in 0..count {
            params.push(self.rng.pick(&items).unwrap()[0].clone());
        }
        let slots: Vec<String> = (4..4 + count).map(|i| format!("?{i}")).collect();
        Some(Stmt {
            sql: format!(
                "UPDATE items SET {} WHERE id IN ({})",
                sets.join(", "),
                slots.join(", ")
            ),
            params,
            token: self.token(r, n),
            tables: &[&ITEMS],
            update: true,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// Two items of a list swap positions through a free slot, as UNIQUE(list, position) makes
    /// apps do it: the slot past the end, or -1 (which another replica may be using too).
    fn reorder(&mut self, r: usize, n: usize) -> Vec<Stmt> {
        let Some(list) = self.pick_local(r, "SELECT id FROM lists ORDER BY id") else {
            return Vec::new();
        };
        let items = self.local(
            r,
            "SELECT id, position FROM items WHERE list = ?1 ORDER BY position",
            list,
        );
        if items.len() < 2 {
            return Vec::new();
        }
        let x = self.rng.below(items.len());
        let z = (x + 1 + self.rng.below(items.len() - 1)) % items.len();
        let last = items.last().unwrap()[1].clone();
        let free = match (self.rng.chance(0.5), last) {
            (true, Value::Integer(last)) => int(last + 1),
            _ => int(-1),
        };
        let moves = [
            (free, items[x][0].clone()),
            (items[x][1].clone(), items[z][0].clone()),
            (items[z][1].clone(), items[x][0].clone()),
        ];
        moves
            .into_iter()
            .enumerate()
            .map(|(i, (position, id))| Stmt {
                sql: "UPDATE items SET position = ?1, tok = ?2 || ':' || id WHERE id = ?3".into(),
                params: vec![position, text(&self.token(r, n + i)), id],
                token: self.token(r, n + i),
                tables: &[&ITEMS],
                update: true,
                removes: Vec::new(),
                upserts: None,
            })
            .collect()
    }

    fn delete_items(&mut self, r: usize) -> Option<Stmt> {
        let items = self.local(r, "SELECT id FROM items ORDER BY id", vec![]);
        let first = self.rng.pick(&items)?[0].clone();
        let second = self.rng.pick(&items)?[0].clone();
        Some(Stmt {
            sql: "DELETE FROM items WHERE id IN (?1, ?2)".into(),
            params: vec![first, second],
            token: String::new(),
            tables: &[],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// An UPDATE of the key: a delete of the old key and an insert of the new one.
    fn rekey_item(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let item = self.pick_local(r, "SELECT id FROM items ORDER BY id")?;
        let id = format!("i{}.{n}k", self.step);
        self.known_items.push(id.clone());
        Some(Stmt {
            sql: "UPDATE items SET id = ?1, tok = ?2 || ':' || ?1 WHERE id = ?3".into(),
            params: vec![text(&id), text(&self.token(r, n)), item[0].clone()],
            token: self.token(r, n),
            tables: &[&ITEMS],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// `INSERT OR REPLACE` in an item's place: over its key (`new_key` false), or a new key in
    /// its slot, which removes it through UNIQUE(list, position).
    fn replace_item(&mut self, r: usize, n: usize, new_key: bool) -> Option<Stmt> {
        let item = self.pick_local(r, "SELECT id, list, position, tok FROM items ORDER BY id")?;
        let id = match new_key {
            true => {
                let id = format!("i{}.{n}r", self.step);
                self.known_items.push(id.clone());
                text(&id)
            }
            false => item[0].clone(),
        };
        let (b, c) = (self.some_b(), self.some_c());
        Some(Stmt {
            sql: "INSERT OR REPLACE INTO items(id, list, position, b, c, tok) \
                  VALUES (?1, ?2, ?3, ?4, ?5, ?6 || ':' || ?1)"
                .into(),
            params: vec![
                id,
                item[1].clone(),
                item[2].clone(),
                b,
                c,
                text(&self.token(r, n)),
            ],
            token: self.token(r, n),
            tables: &[&ITEMS],
            update: false,
            // The row in its key, or in its slot: the same row either way.
            removes: vec![removed("items", &item)],
            upserts: None,
        })
    }

    /// To the end of another list.
    fn move_item(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let item = self.pick_local(r, "SELECT id FROM items ORDER BY id")?;
        let list = self.pick_list_for_items(r)?;
        Some(Stmt {
            sql: "UPDATE items SET list = ?1, tok = ?2 || ':' || id, \
                  position = (SELECT coalesce(max(position), 0) + 1 FROM items WHERE list = ?1) \
                  WHERE id = ?3"
                .into(),
            params: vec![list[0].clone(), text(&self.token(r, n)), item[0].clone()],
            token: self.token(r, n),
            tables: &[&ITEMS],
            update: true,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// Without an id: SQLite takes the next one, and so does every other replica offline.
    pub fn new_note(&mut self, r: usize, n: usize, body: String) -> Option<Stmt> {
        Some(Stmt {
            sql: "INSERT INTO notes(body, tok) VALUES (?1, ?2 || ':new')".into(),
            params: vec![text(&body), text(&self.token(r, n))],
            token: self.token(r, n),
            tables: &[&NOTES],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// `INSERT … ON CONFLICT DO UPDATE` of a note the replica has, or of the next id.
    fn upsert_note(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let id = match self.pick_local(r, "SELECT id FROM notes ORDER BY id") {
            Some(row) if self.rng.chance(0.6) => row[0].clone(),
            _ => self.local(r, "SELECT coalesce(max(id), 0) + 1 FROM notes", vec![])[0][0].clone(),
        };
        Some(Stmt {
            sql: "INSERT INTO notes(id, body, tok) VALUES (?1, ?2, ?3 || ':' || ?1) \
                  ON CONFLICT(id) DO UPDATE SET body = excluded.body, tok = excluded.tok"
                .into(),
            params: vec![id, text("upserted"), text(&self.token(r, n))],
            token: self.token(r, n),
            tables: &[&NOTES],
            update: false,
            removes: Vec::new(),
            upserts: Some("SELECT 1 FROM notes WHERE id = ?1"),
        })
    }

    fn edit_note(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let note = self.pick_local(r, "SELECT id FROM notes ORDER BY id")?;
        Some(Stmt {
            sql: "UPDATE notes SET body = ?1, tok = ?2 || ':' || id WHERE id = ?3".into(),
            params: vec![
                text(&format!("edited {}", self.step)),
                text(&self.token(r, n)),
                note[0].clone(),
            ],
            token: self.token(r, n),
            tables: &[&NOTES],
            update: true,
            removes: Vec::new(),
            upserts: None,
        })
    }

    fn delete_note(&mut self, r: usize) -> Option<Stmt> {
        let note = self.pick_local(r, "SELECT id FROM notes ORDER BY id")?;
        Some(Stmt {
            sql: "DELETE FROM notes WHERE id = ?1".into(),
            params: note,
            token: String::new(),
            tables: &[],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// A composite key from a small space, so replicas make the same one.
    fn new_mark(&mut self, r: usize, n: usize, verb: &str) -> Option<Stmt> {
        let owner = format!("o{}", self.rng.below(4));
        let number = self.rng.below(12) as i64;
        Some(Stmt {
            sql: format!(
                "{verb} INTO marks(owner, n, tok) VALUES (?1, ?2, ?3 || ':' || ?1 || '/' || ?2)"
            ),
            params: vec![text(&owner), int(number), text(&self.token(r, n))],
            token: self.token(r, n),
            tables: &[&MARKS],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// A key change of one of the key's two columns.
    fn rekey_mark(&mut self, r: usize, n: usize) -> Option<Stmt> {
        let mark = self.pick_local(r, "SELECT owner, n FROM marks ORDER BY owner, n")?;
        // Another number, so the key really changes.
        let Value::Integer(old) = mark[1] else {
            panic!("marks.n is an integer: {mark:?}")
        };
        let number = (old + 1 + self.rng.below(11) as i64) % 12;
        Some(Stmt {
            sql: "UPDATE marks SET n = ?1, tok = ?2 || ':' || owner || '/' || ?1 \
                  WHERE owner = ?3 AND n = ?4"
                .into(),
            params: vec![
                int(number),
                text(&self.token(r, n)),
                mark[0].clone(),
                mark[1].clone(),
            ],
            token: self.token(r, n),
            tables: &[&MARKS],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    fn delete_mark(&mut self, r: usize) -> Option<Stmt> {
        let mark = self.pick_local(r, "SELECT owner, n FROM marks ORDER BY owner, n")?;
        Some(Stmt {
            sql: "DELETE FROM marks WHERE owner = ?1 AND n = ?2".into(),
            params: mark,
            token: String::new(),
            tables: &[],
            update: false,
            removes: Vec::new(),
            upserts: None,
        })
    }

    /// A write larger than any push: refused when made, with nothing changed.
    pub fn oversize_write(&mut self, r: usize) {
        let pending = self.db(r).pending_count().unwrap();
        let stmt = self.new_note(r, 0, "x".repeat(MAX_PUSH_BYTES + 1)).unwrap();
        match run(self.db(r), &stmt, r, self.step) {
            Err(e) if e.code() == "MUTATION_TOO_LARGE" => {}
            other => panic!(
                "step {}: replica {r}: an oversize write: {other:?}",
                self.step
            ),
        }
        let nothing = Stmt {
            sql: "SELECT 1".into(),
            params: vec![],
            ..stmt
        };
        let left = run(self.db(r), &nothing, r, self.step);
        assert!(left.unwrap().is_empty(), "an oversize write left a row");
        assert_eq!(
            self.db(r).pending_count().unwrap(),
            pending,
            "and no outbox entry"
        );
        self.counts.bump("oversize writes refused");
    }

    /// A third of a push: a few of these make pushes split by bytes and pulls paged by bytes.
    pub fn large_write(&mut self, r: usize) {
        let stmt = self.new_note(r, 0, "y".repeat(MAX_PUSH_BYTES / 3)).unwrap();
        let written = run(self.db(r), &stmt, r, self.step).expect("a large write that fits");
        self.made(written);
        self.counts.bump("large writes");
    }
}
