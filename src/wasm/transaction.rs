//! The app's transaction, for the package's `db.transaction(callback)`. The callback runs where
//! the app is (a page, another tab) while its calls run here, in this database's thread, so each
//! carries the id `begin` gave: a call with an id that is not the open transaction's (it ended,
//! or was rolled back when the tab holding the database changed) is refused, and never runs
//! outside the transaction it was written for. The package keeps every other caller waiting while
//! a transaction is open (`local.js`).

use wasm_bindgen::prelude::*;

use super::database::JsDatabase;
use super::error::JsResult;
use crate::Error;

#[wasm_bindgen(js_class = Database)]
impl JsDatabase {
    /// Opens a transaction (`TRANSACTION_STATEMENT` if one is open) and returns its id.
    pub fn begin(&self) -> JsResult<f64> {
        self.inner.with_db(|db| db.begin())?;
        // Random, so an id from a tab that held the database before is no id of this one's.
        let id = (js_sys::Math::random() * 9_007_199_254_740_991.0).floor();
        self.inner.transaction.set(Some(id));
        Ok(id)
    }

    /// Fails with `TRANSACTION_STATEMENT` unless `id` is the open transaction's.
    #[wasm_bindgen(js_name = requireTransaction)]
    pub fn require_transaction(&self, id: f64) -> JsResult<()> {
        let open = self.inner.with_db(|db| Ok(db.in_transaction()))?;
        match self.inner.transaction.get() {
            Some(current) if current == id && open => Ok(()),
            Some(current) if current == id => {
                // SQLite ends a transaction by itself after some errors (a full disk).
                self.inner.transaction.set(None);
                Err(ended("was rolled back after an error").into())
            }
            _ => Err(ended("has ended").into()),
        }
    }

    /// Commits transaction `id`; a commit that fails rolls it back. Either way it has ended.
    pub fn commit(&self, id: f64) -> JsResult<()> {
        if self.inner.transaction.get() != Some(id) {
            return Err(ended("ended before it could commit: nothing of it was kept").into());
        }
        self.inner.transaction.set(None);
        Ok(self.inner.with_db(|db| db.commit())?)
    }

    /// Rolls transaction `id` back; nothing to do when it has ended already.
    pub fn rollback(&self, id: f64) -> JsResult<()> {
        if self.inner.transaction.get() != Some(id) {
            return Ok(());
        }
        self.inner.transaction.set(None);
        Ok(self.inner.with_db(|db| db.rollback())?)
    }
}

fn ended(what: &str) -> Error {
    Error::TransactionStatement(format!(
        "this transaction {what} (its callback had returned, or the tab holding the database \
         changed): a transaction's calls run only inside it"
    ))
}
