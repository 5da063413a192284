//! What became of the app's local writes, for the app to show: those still waiting in the outbox
//! (oldest first, the order they are pushed in) and those the primary refused (newest first), which
//! keep their content until the app discards them (invariant 7: none disappears silently).
//! Outpost's own tables stay private; these reads are their public face.

use rusqlite::Connection;

use super::outbox::{json_column, parse_op, read_entries, RejectedMutation};
use crate::protocol::Mutation;
use crate::{Database, Result};

/// Some writes of one kind, and how many there are in all.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteList<W> {
    /// Every write of the kind, however many are listed.
    pub count: u64,
    /// At most the number asked for.
    pub writes: Vec<W>,
}

impl<W> Default for WriteList<W> {
    fn default() -> Self {
        WriteList {
            count: 0,
            writes: Vec::new(),
        }
    }
}

/// A write the primary refused, as kept on the replica.
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedWrite {
    pub mutation: RejectedMutation,
    /// When the refusal was recorded here, in milliseconds since the Unix epoch (kept to the second).
    pub rejected_at_ms: i64,
}

impl Database {
    /// The local writes the primary has not acknowledged yet: the next `limit` to be pushed, oldest
    /// first, and the count of all of them. A database without synced tables has none.
    pub fn pending_writes(&self, limit: usize) -> Result<WriteList<Mutation>> {
        if self.synced.is_empty() {
            return Ok(WriteList::default());
        }
        let entries = read_entries(
            self.conn(),
            "SELECT seq, tbl, op, key, columns FROM _outpost_outbox
             WHERE acked_version IS NULL ORDER BY seq LIMIT ?1",
            [sql_limit(limit)],
        )?;
        Ok(WriteList {
            count: self.pending_count()?,
            writes: entries.into_iter().map(Mutation::from).collect(),
        })
    }

    /// The writes the primary refused and the app has not discarded: the newest `limit`, newest
    /// first, and the count of all of them.
    pub fn rejected_writes(&self, limit: usize) -> Result<WriteList<RejectedWrite>> {
        if self.synced.is_empty() {
            return Ok(WriteList::default());
        }
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, tbl, op, key, columns, code, reason, rejected_at FROM _outpost_rejected
             ORDER BY seq DESC LIMIT ?1",
        )?;
        let writes = stmt
            .query_map([sql_limit(limit)], |r| {
                Ok(RejectedWrite {
                    mutation: RejectedMutation {
                        seq: r.get(0)?,
                        table: r.get(1)?,
                        op: parse_op(&r.get::<_, String>(2)?)?,
                        key: json_column(3, r.get(3)?)?,
                        columns: json_column(4, r.get(4)?)?,
                        code: r.get(5)?,
                        reason: r.get(6)?,
                    },
                    rejected_at_ms: r.get::<_, i64>(7)?.saturating_mul(1000),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(WriteList {
            count: count_rejected(conn)?,
            writes,
        })
    }

    /// Forgets rejected writes: the one numbered `seq`, or (with `None`) every one. Returns how
    /// many were discarded; a `seq` that is not (or no longer) rejected discards nothing.
    pub fn discard_rejected(&self, seq: Option<i64>) -> Result<u64> {
        if self.synced.is_empty() {
            return Ok(0);
        }
        let discarded = match seq {
            Some(seq) => self
                .conn()
                .execute("DELETE FROM _outpost_rejected WHERE seq = ?1", [seq])?,
            None => self.conn().execute("DELETE FROM _outpost_rejected", [])?,
        };
        Ok(discarded as u64)
    }
}

fn count_rejected(conn: &Connection) -> Result<u64> {
    let count: i64 = conn.query_row("SELECT count(*) FROM _outpost_rejected", [], |r| r.get(0))?;
    Ok(count as u64)
}

/// SQLite's LIMIT is a signed 64-bit integer.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
