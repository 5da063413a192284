//! A pull of several pages is applied as a whole. Pages before the last are kept in
//! `_outpost_stage_pages` (committed, so a long first sync survives a reload and memory stays
//! bounded), and the last page applies all of them in one transaction with the cursor move: the
//! rows then equal one state the primary had (invariant 8), whatever order rows and pages came in.
//!
//! A page is kept whole, as the JSON it came in, and read back one page at a time. Keeping each
//! row as its own stage row cost an insert, a select and a JSON encoding and parsing of each of
//! its parts: a third of a 100,000-row pull in the wasm, against a sixth for decoding the page
//! once more; encoding the page again would cost as much (bench/RESULTS.md). Rows staged one by
//! one by an older version (the table `_outpost_stage`) are still read, before the pages.
//!
//! Within that transaction foreign keys are off (the pulled state is the primary's, where they
//! held; a parent may come after its child), and rows are first written in place; if a UNIQUE
//! column makes that fail midway (two rows swapping values), the whole set is written again with
//! REPLACE, which clears the way. Applied in version order, REPLACE can only remove a row's older
//! state or a local row the primary does not have: a newer state of another row that collides
//! would collide in the primary's own snapshot too.

use rusqlite::Connection;

use super::behind::{self, Behind};
use super::pulled::{PulledRow, RowRef, StagedPage};
use super::rows::{StateWriter, Writing};
use super::settle::{meta_get, meta_set};
use crate::protocol::Change;
use crate::value::Row;
use crate::{Database, Error, Result, Value};

pub(crate) const STAGE_CURSOR: &str = "stage_cursor";
pub(crate) const STAGE_EPOCH: &str = "stage_epoch";
pub(crate) const STAGE_BEHIND: &str = "stage_behind";
const STAGE_FROM_SCRATCH: &str = "stage_from_scratch";

/// Where a pull stands: the main cursor, the epoch it was given in, and the tables behind it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Position {
    pub cursor: i64,
    pub epoch: Option<String>,
    pub behind: Behind,
    /// The pull began at cursor 0: the replica keeps none of its synced rows but the ones it
    /// pulls (it has none yet, or the last page replaces them all).
    pub from_scratch: bool,
}

/// Forget staged pages.
pub(crate) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM _outpost_stage", [])?;
    conn.execute("DELETE FROM _outpost_stage_pages", [])?;
    meta_set(conn, STAGE_CURSOR, rusqlite::types::Null)?;
    meta_set(conn, STAGE_EPOCH, rusqlite::types::Null)?;
    meta_set(conn, STAGE_BEHIND, rusqlite::types::Null)?;
    meta_set(conn, STAGE_FROM_SCRATCH, rusqlite::types::Null)
}

/// A page staged from changes already decoded (`pulled::StagedPage` reads it back).
#[derive(serde::Serialize)]
struct StagedPageRef<'a> {
    changes: &'a [Change],
}

/// Keep a page that is not the last, and the position to continue from. `body` is the answer's
/// JSON, if the caller has it: kept as it is, it costs nothing to encode.
pub(crate) fn keep_page(
    conn: &Connection,
    changes: &[Change],
    body: Option<&[u8]>,
    next: &Position,
) -> Result<()> {
    let encoded;
    let page = match body {
        Some(body) => body,
        None => {
            encoded = serde_json::to_vec(&StagedPageRef { changes })
                .map_err(|e| Error::Protocol(e.to_string()))?;
            &encoded[..]
        }
    };
    conn.prepare_cached("INSERT INTO _outpost_stage_pages (page) VALUES (?1)")?
        .execute([page])?;
    meta_set(conn, STAGE_CURSOR, next.cursor)?;
    meta_set(conn, STAGE_EPOCH, next.epoch.as_deref())?;
    meta_set(conn, STAGE_FROM_SCRATCH, next.from_scratch)?;
    behind::write(conn, STAGE_BEHIND, &next.behind)
}

/// Where a pull continues from while pages are staged.
pub(crate) fn staged_position(conn: &Connection) -> Result<Option<Position>> {
    Ok(match meta_get::<i64>(conn, STAGE_CURSOR)? {
        Some(cursor) => Some(Position {
            cursor,
            epoch: meta_get(conn, STAGE_EPOCH)?,
            behind: behind::read(conn, STAGE_BEHIND)?,
            from_scratch: meta_get(conn, STAGE_FROM_SCRATCH)?.unwrap_or(false),
        }),
        None => None,
    })
}

/// A key as the outbox and the stage write it: the JSON array of its values.
pub(crate) fn key_json(key: &[Value]) -> Result<String> {
    serde_json::to_string(key).map_err(|e| Error::Protocol(e.to_string()))
}

