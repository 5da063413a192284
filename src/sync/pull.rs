//! The pull side: applying the primary's changes in one transaction with capture off, putting
//! this replica's pending changes back on top of the rows they touch, and moving the cursor in
//! the same transaction (invariant 3).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering;

use rusqlite::Connection;

use super::app_triggers;
use super::apply_mode::ApplyMode;
use super::behind::{self, Behind};
use super::capture::{self, SyncedTable};
use super::older_schema::without_dropped_columns;
use super::outbox::{meta_i64, read_entries, Entry, RejectedMutation};
use super::settle::{
    last_seq, meta_get, meta_set, pending_from, set_aside, ACKED_SEEN, EPOCH, RESYNC,
};
use super::stage::{self, key_json, staged_position, Position};
use super::subset;
use crate::protocol::{PullRequest, PullResponse, Rejection, Subset, PROTOCOL_VERSION};
use crate::{Database, Error, Result, Value};

/// From how many pulled rows an apply switches triggers off (when the app has none).
const BULK_APPLY: usize = 1000;

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
    /// This replica's writes that the pull found refused (their push answer had not come), or
    /// set aside because this replica's history is not the primary's (`REPLICA_RESTORED`).
    pub rejected: Vec<RejectedMutation>,
    /// This replica's history and the primary's parted (see `settle.rs`): it pulls everything
    /// again, keeping its pending writes.
    pub reset: bool,
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
    /// While a pull's pages are being staged, it continues from the last staged page.
    pub fn pull_request(&self, wait_ms: u64) -> Result<PullRequest> {
        if self.synced.is_empty() {
            return Err(Error::bad_options(
                "no synced tables were configured for this database",
            ));
        }
        let conn = self.conn();
        let (position, behind, subset) = self.pull_from(conn)?;
        let Position { cursor, epoch, .. } = position;
        // Said only beside a subset, which a primary that knows the field must know too.
        let from_scratch = position.from_scratch && cursor > 0 && !subset.is_empty();
        Ok(PullRequest {
            v: PROTOCOL_VERSION,
            cursor,
            tables: self.synced.iter().map(|t| t.name.clone()).collect(),
            wait_ms,
            limit: None,
            client_id: Some(self.client_id()?),
            epoch,
            pending_from: Some(pending_from(conn)?),
            behind,
            acked_seen: Some(meta_get(conn, ACKED_SEEN)?.unwrap_or(0)),
            schema_version: Some(self.schema_version),
            subset,
            from_scratch,
        })
    }

    /// Where the next pull starts, the tables behind it it sends, and its subsets.
    fn pull_from(&self, conn: &Connection) -> Result<(Position, Behind, BTreeMap<String, Subset>)> {
        let position = self.pull_position(conn)?;
        // Only tables this replica syncs, and only while they are behind the main cursor.
        let behind: Behind = position
            .behind
            .iter()
            .filter(|(t, at)| **at < position.cursor && self.synced.iter().any(|s| s.name == **t))
            .map(|(t, at)| (t.clone(), *at))
            .collect();
        let subset = subset::for_pull(conn, &behind)?;
        Ok((position, behind, subset))
    }

    /// Where the next pull starts: the last staged page, else 0 when pulling everything again,
    /// else the cursor.
    fn pull_position(&self, conn: &Connection) -> Result<Position> {
        if let Some(staged) = staged_position(conn)? {
            return Ok(staged);
        }
        if meta_get::<i64>(conn, RESYNC)? == Some(1) {
            return Ok(Position {
                from_scratch: true,
                ..Position::default()
            });
        }
        let cursor = self.cursor()?;
        Ok(Position {
            cursor,
            epoch: meta_get(conn, EPOCH)?,
            behind: behind::stored(conn)?,
            from_scratch: cursor == 0,
        })
    }

    /// Apply the primary's answer to `request`. A page that is not the last is staged; the last
    /// applies every staged page and itself as a whole, atomically with the cursor move.
    pub fn apply_pull_response(
        &self,
        request: &PullRequest,
        response: &PullResponse,
    ) -> Result<PullOutcome> {
        self.apply_pull_page(request, response, None)
    }

    /// [`Self::apply_pull_response`], given also the answer's bytes when the caller has them: a
    /// page that is not the last is then staged from them, whatever `response.changes` holds (it
    /// may be empty, the changes left in the bytes: `http::decode_pull`). The last page applies
    /// `response.changes`.
    pub fn apply_pull_page(
        &self,
        request: &PullRequest,
        response: &PullResponse,
        body: Option<&[u8]>,
    ) -> Result<PullOutcome> {
        self.require_autocommit()?;
        // Foreign keys off, and no wait for the disk in WAL mode (apply_mode.rs); around the transaction.
        let _mode = ApplyMode::enter(self.conn())?;
        let tx = self.conn().unchecked_transaction()?;
        // An answer for another cursor, or for the client id this replica had before it diverged.
        let client_id = self.client_id()?;
        let (position, behind_now, subset_now) = self.pull_from(&tx)?;
        if position.cursor != request.cursor
            || behind_now != request.behind
            || subset_now != request.subset
            || request
                .client_id
                .as_ref()
                .is_some_and(|id| *id != client_id)
        {
            return Ok(PullOutcome {
                stale: true,
                ..PullOutcome::default()
            });
        }
        let mut outcome = PullOutcome {
            more: response.more,
            ..PullOutcome::default()
        };
        if response.reset {
            self.primary_lost_history(&tx)?;
            tx.commit()?;
            outcome.more = true;
            outcome.reset = true;
            return Ok(outcome);
        }
        if response.resync {
            // What this replica may read changed under it: its rows are replaced as a whole by
            // a pull from scratch; its writes stay pending, nothing is pushed again.
            self.resync_from_scratch(&tx)?;
            tx.commit()?;
            outcome.more = true;
            return Ok(outcome);
        }
        if response.cursor < behind::lowest(request.cursor, &request.behind) {
            return Err(Error::Protocol(format!(
                "the primary moved the cursor back from {} to {}",
                request.cursor, response.cursor
            )));
        }
        let (cursor, behind) = behind::after_page(
            request.cursor,
            &request.behind,
            response.cursor,
            &response.unknown_tables,
        );
        if response.more {
            // The main cursor's epoch is the one it was given with.
            let epoch = match cursor == request.cursor {
                true => request.epoch.clone(),
                false => response.epoch.clone(),
            };
            let next = Position {
                cursor,
                epoch,
                behind,
                from_scratch: position.from_scratch,
            };
            stage::keep_page(&tx, &response.changes, body, &next)?;
            tx.commit()?;
            return Ok(outcome);
        }
        let acked_through = response.acked_through.unwrap_or(0);
        if self.is_diverged(&tx, response)? {
            outcome.rejected = self.diverged(&tx, acked_through)?;
            tx.commit()?;
            outcome.more = true;
            outcome.reset = true;
            return Ok(outcome);
        }
        outcome.rejected = settle_covered(&tx, acked_through, &response.rejected)?;
        let seen: i64 = meta_get(&tx, ACKED_SEEN)?.unwrap_or(0);
        meta_set(&tx, ACKED_SEEN, seen.max(acked_through))?;
        (outcome.pulled, outcome.tables) =
            match self.apply_last_page(&tx, response, position.from_scratch) {
                Err(e) if stage::is_unreadable(&e) => {
                    tx.rollback()?;
                    stage::discard(self.conn())?;
                    return Err(e);
                }
                applied => applied?,
            };
        behind::store(&tx, &behind)?;
        subset::end_fills(&tx, &behind)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Every staged page and this last one written as a whole, the pending entries put back on
    /// top, the cursor moved, the stage cleared.
    fn apply_last_page(
        &self,
        tx: &Connection,
        response: &PullResponse,
        began_at_zero: bool,
    ) -> Result<(usize, BTreeSet<String>)> {
        let from_scratch = meta_get::<i64>(tx, RESYNC)? == Some(1);
        // The entries left are not in the pulled state: they go back on top of the rows it
        // touches (of every row, when every row is replaced). Read in one pass: most pulls find
        // none, and a lookup per pulled row would need an index every write pays for.
        let pending = pending_by_row(tx)?;
        let mut replay_rows = BTreeSet::new();
        let mut tables = BTreeSet::new();
        let _capture_off = self.capture_off();
        if from_scratch {
            self.clear_synced(tx)?;
            tables.extend(self.synced.iter().map(|t| t.name.clone()));
        }
        let app_triggers = app_triggers::any_on(tx, &self.synced)?;
        if app_triggers {
            app_triggers::start_noting(tx, &self.synced)?;
        }
        // With capture off, the capture triggers do nothing but cost: a statement with triggers
        // keeps a journal of each page it changes, so every pulled row copied its page. Without
        // app triggers, a large apply runs with them dropped; a small one keeps them, as
        // dropping and creating them re-prepares the connection's statements.
        let bulk = !app_triggers
            && (response.changes.len() >= BULK_APPLY || staged_position(tx)?.is_some());
        if bulk {
            capture::suspend(tx, &self.synced)?;
        }
        let pulled = self.write_pulled(tx, &response.changes, &mut |row| {
            if !tables.contains(row.table) {
                tables.insert(row.table.to_owned());
            }
            // Most pulls find no pending entry: then no row needs naming.
            if !pending.rows.is_empty() {
                let id = row.id()?;
                if pending.rows.contains(&id) {
                    replay_rows.insert(id);
                }
            }
            Ok(())
        })?;
        if bulk {
            capture::resume(tx, &self.synced)?;
        }
        // A pull from cursor 0 sends no tombstone for rows out of a subset: rows this replica
        // wrote there leave now, unless a write still pending puts them back.
        let swept = match began_at_zero {
            true => subset::sweep(tx)?,
            false => Vec::new(),
        };
        tables.extend(swept.iter().cloned());
        self.replay_on(tx, &pending, |id| {
            from_scratch || replay_rows.contains(id) || swept.contains(&id.0)
        })?;
        if app_triggers {
            self.undo_app_trigger_writes(tx, response, &pending, &replay_rows, from_scratch)?;
        }
        stage::clear(tx)?;
        meta_set(tx, RESYNC, 0)?;
        meta_set(tx, EPOCH, response.epoch.as_deref())?;
        tx.execute(
            "UPDATE _outpost_meta SET value = ?1 WHERE key = 'cursor'",
            [response.cursor],
        )?;
        Ok((pulled, tables))
    }

    /// Put `pending` entries back on the rows `wanted` picks.
    fn replay_on(
        &self,
        tx: &Connection,
        pending: &PendingByRow,
        wanted: impl Fn(&(String, String)) -> bool,
    ) -> Result<()> {
        // In the order they were made, across rows: two entries may depend on each other through
        // a UNIQUE column (y takes position 1 only after x left it).
        for (id, entry) in &pending.entries {
            if wanted(id) {
                if let Some(table) = self.synced.iter().find(|t| t.name == id.0) {
                    replay(tx, table, std::slice::from_ref(entry))?;
                }
            }
        }
        Ok(())
    }

    /// See `app_triggers.rs`: with triggers off, rows the pull does not hold go back to their
    /// state before the apply; rows it holds are written again, with pending entries on top.
    fn undo_app_trigger_writes(
        &self,
        tx: &Connection,
        response: &PullResponse,
        pending: &PendingByRow,
        replay_rows: &BTreeSet<(String, String)>,
        from_scratch: bool,
    ) -> Result<()> {
        let noted = app_triggers::stop_noting(tx, &self.synced)?;
        let _triggers_off = app_triggers::TriggersOff::new(tx)?;
        let mut pulled_rows = std::collections::HashSet::new();
        self.write_pulled(tx, &response.changes, &mut |row| {
            pulled_rows.insert(row.id()?);
            Ok(())
        })?;
        for row in noted {
            if pulled_rows.contains(&(row.table.clone(), row.key_json)) {
                continue;
            }
            if let Some(table) = self.synced.iter().find(|t| t.name == row.table) {
                table.set_state(tx, &row.key, row.before.as_ref())?;
            }
        }
        self.replay_on(tx, pending, |id| from_scratch || replay_rows.contains(id))
    }

    /// Whether the pulled state says the primary knows another history under this client id:
    /// it acknowledged a seq this replica never assigned, or holds other content at it.
    fn is_diverged(&self, conn: &Connection, response: &PullResponse) -> Result<bool> {
        let Some(acked) = response.acked_through else {
            return Ok(false);
        };
        acked_elsewhere(conn, &self.synced, acked, response.acked_digest.as_deref())
    }

    /// Sync reads only committed state, and applies only outside the app's own transaction.
    pub(crate) fn require_autocommit(&self) -> Result<()> {
        if self.conn().is_autocommit() {
            Ok(())
        } else {
            Err(Error::TransactionOpen)
        }
    }
}

