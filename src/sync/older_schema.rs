//! Outbox entries written under an older schema of this replica: the app upgraded, and one of its
//! migrations dropped or renamed a column, changed a table's key, or stopped syncing a table,
//! while writes made before were still unsent (offline, or refused `UPGRADE_REQUIRED` by a
//! primary that already had the breaking change). Such an entry must neither wedge the queue nor
//! vanish:
//!
//! - a column the table no longer has is not sent: the replica's own table dropped it, so the
//!   primary (migrated the same way) has no place for it either, and the rest of the write goes
//!   through;
//! - an entry whose table is no longer synced, or whose key no longer fits the table's, cannot be
//!   applied anywhere: it is set aside as rejected with `SCHEMA_CHANGED`, content intact, for the
//!   app to read (`rejected_writes`) and write again in the new shape.

use rusqlite::Connection;

use super::capture::SyncedTable;
use super::settle::set_aside;
use super::RejectedMutation;
use crate::codes;
use crate::protocol::Mutation;
use crate::Result;

/// At open, after the migrations: set aside the unsent entries no synced table can take now, and
/// return them, for the first sync of this open to report (as `rejected` events in the package).
/// One pass over the outbox by table and key width, so an open with a long outbox stays quick.
pub(crate) fn set_aside_unfit(
    conn: &Connection,
    synced: &[SyncedTable],
) -> Result<Vec<RejectedMutation>> {
    let mut set_aside_now = Vec::new();
    let shapes: Vec<(String, i64)> = conn
        .prepare(
            "SELECT DISTINCT tbl, json_array_length(key) FROM _outpost_outbox
             WHERE acked_version IS NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, width) in shapes {
        let why = match synced.iter().find(|t| t.name == name) {
            None => format!(
                "this write to {name} was made before a migration of this app stopped syncing \
                 the table; it was not sent"
            ),
            Some(table) if table.key.len() as i64 != width => format!(
                "this write to {name} was made before a migration of this app changed the \
                 table's key to ({}); it was not sent",
                table.key.join(", ")
            ),
            Some(_) => continue,
        };
        let seqs: Vec<i64> = conn
            .prepare(
                "SELECT seq FROM _outpost_outbox WHERE acked_version IS NULL AND tbl = ?1
                 AND json_array_length(key) = ?2 ORDER BY seq",
            )?
            .query_map(rusqlite::params![name, width], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for seq in seqs {
            set_aside_now.extend(set_aside(conn, seq, codes::SCHEMA_CHANGED, &why)?);
        }
    }
    Ok(set_aside_now)
}

/// The mutation as this replica's tables can send it now: without the columns its table no
/// longer has (see the module docs).
pub(crate) fn without_dropped_columns(synced: &[SyncedTable], mut mutation: Mutation) -> Mutation {
    if let Some(table) = synced.iter().find(|t| t.name == mutation.table) {
        mutation
            .columns
            .retain(|column, _| table.columns.contains(column));
    }
    mutation
}
