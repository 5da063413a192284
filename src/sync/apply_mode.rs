//! How an answer of the primary is applied: foreign keys off, and in WAL mode without waiting for
//! the disk. Both are connection settings SQLite lets change only outside a transaction, so the
//! guard goes around the apply's transaction and puts back exactly what the app had.
//!
//! Why the apply need not wait for the disk (`synchronous = NORMAL` in WAL mode): what it
//! commits can always be had again. A WAL commit that was not synced is lost whole or kept whole
//! on a power cut, never torn, and losing it puts the replica back in the state it had before
//! the answer: as if the answer had been lost on the way. A lost pull answer is pulled again
//! from the older cursor; a lost push answer leaves the entries pending, and pushing them again
//! is applied at most once by the primary, which answers them as before. The app's own writes
//! keep the app's setting (FULL by default), and their sync covers the WAL frames before them
//! too. In a browser's OPFS this drops the flush of each pull (measured: bench/RESULTS.md).

use rusqlite::Connection;

use crate::Result;

/// `PRAGMA synchronous` values.
const NORMAL: i64 = 1;

/// Foreign keys off and, in WAL mode, `synchronous = NORMAL` for as long as it lives; dropped
/// after the apply's transaction ends, it restores both as they were.
pub(crate) struct ApplyMode<'a> {
    conn: &'a Connection,
    foreign_keys_were_on: bool,
    /// The app's `synchronous`, when this guard lowered it.
    synchronous_was: Option<i64>,
}

impl<'a> ApplyMode<'a> {
    pub(crate) fn enter(conn: &'a Connection) -> Result<Self> {
        // The pulled state is the primary's, where foreign keys held, and a parent may come after
        // its child; rows a refusal puts back are the primary's too.
        let foreign_keys_were_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
        let mut mode = ApplyMode {
            conn,
            foreign_keys_were_on,
            synchronous_was: None,
        };
        if foreign_keys_were_on {
            conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        // Only a WAL commit is atomic without a sync; a rollback journal keeps the app's setting.
        let journal: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        if journal.eq_ignore_ascii_case("wal") && synchronous > NORMAL {
            conn.execute_batch("PRAGMA synchronous = NORMAL")?;
            mode.synchronous_was = Some(synchronous);
        }
        Ok(mode)
    }
}

impl Drop for ApplyMode<'_> {
    fn drop(&mut self) {
        // Runs after the transaction has ended (dropped before this guard). A failure here would
        // leave a setting changed that the next apply's own guard would not undo, so say so.
        if let Some(synchronous) = self.synchronous_was {
            let restored = self
                .conn
                .execute_batch(&format!("PRAGMA synchronous = {synchronous}"));
            debug_assert!(
                restored.is_ok(),
                "synchronous could not be restored: {restored:?}"
            );
        }
        if self.foreign_keys_were_on {
            let restored = self.conn.execute_batch("PRAGMA foreign_keys = ON");
            debug_assert!(
                restored.is_ok(),
                "foreign keys could not be turned back on: {restored:?}"
            );
        }
    }
}
