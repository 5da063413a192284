//! The pull side: applying the primary's changes in one transaction with capture off, putting
//! this replica's pending changes back on top of the rows they touch, and moving the cursor in
//! the same transaction (invariant 3).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::capture::SyncedTable;
use super::outbox::{meta_i64, read_entries, Entry};
use crate::protocol::{PullRequest, PullResponse, PROTOCOL_VERSION};
use crate::{Database, Error, Result, Value};

/// What one pull changed locally.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PullOutcome {
    /// Changes applied (rows written or deleted).
    pub pulled: usize,
    /// The synced tables those changes touched, for `change` events and live queries.
    pub tables: BTreeSet<String>,
    /// The primary has more; pull again at once.
    pub more: bool,
    /// The answer was for an older cursor (another pull got there first) and was discarded.
    pub stale: bool,
}

/// Turns capture back on when dropped, whatever path the caller leaves by.
pub(crate) struct CaptureOff<'a>(&'a Database);

impl Drop for CaptureOff<'_> {
    fn drop(&mut self) {
        self.0.capture.store(true, Ordering::Relaxed);
    }
}

impl Database {
    pub(crate) fn capture_off(&self) -> CaptureOff<'_> {
        self.capture.store(false, Ordering::Relaxed);
        CaptureOff(self)
    }

    /// The version this replica has seen everything up to.
    pub fn cursor(&self) -> Result<i64> {
        meta_i64(self.conn(), "cursor")
    }

    /// The next pull to send. `wait_ms` > 0 asks the primary to hold the answer until a change.
    pub fn pull_request(&self, wait_ms: u64) -> Result<PullRequest> {
        if self.synced.is_empty() {
            return Err(Error::bad_options(
                "no synced tables were configured for this database",
            ));
        }
        Ok(PullRequest {
            v: PROTOCOL_VERSION,
            cursor: self.cursor()?,
            tables: self.synced.iter().map(|t| t.name.clone()).collect(),
            wait_ms,
            limit: None,
        })
    }

    /// Apply the primary's answer to `request`, atomically with the cursor move.
    pub fn apply_pull_response(
        &self,
        request: &PullRequest,
        response: &PullResponse,
    ) -> Result<PullOutcome> {
        let tx = self.conn().unchecked_transaction()?;
        if meta_i64(&tx, "cursor")? != request.cursor {
            return Ok(PullOutcome {
                stale: true,
                ..PullOutcome::default()
            });
        }
        if response.cursor < request.cursor {
            return Err(Error::Protocol(format!(
                "the primary moved the cursor back from {} to {}",
                request.cursor, response.cursor
            )));
        }
        // Entries the primary acknowledged at or below the new cursor are part of the state being
        // pulled: replaying them would put this replica's old write over newer rows. They go first.
        tx.execute(
            "DELETE FROM _outpost_outbox WHERE acked_version <= ?1",
            [response.cursor],
        )?;
        // Pulled rows arrive in version order, not in foreign-key order.
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let mut outcome = PullOutcome {
            more: response.more,
            ..PullOutcome::default()
        };
        // Most pulls find nothing pending: then nothing needs putting back on top, and the
        // per-row outbox lookup (measured: over half of a native pull's apply) is skipped.
        // This replica's changes the primary has not reflected yet, by row, read in one pass:
        // most pulls find none, and a lookup per pulled row would need an index that every
        // local write pays for.
        let pending = pending_by_row(&tx)?;
        {
            let _capture_off = self.capture_off();
            for change in &response.changes {
                let Some(table) = self.synced.iter().find(|t| t.name == change.table) else {
                    continue;
                };
                table.set_state(&tx, &change.key, change.row.as_ref())?;
                outcome.pulled += 1;
                outcome.tables.insert(table.name.clone());
            }
            if !pending.is_empty() {
                for change in &response.changes {
                    let Some(table) = self.synced.iter().find(|t| t.name == change.table) else {
                        continue;
                    };
                    if let Some(entries) =
                        pending.get(&(change.table.clone(), key_json(&change.key)?))
                    {
                        replay(&tx, table, entries)?;
                    }
                }
            }
        }
        tx.execute(
            "UPDATE _outpost_meta SET value = ?1 WHERE key = 'cursor'",
            [response.cursor],
        )?;
        tx.commit()?;
        Ok(outcome)
    }
}

type PendingByRow = HashMap<(String, String), Vec<Entry>>;

/// Every outbox entry, grouped by (table, key JSON), each group in seq order.
fn pending_by_row(conn: &Connection) -> Result<PendingByRow> {
    let mut by_row = PendingByRow::new();
    for entry in read_entries(
        conn,
        "SELECT seq, tbl, op, key, columns FROM _outpost_outbox ORDER BY seq",
        [],
    )? {
        let row = (entry.table.clone(), key_json(&entry.key)?);
        by_row.entry(row).or_default().push(entry);
    }
    Ok(by_row)
}

fn key_json(key: &[Value]) -> Result<String> {
    serde_json::to_string(key).map_err(|e| Error::Protocol(e.to_string()))
}

/// Re-apply this replica's outbox entries for one row, so local changes the primary has not
/// reflected yet stay visible (used when a rejected mutation's row is put back).
pub(crate) fn replay_pending(conn: &Connection, table: &SyncedTable, key: &[Value]) -> Result<()> {
    let entries = read_entries(
        conn,
        "SELECT seq, tbl, op, key, columns FROM _outpost_outbox WHERE tbl = ?1 AND key = ?2 ORDER BY seq",
        (&table.name, &key_json(key)?),
    )?;
    replay(conn, table, &entries)
}

/// Re-apply entries in order. One SQLite refuses (the pulled state conflicts with it) is skipped
/// here: the primary will judge that entry when it is pushed.
fn replay(conn: &Connection, table: &SyncedTable, entries: &[Entry]) -> Result<()> {
    for entry in entries {
        conn.execute_batch("SAVEPOINT outpost_replay")?;
        match table.replay(conn, entry.op, &entry.key, &entry.columns) {
            Ok(()) => conn.execute_batch("RELEASE outpost_replay")?,
            Err(Error::Sqlite { .. }) => {
                conn.execute_batch("ROLLBACK TO outpost_replay; RELEASE outpost_replay")?
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}
