// The real outpost-primary for the JS suites (tests/js, tests/e2e, tests/workers): which binary,
// started with `serve` on 127.0.0.1 (a secure context, so OPFS works in the browser tests), ready
// once it prints `listening on http://ADDR`, and stopped with SIGTERM, so that it answers its
// waiting pulls and exits. Each suite adds its own authentication (--no-auth or a token secret).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * The primary binary: $OUTPOST_PRIMARY (the test scripts set it, see scripts/lib/ensure-built.sh),
 * else the newest of target/{debug,release}/outpost-primary.
 */
export function primaryBinary() {
  if (process.env.OUTPOST_PRIMARY) return process.env.OUTPOST_PRIMARY;
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  const found = ["debug", "release"]
    .map((profile) => join(target, profile, "outpost-primary"))
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (found.length === 0) {
    throw new Error("outpost-primary is not built: run the suite's scripts/test-*.sh (or cargo build -p outpost-primary)");
  }
  return found[0];
}

/**
 * Starts `outpost-primary serve` with the schema in `schemaFile`, or `schemaSql` written beside the
 * data folder; `args` and `env` add to the command line and environment (authentication, --static).
 * `listen` defaults to 127.0.0.1:0; pass a stopped primary's `listen` and `dataDir` to restart it
 * on the same port with the same data.
 */
export async function startPrimary({ schemaSql, schemaFile, dataDir, listen = "127.0.0.1:0", args = [], env = {} }) {
  const data = dataDir ?? mkdtempSync(join(tmpdir(), "outpost-primary-data-"));
  let schema = schemaFile;
  if (!schema) {
    schema = `${data}.schema.sql`;
    writeFileSync(schema, schemaSql);
  }
  const child = spawn(primaryBinary(), ["serve", "--listen", listen, "--data", data, "--schema", schema, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
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
  return {
    origin,
    listen: new URL(origin).host,
    dataDir: data,
    schemaFile: schema,
    /** SIGTERM, then wait for the process to end (SIGKILL after 5 s). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `use(primary)` with a primary started from `options` (as startPrimary), then stops it and removes its files. */
export async function withPrimary(options, use) {
  const primary = await startPrimary(options);
  try {
    return await use(primary);
  } finally {
    await primary.stop();
    rmSync(primary.dataDir, { recursive: true, force: true });
    rmSync(primary.schemaFile, { force: true });
  }
}

/** Read-only SQL on the primary's database `db`, over its /query endpoint; rows as objects. */
export async function queryPrimary(origin, db, sql, { params = [], token } = {}) {
  const response = await fetch(`${origin}/v1/db/${db}/query`, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: JSON.stringify({ v: 1, sql, params }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])));
}
