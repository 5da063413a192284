// Live queries. A watch runs its query at once, then again whenever a write touches one of the
// tables the query reads. Change notices carry table names (lower-cased), or ALL_TABLES when
// anything may have changed (a schema change, a rollback, a new holding tab). Re-runs are
// coalesced: notices of local writes arriving within COALESCE_MS, or while the query is running,
// cause one re-run; a re-run whose rows equal the last ones delivered is not delivered again. A
// pull's notice is one committed transaction already, so it re-runs at once, unless the watch ran
// less than COALESCE_MS ago (then at that mark): a stream of pulls costs one re-run per window.
import { OutpostError } from "./error.js";

/** A change notice meaning "any table may have changed". */
export const ALL_TABLES = null;

/** How long a watch waits after the first change notice, so that a burst of writes costs one re-run. */
const COALESCE_MS = 15;
/** In place of a timer: a re-run is queued as a microtask. */
const SOON = Symbol("re-run queued");

/**
 * Normalizes watch()'s arguments: `watch(sql, onRows)` and `watch(sql, params, onRows, options?)`.
 * Throws BAD_OPTIONS, synchronously, when they are wrong.
 * @returns {{ sql: string, params: unknown, onRows: Function, onError: Function | undefined }}
 */
export function watchArguments(sql, params, onRows, options) {
  if (typeof params === "function") return watchArguments(sql, undefined, params, onRows);
  const bad = (message) => new OutpostError("BAD_OPTIONS", message);
  if (typeof sql !== "string") throw bad("watch(sql, params, onRows): sql must be a string");
  if (typeof onRows !== "function") throw bad("watch(sql, params, onRows): onRows must be a function");
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw bad("watch()'s fourth argument must be an object: { onError? }");
  }
  const onError = options?.onError;
  if (onError !== undefined && typeof onError !== "function") throw bad("watch()'s onError must be a function");
  // A copy, so that the caller changing its array later does not change the watch.
  const copy = Array.isArray(params) ? [...params] : params && typeof params === "object" ? { ...params } : params;
  return { sql, params: copy, onRows, onError };
}

/** The watches of one database handle. */
export class Watches {
  #run;
  #readTables;
  #all = new Set();

  /**
   * @param {(sql: string, params: unknown) => Promise<unknown[]>} run runs the query
   * @param {(sql: string) => Promise<string[]>} readTables the tables the query reads
   */
  constructor(run, readTables) {
    this.#run = run;
    this.#readTables = readTables;
  }

