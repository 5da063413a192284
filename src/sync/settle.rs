//! Settling outbox entries, and the two ways a replica learns its history is not the primary's.
//!
//! An entry leaves the outbox only when a pulled state holds it: the pull answer says up to which
//! `seq` of this client that state has (`acked_through`, read in the same snapshot), so an entry
//! is either part of the rows being applied (dropped, or reported if the primary refused it) or
//! not yet (replayed on top). A push answer only marks entries acknowledged; however late it
//! arrives, it can no longer put an old write over newer pulled rows.
//!
//! - A replica that diverged (its file was restored from an older copy, or is open on two
//!   devices): it goes on under a new client id, so none of its seqs can be taken for another
//!   copy's, and pulls everything again so its rows are the primary's. Its entries written since
//!   this open are new writes and are pushed under the new id. Older ones up to the primary's
//!   `acked_through` may or may not be on the primary (made before the copy was taken, or
//!   after): they are reported as rejected (`REPLICA_RESTORED`), their content kept.
//! - A primary that lost history (restored from a backup, or replaced): the replica pushes again
//!   what it was told was acknowledged, and pulls everything again.

use std::sync::atomic::Ordering;

use rusqlite::{params, Connection, OptionalExtension};

use super::outbox::{json_column, parse_op, RejectedMutation};
use crate::codes;
use crate::{Database, Error, Result};

/// `_outpost_meta` keys this module keeps.
pub(crate) const RESYNC: &str = "resync";
pub(crate) const ACKED_SEEN: &str = "acked_seen";
pub(crate) const EPOCH: &str = "epoch";

pub(crate) fn meta_get<T: rusqlite::types::FromSql>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>> {
    let value = conn
        .prepare_cached("SELECT value FROM _outpost_meta WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, Option<T>>(0))
        .optional()?;
    Ok(value.flatten())
}

pub(crate) fn meta_set(conn: &Connection, key: &str, value: impl rusqlite::ToSql) -> Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO _outpost_meta (key, value) VALUES (?1, ?2)")?
        .execute(params![key, value])?;
    Ok(())
}

/// A value kept in `_outpost_meta` as JSON; its default when there is none.
pub(crate) fn meta_json<T: serde::de::DeserializeOwned + Default>(
    conn: &Connection,
    key: &str,
) -> Result<T> {
    match meta_get::<String>(conn, key)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| Error::Protocol(e.to_string())),
        None => Ok(T::default()),
    }
}

pub(crate) fn set_meta_json(
    conn: &Connection,
    key: &str,
    value: &impl serde::Serialize,
) -> Result<()> {
    let json = serde_json::to_string(value).map_err(|e| Error::Protocol(e.to_string()))?;
    meta_set(conn, key, json)
}

/// The highest seq this replica has ever assigned (SQLite's AUTOINCREMENT counter), 0 if none.
pub(crate) fn last_seq(conn: &Connection) -> Result<i64> {
    let seq = conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = '_outpost_outbox'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(seq.unwrap_or(0))
}

/// The oldest seq the outbox still holds, acknowledged or not; `last_seq + 1` when it is empty.
pub(crate) fn pending_from(conn: &Connection) -> Result<i64> {
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT min(seq) FROM _outpost_outbox")?
        .query_row([], |r| r.get(0))?;
    match oldest {
        Some(seq) => Ok(seq),
        None => Ok(last_seq(conn)? + 1),
    }
}

/// Move one outbox entry to `_outpost_rejected` with `code`; None if the entry is gone already.
pub(crate) fn set_aside(
    conn: &Connection,
    seq: i64,
    code: &str,
    reason: &str,
) -> Result<Option<RejectedMutation>> {
    let moved = conn
        .prepare_cached(
            "DELETE FROM _outpost_outbox WHERE seq = ?1 RETURNING tbl, op, key, columns",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    let Some((table, op, key, columns)) = moved else {
        return Ok(None);
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO _outpost_rejected (seq, tbl, op, key, columns, code, reason, rejected_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, unixepoch())",
    )?
    .execute(params![seq, table, op, key, columns, code, reason])?;
    Ok(Some(RejectedMutation {
        seq,
        op: parse_op(&op)?,
        key: json_column(2, key)?,
        columns: json_column(3, columns)?,
        table,
        code: code.to_owned(),
        reason: reason.to_owned(),
    }))
}

impl Database {
    /// This replica is not the one the primary knows under its client id (see the module docs).
    pub(crate) fn diverged(
        &self,
        conn: &Connection,
        acked_through: i64,
    ) -> Result<Vec<RejectedMutation>> {
        let ambiguous: Vec<i64> = conn
            .prepare_cached(
                "SELECT seq FROM _outpost_outbox WHERE seq <= ?1 AND seq < ?2
                 AND acked_version IS NULL ORDER BY seq",
            )?
            .query_map([acked_through, self.session_first_seq], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let reason = "this replica's file was restored from an older copy, or is open on two \
                      devices: the primary acknowledged writes of this client that this copy \
                      did not make, so this write may or may not have reached the primary";
        let mut rejected = Vec::with_capacity(ambiguous.len());
        for seq in ambiguous {
            rejected.extend(set_aside(conn, seq, codes::REPLICA_RESTORED, reason)?);
        }
        // Acknowledged in this copy's own history: the primary has them, and the full pull
        // brings their rows. What this open wrote stays, to be pushed under the new id.
        conn.execute(
            "DELETE FROM _outpost_outbox WHERE seq <= ?1 AND seq < ?2",
            [acked_through, self.session_first_seq],
        )?;
        self.unacknowledge_all(conn)?;
        conn.execute(
            "UPDATE _outpost_meta SET value = 'c' || lower(hex(randomblob(15))) WHERE key = 'client_id'",
            [],
        )?;
        meta_set(conn, ACKED_SEEN, 0)?;
        self.resync_from_scratch(conn)?;
        Ok(rejected)
    }

    /// Every acknowledged entry is to be pushed again.
    fn unacknowledge_all(&self, conn: &Connection) -> Result<()> {
        self.push_scan_from.store(0, Ordering::Relaxed);
        conn.execute(
            "UPDATE _outpost_outbox SET acked_version = NULL WHERE acked_version IS NOT NULL",
            [],
        )?;
        Ok(())
    }

    /// The primary lost mutations it had acknowledged (see the module docs): push them again,
    /// and pull everything again.
    pub(crate) fn primary_lost_history(&self, conn: &Connection) -> Result<()> {
        self.unacknowledge_all(conn)?;
        meta_set(conn, ACKED_SEEN, 0)?;
        self.resync_from_scratch(conn)
    }

    /// The next pull starts from cursor 0, and its last page replaces every synced row.
    pub(crate) fn resync_from_scratch(&self, conn: &Connection) -> Result<()> {
        meta_set(conn, RESYNC, 1)?;
        meta_set(conn, EPOCH, rusqlite::types::Null)?;
        super::stage::clear(conn)
    }
}
