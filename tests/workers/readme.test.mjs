// The README's Cloudflare Workers example (the block marked <!-- readme-test: workerd -->), run as
// written: bundled with esbuild as wrangler would, in workerd, against a real primary, and then
// with the primary gone, when it serves its copy.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { linkPackage } from "../support/package.mjs";
import { until } from "../support/wait.mjs";
import { startWorker, WORKERD_BUNDLE } from "../support/workerd.mjs";
import { root, startPrimary, tmpDir } from "./helpers.mjs";

const dir = join(tmpDir, "readme");
const SCHEMA = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0);";

describe("the README's Workers example", { timeout: 120_000 }, () => {
  let primary;
  let mf;

  before(async () => {
    const readme = readFileSync(join(root, "pkg-template/README.md"), "utf8");
    const [, code] = /<!-- readme-test: workerd -->\s*\n```js\n([\s\S]*?)\n```/.exec(readme) ?? [];
    assert.ok(code, "the README has a block marked <!-- readme-test: workerd -->");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "worker.mjs"), code);
    linkPackage(tmpDir);
    await build({
      ...WORKERD_BUNDLE,
      entryPoints: [join(dir, "worker.mjs")],
      outfile: join(dir, "dist/index.js"),
    });
    copyFileSync(join(root, "pkg/outpost_bg.wasm"), join(dir, "dist/outpost_bg.wasm"));
    primary = await startPrimary({ schemaSql: SCHEMA, database: "app" });
    mf = await startWorker({
      entry: { path: join(dir, "dist/index.js") },
      wasm: { path: join(dir, "dist/outpost_bg.wasm"), importedAs: "outpost_bg.wasm" },
      bindings: { OUTPOST_URL: primary.url, OUTPOST_TOKEN: primary.token },
    });
  });

  after(async () => {
    await mf?.dispose();
    await primary?.stop();
  });

  it("writes locally, reads its write back, and the write reaches the primary", async () => {
    const empty = await mf.dispatchFetch("http://edge.test/");
    assert.equal(empty.status, 200, await empty.clone().text());
    assert.deepEqual(await empty.json(), []);
    const written = await mf.dispatchFetch("http://edge.test/", { method: "POST", body: JSON.stringify({ id: "a", title: "from the README" }) });
    assert.deepEqual(await written.json(), [{ id: "a", title: "from the README", done: 0 }]);
    await until(() => primary.query("SELECT title FROM todos WHERE id = 'a'").then((rows) => rows[0]?.title === "from the README"), {
      message: "the README Worker's push to reach the primary",
    });
  });

  it("serves its copy, marked stale, when the primary cannot be reached", async () => {
    await primary.stop();
    // maxStalenessMs is 1000: once the last pull is older, ensureFresh() asks the primary and fails.
    const response = await until(
      async () => {
        const res = await mf.dispatchFetch("http://edge.test/");
        return res.headers.get("x-outpost-stale") ? res : (await res.arrayBuffer(), null);
      },
      { message: "a response marked stale" },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-outpost-stale"), "OFFLINE");
    assert.deepEqual(await response.json(), [{ id: "a", title: "from the README", done: 0 }]);
  });
});
