//! What became of every write, as the app would hold Outpost to account (invariant 7): each write
//! the app made is on the primary (its token in `audit`, once) or was reported rejected to its
//! writer, with the code `rejected_writes()` still lists, and never both. The other outcomes
//! are the ones the protocol allows, each for a stated reason:
//!
//! - an update of a row the primary no longer had (or never had) is dropped;
//! - a replica whose file was restored from an older copy forgets what it wrote after the copy
//!   (those writes may or may not have reached the primary), and what it held from before the
//!   copy may come back rejected with `REPLICA_RESTORED`, which may or may not be on the primary;
//! - a primary restored from a backup loses the writes made after the backup that no replica
//!   still held in its outbox.
//!
//! A write in a transaction that rolled back is not made: it must reach nobody.

use std::collections::{BTreeMap, BTreeSet};

use outpost::codes;
use outpost::protocol::Op;
use outpost::sync::RejectedMutation;
use outpost::Value;

pub const REPLICA_RESTORED: &str = codes::REPLICA_RESTORED;

/// The codes a refusal may carry with this schema: each names its one cause.
const REFUSALS: [&str; 6] = [
    codes::KEY_EXISTS,
    codes::SQLITE_CONSTRAINT_UNIQUE,
    codes::SQLITE_CONSTRAINT_PRIMARYKEY,
    codes::SQLITE_CONSTRAINT_CHECK,
    codes::SQLITE_CONSTRAINT_FOREIGNKEY,
    codes::REPLICA_RESTORED,
];

/// One write of one row, named by its token.
#[derive(Clone, Debug)]
pub struct Write {
    /// The replica that made it; `None` for the backend job on the primary's store.
    pub replica: Option<usize>,
    pub step: u64,
    pub table: &'static str,
    pub key: String,
    /// An UPDATE that kept the key: the only kind the primary may drop.
    pub update: bool,
    /// Rows the write removed on its replica (`INSERT OR REPLACE`).
    pub removed: Vec<crate::app::Removed>,
}

/// What one replica's file knows of its reports: restored with the file.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    /// Token -> the code it was reported rejected with.
    pub by_token: BTreeMap<String, String>,
}

/// One `audit` entry for a row: its `n`, whether the row is there after it, the `tok` written.
pub type Presence = (i64, bool, Option<String>);

/// The primary's `audit`, read after quiescence.
#[derive(Debug, Default)]
pub struct Audit {
    /// Token -> how many times an insert or update carrying it was applied.
    pub applied: BTreeMap<String, u64>,
    /// (table, key) of every row the primary deleted at some point.
    pub deleted: BTreeSet<(String, String)>,
    /// (table, key) of every row the primary inserted at some point.
    pub inserted: BTreeSet<(String, String)>,
    /// Tokens the primary wrote with an UPDATE: an insert among them overwrote a row.
    pub updated_tokens: BTreeSet<String>,
    /// Every entry of `audit` by (table, key), old keys included: for failure messages.
    pub history: BTreeMap<(String, String), Vec<String>>,
    /// By (table, key), in `audit` order: at entry `n` the row came to be or changed (true, with
    /// the `tok` written) or ceased to be (false: a delete, a key changed away).
    pub presence: BTreeMap<(String, String), Vec<Presence>>,
}

impl Audit {
    fn events(&self, id: &(String, String)) -> &[Presence] {
        self.presence.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The last audit entry at which the row took `tok`.
    fn last_taken(&self, id: &(String, String), tok: &str) -> Option<i64> {
        self.events(id)
            .iter()
            .rev()
            .find(|(_, _, taken)| taken.as_deref() == Some(tok))
            .map(|(n, _, _)| *n)
    }

    /// Whether the primary let go of the row after audit entry `n`.
    fn gone_after(&self, id: &(String, String), n: i64) -> bool {
        self.events(id)
            .iter()
            .any(|(at, present, _)| *at > n && !present)
    }
}

/// What the final check saw, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Outcomes {
    pub on_primary: u64,
    pub rejected: u64,
    /// By why the primary had no row to update.
    pub dropped_updates: BTreeMap<&'static str, u64>,
    pub restored_and_on_primary: u64,
    pub lost_with_replica_file: u64,
    pub lost_with_primary_backup: u64,
}

#[derive(Default)]
pub struct Ledger {
    writes: BTreeMap<String, Write>,
    rolled_back: BTreeSet<String>,
    reports: Vec<Reports>,
    /// Restores of each replica's file so far.
    restores: Vec<u64>,
    /// Made by a replica after the copy its file was later restored from.
    lost_with_file: BTreeSet<String>,
    /// Held by no outbox when the primary was restored from an older backup.
    lost_with_primary: BTreeSet<String>,
    /// (table, key) of rows the primary had and a restore took away: replicas that still show
    /// them may update them, and those updates find no row.
    rows_lost_with_primary: BTreeSet<(String, String)>,
}

