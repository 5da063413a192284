// The sync loop: pushes the outbox and pulls changes, on a timer, after local writes, when the
// browser comes back online, and live (a long-poll pull that the primary answers as soon as
// something changes). With `live: false, intervalMs: 0` (the Cloudflare Workers default, where
// nothing may run outside a request) it runs nothing by itself: the app pulls on demand with
// ensureFresh() and pushes with push(). Each push or pull is one round trip done by the wasm;
// correctness (at-most-once, cursor atomicity, discarding stale pulls) lives there. This file only
// schedules, backs off with jitter, and reports status and events. No Promise it starts is left
// unhandled. A push the primary stops short (SCHEMA_AHEAD: the app is a migration ahead of it)
// leaves the state "waiting" after the round: the writes stay pending, and every later round
// pushes them again until the primary has the migration. While the app's transaction is open, sync reads and applies nothing (the wasm says
// TRANSACTION_OPEN): each push and pull waits for the transaction to end, then runs; that is a
// pause, never a failure.
import { OutpostError } from "./error.js";

/** How long a live pull asks the primary to wait for a change. */
const LIVE_WAIT_MS = 25_000;
const BACKOFF_MIN_MS = 500;
// A replica that was offline retries at least this often, so it is back soon after the primary.
const BACKOFF_MAX_MS = 10_000;
/** A push or pull met a transaction this loop was not told of: how long it waits to try again. */
const TRANSACTION_RETRY_MS = 50;
/** ensureFresh()'s bound when neither it nor the sync options give one. */
export const DEFAULT_MAX_STALENESS_MS = 1000;

export class SyncLoop {
  #db;
  #url;
  #token;
  #intervalMs;
  #live;
  #maxStalenessMs;
  /** Whether anything runs without being asked: a timer, the live pull, pushes after writes. */
  #background;
  #emit;
  #running = false;
  #state = "idle";
  #lastSyncedAt = null;
  /** When the newest complete pull (every page, `more: false`) was sent: the replica is at least that fresh. */
  #pulledAt = null;
  #lastError = null;
  /** `{ code, reason }` while the primary cannot take the oldest pending write yet, else null. */
  #waiting = null;
  /** Rounds, pushes and pulls in flight: the state is "syncing" while any runs. */
  #busy = 0;
  #failures = 0;
  /** The outbox's unacknowledged entries, or null when a write or push may have changed it. */
  #pending = null;
  /** The round in progress (push everything, then pull everything), or null. */
  #round = null;
  /** A round requested while one was running; it starts when that one ends. */
  #again = null;
  /** The push in progress, and one queued behind it; as #round and #again. */
  #pushing = null;
  #pushAgain = null;
  /** The pull ensureFresh() started, shared by callers who arrive while it runs. */
  #freshening = null;
  #timer = null;
  #liveTask = null;
  #onOnline = () => this.#kick();
  /** A Promise that resolves when the app's open transaction ends, or undefined when none is open. */
  #transactionEnded;

  /**
   * @param {import("./outpost.js").Database} db
   * @param {{ url: string, token?: string | (() => string | Promise<string>), intervalMs?: number, live?: boolean, maxStalenessMs?: number }} options
   * @param {(event: string, payload: unknown) => void} emit
   * @param {() => Promise<void> | undefined} transactionEnded
   */
  constructor(db, options, emit, transactionEnded = () => undefined) {
    this.#db = db;
    this.#url = options.url;
    this.#token = options.token;
    this.#intervalMs = options.intervalMs ?? 5000;
    this.#live = options.live ?? true;
    this.#maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
    this.#background = this.#live || this.#intervalMs > 0;
    this.#emit = emit;
    this.#transactionEnded = transactionEnded;
  }

