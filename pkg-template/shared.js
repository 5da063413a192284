// Many tabs, one OPFS database. Every open() of a name (each in its own dedicated Worker) joins an
// election: the Web Lock "outpost:<name>". The winner, the holder, opens the database and serves
// every tab's calls over BroadcastChannel("outpost:<name>"); the others forward their calls there
// and wait in the lock's queue. When the holder goes away its lock is released (by the browser, if
// its tab closed or crashed), the next in the queue takes it, opens the same file and announces
// itself. Calls the old holder never answered then fail with HOLDER_CHANGED (a write may or may not
// have been applied); reads are simply sent again. A holder that closes cleanly says so first, and
// calls it did not answer are re-sent without an error. Sync and its events run in the holder only.
// A tab's transaction runs in the holder like its other calls, keeping every other tab out until
// it ends; if the tab goes away first, the holder rolls it back (presence.js).
//
// Which calls travel, and which are re-sent to a new holder: methods.js. The channel's messages:
// messages.js.
import { OutpostError } from "./error.js";
import { EVENT_NAMES, Listeners } from "./events.js";
import { LiveDatabase } from "./live.js";
import { checkOptions, openLocal } from "./local.js";
import { defineMethods, mayResend, methodNamed, PASSED_ON, TRANSACTION_STEPS } from "./methods.js";
import { announcePresence, whenGone } from "./presence.js";
import { runTransaction } from "./transaction.js";
import { ALL_TABLES, Watches, watchArguments } from "./watch.js";
import { errorToMessage, postReply, replyTo, settle, statusToMessage } from "./messages.js";
/** In a set of changed tables: any table may have changed. */
const EVERY = Symbol("every table");
const IDLE_STATUS = { state: "idle", pending: 0, lastSyncedAt: null, lastError: null, waiting: null };
const { begin: BEGIN, end: END } = TRANSACTION_STEPS;

/** Web Locks and BroadcastChannel: present in every browser with OPFS, in windows and workers. */
export function sharingAvailable() {
  return typeof navigator !== "undefined" && typeof navigator.locks?.request === "function" && typeof BroadcastChannel === "function";
}

/**
 * Opens `options.name` in this dedicated Worker: shared with the other tabs for OPFS, alone for memory.
 * @param {unknown} options what the user passed to open()
 * @param {() => Promise<unknown>} initWasm instantiates the wasm (only the holder needs it)
 */
export async function openShared(options, initWasm) {
  const checked = checkOptions(options, "opfs");
  if (checked.storage !== "opfs" || !sharingAvailable()) {
    await initWasm();
    return new LiveDatabase(await openLocal(options, { defaultStorage: "opfs" }));
  }
  const db = new SharedDatabase(checked.name, options, initWasm);
  await db.opened;
  return db;
}

export class SharedDatabase {
  /** Resolves once this tab can serve calls (as holder, or through a ready holder). */
  opened;
  #resolveOpened;
  #rejectOpened;
  #isOpen = false;

  #name;
  #options;
  #initWasm;
  #id = crypto.randomUUID();
  #channel;
  #lockRequest = new AbortController();
  /** "follower" | "opening" | "holder" | "closed" */
  #role = "follower";
  /** The holder's LiveDatabase, when this tab is the holder. */
  #local = null;
  /** Resolves the lock callback's promise: the lock is held until then. */
  #releaseLock = null;
  /** The holder as last announced: { id, ready, since } (since: when it took the lock), or null. */
  #holder = null;
  /** Calls of this tab not yet answered: id -> { method, args, resolve, reject, sentTo }. */
  #pending = new Map();
  #nextCall = 1;
  /** Calls of other tabs being served here, so a clean close can wait for them. */
  #serving = new Set();
  /** Tables changed by writes not yet announced to the other tabs (EVERY among them: all), or null. */
  #changedTables = null;
  /** Whether pulls alone changed #changedTables (the other tabs' watches then re-run at once). */
  #changedByPulls = true;
  #channelClosed = false;
  #status = IDLE_STATUS;
  #listeners = new Listeners();
  #watches;
  #failure = null;
  #closing = null;
  /** This tab's own presence lock (presence.js). */
  #presence;
  /** Transactions other tabs have open here: id -> the AbortController of the wait for their tab to go. */
  #foreignTransactions = new Map();

