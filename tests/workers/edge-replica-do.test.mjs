// The example Worker (www-demo/worker/) as an edge replica of the primary as a Durable Object
// (primary-do/), not of outpost-primary: both in workerd through miniflare, the primary served by
// `node primary-do/serve.mjs` on 127.0.0.1 with tokens required. The Node client of the package
// plays "everyone else"; what the primary holds is read over its /query.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../support/wait.mjs";
import { startWorker } from "../support/workerd.mjs";
import { bundleWithWrangler, openSeededClient, startDurablePrimary, tmpDir } from "./helpers.mjs";

const LIST = "list-do";

describe("the example Worker as an edge replica of the Durable Object primary", { timeout: 180_000 }, () => {
  let bundle;
  let primary;
  let other;
  let persist;
  const workers = [];

  async function edgeIsolate() {
    const wasmName = Object.keys(bundle.files).find((name) => name.endsWith(".wasm"));
    const mf = await startWorker({
      entry: { path: join(bundle.outDir, "index.js") },
      wasm: { path: join(bundle.outDir, wasmName), importedAs: wasmName },
      bindings: { OUTPOST_URL: primary.url, OUTPOST_TOKEN: primary.token, MAX_STALENESS_MS: "200" },
    });
    workers.push(mf);
    const request = async (method, path, body) => {
      const res = await mf.dispatchFetch(`http://edge.test${path}`, { method, body: body && JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    return { get: (path) => request("GET", path), send: request };
  }

  before(async () => {
    bundle = bundleWithWrangler(join(tmpDir, "wrangler-dist-do"));
    persist = mkdtempSync(join(tmpdir(), "outpost-edge-do-"));
    primary = await startDurablePrimary({ persist });
    other = await openSeededClient(primary, LIST);
  });

  after(async () => {
    await Promise.allSettled(workers.map((mf) => mf.dispose()));
    await other?.close();
    await primary?.stop();
    rmSync(persist, { recursive: true, force: true });
  });

  it("fills a cold isolate's replica from the object", async () => {
    const edge = await edgeIsolate();
    const first = await edge.get("/tasks");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(
      first.body.map(({ id, title }) => ({ id, title })),
      [{ id: "t-seed", title: "seeded by another client" }],
    );
  });

  it("sends a write made at the edge to the object, and from it to another client", async () => {
    const edge = await edgeIsolate();
    await edge.get("/tasks");
    const created = await edge.send("POST", "/tasks", { id: "t-edge", list_id: LIST, title: "written at the edge", position: 2 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const onPrimary = await until(() => primary.query("SELECT id, title, done FROM tasks WHERE id = 't-edge'").then((rows) => rows[0]), {
      message: "the Worker's push to reach the Durable Object",
    });
    assert.deepEqual(onPrimary, { id: "t-edge", title: "written at the edge", done: 0 });
    await other.sync();
    assert.deepEqual(await other.query("SELECT id, title FROM tasks WHERE id = 't-edge'"), [{ id: "t-edge", title: "written at the edge" }]);

    // The schema's own trigger refuses a long title, on the object as on the server.
    const refused = await edge.send("POST", "/tasks", { id: "t-long", list_id: LIST, title: "x".repeat(81), position: 3 });
    assert.equal(refused.status, 201, JSON.stringify(refused.body));
    await until(async () => (await edge.get("/status")).body.pending === 0, { message: "the refused write to be settled" });
    assert.deepEqual(await primary.query("SELECT id FROM tasks WHERE id = 't-long'"), []);
  });
});
