// The package inside workerd (Cloudflare Workers' runtime), through miniflare: a Worker that
// imports "outpost-sqlite" is bundled with esbuild using the conditions wrangler uses
// (workerd, worker, browser), the .wasm staying a separate CompiledWasm module, as in a deploy.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { startWorker, WORKERD_BUNDLE } from "../support/workerd.mjs";
import { linkPackage, pkgDir } from "./helpers/package.mjs";

const outDir = fileURLToPath(new URL("./.tmp/workerd/", import.meta.url));

describe("outpost-sqlite in workerd", { timeout: 120_000 }, () => {
  let mf;

  before(async () => {
    linkPackage();
    await mkdir(outDir, { recursive: true });
    await build({
      ...WORKERD_BUNDLE,
      entryPoints: [fileURLToPath(new URL("./workerd/worker.mjs", import.meta.url))],
      outfile: `${outDir}worker.js`,
    });
    const bundled = readFileSync(`${outDir}worker.js`, "utf8");
    assert.match(bundled, /from "\.\/outpost_bg\.wasm"/, "the workerd entry point imports the wasm as a module");
    assert.doesNotMatch(bundled, /node:fs/, "the Node entry point is not bundled");
    mf = await startWorker({
      entry: { path: `${outDir}worker.js` },
      wasm: { path: `${pkgDir}/outpost_bg.wasm`, importedAs: "outpost_bg.wasm" },
    });
  });

  after(async () => {
    await mf?.dispose();
  });

  it("answers a query from the local database, migrations applied", async () => {
    const res = await mf.dispatchFetch("http://edge.test/todos");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), [{ id: "seed", title: "from a migration", done: 0 }]);
  });

  it("writes, then reads its write back in the same isolate", async () => {
    const write = await mf.dispatchFetch("http://edge.test/todos", {
      method: "POST",
      body: JSON.stringify({ id: "w1", title: "written at the edge" }),
    });
    assert.deepEqual(await write.json(), { rowsAffected: 1 });
    const res = await mf.dispatchFetch("http://edge.test/todos");
    assert.deepEqual(await res.json(), [
      { id: "seed", title: "from a migration", done: 0 },
      { id: "w1", title: "written at the edge", done: 0 },
    ]);
  });

  it("converts values as in the browser, and errors are OutpostErrors with codes", async () => {
    const values = await (await mf.dispatchFetch("http://edge.test/values")).json();
    assert.deepEqual(values, { i: 1, big: { bigint: "9007199254740993" }, r: 0.5, t: "x", b: { bytes: [0, 255] }, n: null });
    const duplicate = await mf.dispatchFetch("http://edge.test/todos", {
      method: "POST",
      body: JSON.stringify({ id: "seed", title: "again" }),
    });
    assert.equal(duplicate.status, 409);
    assert.equal((await duplicate.json()).code, "SQLITE_CONSTRAINT_PRIMARYKEY");
  });
});