  /** Starts a watch (arguments as checked by watchArguments); returns the function that stops it. */
  add({ sql, params, onRows, onError }) {
    const watch = new Watch(sql, params, onRows, onError ?? report, this.#run, this.#readTables);
    this.#all.add(watch);
    watch.invalidate(0);
    return () => {
      watch.stop();
      this.#all.delete(watch);
    };
  }

  /** Tables changed: `tables` (names, any case) or ALL_TABLES; `pulled` when a pull changed them. */
  changed(tables, { pulled = false } = {}) {
    const names = tables === ALL_TABLES ? ALL_TABLES : tables.map((t) => t.toLowerCase());
    for (const watch of this.#all) watch.changed(names, pulled);
  }

  stopAll() {
    for (const watch of this.#all) watch.stop();
    this.#all.clear();
  }
}

class Watch {
  #sql;
  #params;
  #onRows;
  #onError;
  #run;
  #readTables;
  /** Lower-cased names of the tables the query reads, or null until known (then every change counts). */
  #reads = null;
  #timer = null;
  #running = false;
  #dirty = false;
  #stopped = false;
  /** The rows last delivered (undefined before the first delivery). */
  #last = undefined;
  /** Whether a local write (not only pulls) came in while the query ran. */
  #dirtyByWrite = false;
  /** When the last re-run started (performance.now()), or -Infinity. */
  #ranAt = -Infinity;

  constructor(sql, params, onRows, onError, run, readTables) {
    this.#sql = sql;
    this.#params = params;
    this.#onRows = onRows;
    this.#onError = onError;
    this.#run = run;
    this.#readTables = readTables;
  }

  changed(tables, pulled) {
    if (tables === ALL_TABLES) {
      this.#reads = null; // a view or trigger may now read other tables
    } else if (this.#reads !== null && !tables.some((t) => this.#reads.has(t))) {
      return;
    }
    this.invalidate(pulled ? this.#throttled() : COALESCE_MS, pulled);
  }

  invalidate(delayMs, pulled = false) {
    if (this.#stopped) return;
    if (this.#running) {
      this.#dirty = true;
      this.#dirtyByWrite ||= !pulled;
    } else if (this.#timer === null) {
      if (delayMs > 0) {
        this.#timer = setTimeout(() => this.#rerun(), delayMs);
      } else {
        // A microtask, so that the re-run goes before whatever the notice's sender does next
        // (after a pull: the status event and the next long poll's request, ~1-2 ms of the thread).
        this.#timer = SOON;
        queueMicrotask(() => this.#rerun());
      }
    }
  }

  stop() {
    this.#stopped = true;
    if (this.#timer !== SOON) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #rerun() {
    this.#timer = null;
    if (this.#stopped) return;
    this.#ranAt = performance.now();
    this.#running = true;
    this.#dirty = false;
    this.#dirtyByWrite = false;
    let rows;
    let failure = null;
    try {
      if (this.#reads === null) {
        this.#reads = new Set((await this.#readTables(this.#sql)).map((t) => t.toLowerCase()));
      }
      rows = await this.#run(this.#sql, this.#params);
    } catch (err) {
      failure = err;
    }
    this.#running = false;
    if (this.#stopped) return;
    try {
      if (failure) {
        this.#last = undefined;
        this.#onError(failure);
      } else if (this.#last === undefined || !sameRows(this.#last, rows)) {
        this.#last = rows;
        this.#onRows(rows);
      }
    } catch (err) {
      report(err);
    }
    if (this.#dirty) this.invalidate(this.#dirtyByWrite ? COALESCE_MS : this.#throttled(), !this.#dirtyByWrite);
  }

  /** The delay before a re-run for a pull: none, unless the last one started less than COALESCE_MS ago. */
  #throttled() {
    return Math.max(0, this.#ranAt + COALESCE_MS - performance.now());
  }
}

/**
 * Knows which tables statements read and write, from the engine (statementTables), with a cache
 * per SQL string that a schema change empties.
 */
export class TableTracker {
  #statementTables;
  #cache = new Map();

  /** @param {(sql: string) => { reads: string[], writes: string[], schema: boolean, rollback: boolean }} statementTables */
  constructor(statementTables) {
    this.#statementTables = statementTables;
  }

  /** The tables `sql` reads; throws as preparing it would. */
  reads(sql) {
    return this.#lookup(sql).reads;
  }

  /**
   * What running `sqls` will change, worked out before they run (a DROP cannot be compiled after it):
   * table names, or ALL_TABLES. A statement that does not compile yet (it needs a table an earlier
   * one of the batch creates) counts as ALL_TABLES.
   */
  writes(sqls) {
    const tables = new Set();
    for (const sql of sqls) {
      let found;
      try {
        found = this.#lookup(sql);
      } catch {
        return ALL_TABLES;
      }
      if (found.schema || found.rollback) return ALL_TABLES;
      for (const table of found.writes) tables.add(table);
    }
    return [...tables];
  }

  /** Call after running statements whose writes() was ALL_TABLES: the schema may have changed. */
  forget() {
    this.#cache.clear();
  }

  #lookup(sql) {
    let found = this.#cache.get(sql);
    if (found) {
      // least recently used first
      this.#cache.delete(sql);
    } else {
      found = this.#statementTables(sql);
      if (found.schema) return found;
      if (this.#cache.size >= 500) this.#cache.delete(this.#cache.keys().next().value);
    }
    this.#cache.set(sql, found);
    return found;
  }
}

/** Rows as query() returns them: arrays of objects of SQL values (null, number, bigint, string, Uint8Array). */
function sameRows(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const key of keys) {
      if (!sameValue(x[key], y[key])) return false;
    }
  }
  return true;
}

function sameValue(x, y) {
  if (x === y) return true;
  if (!(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function report(err) {
  if (typeof globalThis.reportError === "function") {
    globalThis.reportError(err);
  } else {
    setTimeout(() => {
      throw err;
    });
  }
}