  start() {
    this.#running = true;
    if (!this.#background) return;
    globalThis.addEventListener?.("online", this.#onOnline);
    this.#kick();
    if (this.#live) this.#liveTask = this.#liveLoop();
  }

  /**
   * A local write happened: push it soon (coalesced with other writes of this tick). With the live
   * pull on, the push goes alone: the long poll brings whatever the primary has, so a round's pull
   * after it would ask again for the same changes (one more request per write).
   */
  onLocalWrite() {
    this.#pending = null;
    if (!this.#running) return;
    this.#emitStatus();
    if (this.#background) queueMicrotask(() => this.#pushWrites());
  }

  /**
   * The subset changed: a pull on its way was asked for the old one (its answer is dropped), and
   * the rows gained come with the next pull, started at once in the background; ensureFresh()
   * pulls before it answers.
   */
  onSubsetChanged() {
    this.#pulledAt = null;
    if (this.#running && this.#background) queueMicrotask(() => this.#kick());
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

  /**
   * Push everything pending (in batches), without pulling. A push already running may have read
   * the outbox before the caller's last write, so one more is queued behind it, as in sync().
   */
  push() {
    if (!this.#running) return closedError();
    if (this.#pushing) {
      this.#pushAgain ??= this.#pushing.catch(() => {}).then(() => {
        this.#pushAgain = null;
        return this.#startPush();
      });
      return this.#pushAgain;
    }
    return this.#startPush();
  }

  /**
   * Resolves at once when the newest complete pull was sent at most `maxStalenessMs` ago;
   * otherwise pulls every page first. Callers arriving during a pull share it.
   */
  ensureFresh(maxStalenessMs = this.#maxStalenessMs) {
    if (!this.#running) return closedError();
    const now = Date.now();
    if (this.#pulledAt !== null && now - this.#pulledAt <= maxStalenessMs) {
      return Promise.resolve({ pulled: 0, pulledAt: this.#pulledAt });
    }
    // A pull sent too long ago for this caller's bound cannot vouch for it: send another.
    if (this.#freshening && now - this.#freshening.startedAt <= maxStalenessMs) {
      return this.#freshening.promise;
    }
    const freshening = {
      startedAt: now,
      promise: this.#tracked(async () => {
        const { pulled } = await this.#pullAll(await this.#currentToken());
        return { pulled, pulledAt: this.#pulledAt };
      }).finally(() => {
        if (this.#freshening === freshening) this.#freshening = null;
      }),
    };
    this.#freshening = freshening;
    return freshening.promise;
  }

  status() {
    // Counting the outbox is a scan, and a page's Worker reports the status with every answer:
    // count again only after something that changes it (a local write, a push).
    if (this.#pending === null) {
      try {
        this.#pending = this.#db.pendingCount();
      } catch {
        return this.#statusWith(0);
      }
    }
    return this.#statusWith(this.#pending);
  }

  #statusWith(pending) {
    return { state: this.#state, pending, lastSyncedAt: this.#lastSyncedAt, lastError: this.#lastError, waiting: this.#waiting };
  }

  /** Stop timers and the live pull; resolves when nothing of the loop is running any more. */
  async stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    globalThis.removeEventListener?.("online", this.#onOnline);
    this.#db.abortSync();
    await Promise.allSettled([this.#round, this.#again, this.#liveTask, this.#pushing, this.#pushAgain, this.#freshening?.promise]);
  }

  #pushWrites() {
    // A round in progress pushes too: queue behind it rather than beside it.
    if (!this.#live || this.#round) return this.#kick();
    if (!this.#running) return;
    this.push().catch(() => {
      // reported through status; the failure scheduled a round, which owns the retries
    });
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

  #runRound() {
    clearTimeout(this.#timer);
    return this.#tracked(async () => {
      // A push on its way (a live replica's write) is sending what this round would read: the
      // round pushes after it, rather than send the same entries again beside it.
      await Promise.allSettled([this.#pushing, this.#pushAgain]);
      const token = await this.#currentToken();
      const pushedReport = await this.#pushAll(token);
      const pulledReport = await this.#pullAll(token);
      this.#schedule(this.#intervalMs);
      return {
        pushed: pushedReport.pushed,
        pulled: pulledReport.pulled,
        rejected: [...pushedReport.rejected, ...pulledReport.rejected],
      };
    });
  }

  #startPush() {
    const push = this.#tracked(async () => this.#pushAll(await this.#currentToken())).finally(() => {
      if (this.#pushing === push) this.#pushing = null;
    });
    this.#pushing = push;
    return push;
  }

  /** Runs `work` as one sync operation: state "syncing" while it runs, then "idle", or the failure. */
  async #tracked(work) {
    this.#busy += 1;
    this.#setState("syncing");
    try {
      const result = await work();
      this.#busy -= 1;
      this.#failures = 0;
      this.#lastError = null;
      this.#lastSyncedAt = Date.now();
      this.#setState(this.#busy > 0 ? "syncing" : this.#waiting ? "waiting" : "idle");
      return result;
    } catch (err) {
      this.#busy -= 1;
      this.#fail(err);
      throw err;
    }
  }

  async #pushAll(token) {
    const report = { pushed: 0, rejected: [] };
    for (;;) {
      const { pushed, rejected, waiting } = await this.#outsideTransaction(() => this.#db.push(this.#url, token));
      this.#pending = null;
      report.pushed += pushed;
      report.rejected.push(...rejected);
      for (const mutation of rejected) this.#emit("rejected", mutation);
      // Stopped short, or everything went: either way this push is over.
      this.#waiting = waiting ?? null;
      if (waiting || pushed + rejected.length === 0) return report;
    }
  }

  /** Pulls until the primary has nothing more; the replica is then as fresh as the first request's start. */
  async #pullAll(token) {
    const startedAt = Date.now();
    const tables = new Set();
    let total = 0;
    const rejected = [];
    for (;;) {
      const outcome = await this.#outsideTransaction(() => this.#db.pull(this.#url, token, 0));
      total += outcome.pulled;
      for (const table of outcome.tables) tables.add(table);
      rejected.push(...this.#settled(outcome));
      if (!outcome.more) break;
    }
    this.#pulledAt = Math.max(this.#pulledAt ?? 0, startedAt);
    if (tables.size > 0) this.#emit("change", { tables: [...tables] });
    return { pulled: total, rejected };
  }

  /**
   * Reports what a pull settled besides rows: writes it found refused (as a push reports them),
   * and a resync. Returns the refused writes.
   */
  #settled({ rejected, reset }) {
    // Either changes the outbox: a refusal leaves it, a resync may make writes pending again.
    if (reset || rejected.length > 0) this.#pending = null;
    if (reset) this.#emit("resync", { at: Date.now() });
    for (const mutation of rejected) this.#emit("rejected", mutation);
    return rejected;
  }

  /**
   * Runs one push or pull (`step`) once no transaction of the app is open. A transaction begun
   * while it was on its way (TRANSACTION_OPEN) is waited for, and the step runs again.
   */
  async #outsideTransaction(step) {
    for (;;) {
      const ended = this.#transactionEnded();
      if (ended) await ended;
      try {
        return await step();
      } catch (err) {
        if (err?.code !== "TRANSACTION_OPEN" || !this.#running) throw err;
        // No transaction known now: it ended meanwhile, or is none this loop is told of. A short
        // pause, so that this never spins.
        if (!this.#transactionEnded()) await sleep(TRANSACTION_RETRY_MS);
      }
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
        const startedAt = Date.now();
        const outcome = await this.#outsideTransaction(() => this.#db.pull(this.#url, token, LIVE_WAIT_MS));
        const { pulled, tables, more } = outcome;
        this.#settled(outcome);
        if (!more) this.#pulledAt = Math.max(this.#pulledAt ?? 0, startedAt);
        if (pulled > 0) {
          this.#lastSyncedAt = Date.now();
          this.#emit("change", { tables });
          // An app in this thread reacts to the change first (its query): the status and the next
          // long poll's request would otherwise take the thread before it (~5 ms on a loaded
          // machine, with both databases in one Worker). Watches re-run before this in any case.
          await nextTask();
          this.#emitStatus();
        }
      } catch {
        if (!this.#running) return;
        // A failed live pull says the primary may be gone. A round finds out and owns the retries
        // and their backoff; counting this failure too would double the backoff and make
        // reconnecting after a short outage take tens of seconds.
        if (this.#state !== "offline" && this.#state !== "error") this.#kick();
        await sleep(BACKOFF_MIN_MS);
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
    // Without background sync, nothing retries by itself: the next push() or ensureFresh() does.
    if (!this.#running || !this.#background || delayMs <= 0) return;
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

function closedError() {
  return Promise.reject(new OutpostError("DATABASE_CLOSED", "the database is closed"));
}

/** Resolves in a later task, after the microtasks queued so far. */
function nextTask() {
  return new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
