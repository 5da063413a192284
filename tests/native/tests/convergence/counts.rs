//! What happened in a run, by name: printed after every seed and summed over seeds, so a run
//! that stopped exercising something (no restores, no late answers) shows it.

use std::collections::BTreeMap;
use std::fmt;

use crate::ledger::Outcomes;

#[derive(Clone, Debug, Default)]
pub struct Counts(BTreeMap<String, u64>);

impl Counts {
    pub fn bump(&mut self, what: &str) {
        self.add(what, 1);
    }

    pub fn add(&mut self, what: &str, n: u64) {
        *self.0.entry(what.to_owned()).or_default() += n;
    }

    pub fn get(&self, what: &str) -> u64 {
        self.0.get(what).copied().unwrap_or(0)
    }

    /// The sum of the counts whose name starts with `prefix`.
    pub fn total(&self, prefix: &str) -> u64 {
        self.0
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn merge(&mut self, other: &Counts) {
        for (what, n) in &other.0 {
            self.add(what, *n);
        }
    }

    pub fn add_outcomes(&mut self, seen: &Outcomes) {
        for (what, n) in [
            ("outcome: on the primary", seen.on_primary),
            ("outcome: rejected", seen.rejected),
            (
                "outcome: on the primary and REPLICA_RESTORED",
                seen.restored_and_on_primary,
            ),
            (
                "outcome: forgotten with a restored replica file",
                seen.lost_with_replica_file,
            ),
            (
                "outcome: lost with the primary's backup",
                seen.lost_with_primary_backup,
            ),
        ] {
            self.add(what, n);
        }
        for (why, n) in &seen.dropped_updates {
            self.add(&format!("outcome: update dropped ({why})"), *n);
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, n) in &self.0 {
            writeln!(f, "  {what}: {n}")?;
        }
        Ok(())
    }
}