/// Call `visit` with every staged row state, then the last page's, in version order. Staged
/// pages are read one at a time, so a first sync of a million rows is never all in memory.
pub(crate) fn for_each_pulled(
    conn: &Connection,
    last_page: &[Change],
    mut visit: impl FnMut(PulledRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT tbl, key, row FROM _outpost_stage ORDER BY ord")?;
    let mut staged = stmt.query([])?;
    while let Some(r) = staged.next()? {
        let table: String = r.get(0)?;
        let key: Vec<Value> = parse(r.get_ref(1)?.as_bytes().map_err(rusqlite::Error::from)?)?;
        let row: Option<Row> = match r
            .get_ref(2)?
            .as_bytes_or_null()
            .map_err(rusqlite::Error::from)?
        {
            Some(json) => Some(parse(json)?),
            None => None,
        };
        visit(PulledRow {
            table: &table,
            key: &key,
            row: row.as_ref().map(RowRef::from),
        })?;
    }
    let mut stmt = conn.prepare_cached("SELECT page FROM _outpost_stage_pages ORDER BY ord")?;
    let mut pages = stmt.query([])?;
    while let Some(r) = pages.next()? {
        let page: StagedPage<'_> = parse(r.get_ref(0)?.as_bytes().map_err(rusqlite::Error::from)?)?;
        page.each()
            .try_for_each(|row| visit(row.map_err(unreadable)?))?;
    }
    last_page.iter().try_for_each(|change| visit(change.into()))
}

const UNREADABLE: &str = "a staged pull page could not be read";

fn parse<'a, T: serde::Deserialize<'a>>(json: &'a [u8]) -> Result<T> {
    serde_json::from_slice(json).map_err(unreadable)
}

/// The error of a staged page that could not be read, for what is wrong with it.
fn unreadable(detail: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("{UNREADABLE}: {detail}"))
}

/// Whether `error` is a staged page that could not be read. A page is staged from its bytes
/// before its changes are decoded (`http::decode_pull`), so one the primary got wrong is found
/// only by the last page.
pub(crate) fn is_unreadable(error: &Error) -> bool {
    matches!(error, Error::Protocol(message) if message.starts_with(UNREADABLE))
}

/// Forget the stage in a transaction of its own, after the one that could not read it rolled
/// back: the next pull starts again from the cursor before it, where keeping it would fail every
/// pull from now on.
pub(crate) fn discard(conn: &Connection) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    clear(&tx)?;
    Ok(tx.commit()?)
}

impl Database {
    /// Write the staged rows and `last_page` into the synced tables (capture is off, foreign
    /// keys are off), in place first and with REPLACE if a UNIQUE column collides midway. Rows of
    /// tables this replica does not sync are skipped. `touched` sees each row written (twice
    /// when the REPLACE pass runs, so it should collect into sets).
    pub(crate) fn write_pulled(
        &self,
        conn: &Connection,
        last_page: &[Change],
        touched: &mut dyn FnMut(&PulledRow) -> Result<()>,
    ) -> Result<usize> {
        conn.execute_batch("SAVEPOINT outpost_pulled")?;
        match self.write_each(conn, last_page, Writing::InPlace, touched) {
            Ok(written) => {
                conn.execute_batch("RELEASE outpost_pulled")?;
                Ok(written)
            }
            Err(Error::Sqlite { code, .. }) if is_collision(&code) => {
                conn.execute_batch("ROLLBACK TO outpost_pulled; RELEASE outpost_pulled")?;
                self.write_each(conn, last_page, Writing::Replace, touched)
            }
            Err(other) => {
                conn.execute_batch("ROLLBACK TO outpost_pulled; RELEASE outpost_pulled")?;
                Err(other)
            }
        }
    }

    fn write_each(
        &self,
        conn: &Connection,
        last_page: &[Change],
        writing: Writing,
        touched: &mut dyn FnMut(&PulledRow) -> Result<()>,
    ) -> Result<usize> {
        let mut written = 0;
        let mut writer = StateWriter::new(conn, writing, self.synced.len());
        for_each_pulled(conn, last_page, |row| {
            if let Some(index) = self.synced.iter().position(|t| t.name == row.table) {
                writer.write(index, &self.synced[index], row.key, row.row)?;
                written += 1;
                touched(&row)?;
            }
            Ok(())
        })?;
        Ok(written)
    }

    /// Empty every synced table, before a pull from scratch replaces their rows.
    pub(crate) fn clear_synced(&self, conn: &Connection) -> Result<()> {
        for table in &self.synced {
            conn.execute_batch(&format!(
                "DELETE FROM {}",
                crate::sql::quote_ident(&table.name)
            ))?;
        }
        Ok(())
    }
}

fn is_collision(code: &str) -> bool {
    matches!(
        code,
        "SQLITE_CONSTRAINT_UNIQUE" | "SQLITE_CONSTRAINT_PRIMARYKEY" | "SQLITE_CONSTRAINT"
    )
}
