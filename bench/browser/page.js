// The benchmark page: run.mjs drives it through window.bench. Workers do the engine work; this
// thread measures cold starts (Worker creation → first row) and the package's main-thread API.
import { visible } from "./visible.js";
import { COMMITS, BULK_ROWS, READ_ROWS, POINT_READS, WARMUP, bulkRows, readRows, pointIds, summarise, median } from "./workloads.js";

function runInWorker(script, message) {
  const start = performance.now();
  const worker = new Worker(script, { type: "module" });
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      const wallMs = performance.now() - start;
      worker.terminate();
      if (data.ok) resolve({ ...data.result, wallMs });
      else reject(new Error(data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`worker error: ${event.message}`));
    };
    worker.postMessage(message);
  });
}

async function clearOpfs() {
  const root = await navigator.storage.getDirectory();
  for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
}

/** The package as a page uses it: open() starts its Worker; every call is a postMessage round trip. */
async function mainThread(name) {
  const { open } = await import("/pkg/browser.js");
  const now = () => performance.now();
  const result = {};

  // 5. Cold start: open() (Worker start, wasm, OPFS) → create table → first row back.
  let s = now();
  const db = await open({ name, storage: "opfs" });
  result.openMs = now() - s;
  await db.execute("CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER, f REAL, g TEXT)");
  await db.execute("CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)");
  await db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)");

  // 1. Commit latency.
  const insert = "INSERT INTO c (id, a, b, t) VALUES (?, ?, ?, ?)";
  for (let i = 0; i < WARMUP; i++) await db.execute(insert, [1_000_000 + i, i, i / 2, `warm ${i}`]);
  const commits = [];
  for (let i = 0; i < COMMITS; i++) {
    const params = [i, i * 7, i / 3, `row number ${i}`];
    const q = now();
    await db.execute(insert, params);
    commits.push(now() - q);
  }
  result.commitMs = summarise(commits);

  // 2. Bulk insert through batch(): the one way a page can send 100,000 rows in one transaction.
  const sql = "INSERT INTO t (id, a, b, t) VALUES (?, ?, ?, ?)";
  const statements = bulkRows(BULK_ROWS).map((params) => ({ sql, params }));
  s = now();
  await db.batch(statements);
  result.bulkBatchMs = now() - s;
  result.bulkBatchRowsPerSec = BULK_ROWS / (result.bulkBatchMs / 1000);

  const rSql = "INSERT INTO r (id, a, b, c, d, e, f, g) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
  await db.batch(readRows(READ_ROWS).map((params) => ({ sql: rSql, params })));

  // 3. Point reads.
  const ids = pointIds(POINT_READS, READ_ROWS);
  for (let i = 0; i < WARMUP; i++) await db.query("SELECT * FROM r WHERE id = ?", [ids[i]]);
  const reads = [];
  for (let i = 0; i < POINT_READS; i++) {
    const q = now();
    await db.query("SELECT * FROM r WHERE id = ?", [ids[i]]);
    reads.push((now() - q) * 1000);
  }
  result.pointReadUs = summarise(reads);

  // 4. Materialise 10,000 x 8 (structured clone from the Worker included).
  await db.query("SELECT * FROM r");
  const scans = [];
  for (let i = 0; i < 3; i++) {
    const q = now();
    const rows = await db.query("SELECT * FROM r");
    scans.push(now() - q);
    if (rows.length !== READ_ROWS) throw new Error("main-thread materialise: wrong row count");
  }
  result.materialiseMs = median(scans);
  await db.close();

  // 5 again, on the now-populated database: open() → first row.
  s = now();
  const again = await open({ name, storage: "opfs" });
  const first = await again.query("SELECT * FROM r WHERE id = ?", [1]);
  result.coldStartMs = now() - s;
  if (first[0]?.id !== 1) throw new Error("main-thread cold start read no row");
  await again.close();
  return result;
}

/**
 * Point reads through the main-thread API with sync configured and a large outbox (an app that
 * has been offline): the Worker sends the sync status, with its pending count, on every answer.
 * The primary URL refuses connections at once (port 9 on 127.0.0.1), so the loop stays offline.
 */
async function mainThreadOffline(name, pendingRows) {
  const { open } = await import("/pkg/browser.js");
  const schema = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)";
  const db = await open({
    name,
    storage: "opfs",
    migrations: [schema],
    sync: { url: "http://127.0.0.1:9/v1/db/offline", tables: ["items"], live: false, intervalMs: 600_000 },
  });
  const sql = "INSERT INTO items (id, a, b, t) VALUES (?, ?, ?, ?)";
  const read = async () => {
    const samples = [];
    for (let i = 0; i < 500; i++) {
      const q = performance.now();
      await db.query("SELECT * FROM items WHERE id = ?", [1 + (i % 100)]);
      samples.push((performance.now() - q) * 1000);
    }
    return summarise(samples.slice(100));
  };
  await db.batch(bulkRows(100).map((params) => ({ sql, params })));
  const few = await read();
  await db.batch(bulkRows(pendingRows).slice(100).map((params) => ({ sql, params })));
  const many = await read();
  const status = db.syncStatus();
  await db.close();
  return { pendingFew: 100, pointReadUsFewPending: few, pendingMany: status.pending, pointReadUsManyPending: many, state: status.state };
}

window.bench = {
  mainThreadOffline,
  clearOpfs,
  suite: (engine, name, pragmas = []) => runInWorker("/bench/engine-worker.js", { mode: "suite", engine, name, pragmas }),
  cold: (engine, name, pragmas = []) => runInWorker("/bench/engine-worker.js", { mode: "cold", engine, name, pragmas }),
  seed: (engine, name) => runInWorker("/bench/engine-worker.js", { mode: "seed", engine, name }),
  mainThread,
  sync: (message) => runInWorker("/bench/sync-worker.js", message),
  visible,
  crossOriginIsolated: () => self.crossOriginIsolated,
};
window.benchReady = true;
