// The package as a new user meets it: packed with npm pack, installed into fresh apps, built by
// every bundler the README names (apps.mjs: Vite 8 and 7, dev and build, webpack, esbuild, Rollup,
// Parcel) and checked in headless Chromium: a row is written, read back, and still there after a
// reload (OPFS). Then Node (ESM and CommonJS), tsc (bundler, node16, nodenext) and wrangler from
// the same tarball. Builds run two at a time; one Chromium serves every page.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.mjs";
import { startWorker } from "../support/workerd.mjs";
import { startServer } from "../js/helpers/server.mjs";
import { BUILDS, DEV_SERVERS, buildApp, inParallel, installPackedPackage, makeApp, root, run } from "./apps.mjs";

describe("the packed package in fresh apps", { timeout: 300_000 }, () => {
  let browser;
  let manifest;
  /** Build name -> Promise of { dist, ms }: started in before(), awaited by each test. */
  const builds = {};
  const servers = [];

  before(async () => {
    manifest = await installPackedPackage();
    const names = Object.keys(BUILDS);
    const all = inParallel(
      names.map((name) => () => buildApp(name).then((built) => ({ built }), (error) => ({ error }))),
      2,
    );
    names.forEach((name, i) => {
      builds[name] = all.then((results) => {
        if (results[i].error) throw results[i].error;
        return results[i].built;
      });
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
  });

  /** Loads `origin` in a fresh context (empty OPFS), then reloads it: two visits recorded, the first still there. */
  async function visitTwice(origin) {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("pageerror", (err) => errors.push(err.message));
      const visit = async () => {
        await page.waitForFunction(() => window.outpostVisit !== undefined, null, { timeout: 30_000 });
        return page.evaluate(() => window.outpostVisit);
      };
      await page.goto(origin);
      const first = await visit();
      await page.reload();
      const second = await visit();
      assert.deepEqual([first, second], [
        { before: 0, after: 1, readBack: true },
        { before: 1, after: 2, readBack: true },
      ]);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  }

  for (const name of Object.keys(BUILDS)) {
    it(`${name}: writes, reads, and keeps the row across a reload`, async (t) => {
      const { dist, ms } = await builds[name];
      t.diagnostic(`${name} built in ${(ms / 1000).toFixed(1)} s`);
      const server = await startServer({ mounts: { "/": dist } });
      servers.push(server);
      await visitTwice(server.origin);
    });
  }

  for (const [name, { vite, config = {} }] of Object.entries(DEV_SERVERS)) {
    it(`${name}: writes, reads, and keeps the row across a reload`, async () => {
      await Promise.all(Object.values(builds)).catch(() => {}); // the dev server after the builds: two cores
      const { createServer } = await import(vite);
      const server = await createServer({
        root: makeApp(name),
        configFile: false,
        logLevel: "warn",
        server: { host: "127.0.0.1", port: 0, strictPort: false },
        ...config,
      });
      await server.listen();
      try {
        await visitTwice(server.resolvedUrls.local[0]);
      } finally {
        await server.close();
      }
    });
  }

  it("Node: imports (ESM) and requires (CommonJS) the package, on a Node the engines field admits", async () => {
    const [major, minor] = process.versions.node.split(".").map(Number);
    assert.match(manifest.engines.node, /\^20\.19\.0/);
    assert.ok(major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19), `Node ${process.version} is outside the engines range`);
    const dir = makeApp("node");
    const script = (load) =>
      `${load}\nopen({ name: "n", migrations: ["CREATE TABLE t (v TEXT)"] }).then(async (db) => {\n` +
      `  await db.execute("INSERT INTO t VALUES (?)", ["written"]);\n  console.log(JSON.stringify(await db.query("SELECT v FROM t")));\n  await db.close();\n});\n`;
    writeFileSync(join(dir, "esm.mjs"), script('import { open } from "outpost-sqlite";'));
    writeFileSync(join(dir, "cjs.cjs"), script('const { open } = require("outpost-sqlite");'));
    for (const file of ["esm.mjs", "cjs.cjs"]) {
      assert.equal((await run([process.execPath, file], dir)).trim(), '[{"v":"written"}]', file);
    }
  });

  for (const [resolution, module] of [["bundler", "esnext"], ["node16", "node16"], ["nodenext", "nodenext"]]) {
    it(`tsc, moduleResolution ${resolution}: the types, the ORM subpaths and interface rows compile`, async () => {
      const dir = makeApp(`tsc-${resolution}`);
      const compilerOptions = { strict: true, noEmit: true, target: "es2022", module, moduleResolution: resolution, lib: ["es2022", "dom"], types: [], skipLibCheck: true };
      writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["app.ts"] }));
      await run([process.execPath, join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], dir).catch((err) => assert.fail(err.message));
    });
  }

  it("wrangler: bundles a Worker with deploy --dry-run, and it writes and reads in workerd", async () => {
    const dir = makeApp("wrangler", {
      "wrangler.toml": 'name = "outpost-app"\nmain = "worker.js"\ncompatibility_date = "2025-01-01"\n',
    });
    await run([process.execPath, join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", "dist"], dir, {
      WRANGLER_SEND_METRICS: "false",
      XDG_CONFIG_HOME: join(root, ".config"),
      CI: "1",
    });
    const wasm = readdirSync(join(dir, "dist")).find((file) => file.endsWith(".wasm"));
    assert.ok(wasm, "wrangler put the wasm beside the bundle");
    const mf = await startWorker({ entry: { path: join(dir, "dist/worker.js") }, wasm: { path: join(dir, "dist", wasm), importedAs: wasm }, bindings: {} });
    try {
      const response = await mf.dispatchFetch("http://app.test/?v=written");
      assert.equal(response.status, 200, await response.clone().text());
      assert.deepEqual(await response.json(), [{ v: "written" }]);
    } finally {
      await mf.dispose();
    }
    assert.ok(readFileSync(join(dir, "dist/worker.js"), "utf8").includes(wasm));
  });
});
