//! The push side: turning outbox entries into a [`PushRequest`], and settling them when the
//! primary answers. An acknowledged entry stays until a pulled state holds it (`settle.rs`).

use std::sync::atomic::Ordering;

use rusqlite::{params, Connection};

use super::older_schema::without_dropped_columns;
use super::settle::{last_seq, meta_get, meta_set, pending_from, set_aside, ACKED_SEEN};
use crate::protocol::{
    Mutation, Op, PushRequest, PushResponse, Waiting, MAX_PUSH_BYTES, PROTOCOL_VERSION,
};
use crate::value::Row;
use crate::{Database, Error, Result, Value};

/// An outbox entry as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub seq: i64,
    pub table: String,
    pub op: Op,
    pub key: Vec<Value>,
    pub columns: Row,
}

impl From<Entry> for Mutation {
    fn from(e: Entry) -> Self {
        Mutation {
            seq: e.seq,
            table: e.table,
            op: e.op,
            key: e.key,
            columns: e.columns,
        }
    }
}

/// A mutation the primary refused, as the app sees it (the `rejected` event, and
/// `rejected_writes` until the app discards it).
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedMutation {
    pub seq: i64,
    pub table: String,
    pub op: Op,
    pub key: Vec<Value>,
    pub columns: Row,
    pub code: String,
    pub reason: String,
}

/// What one push settled.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PushOutcome {
    /// Mutations the primary applied or dropped (not counting rejections).
    pub pushed: usize,
    pub rejected: Vec<RejectedMutation>,
    /// The primary stopped before this write, which it cannot take yet (`SCHEMA_AHEAD`): it and
    /// the ones behind it stay pending, to be pushed again later.
    pub waiting: Option<Waiting>,
    /// The answer was to a push older than the newest one built, and was ignored.
    pub superseded: bool,
}