  constructor(name, options, initWasm) {
    this.#name = name;
    this.#options = options;
    this.#initWasm = initWasm;
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#watches = new Watches(
      (sql, params) => this.query(sql, params),
      (sql) => this.#call("readTables", [sql]),
    );
    this.#presence = announcePresence(name, this.#id);
    this.#channel = new BroadcastChannel(`outpost:${name}`);
    this.#channel.onmessage = (event) => this.#receive(event.data);
    navigator.locks
      .request(`outpost:${name}`, { signal: this.#lockRequest.signal }, () => this.#hold())
      .catch(() => {
        // AbortError: closed while waiting in the queue
      });
    this.#post({ kind: "hello", from: this.#id });
  }

  static {
    defineMethods(this, PASSED_ON, function (method, args) {
      // The holder rolls back a transaction whose tab is gone, by this tab's lock: hold it first.
      if (method.key === BEGIN) return this.#presence.held.then(() => this.#call(method.name, args));
      return this.#call(method.name, args);
    });
  }

  /** Runs `callback(tx)` in one transaction (transaction.js), in the holder. */
  transaction(callback) {
    return runTransaction(this, callback);
  }

  syncStatus() {
    return this.#local ? this.#local.syncStatus() : this.#status;
  }

  on(event, listener) {
    return this.#listeners.on(event, listener, (code, message) => new OutpostError(code, message));
  }

  watch(sql, params, onRows, options) {
    const args = watchArguments(sql, params, onRows, options);
    if (this.#closing || this.#failure) throw this.#failure ?? closedError();
    return this.#watches.add(args);
  }

  /** True while this tab holds the database (for tests and diagnostics). */
  get holding() {
    return this.#role === "holder";
  }

  close() {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown() {
    const wasHolder = this.#role === "holder";
    this.#role = "closed";
    this.#watches.stopAll();
    this.#lockRequest.abort();
    if (wasHolder) {
      // Finish what other tabs asked for, then let go: what was not answered is re-sent by them.
      await Promise.allSettled([...this.#serving]);
      try {
        await this.#local.close();
      } finally {
        this.#local = null;
        this.#flushTables();
        this.#post({ kind: "resign", id: this.#id });
        this.#releaseLock?.();
      }
    }
    this.#fail(closedError());
    this.#channel.close();
    this.#channelClosed = true;
    this.#listeners.clear();
    for (const watch of this.#foreignTransactions.values()) watch.abort();
    this.#foreignTransactions.clear();
    // A transaction of this tab still open in the holder is rolled back there now.
    this.#presence.release();
  }

  // ---- the election ----

  /** The lock callback: this tab is the holder until the returned promise settles. */
  async #hold() {
    if (this.#role === "closed") return;
    this.#role = "opening";
    const since = Date.now();
    this.#newHolder({ id: this.#id, ready: false, since });
    this.#post({ kind: "holder", id: this.#id, ready: false, since });
    let local;
    try {
      await this.#initWasm();
      // openLocal retries for ~3 s while the old holder's OPFS handles are being released.
      local = new LiveDatabase(await openLocal(this.#options, { defaultStorage: "opfs" }));
    } catch (err) {
      this.#post({ kind: "resign", id: this.#id });
      this.#holder = null;
      if (this.#role !== "closed") this.#role = "follower";
      // Not opened: open() rejects. Opened through another holder: this tab cannot go on.
      this.#fail(err);
      this.close();
      return;
    }
    if (this.#role === "closed") {
      await local.close();
      return;
    }
    this.#local = local;
    this.#role = "holder";
    for (const event of EVENT_NAMES) {
      local.on(event, (payload) => {
        this.#listeners.emit(event, payload);
        this.#post({ kind: "event", event, payload: event === "status" ? statusToMessage(payload) : payload });
      });
    }
    local.onTablesChanged((tables, how) => {
      this.#watches.changed(tables, how);
      this.#queueTables(tables, how);
    });
    this.#holder.ready = true;
    this.#announce();
    this.#markOpen();
    this.#flush();
    await new Promise((resolve) => {
      this.#releaseLock = resolve;
    });
  }

  /** A different tab (or this one) now holds the database: settle what the old holder left. */
  #newHolder(holder) {
    const old = this.#holder?.id;
    this.#holder = holder;
    if (old === undefined || old === holder.id) return;
    for (const [id, call] of this.#pending) {
      if (call.sentTo === null || call.sentTo === holder.id) continue;
      if (mayResend(methodNamed(call.method), call.args)) {
        call.sentTo = null;
      } else {
        this.#pending.delete(id);
        call.reject(
          new OutpostError(
            "HOLDER_CHANGED",
            `the tab holding database "${this.#name}" went away before answering ${call.method}(); ` +
              "it may or may not have been applied: check, or retry if it is safe to",
          ),
        );
      }
    }
    // Change notices may have been lost with the old holder.
    this.#watches.changed(ALL_TABLES);
  }

  // ---- this tab's calls ----

  #call(method, args) {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(closedError());
    if (this.#role === "holder") return this.#runLocal(method, args);
    return new Promise((resolve, reject) => {
      const id = this.#nextCall++;
      const call = { method, args, resolve, reject, sentTo: null };
      this.#pending.set(id, call);
      this.#send(id, call);
    });
  }

  #send(id, call) {
    if (this.#role === "holder") {
      this.#pending.delete(id);
      this.#runLocal(call.method, call.args).then(call.resolve, call.reject);
      return;
    }
    if (!this.#holder?.ready) return; // sent when a holder is ready
    try {
      this.#channel.postMessage({ kind: "call", from: this.#id, to: this.#holder.id, id, method: call.method, args: call.args });
      call.sentTo = this.#holder.id;
    } catch (err) {
      this.#pending.delete(id);
      call.reject(new OutpostError("BAD_PARAMS", `the parameters cannot be sent to the tab holding the database: ${err?.message ?? err}`));
    }
  }

  #flush() {
    for (const [id, call] of this.#pending) {
      if (call.sentTo === null) this.#send(id, call);
    }
  }

  async #runLocal(method, args) {
    const called = methodNamed(method);
    if (!called?.tabs) throw new TypeError(`unknown method ${method}`);
    return this.#local[called.key](...args);
  }

  // ---- the channel ----

  #receive(message) {
    if (this.#role === "closed" || message === null || typeof message !== "object") return;
    switch (message.kind) {
      case "hello":
        if (this.#role === "holder") this.#announce();
        break;
      case "holder":
        // Ignore a late announcement from a holder that has since been replaced (no order holds
        // between two senders): holders are ordered by when they took the lock.
        if (this.#role !== "follower" || (this.#holder && message.since < this.#holder.since)) break;
        if (message.status) this.#status = message.status;
        this.#newHolder({ id: message.id, ready: message.ready, since: message.since });
        if (message.ready) {
          this.#flush();
          this.#markOpen();
        }
        break;
      case "resign":
        // A clean hand-over: what it did not answer it did not run, so send it again.
        if (this.#holder?.id !== message.id) break;
        this.#holder = null;
        for (const call of this.#pending.values()) {
          if (call.sentTo === message.id) call.sentTo = null;
        }
        break;
      case "call":
        if (message.to === this.#id && this.#role === "holder") this.#serve(message);
        break;
      case "reply": {
        if (message.to !== this.#id) break;
        const call = this.#pending.get(message.id);
        if (!call) break;
        this.#pending.delete(message.id);
        if (message.status) this.#status = message.status;
        settle(call, message);
        break;
      }
      case "event":
        if (this.#role === "holder") break;
        if (message.event === "status") this.#status = message.payload;
        this.#listeners.emit(message.event, message.payload);
        break;
      case "tables":
        if (this.#role !== "holder") this.#watches.changed(message.tables, { pulled: message.pulled === true });
        break;
    }
  }

  #serve({ from, id, method, args }) {
    const answered = replyTo(id, () => this.#runLocal(method, args)).then((reply) => {
      this.#serving.delete(answered);
      if (method === "beginTransaction" && reply.ok) this.#watchTransaction(from, reply.value);
      if (method === "endTransaction" && Array.isArray(args)) this.#unwatchTransaction(args[0]);
      this.#post({ ...reply, to: from, status: this.#local ? statusToMessage(this.#local.syncStatus()) : undefined });
    });
    this.#serving.add(answered);
  }

  /** Rolls back transaction `id` if tab `from`, which opened it, goes away before ending it. */
  #watchTransaction(from, id) {
    const watch = new AbortController();
    this.#foreignTransactions.set(id, watch);
    whenGone(this.#name, from, watch.signal, async () => {
      if (this.#foreignTransactions.get(id) !== watch) return;
      this.#foreignTransactions.delete(id);
      try {
        await this.#local?.[END](id, false);
      } catch {
        // closed meanwhile: closing rolled it back
      }
    });
  }

  #unwatchTransaction(id) {
    this.#foreignTransactions.get(id)?.abort();
    this.#foreignTransactions.delete(id);
  }

  /**
   * Tells the other tabs which tables changed, once per task for all the calls served in it (a
   * burst of calls arrives as a burst of message tasks). A notice always leaves after the writes it
   * reports, so it reaches a tab after any query result that predates them.
   */
  #queueTables(tables, { pulled }) {
    if (this.#changedTables === null) {
      this.#changedTables = new Set();
      this.#changedByPulls = true;
      setTimeout(() => this.#flushTables());
    }
    this.#changedByPulls &&= pulled;
    if (tables === ALL_TABLES) this.#changedTables.add(EVERY);
    else for (const table of tables) this.#changedTables.add(table);
  }

  #flushTables() {
    const changed = this.#changedTables;
    if (changed === null) return;
    this.#changedTables = null;
    this.#post({ kind: "tables", tables: changed.has(EVERY) ? ALL_TABLES : [...changed], pulled: this.#changedByPulls });
  }

  #announce() {
    const { since } = this.#holder;
    this.#post({ kind: "holder", id: this.#id, ready: true, since, status: statusToMessage(this.#local.syncStatus()) });
  }

  #post(message) {
    if (this.#channelClosed) return;
    const post = (data) => this.#channel.postMessage(data);
    if (message.kind === "reply") {
      postReply(post, message);
      return;
    }
    try {
      post(message);
    } catch {
      // the channel's own messages are plain data, and none of them is answered: nothing to tell
    }
  }

  #markOpen() {
    if (this.#isOpen) return;
    this.#isOpen = true;
    this.#resolveOpened();
  }

  /** Ends every waiting call with `error`; later calls fail with it too; open() rejects with it. */
  #fail(error) {
    this.#failure ??= error;
    if (!this.#isOpen) this.#rejectOpened(error);
    for (const call of this.#pending.values()) call.reject(error);
    this.#pending.clear();
  }
}

function closedError() {
  return new OutpostError("DATABASE_CLOSED", "the database is closed");
}
