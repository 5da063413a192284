//! Replicas that sync only the items of some lists (a subset), chosen again at random while
//! pushes and pulls are in flight, pages are staged and writes wait: at quiescence each such
//! replica holds exactly the primary's items of its lists (`check.rs`).

use outpost::sync::{SubsetChoice, TableSubset};
use outpost::Value;

use crate::sim::Sim;

impl Sim {
    /// Replica `r` syncs the items of a few lists it knows of (and maybe one no one made), or
    /// every item again.
    pub fn choose_subset(&mut self, r: usize) {
        let choice: SubsetChoice = match self.rng.chance(0.25) || self.known_lists.is_empty() {
            true => SubsetChoice::new(),
            false => {
                let mut lists: Vec<Value> = Vec::new();
                for _ in 0..1 + self.rng.below(3) {
                    let list = self.rng.pick(&self.known_lists).cloned();
                    lists.extend(list.map(Value::Text));
                }
                if self.rng.chance(0.2) {
                    lists.push(Value::Text("no such list".into()));
                }
                let subset = TableSubset {
                    column: "list".into(),
                    values: lists,
                };
                [("items".to_string(), subset)].into_iter().collect()
            }
        };
        self.trace(|| format!("replica {r} syncs the items of {choice:?}"));
        let removed = self
            .db(r)
            .set_subset(&choice)
            .unwrap_or_else(|e| panic!("step {}: replica {r}: a subset: {e}", self.step));
        self.counts.bump(match choice.is_empty() {
            true => "subsets dropped",
            false => "subsets chosen",
        });
        if !removed.is_empty() {
            self.counts.bump("subsets that removed rows");
        }
    }
}
