// The database run in this thread: used by worker.js (browser), node.js and workerd.js.
// It checks the options, opens the wasm Database (retrying while another worker still holds the
// OPFS files), and wraps its synchronous methods in Promises so every entry point has one API.
// It is where every call of every tab and page arrives, so it is where the app's transaction
// keeps everyone else out: while one is open, only its own steps run; every other call (and the
// sync loop) waits until it ends, then runs in the order it came.
import { Database as WasmDatabase } from "./outpost.js";
import { OutpostError } from "./error.js";
import { Listeners } from "./events.js";
import { defineMethods, METHODS, methodNamed, TRANSACTION_STEPS } from "./methods.js";
import { packParamLists } from "./packed.js";
import { SyncLoop } from "./sync.js";

/** How long open() keeps retrying while the OPFS database is held by another worker. */
const IN_USE_RETRY_MS = 3000;

/**
 * @param {unknown} options what the user passed to open()
 * @param {{ defaultStorage: "opfs" | "memory", syncDefaults?: { live?: boolean, intervalMs?: number } }} platform
 *   `syncDefaults` fill in sync options the user left out (workerd: no background sync).
 */
export async function openLocal(options, platform) {
  const checked = checkOptions(options, platform.defaultStorage);
  if (checked.sync && platform.syncDefaults) checked.sync = { ...platform.syncDefaults, ...checked.sync };
  if (checked.storage === "opfs" && !opfsAvailable()) {
    throw new OutpostError(
      "OPFS_UNAVAILABLE",
      "OPFS storage needs a dedicated Worker in a secure context (https, or http on localhost); " +
        'open the database from the page (the package starts the Worker) or pass storage: "memory"',
    );
  }
  const wasmDb = await openRetryingWhileInUse({
    name: checked.name,
    storage: checked.storage,
    migrations: checked.migrations,
    ...(checked.sync ? { syncTables: checked.sync.tables } : {}),
  });
  if (checked.sync?.subset !== undefined) {
    try {
      wasmDb.setSubset(checked.sync.subset);
    } catch (err) {
      wasmDb.close();
      throw err;
    }
  }
  return new LocalDatabase(wasmDb, checked.sync);
}

