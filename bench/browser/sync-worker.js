// Sync benchmarks of the browser build against the real primary (over loopback, fetch from this
// dedicated worker; the primary answers CORS). Messages in:
//   { mode: "push", url, name, rows }     fill the outbox, then time pushing all of it
//   { mode: "pull", url, name, expected } time an empty replica pulling and applying everything
//   { mode: "rtt", url, samples }         fetch round trips to the primary's /v1/health (HTTP's floor)
// (Write on A → visible on B is measured from the page: visible.js.)
// `url` is the database's URL on the primary, e.g. http://127.0.0.1:PORT/v1/db/NAME (for rtt: the
// primary's origin).
import { instrumentIo, summarise } from "./workloads.js";

const io = instrumentIo();

// Time spent in fetch to the primary (request sent → answer body read): the network and the
// primary. The rest of a push/pull call is the wasm's own work (request, JSON, apply, OPFS commit);
// `opfs` counts its OPFS calls and their time.
// Only /v1/ requests are timed; bodies are passed on as bytes, untouched.
const realFetch = globalThis.fetch;
let fetchMs = 0;
globalThis.fetch = async (input, init) => {
  if (!String(input?.url ?? input).includes("/v1/db/")) return realFetch(input, init);
  const start = performance.now();
  const response = await realFetch(input, init);
  const body = await response.arrayBuffer();
  fetchMs += performance.now() - start;
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
};

const SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)";
const INSERT = "INSERT INTO items (id, a, b, t) VALUES (?, ?, ?, ?)";
const row = (id) => [id, id * 31, id * 0.25, `synced row ${id} payload`];

self.onmessage = async ({ data }) => {
  try {
    const modes = { push, pull, rtt };
    self.postMessage({ ok: true, result: await modes[data.mode](data) });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err?.stack ?? err) + (err?.code ? ` [${err.code}]` : "") });
  }
};

/** Mean time of the first and of the last five requests: growth means per-request work grows with the outbox. */
function firstLast(samples) {
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return { first5: mean(samples.slice(0, 5)), last5: mean(samples.slice(-5)), all: mean(samples) };
}

/** The wasm's linear memory, which only grows: its size after a call is the peak during it. */
let wasmMemory = null;
const memoryMB = () => wasmMemory.buffer.byteLength / (1 << 20);

async function replica(name) {
  const glue = await import("/pkg/outpost.js");
  wasmMemory = (await glue.default()).memory;
  return glue.Database.open({ name, storage: "opfs", migrations: [SCHEMA], syncTables: ["items"] });
}

async function push({ url, name, rows }) {
  const db = await replica(name);
  let t = performance.now();
  const transaction = db.begin();
  for (let id = 1; id <= rows; id++) db.execute(INSERT, row(id));
  db.commit(transaction);
  const fillMs = performance.now() - t;
  let pushed = 0;
  let requests = 0;
  fetchMs = 0;
  io.reset();
  t = performance.now();
  const perRequest = [];
  for (;;) {
    const s = performance.now();
    const outcome = await db.push(url, null);
    if (outcome.pushed + outcome.rejected.length === 0) break;
    perRequest.push(performance.now() - s);
    pushed += outcome.pushed;
    requests += 1;
  }
  const ms = performance.now() - t;
  const opfs = io.snapshot(1);
  db.close();
  if (pushed !== rows) throw new Error(`pushed ${pushed} of ${rows}`);
  return { rows, requests, ms, rowsPerSec: rows / (ms / 1000), fillOutboxMs: fillMs, requestMs: firstLast(perRequest), fetchMs, wasmMs: ms - fetchMs, opfs };
}

async function pull({ url, name, expected }) {
  const db = await replica(name);
  const memoryAtOpenMB = memoryMB();
  io.reset();
  let pulled = 0;
  let requests = 0;
  const t = performance.now();
  const perRequest = [];
  fetchMs = 0;
  for (;;) {
    const s = performance.now();
    const outcome = await db.pull(url, null, 0);
    perRequest.push(performance.now() - s);
    pulled += outcome.pulled;
    requests += 1;
    if (!outcome.more) break;
  }
  const ms = performance.now() - t;
  const memory = { atOpenMB: memoryAtOpenMB, afterPullMB: memoryMB() };
  const opfs = io.snapshot(1);
  const count = db.query("SELECT count(*) AS n FROM items", undefined)[0].n;
  db.close();
  if (count !== expected) throw new Error(`pulled ${count} rows, expected ${expected}`);
  return { rows: pulled, requests, ms, rowsPerSec: pulled / (ms / 1000), requestMs: firstLast(perRequest), fetchMs, wasmMs: ms - fetchMs, wasmMemory: memory, opfs };
}

/** The browser's HTTP floor: `fetch` of a tiny answer from the primary, until its body is read. */
async function rtt({ url, samples }) {
  const ms = [];
  for (let i = 0; i < samples + 20; i++) {
    const t = performance.now();
    const response = await realFetch(`${url}/v1/health`);
    await response.text();
    if (i >= 20) ms.push(performance.now() - t);
  }
  return summarise(ms);
}
