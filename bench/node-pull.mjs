// A pull into an empty replica (and the push that seeds it), in Node, through the package's wasm:
// the core's push and apply without the browser's worker hops and OPFS, for profiling
// (`node --cpu-prof`) where the wasm spends them.
// Use a build with names (wasm-bindgen on target/.../wasm-release/outpost.wasm, no wasm-opt) to
// read the profile.
//
//   node bench/node-pull.mjs PKG_DIR URL ROWS [ROUNDS]
//
// The primary must serve bench/schema.sql. ROWS rows are pushed first by a seeding replica
// (SEEDED=1 skips that, for a database already filled), and that push is timed; then ROUNDS
// fresh in-memory replicas each pull everything, one page after another, and the time of each is
// printed.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { bulkRows } from "./browser/workloads.js";

const [pkgArg, url, rowsArg, roundsArg] = process.argv.slice(2);
if (!pkgArg || !url || !rowsArg) {
  console.error("usage: node bench/node-pull.mjs PKG_DIR URL ROWS [ROUNDS]");
  process.exit(2);
}
const pkg = resolve(pkgArg);
const rows = Number(rowsArg);
const rounds = Number(roundsArg ?? 3);
const glue = await import(`${pkg}/outpost.js`);
glue.initSync({ module: readFileSync(`${pkg}/outpost_bg.wasm`) });
const schema = readFileSync(new URL("./schema.sql", import.meta.url), "utf8");
const open = (name) =>
  glue.Database.open({ name, storage: "memory", migrations: [schema], syncTables: ["items"] });

if (process.env.SEEDED !== "1") {
  const writer = await open("writer");
  writer.executeMany("INSERT INTO items (id, a, b, t) VALUES (?, ?, ?, ?)", bulkRows(rows));
  const start = performance.now();
  while ((await writer.push(url, null)).pushed > 0);
  const ms = performance.now() - start;
  console.log(`pushed ${rows} rows in ${ms.toFixed(0)} ms: ${Math.round((rows / ms) * 1000)} rows/s`);
  writer.close();
}
for (let round = 0; round < rounds; round++) {
  const replica = await open(`replica-${round}`);
  const start = performance.now();
  let pulled = 0;
  for (;;) {
    const outcome = await replica.pull(url, null, 0);
    pulled += outcome.pulled;
    if (!outcome.more) break;
  }
  const ms = performance.now() - start;
  console.log(`pulled ${pulled} rows in ${ms.toFixed(0)} ms: ${Math.round((pulled / ms) * 1000)} rows/s`);
  replica.close();
}