async function openRetryingWhileInUse(wasmOptions) {
  const deadline = Date.now() + IN_USE_RETRY_MS;
  let pause = 50;
  for (;;) {
    try {
      return await WasmDatabase.open(wasmOptions);
    } catch (err) {
      if (err?.code !== "DATABASE_IN_USE" || Date.now() + pause > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 400);
  }
}

function opfsAvailable() {
  // Sync access handles, which the OPFS VFS needs, are exposed only in dedicated workers.
  return (
    typeof FileSystemSyncAccessHandle === "function" &&
    typeof navigator !== "undefined" &&
    typeof navigator.storage?.getDirectory === "function"
  );
}

const { begin: BEGIN, run: RUN, end: END } = TRANSACTION_STEPS;

export class LocalDatabase {
  #db;
  #loop = null;
  #listeners = new Listeners();
  #closing = null;
  /** The app's open transaction: { id, ended, end } (`ended` resolves when it ends), or null. */
  #transaction = null;

  constructor(wasmDb, syncOptions) {
    this.#db = wasmDb;
    if (syncOptions) {
      const emit = (event, payload) => this.#listeners.emit(event, payload);
      this.#loop = new SyncLoop(wasmDb, syncOptions, emit, () => this.#transaction?.ended);
      this.#loop.start();
    }
  }

  static {
    // The calls the wasm Database answers as they are (methods.js: engine); a write wakes the sync loop.
    defineMethods(
      this,
      METHODS.filter((m) => m.engine),
      async function (method, args) {
        if (this.#transaction) await this.#untilNoTransaction();
        this.#checkOpen();
        return this.#answer(method, args);
      },
    );
  }

  /** Runs `method` now (its caller waited for its turn); a write wakes the sync loop. */
  #answer(method, args) {
    if (method.name === "query") return this.#query(...args);
    const result = method.name === "executeMany" ? this.#executeMany(...args) : this.#db[method.name](...args);
    if (method.writes && !this.#transaction) this.#loop?.onLocalWrite?.();
    return result;
  }

  /** A query's rows, as objects or (rowMode "array") as arrays; a query that wrote wakes the sync loop. */
  #query(sql, params, options) {
    const arrays = queryRowMode(options) === "array";
    const changesBefore = this.#loop ? this.#db.totalChanges() : 0;
    const rows = arrays ? this.#db.queryArrays(sql, params) : this.#db.query(sql, params);
    if (this.#loop && !this.#transaction && this.#db.totalChanges() !== changesBefore) this.#loop.onLocalWrite?.();
    return rows;
  }

  /** Resolves once no transaction is open (a transaction begun meanwhile is waited for too). */
  async #untilNoTransaction() {
    while (this.#transaction) await this.#transaction.ended;
  }

  // --- the steps of db.transaction() (transaction.js) ---

  async [BEGIN]() {
    if (this.#transaction) await this.#untilNoTransaction();
    this.#checkOpen();
    const id = this.#db.begin();
    let end;
    const ended = new Promise((resolve) => {
      end = resolve;
    });
    this.#transaction = { id, ended, end };
    return id;
  }

  async [RUN](id, name, args) {
    this.#checkOpen();
    const method = methodNamed(name);
    if (!method?.inTransaction || !Array.isArray(args)) throw new TypeError(`${name} cannot run in a transaction`);
    // TRANSACTION_STATEMENT unless `id` is the open transaction: a call never runs outside its own.
    this.#db.requireTransaction(id);
    return this.#answer(method, args.slice(0, method.params.length));
  }

  async [END](id, commit) {
    this.#checkOpen();
    const open = this.#transaction?.id === id ? this.#transaction : null;
    try {
      // Commit refuses an id that is not open; rollback of one that has ended does nothing.
      if (commit) this.#db.commit(id);
      else this.#db.rollback(id);
    } finally {
      if (open) this.#endTransaction();
    }
  }

  #endTransaction() {
    const { end } = this.#transaction;
    this.#transaction = null;
    end();
    // Push what it committed; count the outbox again either way.
    this.#loop?.onLocalWrite?.();
  }

  // --- hook for watch() (live.js): synchronous, compiles `sql` without running it ---
  /** @returns {{ reads: string[], writes: string[], schema: boolean, rollback: boolean }} */
  statementTables(sql) {
    this.#checkOpen();
    return this.#db.statementTables(sql);
  }

  async executeMany(sql, paramLists) {
    if (this.#transaction) await this.#untilNoTransaction();
    this.#checkOpen();
    return this.#answer(methodNamed("executeMany"), [sql, paramLists]);
  }

  #executeMany(sql, paramLists) {
    // Packed, the values cross into wasm in one piece (packed.js); what cannot be packed goes value by value.
    const packed = typeof sql === "string" ? packParamLists(paramLists) : null;
    return packed ? this.#db.executeManyPacked(sql, packed) : this.#db.executeMany(sql, paramLists);
  }

  async sync() {
    return this.#syncLoop().sync();
  }

  /** Syncs only the subset's rows of the tables it names (core: Database::set_subset). */
  async setSubset(subset) {
    const loop = this.#syncLoop();
    if (this.#transaction) await this.#untilNoTransaction();
    this.#checkOpen();
    const removed = this.#db.setSubset(subset);
    if (removed.length > 0) this.#listeners.emit("change", { tables: removed });
    loop.onSubsetChanged();
    return { removed };
  }

  async push() {
    return this.#syncLoop().push();
  }

  async ensureFresh(options) {
    const loop = this.#syncLoop();
    if (options === undefined) return loop.ensureFresh();
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new OutpostError("BAD_OPTIONS", "ensureFresh() takes an optional object: { maxStalenessMs? }");
    }
    const { maxStalenessMs } = options;
    if (maxStalenessMs === undefined) return loop.ensureFresh();
    checkMilliseconds(maxStalenessMs, "ensureFresh()'s maxStalenessMs", (message) => new OutpostError("BAD_OPTIONS", message));
    return loop.ensureFresh(maxStalenessMs);
  }

  syncStatus() {
    if (this.#loop) return this.#loop.status();
    let pending = 0;
    try {
      if (!this.#closing) pending = this.#db.pendingCount();
    } catch {
      // a status read never throws; the count is only informative
    }
    return { state: "idle", pending, lastSyncedAt: null, lastError: null, waiting: null };
  }

  on(event, listener) {
    return this.#listeners.on(event, listener, (code, message) => new OutpostError(code, message));
  }

  close() {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown() {
    // Closing rolls back an open transaction; whoever waited for it then finds the database closed.
    if (this.#transaction) this.#endTransaction();
    if (this.#loop) {
      const stopped = this.#loop.stop();
      this.#db.abortSync();
      try {
        await stopped;
      } catch {
        // closing must succeed even if the loop ended badly; its error was already reported
      }
    }
    this.#db.close();
    this.#listeners.clear();
  }

  #checkOpen() {
    if (this.#closing) throw new OutpostError("DATABASE_CLOSED", "the database is closed");
  }

  #syncLoop() {
    this.#checkOpen();
    if (!this.#loop) {
      throw new OutpostError("SYNC_NOT_CONFIGURED", "this database was opened without a sync option");
    }
    return this.#loop;
  }
}

/** Validates open()'s options and fills in defaults; throws BAD_OPTIONS with a precise message. */
export function checkOptions(options, defaultStorage) {
  const bad = (message) => new OutpostError("BAD_OPTIONS", message);
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw bad("open() takes an options object: { name, storage?, migrations?, sync? }");
  }
  const { name, storage = defaultStorage, migrations = [], sync } = options;
  if (typeof name !== "string" || name.length === 0) {
    throw bad("options.name must be a non-empty string naming the database");
  }
  if (storage !== "opfs" && storage !== "memory") {
    throw bad(`options.storage must be "opfs" or "memory", got ${describe(storage)}`);
  }
  if (!Array.isArray(migrations)) {
    throw bad("options.migrations must be an array of SQL strings, one per schema version");
  }
  migrations.forEach((sql, i) => {
    if (typeof sql !== "string") throw bad(`options.migrations[${i}] must be a string of SQL, got ${describe(sql)}`);
  });
  return { name, storage, migrations: [...migrations], sync: sync === undefined ? null : checkSyncOptions(sync, bad) };
}

function checkSyncOptions(sync, bad) {
  if (sync === null || typeof sync !== "object" || Array.isArray(sync)) {
    throw bad("options.sync must be an object: { url, tables, token?, intervalMs?, live?, maxStalenessMs?, subset? }");
  }
  const { url, token, tables, intervalMs, live, maxStalenessMs, subset } = sync;
  if (typeof url !== "string" || url.length === 0) {
    throw bad("options.sync.url must be the database's URL on the primary, e.g. https://host/v1/db/app");
  }
  if (token !== undefined && typeof token !== "string" && typeof token !== "function") {
    throw bad("options.sync.token must be a string or a function returning a string (or a Promise of one)");
  }
  if (!Array.isArray(tables) || tables.length === 0 || !tables.every((t) => typeof t === "string" && t.length > 0)) {
    throw bad("options.sync.tables must be a non-empty array of table names");
  }
  if (intervalMs !== undefined) checkMilliseconds(intervalMs, "options.sync.intervalMs", bad);
  if (maxStalenessMs !== undefined) checkMilliseconds(maxStalenessMs, "options.sync.maxStalenessMs", bad);
  if (live !== undefined && typeof live !== "boolean") {
    throw bad(`options.sync.live must be true or false, got ${describe(live)}`);
  }
  return {
    url,
    token,
    tables: [...tables],
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    ...(live !== undefined ? { live } : {}),
    ...(maxStalenessMs !== undefined ? { maxStalenessMs } : {}),
    // Checked by the engine, which knows the tables' columns.
    ...(subset !== undefined ? { subset } : {}),
  };
}

/** query()'s third argument: `{ rowMode?: "object" | "array" }`; BAD_OPTIONS otherwise. */
function queryRowMode(options) {
  if (options === undefined) return "object";
  const rowMode = options !== null && typeof options === "object" && !Array.isArray(options) ? options.rowMode : null;
  if (rowMode === undefined || rowMode === "object" || rowMode === "array") return rowMode ?? "object";
  throw new OutpostError("BAD_OPTIONS", `query()'s options must be { rowMode?: "object" | "array" }, got ${describe(options)}`);
}

function checkMilliseconds(value, what, bad) {
  if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
    throw bad(`${what} must be a number of milliseconds, 0 or more, got ${describe(value)}`);
  }
}

function describe(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}
