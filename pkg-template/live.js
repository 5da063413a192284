// A local database (local.js) with live queries. Before each write it asks the engine which tables
// the statements write (a DROP cannot be compiled after it ran); after the write commits, it tells
// its watches and its table listeners (the tab serving other tabs forwards them). Pulls report
// their tables through the "change" event.
import { OutpostError } from "./error.js";
import { defineMethods, PASSED_ON } from "./methods.js";
import { runTransaction } from "./transaction.js";
import { ALL_TABLES, TableTracker, Watches, watchArguments } from "./watch.js";

export class LiveDatabase {
  #local;
  #tracker;
  #watches;
  #tableListeners = new Set();
  #closed = false;

  /** @param {import("./local.js").LocalDatabase} local */
  constructor(local) {
    this.#local = local;
    this.#tracker = new TableTracker((sql) => local.statementTables(sql));
    this.#watches = new Watches(
      (sql, params) => this.query(sql, params),
      async (sql) => this.readTables(sql),
    );
    local.on("change", ({ tables }) => this.#changed(tables, { pulled: true }));
  }

  static {
    // Calls that write tell the watches which tables they changed (methods.js: writes).
    defineMethods(this, PASSED_ON, function (method, args) {
      const run = () => this.#local[method.key](...args);
      return method.writes ? this.#write(method.writes(...args), run) : run();
    });
  }

  /** Runs `callback(tx)` in one transaction (transaction.js). */
  transaction(callback) {
    return runTransaction(this, callback);
  }

  syncStatus() {
    return this.#local.syncStatus();
  }

  on(event, listener) {
    return this.#local.on(event, listener);
  }

  watch(sql, params, onRows, options) {
    const args = watchArguments(sql, params, onRows, options);
    if (this.#closed) throw new OutpostError("DATABASE_CLOSED", "the database is closed");
    return this.#watches.add(args);
  }

  /** The tables `sql` reads (lower-case names, as SQLite resolves them). */
  async readTables(sql) {
    return this.#tracker.reads(sql);
  }

  /**
   * Calls `listener(tables, { pulled })` after each committed write or pull; `tables` is ALL_TABLES
   * (null) after a schema change, `pulled` is true when a pull changed them.
   */
  onTablesChanged(listener) {
    this.#tableListeners.add(listener);
    return () => this.#tableListeners.delete(listener);
  }

  close() {
    this.#closed = true;
    this.#watches.stopAll();
    this.#tableListeners.clear();
    return this.#local.close();
  }

  async #write(sqls, run) {
    const touched = this.#tracker.writes(sqls);
    const result = await run();
    if (touched === ALL_TABLES) this.#tracker.forget();
    this.#changed(touched);
    return result;
  }

  #changed(tables, how = { pulled: false }) {
    if (tables !== ALL_TABLES && tables.length === 0) return;
    this.#watches.changed(tables, how);
    for (const listener of [...this.#tableListeners]) {
      try {
        listener(tables, how);
      } catch (err) {
        globalThis.reportError?.(err);
      }
    }
  }
}
