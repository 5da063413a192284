// A pull into an empty browser replica (regular profile, OPFS, a dedicated worker) through a proxy
// that holds each request DELAY_MS before passing it on: the round trips of a real network, which
// loopback hides. Builds of the package alternate, ROUNDS pulls each; prints rows/s and medians.
//
//   node bench/latency-pull.mjs URL DELAY_MS PKG_DIR [PKG_DIR...]
//
// URL is a database of the primary serving bench/schema.sql, filled before, for example with
// `outpost-bench push http://127.0.0.1:8899 p100 100000` (URL http://127.0.0.1:8899/v1/db/p100).
// ROUNDS=4 by default.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";

const [dbUrl, delayArg, ...pkgs] = process.argv.slice(2);
if (!dbUrl || !delayArg || pkgs.length === 0) {
  console.error("usage: node bench/latency-pull.mjs URL DELAY_MS PKG_DIR [PKG_DIR...]");
  process.exit(2);
}
const delayMs = Number(delayArg);
const rounds = Number(process.env.ROUNDS ?? 4);
const target = new URL(dbUrl);
const schema = readFileSync(new URL("./schema.sql", import.meta.url), "utf8");
const types = { ".js": "text/javascript", ".wasm": "application/wasm" };

const WORKER = `
onmessage = async ({ data: { pkg, name, schema, path } }) => {
  const glue = await import("/pkg" + pkg + "/outpost.js");
  await glue.default();
  const db = await glue.Database.open({ name, storage: "opfs", migrations: [schema], syncTables: ["items"] });
  const start = performance.now();
  let pulled = 0;
  for (;;) {
    const outcome = await db.pull(location.origin + path, null, 0);
    pulled += outcome.pulled;
    if (!outcome.more) break;
  }
  const ms = performance.now() - start;
  db.close();
  postMessage({ pulled, ms });
};`;

// The page, the worker and the packages from one origin; /v1/ goes to the primary, DELAY_MS late.
const server = createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path.startsWith("/v1/")) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    await new Promise((r) => setTimeout(r, delayMs));
    const headers = { "content-type": "application/json", accept: req.headers.accept ?? "application/json" };
    const body = req.method === "POST" ? Buffer.concat(chunks) : undefined;
    try {
      const answer = await fetch(`${target.origin}${path}`, { method: req.method, headers, body });
      res.writeHead(answer.status, { "content-type": "application/json" }).end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      res.writeHead(502).end(); // the primary is not there: the pull fails and says so
    }
    return;
  }
  const pkg = path.match(/^\/pkg(\d+)\/(.+)$/);
  const dir = pkg && pkgs[Number(pkg[1])] && resolve(pkgs[Number(pkg[1])]);
  const file = dir && normalize(join(dir, pkg[2]));
  if (file?.startsWith(`${dir}/`) && existsSync(file)) {
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
    return;
  }
  if (path === "/worker.js") return res.writeHead(200, { "content-type": "text/javascript" }).end(WORKER);
  res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>pull</title>");
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const origin = `http://127.0.0.1:${server.address().port}`;
const profile = mkdtempSync(join(tmpdir(), "outpost-latency-profile-"));
const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" });
try {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(`${origin}/`);
  const rates = pkgs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let p = 0; p < pkgs.length; p++) {
      const message = { pkg: p, name: `latency-${round}-${p}`, schema, path: target.pathname };
      const { pulled, ms } = await page.evaluate(
        (m) => new Promise((done, fail) => {
          const worker = new Worker("/worker.js", { type: "module" });
          worker.onmessage = ({ data }) => { worker.terminate(); done(data); };
          worker.onerror = (e) => { worker.terminate(); fail(new Error(e.message)); };
          worker.postMessage(m);
        }),
        message,
      );
      rates[p].push(Math.round((pulled / ms) * 1000));
    }
  }
  for (let p = 0; p < pkgs.length; p++) {
    const sorted = [...rates[p]].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    console.log(`${pkgs[p]}, ${delayMs} ms added per request: ${rates[p].join(" / ")} rows/s, median ${Math.round(median)}`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
