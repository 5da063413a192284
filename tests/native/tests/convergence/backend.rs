//! A backend job of the app writing straight to the primary's store (SQL both dialects read),
//! whether or not the server runs (on the Durable Object primary, through the object, while it
//! runs): its writes reach every replica through the primary's own capture, and must never be
//! lost but by a restore of the primary.

use outpost::Value;

use crate::ledger::Write;
use crate::sim::{Sim, DATABASE};

impl Sim {
    /// A backend job writing straight to the primary's store, whether or not the server runs,
    /// in SQL both dialects read. Its writes carry tokens too, and must stay on the primary.
    pub fn backend_write(&mut self) {
        if !self.primary_reachable() || !self.primary.has_database(DATABASE) {
            return;
        }
        let base = format!("p.{}", self.step);
        let lists = self
            .primary
            .rows(DATABASE, "SELECT id FROM lists ORDER BY id");
        let list = self.rng.pick(&lists).map(|row| row[0].clone());
        let items = self
            .primary
            .rows(DATABASE, "SELECT id FROM items ORDER BY id");
        let item = self.rng.pick(&items).map(|row| row[0].clone());
        let text = |s: &str| Value::Text(s.to_owned());
        // The statement, its parameters, and the write it makes: (token, table, key, update).
        let (sql, params, write) = match (self.rng.below(6), list, item) {
            (0, Some(list), _) => {
                let (id, token) = (format!("pi{}", self.step), format!("{base}:i"));
                (
                    "INSERT INTO items(id, list, position, tok) \
                     SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), coalesce(max(position), 0) + 1, \
                     CAST($3 AS TEXT) FROM items WHERE list = $2",
                    vec![text(&id), list, text(&token)],
                    Some((token, "items", id, false)),
                )
            }
            (1, _, Some(Value::Text(item))) => (
                "UPDATE items SET c = CAST($1 AS TEXT), tok = CAST($1 AS TEXT) || ':' || id \
                 WHERE id = $2",
                vec![text(&base), text(&item)],
                Some((format!("{base}:{item}"), "items", item, true)),
            ),
            (2, _, Some(item)) => ("DELETE FROM items WHERE id = $1", vec![item], None),
            (3, Some(list), _) => ("DELETE FROM lists WHERE id = $1", vec![list], None),
            (4, _, _) => {
                let token = format!("{base}:n");
                (
                    "INSERT INTO notes(id, body, tok) \
                     SELECT coalesce(max(id), 0) + 1, 'from the backend', CAST($1 AS TEXT) FROM notes",
                    vec![text(&token)],
                    Some((token, "notes", String::new(), false)),
                )
            }
            _ => {
                let (id, token) = (format!("pl{}", self.step), format!("{base}:l"));
                (
                    "INSERT INTO lists(id, name, tok) VALUES ($1, 'backend', $2)",
                    vec![text(&id), text(&token)],
                    Some((token, "lists", id, false)),
                )
            }
        };
        let changed = self
            .primary
            .execute(DATABASE, sql, &params)
            .unwrap_or_else(|e| panic!("step {}: backend job: {sql}: {e}", self.step));
        self.counts.bump("backend writes");
        if let (1, Some((token, table, key, update))) = (changed, write) {
            let write = Write {
                replica: None,
                step: self.step,
                table,
                key,
                update,
                removed: Vec::new(),
            };
            self.ledger.made(token, write);
        }
    }
}
