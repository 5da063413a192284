// Write on A → visible on B, as an app sees it: two databases opened on this page with the
// package's open() (each in its own Worker, as two devices would be), both live as an app's
// replicas are: A pushes on write, B's long poll brings the row. Each sample times, from A's
// execute() on this page:
//   watch:  until B's watch (`db.watch`, run in B's Worker) delivers the new row here;
//   change: until B's `change` event, then B's query for the row, answers here.
// `pkg` is where the package is served ("/pkg" by default; run.mjs mounts a second build to
// compare two in the same run).
import { summarise } from "./workloads.js";

const SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, a INTEGER, b REAL, t TEXT)";
const INSERT = "INSERT INTO items (id, a, b, t) VALUES (?, ?, ?, ?)";
const row = (id) => [id, id * 31, id * 0.25, `synced row ${id} payload`];
/** Samples left out of the figures: the first requests warm the connection, the caches and the JIT. */
const WARMUP = 10;
const SAMPLE_TIMEOUT_MS = 5000;

export async function visible({ url, samples, name, pkg = "/pkg" }) {
  const { open } = await import(`${pkg}/browser.js`);
  const sync = { url, tables: ["items"], live: true, intervalMs: 60_000 };
  const a = await open({ name: `${name}-a`, storage: "opfs", migrations: [SCHEMA], sync });
  const b = await open({ name: `${name}-b`, storage: "opfs", migrations: [SCHEMA], sync });
  await a.sync();
  await b.sync();
  // Two passes, so that neither way of reading waits behind the other's work: first a watch
  // alone, then a `change` listener alone.
  const watchPass = await pass(a, samples, (rowSeen) => {
    let target = Infinity;
    const stop = b.watch("SELECT max(id) AS id FROM items", [], (rows) => {
      if (rows[0].id >= target) rowSeen(performance.now());
    });
    return { expect: (id) => (target = id), stop };
  });
  const changePass = await pass(a, samples, (rowSeen) => {
    let target = null;
    const stop = b.on("change", async () => {
      const id = target;
      if (id === null) return;
      const rows = await b.query("SELECT id FROM items WHERE id = ?", [id]);
      if (rows.length === 1 && target === id) rowSeen(performance.now());
    });
    return { expect: (id) => (target = id), stop };
  }, samples + WARMUP);
  await a.close();
  await b.close();
  return {
    samples,
    missed: watchPass.missed + changePass.missed,
    watchMs: watchPass.ms,
    changeMs: changePass.ms,
    watch: summarise(watchPass.ms),
    change: summarise(changePass.ms),
  };
}

/**
 * `samples` writes on A (ids from `firstId` + 1), each timed until `reader` says B has it.
 * `reader(rowSeen)` starts B's reading and returns { expect(id), stop() }.
 */
async function pass(a, samples, reader, firstId = 0) {
  let seen = null;
  const { expect, stop } = reader((t) => seen?.(t));
  // Let B's first long poll reach the primary.
  await new Promise((r) => setTimeout(r, 200));
  const ms = [];
  let missed = 0;
  for (let i = 0; i < samples + WARMUP; i++) {
    const id = firstId + i + 1;
    const arrived = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), SAMPLE_TIMEOUT_MS);
      seen = (t) => {
        clearTimeout(timer);
        seen = null;
        resolve(t);
      };
    });
    expect(id);
    const t0 = performance.now();
    await a.execute(INSERT, row(id));
    const t1 = await arrived;
    if (t1 === null) missed += 1;
    else if (i >= WARMUP) ms.push(t1 - t0);
    await new Promise((r) => setTimeout(r, 5 + (i % 7)));
  }
  stop();
  return { ms, missed };
}
