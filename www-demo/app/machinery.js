// The panels beside the board: the same reads timed locally and against the primary, the outbox,
// the sync state, and the writes the primary rejected. All of it comes from the package: the local
// database, its pending and rejected writes (db.pendingWrites(), db.rejectedWrites()) and sync events.
import { ago, formatMicros, formatTime, h } from "./dom.js";
import { TASKS_SQL } from "./board.js";

/** Reads compared on the device and on the primary; `params` may depend on the data. */
const READS = [
  { label: "Whole board", sql: TASKS_SQL, params: () => [] },
  {
    label: "Open tasks per list",
    sql: "SELECT list_id, count(*) AS open FROM tasks WHERE done = 0 GROUP BY list_id",
    params: () => [],
  },
  { label: "One task by id", sql: "SELECT * FROM tasks WHERE id = ?", params: (state) => [state.someTaskId ?? ""] },
];
/** How many outbox entries and rejections the panels list; their counts cover all of them. */
const OUTBOX_SHOWN = 30;
const REJECTIONS_SHOWN = 20;
/** Local reads are repeated and averaged: without cross-origin isolation the browser's clock has 100 µs steps. */
const LOCAL_REPEATS = 10;
const REMOTE_REPEATS = 3;
const MEASURE_EVERY_MS = 2000;

export class Latency {
  #replica;
  #body;
  #summary;
  #running = false;
  #lastRun = 0;
  #results = READS.map(() => ({ local: null, remote: null }));
  /** False when the primary's /query is off (it is under sync rules): local reads only. */
  #primaryQueries;
  state = { someTaskId: null };

  constructor(replica, table, summary, { primaryQueries = true } = {}) {
    this.#replica = replica;
    this.#primaryQueries = primaryQueries;
    this.#body = table.tBodies[0];
    this.#summary = summary;
    this.#render();
  }

