// The on-demand sync API the Workers entry point relies on (push, ensureFresh, no background loop),
// checked in Node, where the same LocalDatabase runs: a counting proxy in front of the real primary
// shows which calls touch the network and which do not.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { sleep } from "../support/wait.mjs";
import { root, startPrimary } from "./helpers.mjs";

const MIGRATIONS = ["CREATE TABLE lists (id TEXT PRIMARY KEY, name TEXT NOT NULL, position REAL NOT NULL, created_at INTEGER NOT NULL)"];

describe("push() and ensureFresh() without a background loop", { timeout: 60_000 }, () => {
  let primary;
  let proxy;
  let proxyUrl;
  let open;
  const requests = [];

  before(async () => {
    ({ open } = await import(pathToFileURL(join(root, "pkg/node.js")).href));
    primary = await startPrimary();
    // Forwards to the primary and records each endpoint called (push, pull).
    proxy = createServer(async (req, res) => {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      requests.push(req.url.split("/").pop());
      const answer = await fetch(`${primary.origin}${req.url}`, {
        method: req.method,
        headers: { authorization: req.headers.authorization ?? "", "content-type": "application/json" },
        body: Buffer.concat(chunks),
      });
      res.writeHead(answer.status, { "content-type": "application/json" }).end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    proxyUrl = `http://127.0.0.1:${proxy.address().port}/v1/db/demo`;
  });

  after(async () => {
    await new Promise((r) => proxy?.close(r));
    await primary?.stop();
  });

  const openReplica = (name, sync = {}) =>
    open({
      name,
      migrations: MIGRATIONS,
      sync: { url: proxyUrl, token: primary.token, tables: ["lists"], live: false, intervalMs: 0, ...sync },
    });

  it("does nothing by itself: no pull on open, no push after a write", async () => {
    requests.length = 0;
    const db = await openReplica("quiet");
    await db.execute("INSERT INTO lists VALUES ('q1', 'Quiet', 1, 0)");
    await sleep(300);
    assert.deepEqual(requests, []);
    assert.equal(db.syncStatus().pending, 1);
    assert.deepEqual(await db.push(), { pushed: 1, rejected: [] });
    assert.deepEqual(requests, ["push"]);
    assert.equal(db.syncStatus().pending, 0);
    await db.close();
  });

  it("ensureFresh() pulls only when the replica is older than the bound, and concurrent callers share a pull", async () => {
    const db = await openReplica("fresh", { maxStalenessMs: 60_000 });
    requests.length = 0;
    const [a, b, c] = await Promise.all([db.ensureFresh(), db.ensureFresh(), db.ensureFresh()]);
    assert.deepEqual(requests, ["pull"], "three callers, one pull");
    assert.ok(a.pulled >= 1 && a.pulledAt > 0);
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.deepEqual(await db.query("SELECT id FROM lists"), [{ id: "q1" }]);

    const again = await db.ensureFresh();
    assert.deepEqual(again, { pulled: 0, pulledAt: a.pulledAt }, "fresh enough: answered without the network");
    assert.deepEqual(requests, ["pull"]);

    await sleep(5);
    const strict = await db.ensureFresh({ maxStalenessMs: 0 });
    assert.deepEqual(requests, ["pull", "pull"], "a tighter bound for one call pulls");
    assert.ok(strict.pulledAt > a.pulledAt);
    await db.close();
  });

  it("a failed push leaves the writes queued and rejects with OFFLINE; nothing retries by itself", async () => {
    const db = await open({
      name: "down",
      migrations: MIGRATIONS,
      sync: { url: "http://127.0.0.1:9/v1/db/demo", tables: ["lists"], live: false, intervalMs: 0 },
    });
    await db.execute("INSERT INTO lists VALUES ('d1', 'Down', 1, 0)");
    await assert.rejects(db.push(), { name: "OutpostError", code: "OFFLINE" });
    await assert.rejects(db.ensureFresh(), { name: "OutpostError", code: "OFFLINE" });
    const status = db.syncStatus();
    assert.equal(status.pending, 1);
    assert.equal(status.state, "offline");
    assert.equal(status.lastError.code, "OFFLINE");
    await db.close();
  });

  it("checks its options", async () => {
    await assert.rejects(openReplica("bad", { maxStalenessMs: -1 }), { code: "BAD_OPTIONS", message: /maxStalenessMs/ });
    await assert.rejects(openReplica("bad", { intervalMs: "often" }), { code: "BAD_OPTIONS", message: /intervalMs/ });
    const db = await openReplica("checked");
    await assert.rejects(db.ensureFresh({ maxStalenessMs: "soon" }), { code: "BAD_OPTIONS" });
    await assert.rejects(db.ensureFresh(5), { code: "BAD_OPTIONS" });
    await db.close();
    await assert.rejects(db.push(), { code: "DATABASE_CLOSED" });
    const local = await open({ name: "local", migrations: MIGRATIONS });
    await assert.rejects(local.push(), { code: "SYNC_NOT_CONFIGURED" });
    await assert.rejects(local.ensureFresh(), { code: "SYNC_NOT_CONFIGURED" });
    await local.close();
  });
});
