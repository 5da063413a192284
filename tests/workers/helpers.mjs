// Shared by the Workers tests: the real outpost-primary on 127.0.0.1 (with a token secret), the
// example Worker (www-demo/worker/) bundled as a user would bundle it, run in workerd through
// miniflare, and the Node build of the package as a second client of the primary.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Miniflare } from "miniflare";

export const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const workerDir = join(root, "www-demo/worker");
export const tmpDir = join(root, "tests/workers/.tmp");
export const DATABASE = "demo"; // the board's database, as in www-demo/worker/wrangler.toml
const SECRET = "workers-test-secret-0123456789";

/** The primary binary: $OUTPOST_PRIMARY, else target/debug/outpost-primary (scripts/test-workers.sh builds it). */
export function primaryBinary() {
  if (process.env.OUTPOST_PRIMARY) return process.env.OUTPOST_PRIMARY;
  const binary = join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug/outpost-primary");
  if (!existsSync(binary)) throw new Error("outpost-primary is not built: run bash scripts/test-workers.sh");
  return binary;
}

/** A bearer token for `db`, minted by the primary's own `token` command. */
export function mintToken(db = DATABASE) {
  return execFileSync(primaryBinary(), ["token", "--secret-env", "OUTPOST_SECRET", "--sub", "edge-test", "--db", db], {
    env: { ...process.env, OUTPOST_SECRET: SECRET },
    encoding: "utf8",
  }).trim();
}

/**
 * Starts outpost-primary with tokens required and the demo board's schema (or `schemaSql`); resolves
 * once it prints `listening on http://ADDR`. Pass `listen` and `dataDir` of a stopped primary to restart it.
 */
export async function startPrimary({ listen = "127.0.0.1:0", dataDir, schemaSql, database = DATABASE } = {}) {
  const data = dataDir ?? mkdtempSync(join(tmpdir(), "outpost-workers-data-"));
  let schema = join(root, "www-demo/schema.sql");
  if (schemaSql) {
    schema = `${data}.schema.sql`;
    writeFileSync(schema, schemaSql);
  }
  const args = ["serve", "--listen", listen, "--data", data, "--schema", schema, "--secret-env", "OUTPOST_SECRET"];
  const child = spawn(primaryBinary(), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, OUTPOST_SECRET: SECRET, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const origin = await new Promise((resolveOrigin, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`the primary did not start in 15 s:\n${stderr}`)), 15_000);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveOrigin(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the primary exited (${code}) before listening:\n${stderr}`));
    });
  });
  const exited = new Promise((r) => child.once("exit", r));
  const token = mintToken(database);
  return {
    origin,
    listen: new URL(origin).host,
    dataDir: data,
    url: `${origin}/v1/db/${database}`,
    token,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
    /** Read-only SQL on the primary, over its /query endpoint: what is really there. */
    async query(sql, params = []) {
      const response = await fetch(`${origin}/v1/db/${database}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({ v: 1, sql, params }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`query failed: ${JSON.stringify(body)}`);
      return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])));
    },
  };
}

/** Makes `import "outpost-sqlite"` in `dir` (default: the example Worker) resolve to the built package, as `npm install` would. */
export function linkWorkerPackage(dir = workerDir) {
  if (!existsSync(join(root, "pkg/package.json"))) {
    throw new Error("pkg/ is not built: run bash scripts/test-workers.sh (or node scripts/build-package.mjs)");
  }
  const link = join(dir, "node_modules/outpost-sqlite");
  let current = null;
  try {
    current = readlinkSync(link);
  } catch {
    // no link yet
  }
  const target = join(root, "pkg");
  if (current === target) return;
  if (current !== null) unlinkSync(link);
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(target, link, "dir");
}

/**
 * Bundles the example Worker exactly as `npm run build` in www-demo/worker does:
 * `wrangler deploy --dry-run --outdir`, offline, with wrangler's config kept inside the project.
 * Returns the output folder and its files with their sizes.
 */
export function bundleWithWrangler(outDir) {
  linkWorkerPackage();
  rmSync(outDir, { recursive: true, force: true });
  const log = execFileSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", outDir], {
    cwd: workerDir,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: join(root, ".config"), CI: "1" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const files = Object.fromEntries(
    readdirSync(outDir).map((name) => [name, readFileSync(join(outDir, name)).length]),
  );
  return { outDir, files, log };
}

/** Runs a bundle (entry module + the wasm it imports) in a fresh workerd isolate, with the Worker's vars and secrets. */
export async function startWorker({ entry, wasm, bindings }) {
  const mf = new Miniflare({
    compatibilityDate: "2025-01-01",
    modules: [
      { type: "ESModule", path: "index.js", contents: readFileSync(entry.path, "utf8") },
      { type: "CompiledWasm", path: wasm.importedAs, contents: readFileSync(wasm.path) },
    ],
    bindings,
  });
  await mf.ready;
  return mf;
}

/** A second replica of the board: the package's Node build, in memory, syncing only when asked. */
export async function openNodeClient(primary) {
  const { open } = await import(pathToFileURL(join(root, "pkg/node.js")).href);
  const { MIGRATIONS, SYNCED_TABLES } = await import(pathToFileURL(join(root, "www-demo/app/schema.js")).href);
  return open({
    name: "node-client",
    migrations: MIGRATIONS,
    sync: { url: primary.url, token: primary.token, tables: SYNCED_TABLES, live: false, intervalMs: 0 },
  });
}

/** Polls `check` until it returns a truthy value; returns it. */
export async function until(check, { timeout = 15_000, interval = 50, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${last?.stack ?? JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
