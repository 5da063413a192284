// The background sync loop: pushes the outbox and pulls changes, on a timer, after local writes,
// when the browser comes back online, and live (a long-poll pull that the primary answers as soon
// as something changes). Each push or pull is one round trip done by the wasm; correctness
// (at-most-once, cursor atomicity, discarding stale pulls) lives there. This file only schedules,
// backs off with jitter, and reports status. No Promise it starts is ever left unhandled.
import { OutpostError } from "./error.js";

/** How long a live pull asks the primary to wait for a change. */
const LIVE_WAIT_MS = 25_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export class SyncLoop {
  #db;
  #url;
  #token;
  #intervalMs;
  #live;
  #emit;
  #running = false;
  #state = "idle";
  #lastSyncedAt = null;
  #lastError = null;
  #failures = 0;
  /** The round in progress (push everything, then pull everything), or null. */
  #round = null;
  /** A round requested while one was running; it starts when that one ends. */
  #again = null;
  #timer = null;
  #liveTask = null;
  #onOnline = () => this.#kick();

  /**
   * @param {import("./outpost.js").Database} db
   * @param {{ url: string, token?: string | (() => string | Promise<string>), intervalMs?: number, live?: boolean }} options
   * @param {(event: string, payload: unknown) => void} emit
   */
  constructor(db, options, emit) {
    this.#db = db;
    this.#url = options.url;
    this.#token = options.token;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#live = options.live ?? true;
    this.#emit = emit;
  }

  start() {
    this.#running = true;
    globalThis.addEventListener?.("online", this.#onOnline);
    this.#kick();
    if (this.#live) this.#liveTask = this.#liveLoop();
  }

  /** A local write happened: push it soon (coalesced with other writes of this tick). */
  onLocalWrite() {
    if (!this.#running) return;
    this.#emitStatus();
    queueMicrotask(() => this.#kick());
  }

  /** Push everything pending, then pull everything new. Rejects with an OutpostError on failure. */
  sync() {
    if (!this.#running) {
      return Promise.reject(new OutpostError("DATABASE_CLOSED", "the database is closed"));
    }
    // A round already running may have read the outbox before the caller's last write: queue one more.
    if (this.#round) {
      this.#again ??= this.#round.catch(() => {}).then(() => {
        this.#again = null;
        return this.#startRound();
      });
      return this.#again;
    }
    return this.#startRound();
  }

  status() {
    let pending = 0;
    try {
      pending = this.#db.pendingCount();
    } catch {
      // closed: the count is informative only
    }
    return { state: this.#state, pending, lastSyncedAt: this.#lastSyncedAt, lastError: this.#lastError };
  }

  /** Stop timers and the live pull; resolves when nothing of the loop is running any more. */
  async stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    globalThis.removeEventListener?.("online", this.#onOnline);
    this.#db.abortSync();
    await Promise.allSettled([this.#round, this.#again, this.#liveTask]);
  }

  #kick() {
    if (!this.#running) return;
    this.sync().catch(() => {
      // reported through status; the retry is already scheduled
    });
  }

  #startRound() {
    const round = this.#runRound().finally(() => {
      if (this.#round === round) this.#round = null;
    });
    this.#round = round;
    return round;
  }

  async #runRound() {
    clearTimeout(this.#timer);
    this.#setState("syncing");
    const report = { pushed: 0, pulled: 0, rejected: [] };
    try {
      const token = await this.#currentToken();
      for (;;) {
        const { pushed, rejected } = await this.#db.push(this.#url, token);
        report.pushed += pushed;
        report.rejected.push(...rejected);
        for (const mutation of rejected) this.#emit("rejected", mutation);
        if (pushed + rejected.length === 0) break;
      }
      const tables = new Set();
      for (;;) {
        const { pulled, tables: touched, more } = await this.#db.pull(this.#url, token, 0);
        report.pulled += pulled;
        for (const table of touched) tables.add(table);
        if (!more) break;
      }
      if (tables.size > 0) this.#emit("change", { tables: [...tables] });
      this.#failures = 0;
      this.#lastError = null;
      this.#lastSyncedAt = Date.now();
      this.#setState("idle");
      this.#schedule(this.#intervalMs);
      return report;
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  async #liveLoop() {
    while (this.#running) {
      if (this.#state === "offline" || this.#state === "error") {
        // Rounds own the retries while the primary is unreachable; check again shortly.
        await sleep(Math.min(this.#intervalMs, 1000));
        continue;
      }
      try {
        const token = await this.#currentToken();
        const { pulled, tables } = await this.#db.pull(this.#url, token, LIVE_WAIT_MS);
        if (pulled > 0) {
          this.#lastSyncedAt = Date.now();
          this.#emit("change", { tables });
          this.#emitStatus();
        }
      } catch (err) {
        if (!this.#running) return;
        if (err?.code !== "DATABASE_CLOSED") this.#fail(err);
        await sleep(backoff(this.#failures));
      }
    }
  }

  async #currentToken() {
    const token = typeof this.#token === "function" ? await this.#token() : this.#token;
    if (token !== undefined && typeof token !== "string") {
      throw new OutpostError("BAD_OPTIONS", "sync.token must give a string");
    }
    return token;
  }

  #fail(err) {
    if (!this.#running) return;
    this.#failures += 1;
    const code = err?.code ?? "SYNC_FAILED";
    this.#lastError = { code, message: err?.message ?? String(err) };
    this.#setState(code === "OFFLINE" ? "offline" : "error");
    this.#schedule(backoff(this.#failures));
  }

  #schedule(delayMs) {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    this.#timer = setTimeout(() => this.#kick(), delayMs);
  }

  #setState(state) {
    this.#state = state;
    this.#emitStatus();
  }

  #emitStatus() {
    this.#emit("status", this.status());
  }
}

/** Exponential backoff with full jitter in [0.5, 1.5) of the step, so replicas do not retry in step. */
function backoff(failures) {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
  return step * (0.5 + Math.random());
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