/// The token a rejected mutation carries; deletes carry none.
pub fn token_of(mutation: &RejectedMutation) -> Option<&str> {
    match mutation.columns.get("tok") {
        Some(Value::Text(token)) => Some(token),
        _ => None,
    }
}

impl Ledger {
    pub fn new(replicas: usize) -> Ledger {
        Ledger {
            reports: vec![Reports::default(); replicas],
            restores: vec![0; replicas],
            ..Ledger::default()
        }
    }

    pub fn made(&mut self, token: String, write: Write) {
        let earlier = self.writes.insert(token.clone(), write);
        assert!(earlier.is_none(), "token {token} was used twice");
    }

    pub fn rolled_back(&mut self, token: String) {
        self.rolled_back.insert(token);
    }

    /// Replica `r` was told `mutation` was rejected. Answers its code.
    pub fn reported(&mut self, r: usize, mutation: &RejectedMutation) -> String {
        let code = mutation.code.clone();
        assert!(
            REFUSALS.contains(&code.as_str()),
            "replica {r}: a refusal this schema cannot cause: {mutation:?}"
        );
        let Some(token) = token_of(mutation) else {
            // Deletes cannot break a constraint here (children cascade): only a restore refuses one.
            assert!(
                mutation.op == Op::Delete && code == REPLICA_RESTORED,
                "replica {r}: a mutation without a token was refused: {mutation:?}"
            );
            return code;
        };
        assert!(
            !self.rolled_back.contains(token),
            "replica {r}: a write of a rolled-back transaction reached the primary: {mutation:?}"
        );
        let write = self
            .writes
            .get(token)
            .unwrap_or_else(|| panic!("replica {r}: a rejected write nobody made: {mutation:?}"));
        assert_eq!(
            write.replica,
            Some(r),
            "replica {r} was told of another's rejected write: {mutation:?}"
        );
        if code == REPLICA_RESTORED {
            assert!(
                self.restores[r] > 0,
                "replica {r} was never restored, yet: {mutation:?}"
            );
        }
        let earlier = self.reports[r]
            .by_token
            .insert(token.to_owned(), code.clone());
        assert!(
            earlier.is_none(),
            "replica {r}: {token} reported rejected twice ({earlier:?}, then {code})"
        );
        code
    }

    /// Whether replica `r`'s file has been told of `token`'s rejection.
    pub fn was_reported(&self, r: usize, token: &str) -> bool {
        self.reports[r].by_token.contains_key(token)
    }

    /// What replica `r`'s file knows now, to be given back if the file is restored to this point.
    pub fn snapshot(&self, r: usize) -> Reports {
        self.reports[r].clone()
    }

    /// Replica `r`'s file went back to a copy made at `copy_step`, with `reports` as known then.
    pub fn replica_restored(&mut self, r: usize, copy_step: u64, reports: Reports) {
        self.restores[r] += 1;
        self.reports[r] = reports;
        let after_copy = self
            .writes
            .iter()
            .filter(|(_, w)| w.replica == Some(r) && w.step > copy_step)
            .map(|(token, _)| token.clone());
        self.lost_with_file.extend(after_copy);
    }

    /// The primary went back to a backup holding the writes `in_backup`; `held` is every token
    /// some replica still holds to push again. What is in neither is allowed to be gone.
    pub fn primary_restored(
        &mut self,
        in_backup: &BTreeSet<String>,
        held: &BTreeSet<String>,
        rows_lost: BTreeSet<(String, String)>,
    ) {
        self.rows_lost_with_primary.extend(rows_lost);
        let lost: Vec<String> = self
            .writes
            .keys()
            .filter(|token| !in_backup.contains(*token) && !held.contains(*token))
            .cloned()
            .collect();
        self.lost_with_primary.extend(lost);
    }

    /// The rows an `INSERT OR REPLACE` removed on its replica are deleted on the primary too,
    /// unless what the write sent may be lost with a restore: the primary let go of the row
    /// after it took the write the replica last saw on it (if it took it at all).
    fn check_replaced_rows(&self, r: usize, token: &str, write: &Write, audit: &Audit, lost: bool) {
        if lost {
            return;
        }
        for (table, key, seen) in &write.removed {
            let id = (table.to_string(), key.clone());
            // A row of the write's own key may be overwritten by the write itself.
            let own_row = *table == write.table && *key == write.key;
            let overwritten = |n| own_row && audit.last_taken(&id, token).is_some_and(|m| m > n);
            let let_go = match seen.as_ref().and_then(|tok| audit.last_taken(&id, tok)) {
                Some(n) => audit.gone_after(&id, n) || overwritten(n),
                None => true,
            };
            assert!(
                let_go || self.rows_lost_with_primary.contains(&id),
                "replica {r}: {token} ({write:?}) replaced {table} {key}, which the primary never \
                 deleted; its history there: {:?}",
                audit.history.get(&id)
            );
        }
    }