/// Entries up to `acked_through` are in the pulled state: the refused ones are reported and kept
/// readable, the rest dropped.
fn settle_covered(
    conn: &Connection,
    acked_through: i64,
    refused: &[Rejection],
) -> Result<Vec<RejectedMutation>> {
    let mut rejected = Vec::new();
    for refusal in refused.iter().filter(|r| r.seq <= acked_through) {
        rejected.extend(set_aside(
            conn,
            refusal.seq,
            &refusal.code,
            &refusal.reason,
        )?);
    }
    conn.prepare_cached("DELETE FROM _outpost_outbox WHERE seq <= ?1")?
        .execute([acked_through])?;
    Ok(rejected)
}

/// Whether an answer acknowledging `acked` (with the digest of the mutation there) comes from
/// another history under this client id: this replica never assigned that seq, or holds other
/// content at it. The primary's digest is of the mutation as it was sent: with every column
/// when it went out before a migration of this app dropped one, without the dropped ones after.
pub(crate) fn acked_elsewhere(
    conn: &Connection,
    synced: &[SyncedTable],
    acked: i64,
    digest: Option<&str>,
) -> Result<bool> {
    if acked > last_seq(conn)? {
        return Ok(true);
    }
    let (Some(digest), Some(entry)) = (digest, entry_at(conn, acked)?) else {
        return Ok(false);
    };
    let written = crate::protocol::Mutation::from(entry);
    if written.digest() == digest {
        return Ok(false);
    }
    Ok(without_dropped_columns(synced, written).digest() != digest)
}

