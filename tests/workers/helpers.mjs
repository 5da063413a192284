// Shared by the Workers tests (and tests/e2e/primary-do.test.mjs): the real outpost-primary
// (tests/support/primary.mjs) and the primary as a Durable Object (primary-do/serve.mjs), each
// with a token secret; the example Worker (www-demo/worker/) bundled as a user would bundle it; and
// the Node build of the package as a second client of the primary. Running in workerd: tests/support/workerd.mjs.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { linkPackage } from "../support/package.mjs";
import { primaryBinary, queryPrimary, startPrimary as startSupportPrimary } from "../support/primary.mjs";

export const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const workerDir = join(root, "www-demo/worker");
export const tmpDir = join(root, "tests/workers/.tmp");
export const DATABASE = "demo"; // the board's database, as in www-demo/worker/wrangler.toml
/** The token secret of the primaries these tests start. */
export const SECRET = "workers-test-secret-0123456789";

/** A bearer token for `db`, minted by the primary's own `token` command. */
export function mintToken(db = DATABASE) {
  return execFileSync(primaryBinary(), ["token", "--secret-env", "OUTPOST_SECRET", "--sub", "edge-test", "--db", db], {
    env: { ...process.env, OUTPOST_SECRET: SECRET },
    encoding: "utf8",
  }).trim();
}

/**
 * Starts outpost-primary with tokens required and the demo board's schema (or `schemaSql`); adds a
 * token for `database`, its sync `url`, and query(sql, params) on it. Pass `listen` and `dataDir`
 * of a stopped primary to restart it.
 */
export async function startPrimary({ listen, dataDir, schemaSql, database = DATABASE } = {}) {
  const primary = await startSupportPrimary({
    listen,
    dataDir,
    schemaSql,
    schemaFile: schemaSql ? undefined : join(root, "www-demo/schema.sql"),
    args: ["--secret-env", "OUTPOST_SECRET"],
    env: { OUTPOST_SECRET: SECRET },
  });
  const token = mintToken(database);
  return {
    ...primary,
    url: `${primary.origin}/v1/db/${database}`,
    token,
    /** Read-only SQL on the primary, over its /query endpoint: what is really there. */
    query: (sql, params = []) => queryPrimary(primary.origin, database, sql, { params, token }),
  };
}

/**
 * Bundles the example Worker exactly as `npm run build` in www-demo/worker does:
 * `wrangler deploy --dry-run --outdir`, offline, with wrangler's config kept inside the project.
 * Returns the output folder and its files with their sizes.
 */
export function bundleWithWrangler(outDir) {
  linkPackage(workerDir);
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

/** The Node client, having pushed list `list` with one task, "t-seed", to the primary. */
export async function openSeededClient(primary, list) {
  const other = await openNodeClient(primary);
  await other.execute("INSERT INTO lists (id, name, position, created_at) VALUES (?, 'Edge', 1, 0)", [list]);
  await other.execute(
    "INSERT INTO tasks (id, list_id, title, done, position, created_at) VALUES ('t-seed', ?, 'seeded by another client', 0, 1, 0)",
    [list],
  );
  await other.sync();
  return other;
}

/**
 * The primary as a Durable Object, served by `node primary-do/serve.mjs` with tokens required (the
 * demo board's schema, or `schemaFile`) and its objects' storage in `persist`; adds a token for
 * `database`, its sync `url`, and query(sql, params) over its /query. Pass the `listen` of a
 * stopped one, and the same `persist`, to restart it. Stopped by closing its stdin.
 */
export async function startDurablePrimary({ persist, schemaFile = join(root, "www-demo/schema.sql"), listen = "127.0.0.1:0", database = DATABASE }) {
  const args = ["primary-do/serve.mjs", "--schema", schemaFile, "--persist", persist, "--listen", listen];
  const child = spawn("node", args, { cwd: root, stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, OUTPOST_SECRET: SECRET } });
  const origin = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`primary-do/serve.mjs exited (${code}) before listening`)));
  });
  const token = mintToken(database);
  const exited = new Promise((r) => child.once("exit", r));
  return {
    origin,
    listen: new URL(origin).host,
    url: `${origin}/v1/db/${database}`,
    token,
    query: (sql, params = []) => queryPrimary(origin, database, sql, { params, token }),
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}
