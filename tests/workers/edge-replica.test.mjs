// The example Worker (www-demo/worker/) as an edge replica: bundled by wrangler's dry run, exactly
// as it would be deployed, run in workerd through miniflare, against a real outpost-primary on
// 127.0.0.1 that requires a token. A Node client of the same primary plays "everyone else".
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { until } from "../support/wait.mjs";
import { startWorker } from "../support/workerd.mjs";
import { bundleWithWrangler, openSeededClient, root, startPrimary, tmpDir } from "./helpers.mjs";

const LIST = "list-edge";

describe("the example Worker as an edge replica", { timeout: 180_000 }, () => {
  let bundle;
  let primary;
  let other; // the Node client
  const workers = [];

  /** A fresh isolate (a cold start) of the deployed bundle, with its vars and secret. */
  async function coldIsolate(maxStalenessMs) {
    const wasmName = Object.keys(bundle.files).find((name) => name.endsWith(".wasm"));
    const mf = await startWorker({
      entry: { path: join(bundle.outDir, "index.js") },
      wasm: { path: join(bundle.outDir, wasmName), importedAs: wasmName },
      bindings: { OUTPOST_URL: primary.url, OUTPOST_TOKEN: primary.token, MAX_STALENESS_MS: String(maxStalenessMs) },
    });
    workers.push(mf);
    return {
      async get(path) {
        const res = await mf.dispatchFetch(`http://edge.test${path}`);
        assert.equal(res.status, 200, await res.clone().text());
        return {
          body: await res.json(),
          pulled: Number(res.headers.get("x-outpost-pulled")),
          pulledAt: res.headers.get("x-outpost-pulled-at"),
          stale: res.headers.get("x-outpost-stale"),
        };
      },
      /** A request whose status the test checks itself. */
      async raw(path) {
        const res = await mf.dispatchFetch(`http://edge.test${path}`);
        return { status: res.status, body: await res.json() };
      },
      async send(method, path, body) {
        const res = await mf.dispatchFetch(`http://edge.test${path}`, { method, body: JSON.stringify(body) });
        return { status: res.status, body: await res.json() };
      },
    };
  }

  before(async () => {
    bundle = bundleWithWrangler(join(tmpDir, "wrangler-dist"));
    primary = await startPrimary();
    other = await openSeededClient(primary, LIST);
  });

  after(async () => {
    await Promise.allSettled(workers.map((mf) => mf.dispose()));
    await other?.close();
    await primary?.stop();
  });

  it("bundles with wrangler deploy --dry-run: the Worker module and the wasm beside it", (t) => {
    const wasmName = Object.keys(bundle.files).find((name) => name.endsWith(".wasm"));
    assert.ok(bundle.files["index.js"] > 0, `index.js in ${Object.keys(bundle.files)}`);
    assert.ok(wasmName, `a .wasm in ${Object.keys(bundle.files)}`);
    const wasm = readFileSync(join(bundle.outDir, wasmName));
    assert.deepEqual([...wasm.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], "the wasm module's magic number");
    assert.equal(wasm.length, readFileSync(join(root, "pkg/outpost_bg.wasm")).length, "the package's wasm, unchanged");
    const js = readFileSync(join(bundle.outDir, "index.js"), "utf8");
    assert.ok(js.includes(`"./${wasmName}"`), "the Worker imports the wasm as a module");
    assert.doesNotMatch(js, /node:fs/, "the package's Node entry point is not bundled");
    const upload = /Total Upload: ([^\n]+)/.exec(bundle.log)?.[1];
    const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
    const report =
      `wrangler bundle: index.js ${kib(js.length)} (gzip ${kib(gzipSync(js).length)}), ` +
      `${wasmName.replace(/^[0-9a-f]+-/, "")} ${kib(wasm.length)} (gzip ${kib(gzipSync(wasm).length)}); wrangler says "Total Upload: ${upload}"`;
    t.diagnostic(report);
  });

  it("a cold isolate fills its replica on the first request, then answers reads without the network", async (t) => {
    const edge = await coldIsolate(10_000);
    const coldStart = performance.now();
    const first = await edge.get("/tasks");
    const coldMs = performance.now() - coldStart;
    assert.ok(first.pulled >= 2, `the first request pulled the board (pulled ${first.pulled})`);
    assert.deepEqual(
      first.body.map(({ id, title }) => ({ id, title })),
      [{ id: "t-seed", title: "seeded by another client" }],
    );
    const warmStart = performance.now();
    const second = await edge.get("/tasks");
    const warmMs = performance.now() - warmStart;
    t.diagnostic(`first request of a cold isolate (open, migrate, pull over loopback): ${coldMs.toFixed(1)} ms; a warm read: ${warmMs.toFixed(1)} ms (both through miniflare's dispatchFetch)`);
    assert.equal(second.pulled, 0, "within maxStalenessMs, a read does not pull");
    assert.equal(second.pulledAt, first.pulledAt, "the replica is the one the first request filled");
    assert.deepEqual(second.body, first.body);
    const lists = await edge.get("/lists");
    assert.deepEqual(lists.body.map((l) => l.id), [LIST]);
  });

  it("a write through the Worker is read back at once, reaches the primary after the response, then another client", async () => {
    const edge = await coldIsolate(10_000);
    await edge.get("/tasks");
    const created = await edge.send("POST", "/tasks", { id: "t-edge", list_id: LIST, title: "written at the edge", position: 2 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.title, "written at the edge");
    // Read-your-writes in the isolate, whether or not the push in waitUntil has finished.
    assert.deepEqual((await edge.get("/tasks")).body.map((t) => t.id), ["t-seed", "t-edge"]);

    const onPrimary = await until(() => primary.query("SELECT id, title, done FROM tasks WHERE id = 't-edge'").then((rows) => rows[0]), {
      message: "the Worker's push (in ctx.waitUntil) to reach the primary",
    });
    assert.deepEqual(onPrimary, { id: "t-edge", title: "written at the edge", done: 0 });
    await until(async () => (await edge.get("/status")).body.pending === 0, { message: "the Worker's outbox to drain" });

    await other.sync();
    assert.deepEqual(await other.query("SELECT id, title FROM tasks WHERE id = 't-edge'"), [{ id: "t-edge", title: "written at the edge" }]);

    const toggled = await edge.send("PATCH", "/tasks/t-edge", { done: true });
    assert.equal(toggled.body.done, 1);
    await until(() => primary.query("SELECT done FROM tasks WHERE id = 't-edge'").then((rows) => rows[0]?.done === 1), {
      message: "the update to reach the primary",
    });
  });

  it("a change made on the primary reaches the Worker's replica within the staleness bound", async () => {
    const bound = 500;
    const edge = await coldIsolate(bound);
    await edge.get("/tasks");
    await other.execute("UPDATE tasks SET title = 'renamed elsewhere' WHERE id = 't-seed'");
    await other.execute(
      "INSERT INTO tasks (id, list_id, title, done, position, created_at) VALUES ('t-other', ?, 'from the other client', 0, 3, 0)",
      [LIST],
    );
    await other.sync();
    const committedAt = Date.now();
    // Any read that starts at least maxStalenessMs after the change was committed must see it.
    await new Promise((r) => setTimeout(r, bound + 20));
    const read = await edge.get("/tasks");
    assert.ok(read.pulled >= 2, `the read pulled first (pulled ${read.pulled})`);
    assert.ok(Number(read.pulledAt) >= committedAt, "the pull started after the change was committed");
    const byId = Object.fromEntries(read.body.map((t) => [t.id, t.title]));
    assert.equal(byId["t-seed"], "renamed elsewhere");
    assert.equal(byId["t-other"], "from the other client");
  });

  it("writes made while the primary is down wait in the outbox and go with a later request", async () => {
    const edge = await coldIsolate(60_000);
    await edge.get("/tasks");
    const { listen, dataDir } = primary;
    await primary.stop();

    const created = await edge.send("POST", "/tasks", { id: "t-offline", list_id: LIST, title: "written offline", position: 4 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.ok((await edge.get("/tasks")).body.some((t) => t.id === "t-offline"), "reads keep working from the replica");
    await until(async () => {
      const status = (await edge.get("/status")).body;
      return status.pending === 1 && status.lastError?.code === "OFFLINE";
    }, { message: "the failed push to leave the write in the outbox" });

    primary = await startPrimary({ listen, dataDir });
    await edge.get("/lists"); // any request pushes what is pending, in waitUntil
    await until(() => primary.query("SELECT title FROM tasks WHERE id = 't-offline'").then((rows) => rows[0]?.title === "written offline"), {
      message: "the queued write to reach the restarted primary",
    });
  });

  it("past the staleness bound with the primary down, a filled replica answers and says it is stale; an empty one refuses", async () => {
    const bound = 200;
    const filled = await coldIsolate(bound);
    const fresh = await filled.get("/tasks");
    assert.equal(fresh.stale, null);
    assert.ok(fresh.body.some((t) => t.id === "t-seed"));
    const empty = await coldIsolate(bound);
    const { listen, dataDir } = primary;
    await primary.stop();
    try {
      await new Promise((r) => setTimeout(r, bound + 50));
      const stale = await filled.get("/tasks");
      assert.equal(stale.stale, "OFFLINE", "the answer says the primary could not vouch for it");
      assert.equal(stale.pulled, 0);
      assert.deepEqual(stale.body, fresh.body, "the copy it had");

      const refused = await empty.raw("/tasks");
      assert.equal(refused.status, 503);
      assert.equal(refused.body.code, "OFFLINE");
    } finally {
      primary = await startPrimary({ listen, dataDir });
    }
    const back = await filled.get("/tasks");
    assert.equal(back.stale, null, "fresh again once the primary is back");
    assert.ok(back.pulledAt !== null);
  });
});
