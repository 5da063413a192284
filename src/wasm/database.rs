//! The `Database` class the package's JS wraps: synchronous local calls, and one-round-trip
//! `push` / `pull` Promises that the JS sync loop schedules.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Object, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortController;

use super::convert::{owned_value_to_js, params_from_js, set, statements_from_js, value_to_js};
use super::error::JsResult;
use super::local_writes::{
    discarded_seq, list_limit, pending_writes_to_js, rejected_to_js, rejected_writes_to_js,
};
use super::opfs::OpfsPool;
use super::transport::FetchTransport;
use crate::db::OpenOptions;
use crate::protocol::{Waiting, MAX_PUSH_MUTATIONS};
use crate::sync::{RejectedMutation, Transport};
use crate::{Database, Error, ExecResult, Result, Storage};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsOpenOptions {
    name: String,
    storage: String,
    #[serde(default)]
    migrations: Vec<String>,
    #[serde(default)]
    sync_tables: Vec<String>,
}

pub(super) struct Inner {
    pub(super) db: RefCell<Option<Database>>,
    /// The id of the app's open transaction (`transaction.rs`), or None.
    pub(super) transaction: Cell<Option<f64>>,
    pool: Option<OpfsPool>,
    /// One controller per push or pull in flight, made when it starts: in workerd an AbortSignal
    /// belongs to the request that created it, and a fetch made by a later request cannot use it.
    in_flight: RefCell<Vec<AbortController>>,
}

impl Inner {
    pub(super) fn with_db<T>(&self, f: impl FnOnce(&Database) -> Result<T>) -> Result<T> {
        match self.db.borrow().as_ref() {
            Some(db) => f(db),
            None => Err(Error::Closed),
        }
    }

    /// A transport for one round trip, abortable by `abortSync` until `finished` is called.
    fn transport(
        &self,
        url: String,
        token: Option<String>,
    ) -> Result<(FetchTransport, AbortController)> {
        let controller =
            AbortController::new().map_err(|_| Error::Offline("no AbortController".into()))?;
        self.in_flight.borrow_mut().push(controller.clone());
        let signal = controller.signal();
        Ok((FetchTransport { url, token, signal }, controller))
    }

    fn finished(&self, controller: &AbortController) {
        self.in_flight.borrow_mut().retain(|c| c != controller);
    }
}

#[wasm_bindgen(js_name = Database)]
pub struct JsDatabase {
    pub(super) inner: Rc<Inner>,
}

fn valid_local_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

