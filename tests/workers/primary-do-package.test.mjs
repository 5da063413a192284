// outpost-sqlite-primary-do as a user gets it: packed from primary-do/ (npm pack), unpacked into a
// fresh app's node_modules beside the wrangler.toml and Worker that docs/DURABLE_OBJECT.md shows
// (its blocks marked <!-- durable-object-test: FILE -->), typed by `wrangler types` and tsc,
// bundled by `wrangler deploy --dry-run`, and run in workerd with SQLite-backed objects. Two
// replicas (the package's Node build) push and pull through it, and the app's own route writes.
// The package README's one-line Worker, bundled by esbuild, serves replicas too.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { parse as parseToml } from "smol-toml";
import { until } from "../support/wait.mjs";
import { WORKERD_BUNDLE } from "../support/workerd.mjs";
import { SECRET, mintToken, root, tmpDir } from "./helpers.mjs";

const PACKAGE = "outpost-sqlite-primary-do";
const app = join(tmpDir, "primary-do-app");
const installed = join(app, "node_modules", PACKAGE);
const HOOK_SECRET = "hook-secret-for-the-test";
const DATABASE = "team-a";
const TODOS = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";
const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", XDG_CONFIG_HOME: join(root, ".config"), CI: "1" };

/** The files docs/DURABLE_OBJECT.md shows, by the path each is marked with. */
function documentedFiles() {
  const doc = readFileSync(join(root, "docs/DURABLE_OBJECT.md"), "utf8");
  const pattern = /<!-- durable-object-test: (\S+) -->\s*\n```\w*\n([\s\S]*?)\n```/g;
  return Object.fromEntries([...doc.matchAll(pattern)].map(([, path, code]) => [path, code + "\n"]));
}