fn entry_at(conn: &Connection, seq: i64) -> Result<Option<Entry>> {
    let mut found = read_entries(
        conn,
        "SELECT seq, tbl, op, key, columns FROM _outpost_outbox WHERE seq = ?1",
        [seq],
    )?;
    Ok(found.pop())
}

/// Every outbox entry in seq order, each with its row (table, key JSON), and the set of rows.
#[derive(Default)]
struct PendingByRow {
    entries: Vec<((String, String), Entry)>,
    rows: HashSet<(String, String)>,
}

fn pending_by_row(conn: &Connection) -> Result<PendingByRow> {
    let mut pending = PendingByRow::default();
    for entry in read_entries(
        conn,
        "SELECT seq, tbl, op, key, columns FROM _outpost_outbox ORDER BY seq",
        [],
    )? {
        let row = (entry.table.clone(), key_json(&entry.key)?);
        pending.rows.insert(row.clone());
        pending.entries.push((row, entry));
    }
    Ok(pending)
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

/// Re-apply every pending entry of the outbox on its row, in seq order.
pub(crate) fn replay_all(conn: &Connection, synced: &[SyncedTable]) -> Result<()> {
    for ((table_name, _), entry) in pending_by_row(conn)?.entries {
        if let Some(table) = synced.iter().find(|t| t.name == table_name) {
            replay(conn, table, std::slice::from_ref(&entry))?;
        }
    }
    Ok(())
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