  /** Measures again unless a run happened in the last couple of seconds (or `force`). */
  async maybeMeasure(force = false) {
    if (this.#running || (!force && Date.now() - this.#lastRun < MEASURE_EVERY_MS)) return;
    this.#running = true;
    try {
      const db = await this.#replica.db();
      for (const [i, read] of READS.entries()) {
        const params = read.params(this.state);
        const local = await typicalTime(LOCAL_REPEATS, () => db.query(read.sql, params));
        let remote = null;
        if (!this.#replica.offline && this.#primaryQueries) {
          try {
            remote = await typicalTime(REMOTE_REPEATS, () => remoteQuery(this.#replica.syncUrl, read.sql, params));
          } catch {
            remote = null;
          }
        }
        this.#results[i] = { local, remote };
      }
    } catch {
      // the database was being reopened; the next refresh measures again
    } finally {
      this.#lastRun = Date.now();
      this.#running = false;
      this.#render();
    }
  }

  #render() {
    const rows = READS.map((read, i) => {
      const { local, remote } = this.#results[i];
      const ratio = local && remote ? remote / local : null;
      return h(
        "tr",
        {},
        h("th", { scope: "row" }, read.label),
        h("td", { class: "num local" }, formatMicros(local)),
        h("td", { class: "num remote" }, remote !== null ? formatMicros(remote) : this.#remoteMissing()),
        h("td", { class: "num ratio" }, ratio ? `${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}×` : "–"),
      );
    });
    this.#body.replaceChildren(...rows);
    const ratios = this.#results.filter((r) => r.local && r.remote).map((r) => r.remote / r.local);
    if (ratios.length) {
      const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
      this.#summary.textContent = `Local reads are ${mean >= 10 ? Math.round(mean) : mean.toFixed(1)}× faster here, on a primary on the same machine. Across a real network the gap is wider.`;
    } else {
      this.#summary.textContent = !this.#primaryQueries
        ? "Under sync rules the primary answers no queries (they would read past the rules): these reads are local only. DEMO_USERS=0 bash scripts/demo.sh compares both."
        : this.#replica.offline
          ? "Offline: local reads go on; the primary cannot be asked."
          : "Measuring…";
    }
  }

  #remoteMissing() {
    if (!this.#primaryQueries) return "off";
    return this.#replica.offline ? "offline" : "–";
  }
}

/** Runs `read` `times` times; the mean time without the slowest fifth (a GC pause or a sync burst is not the read). */
async function typicalTime(times, read) {
  const samples = [];
  for (let n = 0; n < times; n++) {
    const started = performance.now();
    await read();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const kept = samples.slice(0, Math.max(1, Math.ceil(times * 0.8)));
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

async function remoteQuery(syncUrl, sql, params) {
  const response = await fetch(`${syncUrl}/query`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ v: 1, sql, params }),
  });
  if (!response.ok) throw new Error(`query answered ${response.status}`);
  return response.json();
}

export class Outbox {
  #replica;
  #count;
  #list;

  constructor(replica, count, list) {
    this.#replica = replica;
    this.#count = count;
    this.#list = list;
  }

  async refresh() {
    const db = await this.#replica.db();
    const { count: n, writes: entries } = await db.pendingWrites({ limit: OUTBOX_SHOWN });
    this.#count.textContent = String(n);
    this.#count.dataset.count = String(n);
    this.#list.replaceChildren(
      ...(entries.length
        ? entries.map((e) =>
            h(
              "li",
              { class: "entry" },
              h("span", { class: `op op-${e.op}` }, e.op),
              h("span", { class: "entry-table" }, e.table),
              h("code", { class: "entry-columns" }, describeColumns(e)),
              h("span", { class: "entry-seq" }, `#${e.seq}`),
            ),
          )
        : [h("li", { class: "empty" }, "Empty: every local write has reached the primary.")]),
      ...(n > entries.length ? [h("li", { class: "more" }, `… and ${n - entries.length} more`)] : []),
    );
  }
}

/** A write's changed columns (ids and bookkeeping left out), or a delete's key, in one short line. */
function describeColumns(write) {
  if (write.op === "delete") return `key ${truncate(write.key.join(", "), 16)}`;
  const entries = Object.entries(write.columns);
  const telling = entries.filter(([name]) => !["id", "created_at", "list_id"].includes(name));
  const describe = ([name, value]) => `${name}=${typeof value === "string" ? JSON.stringify(truncate(value, 28)) : value}`;
  return (telling.length ? telling : entries).map(describe).join(" ");
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const STATE_LABELS = { idle: "Online", syncing: "Syncing", offline: "Offline", error: "Error", opening: "Opening" };

export class SyncState {
  #pill;
  #last;
  #error;
  #lastSyncedAt = null;
  #lastChangeAt = null;
  #changeNote;

  constructor({ pill, last, error, changeNote }) {
    this.#pill = pill;
    this.#last = last;
    this.#error = error;
    this.#changeNote = changeNote;
    setInterval(() => this.#renderTimes(), 1000);
  }

  show(status) {
    const state = status?.state ?? "opening";
    this.#pill.dataset.state = state;
    this.#pill.textContent = STATE_LABELS[state] ?? state;
    this.#lastSyncedAt = status?.lastSyncedAt ?? this.#lastSyncedAt;
    const error = status?.lastError;
    this.#error.hidden = !error || state === "idle" || state === "syncing";
    this.#error.textContent = error ? `${error.code}: ${error.message}` : "";
    this.#renderTimes();
  }

  changed() {
    this.#lastChangeAt = Date.now();
    this.#renderTimes();
  }

  #renderTimes() {
    const now = Date.now();
    this.#last.textContent = this.#lastSyncedAt
      ? `${formatTime(this.#lastSyncedAt)} (${ago(this.#lastSyncedAt, now)})`
      : "not yet";
    this.#changeNote.textContent = this.#lastChangeAt
      ? `${formatTime(this.#lastChangeAt)} (${ago(this.#lastChangeAt, now)})`
      : "none yet";
  }
}

export class Rejections {
  #replica;
  #list;
  #count;

  constructor(replica, count, list) {
    this.#replica = replica;
    this.#count = count;
    this.#list = list;
  }

  async refresh() {
    const db = await this.#replica.db();
    const { count: n, writes: rows } = await db.rejectedWrites({ limit: REJECTIONS_SHOWN });
    this.#count.textContent = String(n);
    this.#list.replaceChildren(
      ...(rows.length
        ? rows.map((r) =>
            h(
              "li",
              { class: "rejection" },
              h(
                "div",
                { class: "rejection-head" },
                h("span", { class: `op op-${r.op}` }, r.op),
                h("span", { class: "entry-table" }, r.table),
                h("code", { class: "rejection-code" }, r.code),
              ),
              h("p", { class: "rejection-reason" }, r.reason),
              h("code", { class: "entry-columns" }, describeColumns(r)),
            ),
          )
        : [h("li", { class: "empty" }, "None: the primary accepted every write.")]),
    );
  }

  async clear() {
    const db = await this.#replica.db();
    await db.discardRejected();
    await this.refresh();
  }
}
