//! Restores, as they happen to deployed apps: a device's database file put back from an older
//! copy of itself (a backup, a restored browser profile), and the primary put back from a backup.
//! What each may lose is what `ledger.rs` allows; everything else must survive.

use std::collections::BTreeSet;
use std::path::PathBuf;

use outpost::{Params, Value};

use crate::app::text;
use crate::ledger::{token_of, Reports};
use crate::schema;
use crate::sim::{open_replica, replica_name, Answer, Sim, DATABASE, REPLICAS};

/// An older copy of one replica's file, and what that file had been told by then.
pub struct ReplicaCopy {
    file: PathBuf,
    step: u64,
    reports: Reports,
}

impl Sim {
    /// (table, key) of every row on the primary.
    fn primary_keys(&self) -> BTreeSet<(String, String)> {
        let mut keys = BTreeSet::new();
        for table in schema::TABLES {
            let sql = format!("SELECT {} FROM {}", table.key_text, table.name);
            for row in self.primary.rows(DATABASE, &sql) {
                let key = match &row[0] {
                    Value::Text(key) => key.clone(),
                    other => panic!("a key as text: {other:?}"),
                };
                keys.insert((table.name.to_owned(), key));
            }
        }
        keys
    }

    fn replica_file(&self, r: usize) -> PathBuf {
        self.dir.path().join(format!("{}.sqlite3", replica_name(r)))
    }

    /// A copy of the file aside: with `VACUUM INTO` while it is open, or a plain file copy while
    /// it is closed (the app was not running).
    pub fn copy_replica(&mut self, r: usize) {
        let file = self
            .dir
            .path()
            .join(format!("{}-copy.sqlite3", replica_name(r)));
        let _ = std::fs::remove_file(&file);
        if self.rng.chance(0.5) {
            let path = text(file.to_str().unwrap());
            self.db(r)
                .execute("VACUUM INTO ?1", &Params::Positional(vec![path]))
                .unwrap_or_else(|e| panic!("replica {r}: VACUUM INTO: {e}"));
        } else {
            // The app closes: what a failed sync had yet to report dies with it, as in a restart.
            self.take_listed_only(r);
            let replica = self.replicas.remove(r);
            drop(replica);
            std::fs::copy(self.replica_file(r), &file).unwrap();
            self.replicas.insert(r, open_replica(self.dir.path(), r));
            self.in_flight[r].clear();
        }
        self.copies[r] = Some(ReplicaCopy {
            file,
            step: self.step,
            reports: self.ledger.snapshot(r),
        });
        self.counts.bump("replica files copied");
    }

    /// The app is closed, its file replaced by the older copy, and opened again: it goes on
    /// writing from there.
    pub fn restore_replica(&mut self, r: usize) {
        // Each copy is restored once: a device restored again goes back to a newer backup.
        let Some(ReplicaCopy {
            file,
            step,
            reports,
        }) = self.copies[r].take()
        else {
            return;
        };
        let told = self.ledger.snapshot(r);
        let replica = self.replicas.remove(r);
        drop(replica);
        std::fs::copy(&file, self.replica_file(r)).unwrap();
        self.replicas.insert(r, open_replica(self.dir.path(), r));
        self.in_flight[r].clear();
        self.ledger.replica_restored(r, step, reports);
        // A refusal the app was told of after the copy, which the copy already lists (set aside
        // before the copy, reported after it): the telling is not undone by the restore.
        for write in self.db(r).rejected_writes(usize::MAX).unwrap().writes {
            let mutation = write.mutation;
            let told_only_since = token_of(&mutation).is_some_and(|t| {
                told.by_token.get(t) == Some(&mutation.code) && !self.ledger.was_reported(r, t)
            });
            if told_only_since {
                self.ledger.reported(r, &mutation);
            }
        }
        self.trace(|| format!("replica {r}: file restored to the copy of step {step}"));
        self.counts.bump("replica files restored");
    }

    pub fn backup_primary(&mut self) {
        if !self.primary_reachable() || !self.primary.has_database(DATABASE) {
            return;
        }
        let backup = self.primary.backup(DATABASE);
        let tokens = self
            .primary
            .rows(
                DATABASE,
                "SELECT DISTINCT tok FROM audit WHERE tok IS NOT NULL",
            )
            .into_iter()
            .map(|row| match &row[0] {
                Value::Text(token) => token.clone(),
                other => panic!("a token is text: {other:?}"),
            })
            .collect();
        self.trace(|| "primary backed up".to_owned());
        self.backup = Some((backup, tokens));
        self.counts.bump("primary backups");
    }

    /// The primary restored from its backup and started again. Writes made since that no
    /// replica still holds are gone for good; the ones a replica holds come back with it.
    pub fn restore_primary(&mut self) {
        let Some((backup, in_backup)) = self.backup.take() else {
            return;
        };
        if !self.primary_reachable() {
            self.primary.start_again();
            self.primary_back_at = None;
        }
        // What replicas hold, less what a pull answer already read from the primary (still on
        // its way) will settle: that answer's state is the one the restore takes back.
        let mut held = BTreeSet::new();
        for r in 0..REPLICAS {
            let client = self.db(r).client_id().unwrap();
            let settled_by_answers = self.in_flight[r]
                .iter()
                .filter_map(|waiting| match &waiting.answer {
                    Answer::Pull(request, response)
                        if request.client_id.as_deref() == Some(client.as_str()) =>
                    {
                        response.acked_through
                    }
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let tokens = self.local(
                r,
                "SELECT seq, json_extract(columns, '$.tok') FROM _outpost_outbox \
                 WHERE json_extract(columns, '$.tok') IS NOT NULL",
                vec![],
            );
            held.extend(
                tokens
                    .into_iter()
                    .filter_map(|row| match (&row[0], &row[1]) {
                        (Value::Integer(seq), _) if *seq <= settled_by_answers => None,
                        (_, Value::Text(token)) => Some(token.clone()),
                        other => panic!("a seq and a token: {other:?}"),
                    }),
            );
        }
        let before = self.primary_keys();
        self.primary.restore(&backup);
        self.network.sever();
        self.primary_back_at = None;
        let after = self.primary_keys();
        let rows_lost = before.difference(&after).cloned().collect();
        self.trace(|| {
            format!(
                "primary restored: {} tokens in the backup, {} held",
                in_backup.len(),
                held.len()
            )
        });
        self.ledger.primary_restored(&in_backup, &held, rows_lost);
        self.counts.bump("primary restores");
    }
}
