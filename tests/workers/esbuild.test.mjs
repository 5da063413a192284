// The example Worker bundled with esbuild instead of wrangler, with the export conditions wrangler
// uses (workerd, worker, browser) and the .wasm left as a separate CompiledWasm module: what a
// custom build pipeline does. The bundle runs in workerd and fills its replica from the primary.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { linkPackage } from "../support/package.mjs";
import { startWorker, WORKERD_BUNDLE } from "../support/workerd.mjs";
import { openNodeClient, root, startPrimary, tmpDir, workerDir } from "./helpers.mjs";

const outDir = join(tmpDir, "esbuild-dist");

describe("the example Worker bundled with esbuild", { timeout: 120_000 }, () => {
  let primary;
  let mf;

  before(async () => {
    linkPackage(workerDir);
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    await build({
      ...WORKERD_BUNDLE,
      entryPoints: [join(workerDir, "src/index.js")],
      outfile: join(outDir, "index.js"),
      minify: true,
    });
    copyFileSync(join(root, "pkg/outpost_bg.wasm"), join(outDir, "outpost_bg.wasm"));
    primary = await startPrimary();
  });

  after(async () => {
    await mf?.dispose();
    await primary?.stop();
  });

  it("bundles the workerd entry point and imports the wasm as a module", (t) => {
    const js = readFileSync(join(outDir, "index.js"), "utf8");
    const wasm = readFileSync(join(outDir, "outpost_bg.wasm"));
    assert.match(js, /from"\.\/outpost_bg\.wasm"/);
    assert.doesNotMatch(js, /node:fs/, "the Node entry point is not bundled");
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    t.diagnostic(
      `esbuild bundle (minified): index.js ${kib(js.length)} (gzip ${kib(gzipSync(js).length)}), ` +
        `outpost_bg.wasm ${kib(wasm.length)} (gzip ${kib(gzipSync(wasm).length)})`,
    );
  });

  it("runs in workerd and serves the primary's rows after its first pull", async () => {
    const other = await openNodeClient(primary);
    await other.execute("INSERT INTO lists (id, name, position, created_at) VALUES ('l1', 'Inbox', 1, 0)");
    await other.sync();
    await other.close();
    mf = await startWorker({
      entry: { path: join(outDir, "index.js") },
      wasm: { path: join(outDir, "outpost_bg.wasm"), importedAs: "outpost_bg.wasm" },
      bindings: { OUTPOST_URL: primary.url, OUTPOST_TOKEN: primary.token, MAX_STALENESS_MS: "5000" },
    });
    const res = await mf.dispatchFetch("http://edge.test/lists");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), [{ id: "l1", name: "Inbox", position: 1, created_at: 0 }]);
    assert.equal(res.headers.get("x-outpost-pulled"), "1");
  });
});