#[wasm_bindgen(js_class = Database)]
impl JsDatabase {
    /// Open (creating if needed) a database and apply its pending migrations.
    pub async fn open(options: JsValue) -> JsResult<JsDatabase> {
        let options: JsOpenOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|e| Error::BadOptions(e.to_string()))?;
        if !valid_local_name(&options.name) {
            return Err(Error::BadOptions(format!(
                "name \"{}\" must be 1-64 letters, digits, '-', '_' or '.'",
                options.name
            ))
            .into());
        }
        let (pool, storage) = match options.storage.as_str() {
            "opfs" => {
                let (pool, storage) = OpfsPool::take(&options.name).await?;
                (Some(pool), storage)
            }
            "memory" => (None, Storage::Memory),
            other => {
                return Err(Error::BadOptions(format!(
                    "storage \"{other}\" is not one of \"opfs\", \"memory\""
                ))
                .into())
            }
        };
        let open = OpenOptions {
            migrations: options.migrations,
            synced_tables: options.sync_tables,
            exclusive: pool.is_some(),
        };
        let db = match Database::open(&storage, &open) {
            Ok(db) => db,
            Err(err) => {
                if let Some(pool) = &pool {
                    pool.release();
                }
                return Err(err.into());
            }
        };
        Ok(JsDatabase {
            inner: Rc::new(Inner {
                db: RefCell::new(Some(db)),
                transaction: Cell::new(None),
                pool,
                in_flight: RefCell::new(Vec::new()),
            }),
        })
    }

    /// Run one statement; `{ rowsAffected, lastInsertRowid }`.
    pub fn execute(&self, sql: &str, params: JsValue) -> JsResult<JsValue> {
        let params = params_from_js(&params)?;
        let result = self.inner.with_db(|db| db.execute(sql, &params))?;
        Ok(exec_result_to_js(result))
    }

    /// Run one statement; its rows as plain objects keyed by column name.
    pub fn query(&self, sql: &str, params: JsValue) -> JsResult<Array> {
        let params = params_from_js(&params)?;
        let rows = Array::new();
        self.inner.with_db(|db| {
            let mut keys: Vec<JsValue> = Vec::new();
            db.each_row(sql, &params, |columns, values| {
                if keys.is_empty() {
                    keys = columns.iter().map(|c| JsValue::from_str(c)).collect();
                }
                let row = Object::new();
                for (key, value) in keys.iter().zip(values) {
                    let _ = js_sys::Reflect::set(&row, key, &value_to_js(*value));
                }
                rows.push(&row);
                Ok(())
            })
        })?;
        Ok(rows)
    }

    /// Run one statement; its rows as arrays of values in column order. Unlike objects keyed by
    /// column name, nothing collapses when a join selects two columns of the same name, so the
    /// ORM drivers (drizzle.js, kysely.js) map columns by position.
    #[wasm_bindgen(js_name = queryArrays)]
    pub fn query_arrays(&self, sql: &str, params: JsValue) -> JsResult<Array> {
        let params = params_from_js(&params)?;
        let rows = Array::new();
        self.inner.with_db(|db| {
            db.each_row(sql, &params, |_, values| {
                rows.push(&values.iter().map(|v| value_to_js(*v)).collect::<Array>());
                Ok(())
            })
        })?;
        Ok(rows)
    }

    /// Rows changed since the database opened (`Database::total_changes`), as a number.
    #[wasm_bindgen(js_name = totalChanges)]
    pub fn total_changes(&self) -> JsResult<f64> {
        Ok(self.inner.with_db(|db| Ok(db.total_changes()))? as f64)
    }

    /// Run one statement once per parameter list, in one transaction, all or nothing; the
    /// statement is compiled once. `{ rowsAffected, lastInsertRowid }` for the whole run.
    #[wasm_bindgen(js_name = executeMany)]
    pub fn execute_many(&self, sql: &str, param_lists: JsValue) -> JsResult<JsValue> {
        if !Array::is_array(&param_lists) {
            return Err(
                Error::BadParams("executeMany() takes an array of parameter lists".into()).into(),
            );
        }
        let lists = Array::from(&param_lists)
            .iter()
            .map(|params| params_from_js(&params))
            .collect::<Result<Vec<_>>>()?;
        let result = self.inner.with_db(|db| db.execute_many(sql, &lists))?;
        Ok(exec_result_to_js(result))
    }

    /// `executeMany` with the positional lists packed by the package (`packed.js`) into one
    /// buffer: one crossing for all the values instead of several per value.
    #[wasm_bindgen(js_name = executeManyPacked)]
    pub fn execute_many_packed(&self, sql: &str, packed_lists: &[u8]) -> JsResult<JsValue> {
        let result = self
            .inner
            .with_db(|db| db.execute_many_packed(sql, packed_lists))?;
        Ok(exec_result_to_js(result))
    }

    /// Run statements in one transaction, all or nothing.
    pub fn batch(&self, statements: JsValue) -> JsResult<Array> {
        let statements = statements_from_js(&statements)?;
        let results = self.inner.with_db(|db| db.batch(&statements))?;
        Ok(results.into_iter().map(exec_result_to_js).collect())
    }

    /// The tables `sql` reads and writes, found by compiling it (never running it):
    /// `{ reads, writes, schema, rollback }`. `watch()` re-runs a query only when a write touched
    /// one of the tables it reads.
    #[wasm_bindgen(js_name = statementTables)]
    pub fn statement_tables(&self, sql: &str) -> JsResult<JsValue> {
        let found = self.inner.with_db(|db| db.statement_tables(sql))?;
        let names = |set: &std::collections::BTreeSet<String>| -> Array {
            set.iter().map(|t| JsValue::from_str(t)).collect()
        };
        let object = Object::new();
        set(&object, "reads", &names(&found.reads));
        set(&object, "writes", &names(&found.writes));
        set(&object, "schema", &JsValue::from_bool(found.schema));
        set(&object, "rollback", &JsValue::from_bool(found.rollback));
        Ok(object.into())
    }

    /// Close the database and give its OPFS handles back. Calling it again does nothing.
    pub fn close(&self) -> JsResult<()> {
        self.abort_sync();
        // Closing rolls back a transaction still open.
        self.inner.transaction.set(None);
        let db = self.inner.db.borrow_mut().take();
        let closed = db.map(Database::close).unwrap_or(Ok(()));
        if let Some(pool) = &self.inner.pool {
            pool.release();
        }
        closed.map_err(JsValue::from)
    }

    /// Local changes the primary has not acknowledged yet.
    #[wasm_bindgen(js_name = pendingCount)]
    pub fn pending_count(&self) -> JsResult<f64> {
        Ok(self.inner.with_db(|db| db.pending_count())? as f64)
    }

    /// The local writes the primary has not acknowledged yet, oldest first (the order they are
    /// pushed in): `{ count, writes }`, `count` being all of them and `writes` at most `limit` (100).
    #[wasm_bindgen(js_name = pendingWrites, unchecked_return_type = "WriteList<PendingWrite>")]
    pub fn pending_writes(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WriteListOptions | undefined")] options: JsValue,
    ) -> JsResult<JsValue> {
        let limit = list_limit("pendingWrites", &options)?;
        let list = self.inner.with_db(|db| db.pending_writes(limit))?;
        Ok(pending_writes_to_js(&list))
    }

    /// The writes the primary refused and the app has not discarded, newest first, with their
    /// code, reason and content: `{ count, writes }`, as `pendingWrites`.
    #[wasm_bindgen(js_name = rejectedWrites, unchecked_return_type = "WriteList<RejectedWrite>")]
    pub fn rejected_writes(
        &self,
        #[wasm_bindgen(unchecked_param_type = "WriteListOptions | undefined")] options: JsValue,
    ) -> JsResult<JsValue> {
        let limit = list_limit("rejectedWrites", &options)?;
        let list = self.inner.with_db(|db| db.rejected_writes(limit))?;
        Ok(rejected_writes_to_js(&list))
    }

    /// Forget the rejected write numbered `seq`, or every one without it: `{ discarded }`.
    #[wasm_bindgen(js_name = discardRejected, unchecked_return_type = "{ discarded: number }")]
    pub fn discard_rejected(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number | undefined")] seq: JsValue,
    ) -> JsResult<JsValue> {
        let seq = discarded_seq(&seq)?;
        let discarded = self.inner.with_db(|db| db.discard_rejected(seq))?;
        let result = Object::new();
        set(&result, "discarded", &JsValue::from_f64(discarded as f64));
        Ok(result.into())
    }

    /// Abort every push and pull in flight; later ones proceed normally.
    #[wasm_bindgen(js_name = abortSync)]
    pub fn abort_sync(&self) {
        let in_flight = std::mem::take(&mut *self.inner.in_flight.borrow_mut());
        for controller in in_flight {
            // In workerd, a controller made by an earlier request cannot be aborted from this one
            // (it throws); that round trip then ends on its own, and its answer finds the state it finds.
            let abort = js_sys::Reflect::get(&controller, &JsValue::from_str("abort"))
                .and_then(|f| f.dyn_into::<js_sys::Function>());
            if let Ok(abort) = abort {
                let _ = abort.call0(&controller);
            }
        }
    }

    /// Push one batch of the outbox: `{ pushed, rejected, waiting }`. `waiting` is
    /// `{ code, reason }` when the primary stopped at a write it cannot take yet (`SCHEMA_AHEAD`:
    /// that write and the ones behind it stay pending), else null.
    pub fn push(&self, url: String, token: Option<String>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let Some(request) = inner.with_db(|db| db.push_request(MAX_PUSH_MUTATIONS))? else {
                return Ok(push_result_to_js(0, &[], None));
            };
            let (transport, controller) = inner.transport(url, token)?;
            let response = transport.push(&request).await;
            inner.finished(&controller);
            let response = response?;
            let outcome = inner.with_db(|db| {
                let mut outcome = db.apply_push_response(&request, &response)?;
                outcome.rejected.splice(0..0, db.take_unreported());
                Ok(outcome)
            })?;
            Ok(push_result_to_js(
                outcome.pushed,
                &outcome.rejected,
                outcome.waiting.as_ref(),
            ))
        })
    }

    /// Pull once, waiting up to `waitMs` for a change: `{ pulled, tables, more, rejected, reset }`.
    /// `rejected`: writes of this replica the pull found refused, or set aside because this
    /// replica's history is not the primary's; `reset`: the histories parted, and the replica now
    /// pulls everything again (its pending writes kept).
    pub fn pull(&self, url: String, token: Option<String>, wait_ms: f64) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let request = inner.with_db(|db| db.pull_request(wait_ms.max(0.0) as u64))?;
            let (transport, controller) = inner.transport(url, token)?;
            let answer = transport.pull_page(&request).await;
            inner.finished(&controller);
            let (response, body) = answer?;
            let outcome = inner.with_db(|db| {
                let mut outcome = db.apply_pull_page(&request, &response, body.as_deref())?;
                outcome.rejected.splice(0..0, db.take_unreported());
                Ok(outcome)
            })?;
            let result = Object::new();
            set(&result, "pulled", &JsValue::from_f64(outcome.pulled as f64));
            let tables: Array = outcome
                .tables
                .iter()
                .map(|t| JsValue::from_str(t))
                .collect();
            set(&result, "tables", &tables);
            set(
                &result,
                "more",
                &JsValue::from_bool(outcome.more || outcome.stale),
            );
            let rejected: Array = outcome.rejected.iter().map(rejected_to_js).collect();
            set(&result, "rejected", &rejected);
            set(&result, "reset", &JsValue::from_bool(outcome.reset));
            Ok(result.into())
        })
    }
}

fn exec_result_to_js(result: ExecResult) -> JsValue {
    let object = Object::new();
    set(
        &object,
        "rowsAffected",
        &JsValue::from_f64(result.rows_affected as f64),
    );
    let rowid = owned_value_to_js(&crate::Value::Integer(result.last_insert_rowid));
    set(&object, "lastInsertRowid", &rowid);
    object.into()
}

fn push_result_to_js(
    pushed: usize,
    rejected: &[RejectedMutation],
    waiting: Option<&Waiting>,
) -> JsValue {
    let result = Object::new();
    set(&result, "pushed", &JsValue::from_f64(pushed as f64));
    let list: Array = rejected.iter().map(rejected_to_js).collect();
    set(&result, "rejected", &list);
    let waiting = match waiting {
        Some(waiting) => {
            let object = Object::new();
            set(&object, "code", &JsValue::from_str(&waiting.code));
            set(&object, "reason", &JsValue::from_str(&waiting.reason));
            object.into()
        }
        None => JsValue::NULL,
    };
    set(&result, "waiting", &waiting);
    result.into()
}
