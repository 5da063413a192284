// This device's replica of the board: the package's database, plus the demo's offline switch.
//
// The switch uses only the public API. The sync token is a function, and every push and pull asks
// for it first, so while the switch is on the function throws OFFLINE and the sync module sends
// nothing at all (its state becomes "offline" and it backs off). Switching on also closes and
// reopens the database, which aborts a long-poll pull already waiting on the primary; the
// reopened database is the same OPFS file, and its capture triggers keep filling the outbox.
// Switching off opens the gate and asks for a sync round at once.
import { open, OutpostError } from "outpost-sqlite";
import { MIGRATIONS, SYNCED_TABLES } from "./schema.js";

export class Replica extends EventTarget {
  #options;
  #offline;
  #db = null;
  #opening = null;
  #unsubscribe = [];

  /**
   * @param {{ localName: string, syncUrl: string, offline: boolean, token: string | null }} options
   *   `token` is the user's bearer token, or null for a primary without authentication.
   */
  constructor({ localName, syncUrl, offline, token }) {
    super();
    this.#options = { localName, syncUrl, token };
    this.#offline = offline;
  }

  get offline() {
    return this.#offline;
  }

  get localName() {
    return this.#options.localName;
  }

  get syncUrl() {
    return this.#options.syncUrl;
  }

  /** The open database (waits while it is being reopened). */
  async db() {
    if (this.#opening) await this.#opening;
    if (!this.#db) throw new OutpostError("DATABASE_CLOSED", "the board is not open");
    return this.#db;
  }

  /** The last known sync status, or null while (re)opening. */
  status() {
    return this.#db ? this.#db.syncStatus() : null;
  }

  start() {
    this.#opening ??= this.#open().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async setOffline(offline) {
    if (offline === this.#offline) return;
    this.#offline = offline;
    if (offline) {
      // Close (aborting any waiting pull), then reopen with the gate shut.
      if (this.#opening) await this.#opening;
      this.#opening = (async () => {
        await this.#close();
        await this.#open();
      })().finally(() => {
        this.#opening = null;
      });
      await this.#opening;
    } else {
      const db = await this.db();
      this.#emit("status", db.syncStatus());
      // Failures here are shown through the status event; the loop retries by itself.
      db.sync().catch(() => {});
    }
  }

  async #open() {
    const db = await open({
      name: this.#options.localName,
      storage: "opfs",
      migrations: MIGRATIONS,
      sync: {
        url: this.#options.syncUrl,
        tables: SYNCED_TABLES,
        token: () => this.#token(),
        intervalMs: 5000,
        live: true,
      },
    });
    this.#unsubscribe = ["status", "change", "rejected"].map((event) =>
      db.on(event, (payload) => this.#emit(event, payload)),
    );
    this.#db = db;
    this.#emit("status", db.syncStatus());
    return db;
  }

  async #close() {
    const db = this.#db;
    this.#db = null;
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
    await db?.close();
  }

  #token() {
    if (this.#offline) {
      throw new OutpostError("OFFLINE", "the demo's offline switch is on: the sync module sends nothing");
    }
    // The demo's token (users.js), or any text for a primary started with --no-auth. A real app
    // returns its signed-in user's token from its backend here.
    return this.#options.token ?? "demo";
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
