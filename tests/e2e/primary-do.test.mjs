// Two browser devices (two contexts, separate OPFS) syncing through the primary as a Durable Object
// (`node primary-do/serve.mjs`, workerd through miniflare, tokens required), the page served from
// another origin (outpost-primary's --static), so every push and pull crosses origins and is
// preflighted. A write on one reaches the other by its live pull, a long poll the object answers;
// writes made while the object is down arrive once after it restarts on its persisted storage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.mjs";
import { until } from "../support/wait.mjs";
import { startDurablePrimary } from "../workers/helpers.mjs";
import { makeStaticRoot, openSyncDevice, settled, startPrimary, untilOffline } from "./helpers.mjs";

const SCHEMA = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";
const DB = "e2e-primary-do";

describe("sync between two browser devices through the Durable Object primary", { timeout: 120_000 }, () => {
  let staticRoot;
  let pages; // outpost-primary, serving the test page only
  let primary;
  let persist;
  let browser;
  const devices = {};

  before(async () => {
    staticRoot = makeStaticRoot();
    pages = await startPrimary({ schemaSql: SCHEMA, staticDir: staticRoot.dir });
    persist = mkdtempSync(join(tmpdir(), "outpost-e2e-do-"));
    writeFileSync(join(persist, "schema.sql"), SCHEMA + ";\n");
    primary = await startDurablePrimary({ persist, schemaFile: join(persist, "schema.sql"), database: DB });
    browser = await launchChromium();
    // A long interval: only the live pull can bring another device's write within a test's deadline.
    for (const name of ["a", "b"]) {
      const sync = { url: primary.url, token: primary.token, intervalMs: 600_000 };
      devices[name] = await openSyncDevice(browser, pages.origin, { name: `device-${name}`, schema: SCHEMA, sync });
    }
  });

  after(async () => {
    for (const { page } of Object.values(devices)) await page?.evaluate(() => window.db?.close()).catch(() => {});
    await browser?.close();
    await primary?.stop();
    await pages?.stop();
    if (pages) {
      rmSync(pages.dataDir, { recursive: true, force: true });
      rmSync(pages.schemaFile, { force: true });
    }
    if (persist) rmSync(persist, { recursive: true, force: true });
    staticRoot?.cleanup();
  });

  const rows = (device) => devices[device].page.evaluate(() => window.db.query("SELECT id, title, done FROM todos ORDER BY id"));
  const status = (device) => devices[device].page.evaluate(() => window.db.syncStatus());

  it("a write on one device reaches the other through the live pull the object answers", async (t) => {
    // Each device's first round is done: from here only b's live pull can bring it a's write.
    for (const device of ["a", "b"]) {
      await until(async () => (await status(device)).lastSyncedAt !== null, { message: `device ${device}'s first round` });
    }
    const started = Date.now();
    await devices.a.page.evaluate(() => window.db.execute("INSERT INTO todos (id, title) VALUES ('t1', 'written on a')"));
    await settled(() => rows("b"), [{ id: "t1", title: "written on a", done: 0 }], { message: "device b to receive t1" });
    t.diagnostic(`propagation a → b through the object's long poll: ${Date.now() - started} ms`);
    await settled(async () => (await status("a")).pending, 0, { message: "device a's push to be acknowledged" });
  });

  it("writes made while the object is down arrive once after it restarts on its storage", async () => {
    const { listen } = primary;
    await primary.stop();
    const { page } = devices.a;
    await page.evaluate(async () => {
      await window.db.execute("INSERT INTO todos (id, title) VALUES ('t2', 'offline 2'), ('t3', 'offline 3')");
      await window.db.execute("UPDATE todos SET done = 1 WHERE id IN ('t1', 't3')");
    });
    const offline = await untilOffline(() => status("a"), 4);
    assert.equal(offline.lastError?.code, "OFFLINE");
    assert.deepEqual((await rows("b")).map((r) => r.id), ["t1"]);

    primary = await startDurablePrimary({ persist, schemaFile: join(persist, "schema.sql"), database: DB, listen });
    // As an app does on reconnect (the browser's "online" event): a round now, not after the backoff.
    await page.evaluate(() => window.db.sync());
    await devices.b.page.evaluate(() => window.db.sync());
    const expected = [
      { id: "t1", title: "written on a", done: 1 },
      { id: "t2", title: "offline 2", done: 0 },
      { id: "t3", title: "offline 3", done: 1 },
    ];
    await settled(() => rows("b"), expected, { timeout: 30_000, message: "device b to receive every offline write" });
    await settled(async () => (await status("a")).pending, 0, { message: "device a's outbox to drain" });
    // Once: the object holds each row once and applied a's entries through its last one.
    assert.deepEqual(await primary.query("SELECT id, title, done FROM todos ORDER BY id"), expected);
    const [{ acked }] = await primary.query("SELECT max(acked_through) AS acked FROM _outpost_clients");
    assert.equal(acked, 5, "a made 5 writes in all (1 online, 4 offline), each applied once");
    assert.deepEqual(await rows("a"), expected);
    for (const { errors } of Object.values(devices)) assert.deepEqual(errors, []);
  });
});
