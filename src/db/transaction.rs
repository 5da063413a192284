//! The app's own transactions. They are opened here, never by a statement (`execute("BEGIN")` is
//! refused: see `authorizer.rs`), so the database always knows when one is open: sync then reads
//! and applies nothing (`TRANSACTION_OPEN`), since a push must never carry a write that may still
//! be rolled back, and the package keeps its other callers waiting until it ends.
//!
//! A transaction always ends at `commit` or `rollback`: a commit that fails rolls back.

use crate::{Database, Error, Result};

impl Database {
    /// Opens a transaction: every write until [`Database::commit`] or [`Database::rollback`]
    /// takes effect together, or not at all. `BEGIN IMMEDIATE`, so it takes the write lock now
    /// rather than failing later for it. Transactions do not nest (`TRANSACTION_STATEMENT`).
    pub fn begin(&self) -> Result<()> {
        if self.in_transaction() {
            return Err(Error::TransactionStatement(
                "a transaction is already open, and transactions do not nest: commit or roll \
                 back the open one first"
                    .into(),
            ));
        }
        self.conn().execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits the open transaction. If the commit fails (a deferred foreign key is still
    /// broken, the disk is full), the transaction is rolled back and the error returned.
    pub fn commit(&self) -> Result<()> {
        if !self.in_transaction() {
            return Err(Error::TransactionStatement(
                "commit with no transaction open: begin one first (or SQLite already rolled it \
                 back after an error)"
                    .into(),
            ));
        }
        if let Err(err) = self.conn().execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open; end it, as promised.
            if self.in_transaction() {
                let _ = self.conn().execute_batch("ROLLBACK");
            }
            return Err(err.into());
        }
        Ok(())
    }

    /// Rolls the open transaction back. With none open (SQLite rolls back by itself after some
    /// errors) it does nothing.
    pub fn rollback(&self) -> Result<()> {
        if self.in_transaction() {
            self.conn().execute_batch("ROLLBACK")?;
        }
        Ok(())
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        !self.conn().is_autocommit()
    }

    /// Runs `work` in a transaction: committed if it returns `Ok`, rolled back if it returns an
    /// error (which is passed on) or panics.
    pub fn transaction<T>(&self, work: impl FnOnce(&Database) -> Result<T>) -> Result<T> {
        self.begin()?;
        let open = RollbackOnDrop(Some(self));
        let done = work(self)?;
        open.disarm();
        self.commit()?;
        Ok(done)
    }
}

/// Rolls back the transaction it guards unless disarmed first.
struct RollbackOnDrop<'a>(Option<&'a Database>);

impl RollbackOnDrop<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RollbackOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.0 {
            // The error that brought us here is the one to report.
            let _ = db.rollback();
        }
    }
}