function filesUnder(dir, prefix = "") {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

/** A bundle (`entry` and the one wasm beside it in `dir`) in workerd on 127.0.0.1, with SQLite-backed objects. */
function runBundle(dir, entry, bindings) {
  const wasm = readdirSync(dir).find((name) => name.endsWith(".wasm"));
  assert.ok(wasm, `the bundle has the wasm as a module of its own: ${readdirSync(dir)}`);
  return new Miniflare({
    host: "127.0.0.1",
    port: 0,
    compatibilityDate: "2025-01-01",
    modules: [
      { type: "ESModule", path: entry, contents: readFileSync(join(dir, entry), "utf8") },
      { type: "CompiledWasm", path: wasm, contents: readFileSync(join(dir, wasm)) },
    ],
    durableObjects: { OUTPOST_PRIMARY: { className: "OutpostPrimary", useSQLite: true } },
    bindings,
  });
}

describe("the Durable Object primary's package in an app's own Worker", { timeout: 180_000 }, () => {
  let mf;
  let origin;
  const clients = [];

  before(async () => {
    rmSync(app, { recursive: true, force: true });
    mkdirSync(installed, { recursive: true });
    // scripts/test-workers.sh built primary-do/pkg/; the prepack script would build it again.
    const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", app], {
      cwd: join(root, "primary-do"),
      encoding: "utf8",
    }).trim().split("\n").at(-1);
    execFileSync("tar", ["-xzf", join(app, tarball), "-C", installed, "--strip-components=1"]);
    const files = documentedFiles();
    assert.deepEqual(Object.keys(files).sort(), ["src/index.ts", "wrangler.toml"]);
    for (const [path, code] of Object.entries(files)) {
      mkdirSync(dirname(join(app, path)), { recursive: true });
      writeFileSync(join(app, path), code);
    }
    writeFileSync(join(app, ".dev.vars"), `OUTPOST_SECRET=${SECRET}\nHOOK_SECRET=${HOOK_SECRET}\n`);
  });

  after(async () => {
    await Promise.allSettled(clients.map((db) => db.close()));
    await mf?.dispose();
  });

  it("ships the Worker's modules, the wasm and the types, and nothing else of the repository", () => {
    assert.deepEqual(filesUnder(installed).sort(), [
      "README.md",
      "index.d.ts",
      "js/index.js",
      "js/storage.js",
      "package.json",
      "pkg/outpost_primary_do.js",
      "pkg/outpost_primary_do_bg.wasm",
    ]);
  });

  it("types the documented Worker: `wrangler types`, then tsc in strict mode", () => {
    execFileSync(join(root, "node_modules/.bin/wrangler"), ["types"], { cwd: app, env: wranglerEnv, stdio: "pipe" });
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "Bundler",
          lib: ["ES2022"],
          types: [],
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
        },
        files: ["worker-configuration.d.ts", "src/index.ts", `node_modules/${PACKAGE}/index.d.ts`],
      }),
    );
    execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", app], { encoding: "utf8", stdio: "pipe" });
  });

  it("bundled by wrangler and run in workerd, serves replicas: a write on one reaches the other by its live pull", async () => {
    const dist = join(app, "dist");
    execFileSync(join(root, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", dist], {
      cwd: app,
      env: wranglerEnv,
      stdio: "pipe",
    });
    const { vars } = parseToml(readFileSync(join(app, "wrangler.toml"), "utf8"));
    mf = runBundle(dist, "index.js", { ...vars, OUTPOST_SECRET: SECRET, HOOK_SECRET });
    origin = (await mf.ready).origin;

    const [a, b] = await Promise.all(["a", "b"].map((name) => openReplica(name)));
    await a.execute("INSERT INTO todos (id, title) VALUES ('t1', 'written on a')");
    await until(async () => (await b.query("SELECT id, title, done FROM todos")).length === 1, {
      message: "b's live pull to bring a's write",
    });
    assert.deepEqual(await b.query("SELECT id, title, done FROM todos"), [{ id: "t1", title: "written on a", done: 0 }]);
    await until(async () => a.syncStatus().pending === 0, { message: "a's push to be acknowledged" });
  });

  it("runs the app's own route beside it: a write() over RPC reaches every replica", async () => {
    const hook = (authorization) =>
      fetch(`${origin}/hooks/todo`, {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify({ team: DATABASE, id: "t2", title: "from the backend" }),
      });
    assert.equal((await hook("Bearer wrong")).status, 401);
    assert.equal((await hook(`Bearer ${HOOK_SECRET}`)).status, 204);
    assert.equal(clients.length, 2, "the replicas of the test before");
    for (const db of clients) {
      await until(async () => (await db.query("SELECT id FROM todos WHERE id = 't2'")).length === 1, {
        message: "the backend's write to reach a replica",
      });
    }
  });

  it("the package README's one-line Worker is the primary, bundled by esbuild", async () => {
    const readme = readFileSync(join(root, "pkg-template/README.md"), "utf8");
    const [, code] = /<!-- readme-test: primary-do -->\s*\n```js\n([\s\S]*?)\n```/.exec(readme) ?? [];
    assert.ok(code, "the README has a block marked <!-- readme-test: primary-do -->");
    writeFileSync(join(app, "src/only.js"), code + "\n");
    const out = join(app, "dist-esbuild");
    await build({ ...WORKERD_BUNDLE, external: ["cloudflare:*"], entryPoints: [join(app, "src/only.js")], outdir: out, loader: { ".wasm": "copy" } });
    const only = runBundle(out, "only.js", { OUTPOST_SCHEMA: TODOS, OUTPOST_SECRET: SECRET });
    try {
      const url = `${(await only.ready).origin}/v1/db/${DATABASE}`;
      const [c, d] = await Promise.all(["c", "d"].map((name) => openReplica(name, url, { live: false, intervalMs: 0 })));
      await c.execute("INSERT INTO todos (id, title) VALUES ('t3', 'through the one-line Worker')");
      await c.sync();
      await d.sync();
      assert.deepEqual(await d.query("SELECT id, title FROM todos"), [{ id: "t3", title: "through the one-line Worker" }]);
    } finally {
      await Promise.allSettled(clients.splice(2).map((db) => db.close()));
      await only.dispose();
    }
  });

  async function openReplica(name, url = `${origin}/v1/db/${DATABASE}`, options = {}) {
    const { open } = await import(pathToFileURL(join(root, "pkg/node.js")).href);
    const db = await open({
      name: `replica-${name}`,
      migrations: [TODOS],
      sync: { url, token: mintToken(DATABASE), tables: ["todos"], ...options },
    });
    clients.push(db);
    return db;
  }
});