    /// The final account. `listed[r]` is what replica `r`'s `rejected_writes()` lists (token ->
    /// code); `in_tables` every token in any synced table of any replica or the primary.
    pub fn check(
        &self,
        audit: &Audit,
        listed: &[BTreeMap<String, String>],
        in_tables: &BTreeSet<String>,
    ) -> Outcomes {
        let twice: Vec<_> = audit
            .applied
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(token, n)| {
                let row = self
                    .writes
                    .get(token)
                    .map(|w| (w.table.to_owned(), w.key.clone()));
                (token, n, row.and_then(|row| audit.history.get(&row)))
            })
            .collect();
        assert!(
            twice.is_empty(),
            "writes applied twice (token, times, the primary's history of the row): {twice:?}"
        );
        for token in audit.applied.keys().chain(in_tables) {
            assert!(
                self.writes.contains_key(token),
                "{token} is on the primary or a replica, yet {}",
                match self.rolled_back.contains(token) {
                    true => "its transaction rolled back",
                    false => "nobody made it",
                }
            );
        }
        for (r, listed) in listed.iter().enumerate() {
            for (token, code) in listed {
                assert!(
                    self.writes.get(token).is_some_and(|w| w.replica == Some(r)),
                    "replica {r} lists {token} ({code}) as rejected, which it did not make"
                );
            }
        }
        // An update after its writer's own insert that never reached the primary (refused, or
        // lost with a restore) finds no row there.
        let mut missing_inserts = BTreeSet::new();
        for (token, write) in &self.writes {
            if let (Some(r), false) = (write.replica, write.update) {
                if !audit.applied.contains_key(token) {
                    missing_inserts.insert((r, write.table, write.key.as_str()));
                }
            }
        }

        let mut seen = Outcomes::default();
        for (token, write) in &self.writes {
            let applied = audit.applied.contains_key(token);
            let lost_with_primary = self.lost_with_primary.contains(token);
            let Some(r) = write.replica else {
                assert!(
                    applied || lost_with_primary,
                    "the backend's {token} is missing from the primary"
                );
                continue;
            };
            if self.lost_with_file.contains(token) {
                seen.lost_with_replica_file += 1;
                continue;
            }
            let listed = listed[r].get(token);
            let reported = self.reports[r].by_token.get(token);
            assert_eq!(
                listed, reported,
                "replica {r}: {token} ({write:?}) is listed rejected as {listed:?}, reported as {reported:?}"
            );
            let lost = lost_with_primary || listed.is_some_and(|code| code == REPLICA_RESTORED);
            self.check_replaced_rows(r, token, write, audit, lost);
            match (applied, listed.map(String::as_str)) {
                (true, None) if !write.update && audit.updated_tokens.contains(token) => {
                    panic!(
                    "replica {r}: the insert {token} ({write:?}) overwrote a row the primary had, \
                     which its writer never saw; the primary's history of that row: {:?}",
                    audit.history.get(&(write.table.to_owned(), write.key.clone()))
                )
                }
                (true, None) => seen.on_primary += 1,
                (true, Some(REPLICA_RESTORED)) => seen.restored_and_on_primary += 1,
                (true, Some(code)) => {
                    panic!(
                        "replica {r}: {token} ({write:?}) is on the primary and rejected as {code}"
                    )
                }
                (false, Some(_)) => seen.rejected += 1,
                (false, None) => {
                    let id = (write.table.to_owned(), write.key.clone());
                    // Why the primary had no such row, if it may not have had it.
                    let why = [
                        (audit.deleted.contains(&id), "row deleted on the primary"),
                        (
                            self.rows_lost_with_primary.contains(&id),
                            "row lost by a restore of the primary",
                        ),
                        (
                            missing_inserts.contains(&(r, write.table, write.key.as_str())),
                            "its writer's insert never reached the primary",
                        ),
                        (!audit.inserted.contains(&id), "row never on the primary"),
                    ]
                    .into_iter()
                    .find_map(|(applies, why)| applies.then_some(why));
                    if let (true, Some(why)) = (write.update, why) {
                        *seen.dropped_updates.entry(why).or_default() += 1;
                    } else {
                        assert!(
                            lost_with_primary,
                            "replica {r}: {token} ({write:?}) is neither on the primary nor \
                             reported rejected; the primary's history of that row: {:?}",
                            audit.history.get(&id)
                        );
                        seen.lost_with_primary_backup += 1;
                    }
                }
            }
        }
        for token in &self.rolled_back {
            for (r, reports) in self.reports.iter().enumerate() {
                assert!(
                    !reports.by_token.contains_key(token),
                    "replica {r} was told of {token}, whose transaction rolled back"
                );
            }
        }
        seen
    }
}
