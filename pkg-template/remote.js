// The main-thread side of a browser database: a proxy whose methods (methods.js) post a call to
// the database's own Worker (worker.js) and resolve with its reply. Errors come back as plain data
// and are rethrown as OutpostError here (messages.js); the sync token function is called here, when
// the worker asks for a token. Watches run in the worker; their rows arrive here as "rows" messages.
import { OutpostError } from "./error.js";
import { Listeners } from "./events.js";
import { defineMethods, PASSED_ON } from "./methods.js";
import { runTransaction } from "./transaction.js";
import { watchArguments } from "./watch.js";
import { errorFromMessage, postReply, replyTo, settle } from "./messages.js";

export async function openRemote(options) {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new OutpostError("BAD_OPTIONS", "open() takes an options object: { name, storage?, migrations?, sync? }");
  }
  const { sync } = options;
  let tokenSource;
  let forWorker = options;
  if (sync !== null && typeof sync === "object" && typeof sync.token === "function") {
    tokenSource = sync.token;
    forWorker = { ...options, sync: { ...sync, token: undefined, tokenFromPage: true } };
  }

  let worker;
  try {
    // Kept literal so that bundlers (Vite, webpack, esbuild, Parcel) see and emit the worker.
    worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  } catch (err) {
    throw new OutpostError("WORKER_FAILED", `could not start the database worker: ${err?.message ?? err}`);
  }
  const remote = new RemoteDatabase(worker, tokenSource);
  try {
    await remote.opened(forWorker);
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return remote;
}

class RemoteDatabase {
  #worker;
  #tokenSource;
  #listeners = new Listeners();
  #pending = new Map();
  #nextId = 1;
  /** Watches by id: { onRows, onError }. */
  #watches = new Map();
  #status = { state: "idle", pending: 0, lastSyncedAt: null, lastError: null, waiting: null };
  #opening = null;
  #closing = null;
  #failure = null;

  constructor(worker, tokenSource) {
    this.#worker = worker;
    this.#tokenSource = tokenSource;
    worker.addEventListener("message", (event) => this.#receive(event.data));
    worker.addEventListener("error", (event) => {
      event.preventDefault?.();
      this.#fail(new OutpostError("WORKER_FAILED", `the database worker failed: ${event.message || "it could not be loaded"}`));
    });
    worker.addEventListener("messageerror", () => {
      this.#fail(new OutpostError("WORKER_FAILED", "a message from the database worker could not be read"));
    });
  }

  /** Sends the options to the worker; resolves once the database is open there. */
  opened(options) {
    return new Promise((resolve, reject) => {
      this.#opening = { resolve, reject };
      try {
        this.#worker.postMessage({ kind: "open", options });
      } catch (err) {
        this.#opening = null;
        reject(new OutpostError("BAD_OPTIONS", `the options cannot be sent to the database worker: ${err?.message ?? err}`));
      }
    });
  }

  static {
    defineMethods(this, PASSED_ON, function (method, args) {
      return this.#call(method.name, args);
    });
  }

  /** Runs `callback(tx)` here, on the page; its calls run in one transaction in the Worker (transaction.js). */
  transaction(callback) {
    return runTransaction(this, callback);
  }

  watch(sql, params, onRows, options) {
    const args = watchArguments(sql, params, onRows, options);
    if (this.#failure) throw this.#failure;
    if (this.#closing) throw new OutpostError("DATABASE_CLOSED", "the database is closed");
    const id = this.#nextId++;
    try {
      this.#worker.postMessage({ kind: "watch", id, sql: args.sql, params: args.params });
    } catch (err) {
      throw new OutpostError("BAD_PARAMS", `the parameters cannot be sent to the database worker: ${err?.message ?? err}`);
    }
    this.#watches.set(id, args);
    return () => {
      if (this.#watches.delete(id) && !this.#failure) this.#worker.postMessage({ kind: "unwatch", id });
    };
  }

  syncStatus() {
    return this.#status;
  }

  on(event, listener) {
    return this.#listeners.on(event, listener, (code, message) => new OutpostError(code, message));
  }

  close() {
    this.#closing ??= this.#call("close", [], true)
      .catch(() => {
        // the worker is going away in any case; its handles are released when it ends
      })
      .finally(() => {
        this.#worker.terminate();
        this.#fail(new OutpostError("DATABASE_CLOSED", "the database is closed"));
        this.#listeners.clear();
      });
    return this.#closing;
  }

  #call(method, args, closing = false) {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing && !closing) {
      return Promise.reject(new OutpostError("DATABASE_CLOSED", "the database is closed"));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.#worker.postMessage({ kind: "call", id, method, args });
      } catch (err) {
        // DataCloneError: a function, a class instance with private state, etc. among the params
        reject(new OutpostError("BAD_PARAMS", `the parameters cannot be sent to the database worker: ${err?.message ?? err}`));
        return;
      }
      this.#pending.set(id, { resolve, reject });
    });
  }

  #receive(message) {
    switch (message.kind) {
      case "opened":
        this.#status = message.status;
        this.#opening?.resolve();
        this.#opening = null;
        break;
      case "open-failed":
        this.#opening?.reject(errorFromMessage(message.error));
        this.#opening = null;
        break;
      case "reply": {
        const call = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.status) this.#status = message.status;
        if (call) settle(call, message);
        break;
      }
      case "rows":
      case "watch-error": {
        const watch = this.#watches.get(message.id);
        if (!watch) break;
        try {
          if (message.kind === "rows") watch.onRows(message.rows);
          else if (watch.onError) watch.onError(errorFromMessage(message.error));
          else throw errorFromMessage(message.error);
        } catch (err) {
          reportLater(err);
        }
        break;
      }
      case "event":
        if (message.event === "status") this.#status = message.payload;
        this.#listeners.emit(message.event, message.payload);
        break;
      case "call":
        this.#answer(message);
        break;
    }
  }

  /** The worker's calls to the page: only "token", for the sync token function that stays here. */
  async #answer({ id, method }) {
    const reply = await replyTo(id, async () => {
      if (method !== "token" || !this.#tokenSource) throw new TypeError(`unknown method ${method}`);
      const token = await this.#tokenSource();
      if (typeof token !== "string") {
        throw new OutpostError("BAD_OPTIONS", "options.sync.token() must return a string (or a Promise of one)");
      }
      return token;
    });
    postReply((message) => this.#worker.postMessage(message), reply);
  }

  /** Ends every waiting call with `error`; later calls fail with it too. */
  #fail(error) {
    this.#failure ??= error;
    this.#opening?.reject(error);
    this.#opening = null;
    for (const call of this.#pending.values()) call.reject(error);
    this.#pending.clear();
    this.#watches.clear();
  }
}

function reportLater(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else setTimeout(() => {
    throw err;
  });
}
