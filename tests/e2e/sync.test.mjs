// The package on a page's main thread syncing through the real outpost-primary. Two browser contexts are two devices (separate OPFS). A write on one reaches the
// other; while the primary is down, writes pile up in the outbox (state "offline"); when it is back
// on the same address the outbox drains and the other device gets everything, exactly once.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { launchChromium } from "../support/chromium.mjs";
import { until } from "../support/wait.mjs";
import { makeStaticRoot, openSyncDevice, settled, startPrimary, untilOffline } from "./helpers.mjs";

const SCHEMA = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";
const DB = "e2e-sync";

describe("sync between two browser devices through outpost-primary", { timeout: 180_000 }, () => {
  let staticRoot;
  let primary;
  let browser;
  const devices = {};

  before(async () => {
    staticRoot = makeStaticRoot();
    primary = await startPrimary({ schemaSql: SCHEMA, staticDir: staticRoot.dir });
    browser = await launchChromium();
    for (const name of ["a", "b"]) {
      const sync = { url: `${primary.origin}/v1/db/${DB}`, intervalMs: 1000 };
      devices[name] = await openSyncDevice(browser, primary.origin, { name: `device-${name}`, schema: SCHEMA, sync });
    }
  });

  after(async () => {
    for (const { page } of Object.values(devices)) await page?.evaluate(() => window.db?.close()).catch(() => {});
    await browser?.close();
    await primary?.stop();
    if (primary) {
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
    staticRoot?.cleanup();
  });

  const rows = (device) => devices[device].page.evaluate(() => window.db.query("SELECT id, title, done FROM todos ORDER BY id"));
  const status = (device) => devices[device].page.evaluate(() => window.db.syncStatus());
  const outboxCount = (device) =>
    devices[device].page.evaluate(async () => {
      const [{ n }] = await window.db.query("SELECT count(*) AS n FROM _outpost_outbox WHERE acked_version IS NULL");
      return n;
    });

  it("a write on one device reaches the other without a reload", async (t) => {
    const { page } = devices.a;
    await page.evaluate(() => window.db.execute("INSERT INTO todos (id, title) VALUES ('t1', 'written on a')"));
    const started = Date.now();
    await settled(() => rows("b"), [{ id: "t1", title: "written on a", done: 0 }], { message: "device b to receive t1" });
    const took = Date.now() - started;
    // b can have the row before a has the push's answer: a's count drops when that answer lands.
    await settled(async () => (await status("a")).pending, 0, { message: "device a's push to be acknowledged" });
    t.diagnostic(`propagation a → b through the live pull: ${took} ms`);
  });

  it("offline: writes pile up in the outbox; back online they drain and arrive exactly once", async (t) => {
    const listen = primary.listen;
    await primary.stop();
    const stoppedAt = Date.now();

    const { page } = devices.a;
    // Six outbox entries: four inserts, an update of one of them, an update of t1; then a delete.
    await page.evaluate(async () => {
      for (const i of [2, 3, 4, 5]) {
        await window.db.execute("INSERT INTO todos (id, title) VALUES (?, ?)", [`t${i}`, `offline ${i}`]);
      }
      await window.db.execute("UPDATE todos SET done = 1 WHERE id IN ('t3', 't1')");
      await window.db.execute("DELETE FROM todos WHERE id = 't5'");
    });
    const offline = await untilOffline(() => status("a"), 7);
    assert.equal(offline.lastError?.code, "OFFLINE");
    await settled(() => outboxCount("a"), 7, { message: "the outbox to hold every offline write" });
    // Local reads and writes went on while offline.
    assert.deepEqual(
      (await rows("a")).map((r) => [r.id, r.done]),
      [["t1", 1], ["t2", 0], ["t3", 1], ["t4", 0]],
    );
    // Device b saw none of it.
    assert.deepEqual((await rows("b")).map((r) => r.id), ["t1"]);

    // The primary comes back on the same address. The loop would retry by itself, but after a
    // failed stretch its backoff can reach 30 s (plus jitter), so the test does what an app does
    // on reconnect (as on the browser's "online" event): ask each device for a round now.
    primary = await startPrimary({ schemaFile: primary.schemaFile, dataDir: primary.dataDir, staticDir: staticRoot.dir, listen });
    const restarted = Date.now();
    await page.evaluate(() => window.db.sync());
    await devices.b.page.evaluate(() => window.db.sync());
    await until(async () => (await status("a")).pending === 0 && (await status("a")).state === "idle", {
      timeout: 60_000,
      message: "device a's outbox to drain",
    });
    const drained = Date.now() - restarted;
    const expected = [
      { id: "t1", title: "written on a", done: 1 },
      { id: "t2", title: "offline 2", done: 0 },
      { id: "t3", title: "offline 3", done: 1 },
      { id: "t4", title: "offline 4", done: 0 },
    ];
    await settled(() => rows("b"), expected, { timeout: 60_000, message: "device b to receive every offline write" });
    t.diagnostic(`outbox drained ${drained} ms after the primary came back (it was down ${restarted - stoppedAt} ms)`);

    // Exactly once: the primary holds each row once, with the right values, and applied each of
    // a's entries once (its acknowledged sequence is a's last seq); b echoed nothing back.
    assert.deepEqual(await primary.query(DB, "SELECT id, title, done FROM todos ORDER BY id"), expected);
    assert.deepEqual(await rows("a"), expected);
    assert.deepEqual(await rows("b"), expected);
    await settled(() => outboxCount("a"), 0, { message: "device a's outbox to be empty" });
    await settled(() => outboxCount("b"), 0, { message: "device b's outbox to be empty" });
    const lastSeqA = await page.evaluate(async () => (await window.db.query("SELECT seq FROM sqlite_sequence WHERE name = '_outpost_outbox'"))[0].seq);
    assert.equal(lastSeqA, 8, "a made 8 writes in all (1 online, 7 offline)");
    const clients = await primary.query(DB, "SELECT acked_through FROM _outpost_clients ORDER BY acked_through");
    assert.deepEqual(clients.map((c) => c.acked_through).at(-1), 8, "the primary applied a's 8 entries, through seq 8");
    const versions = await primary.query(DB, "SELECT count(*) AS n FROM _outpost_changes");
    assert.equal(versions[0].n, 5, "one change record per key the primary saw (t1..t5)");

    for (const { errors } of Object.values(devices)) assert.deepEqual(errors, []);
  });
});
