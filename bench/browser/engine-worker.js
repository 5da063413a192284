// One benchmark run of one engine, in a dedicated worker. Messages in:
//   { mode: "suite", engine, name }  → the local-engine workloads 1-4 on a fresh database
//   { mode: "cold", engine, name }   → open an existing database and read its first row (workload 5)
//   { mode: "seed", engine, name }   → make the database a cold start opens: the schema and one row
// Message out: { ok: true, result } or { ok: false, error }.
import { openEngine } from "./engines.js";
import { COMMITS, BULK_ROWS, READ_ROWS, POINT_READS, WARMUP, bulkRows, readRows, pointIds, summarise, median, instrumentIo } from "./workloads.js";

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS c (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)",
  "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)",
  "CREATE TABLE IF NOT EXISTS t2 (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)",
  "CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT, d TEXT, e INTEGER, f REAL, g TEXT)",
];
const INSERT = (table) => `INSERT INTO ${table} (id, a, b, t) VALUES (?, ?, ?, ?)`;
const INSERT_R = "INSERT INTO r (id, a, b, c, d, e, f, g) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
const POINT = "SELECT * FROM r WHERE id = ?";
const ALL = "SELECT * FROM r";

const io = instrumentIo();

self.onmessage = async ({ data }) => {
  try {
    const modes = { cold, seed, suite };
    const result = await modes[data.mode](data);
    self.postMessage({ ok: true, result });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err?.stack ?? err) + (err?.code ? ` [${err.code}]` : "") });
  }
};

async function cold({ engine, name, pragmas }) {
  const db = await openEngine(engine, name, { schema: SCHEMA, pragmas });
  const row = db.pointReader(POINT)(1);
  if (!row || row.id !== 1) throw new Error(`cold start read ${JSON.stringify(row)}`);
  db.close();
  return { ok: true };
}

async function seed({ engine, name, pragmas }) {
  const db = await openEngine(engine, name, { schema: SCHEMA, pragmas });
  for (const sql of SCHEMA) db.exec(sql);
  db.insertOne(INSERT_R, readRows(1)[0]);
  db.close();
  return { ok: true };
}

async function suite({ engine, name, pragmas }) {
  const now = () => performance.now();
  const t0 = now();
  const db = await openEngine(engine, name, { schema: SCHEMA, pragmas });
  const openMs = now() - t0;
  for (const sql of SCHEMA) db.exec(sql);
  const result = { engine, openMs, crossOriginIsolated: self.crossOriginIsolated, pragmas: db.pragmas() };
  if (db.version) result.anchorVersion = db.version;

  // 1. Commit latency: one autocommit INSERT per call.
  for (let i = 0; i < WARMUP; i++) db.insertOne(INSERT("c"), [1_000_000 + i, i, i / 2, `warm ${i}`]);
  const commits = [];
  io.reset();
  for (let i = 0; i < COMMITS; i++) {
    const params = [i, i * 7, i / 3, `row number ${i}`];
    const s = now();
    db.insertOne(INSERT("c"), params);
    commits.push(now() - s);
  }
  result.commitMs = summarise(commits);
  result.commitIo = io.snapshot(COMMITS);

  // 2. Bulk insert: 100,000 rows in one transaction, one prepared statement.
  const rows = bulkRows(BULK_ROWS);
  let s = now();
  db.bulkInsertLoop(INSERT("t"), rows);
  result.bulkLoopMs = now() - s;
  result.bulkLoopRowsPerSec = BULK_ROWS / (result.bulkLoopMs / 1000);
  if (db.scalar("SELECT count(*) FROM t") !== BULK_ROWS) throw new Error("bulk insert lost rows");
  if (db.bulkInsertBatch) {
    const sql = INSERT("t2");
    const statements = rows.map((params) => ({ sql, params }));
    s = now();
    db.bulkInsertBatch(statements);
    result.bulkBatchMs = now() - s;
    result.bulkBatchRowsPerSec = BULK_ROWS / (result.bulkBatchMs / 1000);
    if (db.scalar("SELECT count(*) FROM t2") !== BULK_ROWS) throw new Error("batch insert lost rows");
  }

  // Data for the reads (not timed).
  db.bulkInsertLoop(INSERT_R, readRows(READ_ROWS));

  // 3. Point reads by primary key, one call each.
  const read = db.pointReader(POINT);
  const ids = pointIds(POINT_READS, READ_ROWS);
  for (let i = 0; i < WARMUP; i++) read(ids[i]);
  const reads = [];
  for (let i = 0; i < POINT_READS; i++) {
    const id = ids[i];
    const q = now();
    const row = read(id);
    reads.push(now() - q);
    if (row.id !== id) throw new Error(`point read ${id} gave ${JSON.stringify(row)}`);
  }
  result.pointReadUs = summarise(reads.map((ms) => ms * 1000));

  // 4. Materialise 10,000 rows x 8 columns as JS objects (one warm-up, median of three).
  db.selectAll(ALL);
  const scans = [];
  for (let i = 0; i < 3; i++) {
    const q = now();
    const all = db.selectAll(ALL);
    scans.push(now() - q);
    if (all.length !== READ_ROWS || Object.keys(all[0]).length !== 8) throw new Error("materialise: wrong shape");
  }
  result.materialiseMs = median(scans);
  if (db.pending) result.outboxEntries = db.pending();
  db.close();

  // 3b. Point reads in a session that only reads: the same database opened again, no write.
  const again = await openEngine(engine, name, { schema: SCHEMA, pragmas });
  const readAgain = again.pointReader(POINT);
  for (let i = 0; i < WARMUP; i++) readAgain(ids[i]);
  const reopenedReads = [];
  for (let i = 0; i < POINT_READS; i++) {
    const q = now();
    readAgain(ids[i]);
    reopenedReads.push(now() - q);
  }
  result.reopenedPointReadUs = summarise(reopenedReads.map((ms) => ms * 1000));
  again.close();
  return result;
}