pub(super) fn parse_op(op: &str) -> rusqlite::Result<Op> {
    match op {
        "insert" => Ok(Op::Insert),
        "update" => Ok(Op::Update),
        "delete" => Ok(Op::Delete),
        other => Err(rusqlite::Error::InvalidColumnType(
            2,
            format!("outbox op {other}"),
            rusqlite::types::Type::Text,
        )),
    }
}

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    idx: usize,
    text: String,
) -> rusqlite::Result<T> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn read_entries(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok(Entry {
            seq: r.get(0)?,
            table: r.get(1)?,
            op: parse_op(&r.get::<_, String>(2)?)?,
            key: json_column(3, r.get(3)?)?,
            columns: json_column(4, r.get(4)?)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn meta_i64(conn: &Connection, key: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT value FROM _outpost_meta WHERE key = ?1",
        [key],
        |r| r.get(0),
    )?)
}

impl Database {
    fn require_sync(&self) -> Result<()> {
        if self.synced.is_empty() {
            return Err(Error::bad_options(
                "no synced tables were configured for this database",
            ));
        }
        Ok(())
    }

    /// This replica's id, as the primary knows it.
    pub fn client_id(&self) -> Result<String> {
        self.require_sync()?;
        Ok(self.conn().query_row(
            "SELECT value FROM _outpost_meta WHERE key = 'client_id'",
            [],
            |r| r.get(0),
        )?)
    }

    /// How many local changes the primary has not acknowledged yet.
    pub fn pending_count(&self) -> Result<u64> {
        if self.synced.is_empty() {
            return Ok(0);
        }
        let count: i64 = self.conn().query_row(
            "SELECT count(*) FROM _outpost_outbox WHERE acked_version IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    /// The next batch to push (oldest first, at most `max` mutations and about
    /// [`MAX_PUSH_BYTES`] of them), or None if nothing is pending. A write is refused when it is
    /// made if it could never fit (`MUTATION_TOO_LARGE`), so every entry fits in a batch.
    pub fn push_request(&self, max: usize) -> Result<Option<PushRequest>> {
        self.require_sync()?;
        self.require_autocommit()?;
        let conn = self.conn();
        // Acknowledged entries stay until a pull holds them: stepping over them from the start
        // made pushing a long outbox quadratic (100,000 entries: 1.3 s of 5.4 s building requests).
        let from = self.push_scan_from.load(Ordering::Relaxed);
        let mut stmt = conn.prepare_cached(
            "SELECT seq, tbl, op, key, columns FROM _outpost_outbox
             WHERE seq >= ?2 AND acked_version IS NULL ORDER BY seq LIMIT ?1",
        )?;
        let mut rows = stmt.query([max as i64, from])?;
        let mut mutations: Vec<Mutation> = Vec::new();
        let mut bytes = 0;
        while let Some(r) = rows.next()? {
            let (key, columns): (String, String) = (r.get(3)?, r.get(4)?);
            bytes += key.len() + columns.len() + ENTRY_OVERHEAD;
            if bytes > MAX_PUSH_BYTES && !mutations.is_empty() {
                break;
            }
            let mutation = Mutation {
                seq: r.get(0)?,
                table: r.get(1)?,
                op: parse_op(&r.get::<_, String>(2)?)?,
                key: json_column(3, key)?,
                columns: json_column(4, columns)?,
            };
            mutations.push(without_dropped_columns(&self.synced, mutation));
        }
        // New entries take seqs above every one so far (AUTOINCREMENT).
        let unacknowledged_from = match mutations.first() {
            Some(first) => first.seq,
            None => last_seq(conn)? + 1,
        };
        self.push_scan_from
            .fetch_max(unacknowledged_from, Ordering::Relaxed);
        if mutations.is_empty() {
            return Ok(None);
        }
        Ok(Some(PushRequest {
            v: PROTOCOL_VERSION,
            client_id: self.client_id()?,
            mutations,
            last_seq: Some(last_seq(conn)?),
            acked_seen: Some(meta_get(conn, ACKED_SEEN)?.unwrap_or(0)),
            schema_version: Some(self.schema_version),
            pending_from: Some(pending_from(conn)?),
            attempt: self.push_attempts.fetch_add(1, Ordering::Relaxed) + 1,
        }))
    }

    /// Settle the entries of `request` by the primary's answer, in one transaction. An entry
    /// acknowledged stays until a pulled state holds it (`settle.rs`); an entry already gone was
    /// settled by such a pull while this answer was on its way, and is left alone.
    ///
    /// The answer to a push older than the newest one built is ignored, as if lost: the newer
    /// request holds the same entries and its answer settles them. Applied, an old answer could
    /// report a write refused that the newer request has since made the primary apply: the
    /// primary restored from a backup between the two takes back the refusal, and its state
    /// takes the write.
    pub fn apply_push_response(
        &self,
        request: &PushRequest,
        response: &PushResponse,
    ) -> Result<PushOutcome> {
        self.require_sync()?;
        self.require_autocommit()?;
        // Rows a refusal puts back are the primary's, whose parents may not be here yet; what
        // this commits a lost answer would bring again, so it need not wait for the disk.
        let _mode = super::apply_mode::ApplyMode::enter(self.conn())?;
        let tx = self.conn().unchecked_transaction()?;
        let mut outcome = PushOutcome::default();
        // An answer for the client id this replica had before it diverged: nothing is its own.
        if request.client_id != self.client_id()? {
            return Ok(outcome);
        }
        if self.superseded(request) {
            outcome.superseded = true;
            return Ok(outcome);
        }
        if response.diverged {
            outcome.rejected = self.diverged(&tx, response.acked_through)?;
            tx.commit()?;
            return Ok(outcome);
        }
        if response.reset {
            self.primary_lost_history(&tx)?;
            tx.commit()?;
            return Ok(outcome);
        }
        // A batch of retries only: the primary's acknowledged seq may be past it, at content this
        // replica does not hold there.
        let acked = response.acked_through;
        if super::pull::acked_elsewhere(&tx, &self.synced, acked, response.acked_digest.as_deref())?
        {
            outcome.rejected = self.diverged(&tx, acked)?;
            tx.commit()?;
            return Ok(outcome);
        }
        let mut restores: Vec<(&Mutation, Option<&crate::value::Row>)> = Vec::new();
        // One compiled statement for the whole batch, not one compile per acknowledged entry.
        let mut ack = tx.prepare_cached(
            "UPDATE _outpost_outbox SET acked_version = ?2 WHERE seq = ?1 AND acked_version IS NULL",
        )?;
        for mutation in request
            .mutations
            .iter()
            .filter(|m| m.seq <= response.acked_through)
        {
            match response.rejected.iter().find(|r| r.seq == mutation.seq) {
                Some(rejection) => {
                    let moved = set_aside(&tx, mutation.seq, &rejection.code, &rejection.reason)?;
                    // Already gone: a pull settled and reported it while this answer was late.
                    if let Some(rejected) = moved {
                        restores.push((mutation, rejection.row.as_ref()));
                        outcome.rejected.push(rejected);
                    }
                }
                None => outcome.pushed += ack.execute(params![mutation.seq, response.version])?,
            }
        }
        drop(ack);
        if !restores.is_empty() {
            self.put_back(&tx, &restores)?;
        }
        outcome.waiting = response.waiting.clone();
        let seen: i64 = meta_get(&tx, ACKED_SEEN)?.unwrap_or(0);
        meta_set(&tx, ACKED_SEEN, seen.max(response.acked_through))?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Whether a newer push was built since `request`. A request built elsewhere (attempt 0)
    /// is the caller's to order.
    fn superseded(&self, request: &PushRequest) -> bool {
        request.attempt != 0 && request.attempt < self.push_attempts.load(Ordering::Relaxed)
    }

    /// Put the rows of refused mutations back to the primary's state sent with the refusals, then
    /// this replica's pending writes back on top. No pulled state holds those entries yet (they
    /// were still in the outbox), so that state is not older than the replica's copy. The rows go
    /// back as a set, like a pull: a reorder refused whole would collide with itself row by row
    /// (x back to 1 while the replica's own y holds 1), so a collision writes them with REPLACE,
    /// and every pending entry is replayed, so a row REPLACE moved aside comes back.
    fn put_back(
        &self,
        conn: &Connection,
        restores: &[(&Mutation, Option<&crate::value::Row>)],
    ) -> Result<()> {
        let _capture_off = self.capture_off();
        let tables = |m: &Mutation| self.synced.iter().find(|t| t.name == m.table);
        conn.execute_batch("SAVEPOINT outpost_put_back")?;
        let in_place = restores.iter().try_for_each(|(m, row)| match tables(m) {
            Some(table) => table.set_state(conn, &m.key, *row),
            None => Ok(()),
        });
        match in_place {
            Ok(()) => {
                conn.execute_batch("RELEASE outpost_put_back")?;
                for (m, _) in restores {
                    if let Some(table) = tables(m) {
                        super::pull::replay_pending(conn, table, &m.key)?;
                    }
                }
                Ok(())
            }
            Err(Error::Sqlite { .. }) => {
                conn.execute_batch("ROLLBACK TO outpost_put_back; RELEASE outpost_put_back")?;
                for (m, row) in restores {
                    if let Some(table) = tables(m) {
                        table.replace_state(conn, &m.key, row.map(Into::into))?;
                    }
                }
                super::pull::replay_all(conn, &self.synced)
            }
            Err(other) => Err(other),
        }
    }
}

/// Bytes of JSON a mutation adds to a push besides its key and columns (seq, table, op, names).
const ENTRY_OVERHEAD: usize = 96;
