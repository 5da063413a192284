// Many tabs, one OPFS database, and live queries, in headless Chromium: pages of one origin share a
// database (one holds it, the others forward), a page that holds it can close mid-stream without
// losing an acknowledged write, and db.watch() re-runs a query after writes in any tab and after
// pulls from the real outpost-primary, once per burst, and never for unrelated tables; the pending
// and rejected writes read the same from every page; a transaction in one page keeps the others
// (and sync) waiting until it ends, and one whose page goes away is rolled back.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { queryPrimary, startPrimary } from "../support/primary.mjs";
import { until as waitUntil } from "../support/wait.mjs";
import { useAppPages } from "./helpers/pages.mjs";

const LOG = "CREATE TABLE log (id TEXT PRIMARY KEY, tab TEXT NOT NULL, n INTEGER NOT NULL)";
const OTHER = "CREATE TABLE other (id INTEGER PRIMARY KEY, v TEXT)";

describe("many tabs share one database; watch() re-runs live queries", { timeout: 240_000 }, () => {
  const { appPage } = useAppPages();

  /** Opens `options` in `page` as window.db (sync.token, when "count", counts its calls in window.tokenCalls). */
  function openIn(page, options) {
    return page.evaluate(async (options) => {
      window.tokenCalls = 0;
      if (options.sync?.token === "count") {
        options.sync.token = async () => {
          window.tokenCalls += 1;
          return "test-token";
        };
      }
      window.db = await window.outpost.open(options);
    }, options);
  }

  /** Polls `check` in the test every 25 ms until it returns a truthy value. */
  const until = (check, what, options = {}) => waitUntil(check, { interval: 25, message: what, ...options });

  it("three pages write and read the same database, with the same results and errors", async () => {
    const pages = [await appPage(), await appPage(), await appPage()];
    const options = { name: "three", migrations: [LOG] };
    for (const page of pages) await openIn(page, options); // in order: the first page holds it

    // All three write at once, each in its own loop.
    await Promise.all(
      pages.map((page, t) =>
        page.evaluate(async (tab) => {
          for (let n = 0; n < 25; n++) {
            await window.db.execute("INSERT INTO log (id, tab, n) VALUES (?, ?, ?)", [`${tab}-${n}`, tab, n]);
          }
        }, `t${t}`),
      ),
    );
    for (const page of pages) {
      const counts = await page.evaluate(() => window.db.query("SELECT tab, count(*) AS n FROM log GROUP BY tab ORDER BY tab"));
      assert.deepEqual(counts, [
        { tab: "t0", n: 25 },
        { tab: "t1", n: 25 },
        { tab: "t2", n: 25 },
      ]);
    }

    // A page that forwards gets the holder's errors as OutpostErrors with their codes, and values intact.
    const third = await pages[2].evaluate(async () => {
      const caught = async (promise) => {
        try {
          await promise;
          return "resolved";
        } catch (err) {
          return { instance: err instanceof window.outpost.OutpostError, code: err.code };
        }
      };
      const duplicate = await caught(window.db.execute("INSERT INTO log (id, tab, n) VALUES ('t0-0', 'x', 0)"));
      const syntax = await caught(window.db.query("SELEC 1"));
      const batch = await caught(
        window.db.batch([
          { sql: "INSERT INTO log (id, tab, n) VALUES ('new', 'x', 1)" },
          { sql: "INSERT INTO log (id, tab, n) VALUES ('t1-0', 'x', 1)" },
        ]),
      );
      const [{ n }] = await window.db.query("SELECT count(*) AS n FROM log WHERE id = 'new'");
      const noSync = await caught(window.db.sync());
      const [values] = await window.db.query("SELECT ? AS big, ? AS blob", [2n ** 62n + 1n, new Uint8Array([1, 2, 255])]);
      return { duplicate, syntax, batch, n, noSync, big: String(values.big), blob: Array.from(values.blob) };
    });
    assert.deepEqual(third, {
      duplicate: { instance: true, code: "SQLITE_CONSTRAINT_PRIMARYKEY" },
      syntax: { instance: true, code: "SQLITE_ERROR" },
      batch: { instance: true, code: "SQLITE_CONSTRAINT_PRIMARYKEY" },
      n: 0,
      noSync: { instance: true, code: "SYNC_NOT_CONFIGURED" },
      big: String(2n ** 62n + 1n),
      blob: [1, 2, 255],
    });

    for (const page of pages) await page.evaluate(() => window.db.close());
    assert.deepEqual(pages.flatMap((p) => p.errors), []);
    for (const page of pages) await page.close();
  });

  it("closing the holding page mid-stream loses no acknowledged write; another page takes over", async () => {
    const [holder, b, c] = [await appPage(), await appPage(), await appPage()];
    const options = { name: "takeover", migrations: [LOG] };
    for (const page of [holder, b, c]) await openIn(page, options);

    // B and C write in loops, recording what was acknowledged and when.
    const startWriter = (page, tab) =>
      page.evaluate((tab) => {
        window.writer = { acked: [], ackedAt: [], ambiguous: [], failures: [], stop: false };
        window.writing = (async () => {
          for (let n = 0; !window.writer.stop; n++) {
            const id = `${tab}-${n}`;
            try {
              await window.db.execute("INSERT INTO log (id, tab, n) VALUES (?, ?, ?)", [id, tab, n]);
              window.writer.acked.push(id);
              window.writer.ackedAt.push(Date.now());
            } catch (err) {
              if (err.code === "HOLDER_CHANGED") window.writer.ambiguous.push(id);
              else window.writer.failures.push(`${err.code}: ${err.message}`);
            }
          }
        })();
      }, tab);
    await startWriter(b, "b");
    await startWriter(c, "c");
    const acked = (page) => page.evaluate(() => window.writer.acked.length);
    await until(async () => (await acked(b)) >= 40 && (await acked(c)) >= 40, "writes before the close");

    const closedAt = Date.now();
    await holder.close(); // the tab goes away: its worker, lock and OPFS handles with it
    const before = { b: await acked(b), c: await acked(c) };
    await until(async () => (await acked(b)) >= before.b + 40 && (await acked(c)) >= before.c + 40, "writes after the takeover");

    const results = [];
    for (const page of [b, c]) {
      results.push(
        await page.evaluate(async () => {
          window.writer.stop = true;
          await window.writing;
          return window.writer;
        }),
      );
    }
    const firstAfter = results.map((w) => w.ackedAt.find((t) => t > closedAt));
    const takeoverMs = Math.max(...firstAfter) - closedAt;
    const ambiguous = results.flatMap((w) => w.ambiguous);
    console.log(
      `# takeover: first acknowledged write ${firstAfter.map((t) => t - closedAt).join(" ms / ")} ms after the holder closed ` +
        `(B / C); ${results[0].acked.length + results[1].acked.length} writes acknowledged, ${ambiguous.length} ended with HOLDER_CHANGED`,
    );
    assert.deepEqual(results.flatMap((w) => w.failures), [], "no call failed other than with HOLDER_CHANGED");
    assert.ok(takeoverMs < 4000, `another page took over within ${takeoverMs} ms`);

    // Every acknowledged write is there, seen the same way from both remaining pages.
    const allAcked = results.flatMap((w) => w.acked).sort();
    for (const page of [b, c]) {
      const ids = await page.evaluate(async () => (await window.db.query("SELECT id FROM log ORDER BY id")).map((r) => r.id));
      const present = new Set(ids);
      assert.deepEqual(allAcked.filter((id) => !present.has(id)), [], "acknowledged writes missing");
      assert.ok(ids.length <= allAcked.length + ambiguous.length, "nothing but acknowledged and in-flight writes");
    }

    // A page opened now gets the same database from the new holder.
    const d = await appPage();
    await openIn(d, options);
    const n = await d.evaluate(async () => (await window.db.query("SELECT count(*) AS n FROM log"))[0].n);
    assert.ok(n >= allAcked.length);

    for (const page of [b, c, d]) await page.evaluate(() => window.db.close());
    assert.deepEqual([b, c, d].flatMap((p) => p.errors), []);
    for (const page of [b, c, d]) await page.close();
  });

  it("watch() in one page re-runs after writes in another, once per burst, not for unrelated tables", async () => {
    const [a, b, c] = [await appPage(), await appPage(), await appPage()];
    const options = { name: "watched", migrations: [LOG, OTHER] };
    for (const page of [a, b, c]) await openIn(page, options); // a holds it

    const watchIn = (page) =>
      page.evaluate(() => {
        window.seen = [];
        window.otherSeen = [];
        window.stopLog = window.db.watch("SELECT count(*) AS n FROM log", [], (rows) => window.seen.push(rows[0].n));
        window.db.watch("SELECT count(*) AS n FROM other", (rows) => window.otherSeen.push(rows[0].n));
      });
    await watchIn(b); // a page that forwards
    await watchIn(a); // the holder
    const seen = (page) => page.evaluate(() => window.seen);
    const settle = () => new Promise((r) => setTimeout(r, 300));
    await until(async () => (await seen(b)).length === 1 && (await seen(a)).length === 1, "the first results");

    // One write in the holder page.
    await a.evaluate(() => window.db.execute("INSERT INTO log (id, tab, n) VALUES ('a-0', 'a', 0)"));
    await until(async () => (await seen(b)).length === 2, "B's re-run after A's write");

    // A burst from the holder page, then one from a forwarding page: one re-run each.
    await a.evaluate(() =>
      Promise.all(Array.from({ length: 10 }, (_, n) => window.db.execute("INSERT INTO log (id, tab, n) VALUES (?, 'a', ?)", [`a-burst-${n}`, n]))),
    );
    await until(async () => (await seen(b)).at(-1) === 11, "B's re-run after A's burst");
    await settle();
    await c.evaluate(() =>
      Promise.all(Array.from({ length: 10 }, (_, n) => window.db.execute("INSERT INTO log (id, tab, n) VALUES (?, 'c', ?)", [`c-burst-${n}`, n]))),
    );
    await until(async () => (await seen(b)).at(-1) === 21, "B's re-run after C's burst");
    await c.evaluate(() => window.db.batch([1, 2, 3].map((n) => ({ sql: "INSERT INTO log (id, tab, n) VALUES (?, 'c', ?)", params: [`c-batch-${n}`, n] }))));
    await until(async () => (await seen(b)).at(-1) === 24, "B's re-run after C's batch");
    // B's own write re-runs the holder's watch too.
    await b.evaluate(() => window.db.execute("INSERT INTO log (id, tab, n) VALUES ('b-0', 'b', 0)"));
    await until(async () => (await seen(a)).at(-1) === 25 && (await seen(b)).at(-1) === 25, "both re-runs after B's write");
    await settle();
    assert.deepEqual(await seen(b), [0, 1, 11, 21, 24, 25], "one re-run per write, burst or batch");
    assert.deepEqual(await seen(a), [0, 1, 11, 21, 24, 25]);

    // Writes elsewhere never re-ran the watch on `other`; a write there does.
    assert.deepEqual(await b.evaluate(() => window.otherSeen), [0]);
    assert.deepEqual(await a.evaluate(() => window.otherSeen), [0]);
    await c.evaluate(() => window.db.execute("INSERT INTO other (v) VALUES ('x')"));
    await until(async () => (await b.evaluate(() => window.otherSeen)).length === 2, "the watch on other");
    await settle();
    assert.deepEqual(await seen(b), [0, 1, 11, 21, 24, 25], "a write to other does not re-run the watch on log");

    // stop() ends a watch.
    await b.evaluate(() => window.stopLog());
    await a.evaluate(() => window.db.execute("INSERT INTO log (id, tab, n) VALUES ('a-1', 'a', 1)"));
    await until(async () => (await seen(a)).at(-1) === 26, "A's re-run");
    await settle();
    assert.deepEqual(await seen(b), [0, 1, 11, 21, 24, 25]);

    // A query that cannot compile reports through onError, as an OutpostError with its code.
    const failed = await b.evaluate(
      () =>
        new Promise((resolve) => {
          window.db.watch("SELECT * FROM missing", [], () => resolve("rows"), {
            onError: (err) => resolve({ instance: err instanceof window.outpost.OutpostError, code: err.code }),
          });
        }),
    );
    assert.deepEqual(failed, { instance: true, code: "SQLITE_ERROR" });

    for (const page of [a, b, c]) await page.evaluate(() => window.db.close());
    assert.deepEqual([a, b, c].flatMap((p) => p.errors), []);
    for (const page of [a, b, c]) await page.close();
  });

  it("sync runs in the holding page only; a pull re-runs watches and its events reach every page", async () => {
    const primary = await startPrimary({ schemaSql: "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);\n", args: ["--no-auth"] });
    try {
      const [a, b] = [await appPage(), await appPage()];
      const options = {
        name: "pulled",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)", OTHER],
        sync: { url: `${primary.origin}/v1/db/pulled`, tables: ["notes"], token: "count", intervalMs: 60_000 },
      };
      await openIn(a, options); // a holds it, and syncs
      await openIn(b, options);
      await b.evaluate(() => {
        window.seen = [];
        window.otherSeen = [];
        window.changes = [];
        window.db.on("change", ({ tables }) => window.changes.push(tables));
        window.db.watch("SELECT id FROM notes ORDER BY id", [], (rows) => window.seen.push(rows.map((r) => r.id).join(",")));
        window.db.watch("SELECT count(*) AS n FROM other", [], (rows) => window.otherSeen.push(rows[0].n));
      });
      const seen = () => b.evaluate(() => window.seen);
      await until(async () => (await seen()).length === 1, "the first result");
      // Let the holder's live pull reach the primary.
      await new Promise((r) => setTimeout(r, 500));

      // Another device pushes one change, then a burst of five in one push.
      await pushToPrimary(primary.origin, "pulled", 1, ["n1"]);
      await until(async () => (await seen()).at(-1) === "n1", "B's re-run after the pull");
      await pushToPrimary(primary.origin, "pulled", 2, ["n2", "n3", "n4", "n5", "n6"]);
      await until(async () => (await seen()).at(-1) === "n1,n2,n3,n4,n5,n6", "B's re-run after the second pull");
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await seen(), ["", "n1", "n1,n2,n3,n4,n5,n6"], "one re-run per pull");
      assert.deepEqual(await b.evaluate(() => window.otherSeen), [0], "the watch on an unsynced table never re-ran");
      assert.deepEqual(await b.evaluate(() => window.changes), [["notes"], ["notes"]], "change events reach the page that forwards");

      // B's write is pushed by the holder; B's sync() runs there; only A's token function is ever called.
      const result = await b.evaluate(async () => {
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('from-b', 'hello')");
        const { pushed, pulled, rejected } = await window.db.sync();
        return { pushed, pulled, rejected: rejected.length, status: window.db.syncStatus() };
      });
      assert.equal(result.rejected, 0);
      assert.equal(result.status.pending, 0);
      const onPrimary = await queryPrimary(primary.origin, "pulled", "SELECT body FROM notes WHERE id = 'from-b'");
      assert.deepEqual(onPrimary, [{ body: "hello" }]);
      assert.ok((await a.evaluate(() => window.tokenCalls)) > 0, "the holder page's token function was called");
      assert.equal(await b.evaluate(() => window.tokenCalls), 0, "the forwarding page never synced itself");

      for (const page of [a, b]) await page.evaluate(() => window.db.close());
      assert.deepEqual([a, b].flatMap((p) => p.errors), []);
      for (const page of [a, b]) await page.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("a transaction in one page keeps the other pages waiting; one that throws, or whose page closes, leaves nothing", async () => {
    const [a, b, c] = [await appPage(), await appPage(), await appPage()];
    const options = { name: "transactions", migrations: [LOG] };
    for (const page of [a, b, c]) await openIn(page, options); // a holds it

    /** Starts, in `page`, a transaction that writes `id` and then waits for window.finish(outcome). */
    const startTransaction = (page, id) =>
      page.evaluate((id) => {
        window.transactionState = "running";
        window.transactionDone = window.db
          .transaction(async (tx) => {
            await tx.execute("INSERT INTO log (id, tab, n) VALUES (?, 'tx', 1)", [id]);
            window.transactionState = "open";
            const outcome = await new Promise((resolve) => {
              window.finish = resolve;
            });
            const [{ n }] = await tx.query("SELECT count(*) AS n FROM log");
            await tx.execute("INSERT INTO log (id, tab, n) VALUES (?, 'tx', ?)", [`${id}-last`, n]);
            if (outcome === "throw") throw new Error("the app gave up");
            return n;
          })
          .then(
            (n) => (window.transactionState = `committed ${n}`),
            (err) => (window.transactionState = `failed ${err.message}`),
          );
      }, id);
    const state = (page) => page.evaluate(() => window.transactionState);
    /** Starts a write in `page` (as window.waiting) that records how many rows it saw. */
    const startWrite = (page, id) =>
      page.evaluate((id) => {
        window.written = null;
        window.waiting = window.db
          .execute("INSERT INTO log (id, tab, n) SELECT ?, 'other', count(*) FROM log", [id])
          .then(() => (window.written = "done"), (err) => (window.written = err.code));
      }, id);
    const written = (page) => page.evaluate(() => window.written);
    const ids = async (page) => (await page.evaluate(() => window.db.query("SELECT id, n FROM log ORDER BY id"))).map((r) => `${r.id}:${r.n}`);

    // B (which forwards) holds a transaction open; A's (the holder's) and C's writes wait, then land after it.
    await startTransaction(b, "b1");
    await until(async () => (await state(b)) === "open", "B's transaction to be open");
    await startWrite(a, "a-during");
    await startWrite(c, "c-during");
    const readDuring = c.evaluate(() => window.db.query("SELECT count(*) AS n FROM log"));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await written(a), null, "A's write waits for B's transaction");
    assert.equal(await written(c), null, "C's write waits too");
    await b.evaluate(() => window.finish("commit"));
    await until(async () => (await state(b)) === "committed 1", "B's commit");
    await until(async () => (await written(a)) === "done" && (await written(c)) === "done", "the writes that waited");
    assert.equal((await readDuring)[0].n >= 2, true, "C's read ran after the commit");
    const afterCommit = await ids(a);
    assert.ok(afterCommit.includes("b1:1") && afterCommit.includes("b1-last:1"), afterCommit.join());
    // Each write that waited saw B's two rows: it ran after the commit.
    assert.ok(["a-during:2", "a-during:3"].some((row) => afterCommit.includes(row)), afterCommit.join());
    assert.ok(["c-during:2", "c-during:3"].some((row) => afterCommit.includes(row)), afterCommit.join());

    // A transaction that throws leaves nothing, and the write that waited for it lands.
    await startTransaction(c, "c1");
    await until(async () => (await state(c)) === "open", "C's transaction to be open");
    await startWrite(b, "b-during");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await written(b), null);
    await c.evaluate(() => window.finish("throw"));
    await until(async () => (await state(c)) === "failed the app gave up", "C's transaction to fail with its own error");
    await until(async () => (await written(b)) === "done", "B's write");
    const afterThrow = await ids(a);
    assert.ok(!afterThrow.some((row) => row.startsWith("c1")), `nothing of C's transaction: ${afterThrow}`);
    assert.ok(afterThrow.includes(`b-during:${afterCommit.length}`), afterThrow.join());

    // The holder's own transaction keeps the other pages out the same way.
    await startTransaction(a, "a1");
    await until(async () => (await state(a)) === "open", "A's transaction to be open");
    await startWrite(b, "b-during-a");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await written(b), null);
    await a.evaluate(() => window.finish("commit"));
    await until(async () => (await written(b)) === "done", "B's write after A's transaction");

    // A page that closes mid-transaction: the holder rolls its transaction back, and the others go on.
    await startTransaction(c, "c2");
    await until(async () => (await state(c)) === "open", "C's second transaction to be open");
    await startWrite(b, "b-after-close");
    await c.close();
    await until(async () => (await written(b)) === "done", "B's write once C's page is gone", { timeout: 15_000 });
    const afterClose = await ids(b);
    assert.ok(!afterClose.some((row) => row.startsWith("c2")), `C's transaction was rolled back: ${afterClose}`);
    assert.ok(afterClose.some((row) => row.startsWith("b-after-close:")));

    for (const page of [a, b]) await page.evaluate(() => window.db.close());
    assert.deepEqual([a, b, c].flatMap((p) => p.errors), []);
    for (const page of [a, b]) await page.close();
  });

  it("a sync during a transaction in another page waits for it and pushes only what committed", async () => {
    const primary = await startPrimary({ schemaSql: "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);\n", args: ["--no-auth"] });
    try {
      const [a, b] = [await appPage(), await appPage()];
      const options = {
        name: "transaction-sync",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"],
        sync: { url: `${primary.origin}/v1/db/transaction-sync`, tables: ["notes"], intervalMs: 60_000 },
      };
      await openIn(a, options); // a holds it, and syncs (live)
      await openIn(b, options);
      await a.evaluate(() => {
        window.states = [];
        window.db.on("status", ({ state }) => window.states.push(state));
      });
      const onPrimary = () => queryPrimary(primary.origin, "transaction-sync", "SELECT id FROM notes ORDER BY id");

      await b.evaluate(async () => {
        window.syncDone = null;
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('committed', 'yes')");
        window.transactionDone = window.db
          .transaction(async (tx) => {
            await tx.execute("INSERT INTO notes (id, body) VALUES ('undone', 'no')");
            // A sync asked for from the holding page while B's transaction is open waits for it.
            window.released = new Promise((resolve) => {
              window.finish = resolve;
            });
            await window.released;
            throw new Error("undo");
          })
          .catch((err) => err.message);
      });
      await a.evaluate(() => {
        window.syncState = "waiting";
        window.syncDone = window.db.sync().then(
          () => (window.syncState = "done"),
          (err) => (window.syncState = `failed ${err.code}`),
        );
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await a.evaluate(() => window.syncState), "waiting", "the sync waits for the transaction");
      assert.ok(!(await onPrimary()).some((row) => row.id === "undone"), "the open transaction's write stays local");
      await b.evaluate(() => window.finish());
      assert.equal(await b.evaluate(() => window.transactionDone), "undo");
      await a.evaluate(() => window.syncDone);
      assert.equal(await a.evaluate(() => window.syncState), "done");
      assert.deepEqual(await onPrimary(), [{ id: "committed" }], "only what committed reached the primary");

      // A committed transaction reaches the primary, with a seq the primary has not seen.
      await b.evaluate(() => window.db.transaction((tx) => tx.execute("INSERT INTO notes (id, body) VALUES ('later', 'yes')")));
      await a.evaluate(() => window.db.sync());
      assert.deepEqual(await onPrimary(), [{ id: "committed" }, { id: "later" }]);
      const states = await a.evaluate(() => window.states);
      assert.ok(!states.includes("error") && !states.includes("offline"), `waiting was no failure: ${states}`);

      for (const page of [a, b]) await page.evaluate(() => window.db.close());
      assert.deepEqual([a, b].flatMap((p) => p.errors), []);
      for (const page of [a, b]) await page.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("every page lists the pending writes until a sync drains them, and the rejected ones until one discards them", async () => {
    // The primary refuses long notes; the pages' schema does not.
    const primary = await startPrimary({
      schemaSql: "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL CHECK (length(body) <= 10));\n",
      args: ["--no-auth"],
    });
    try {
      const [a, b] = [await appPage(), await appPage()];
      const options = {
        name: "outbox-views",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"],
        // Nothing syncs by itself: the test says when.
        sync: { url: `${primary.origin}/v1/db/outbox-views`, tables: ["notes"], live: false, intervalMs: 0 },
      };
      await openIn(a, options); // a holds it
      await openIn(b, options); // b forwards to a
      const pending = (page) => page.evaluate(() => window.db.pendingWrites());
      const rejected = (page) => page.evaluate(() => window.db.rejectedWrites());

      await b.evaluate(async () => {
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('ok', 'fits')");
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('long', 'far too long to fit')");
      });
      const queued = await pending(b);
      assert.equal(queued.count, 2);
      assert.deepEqual(
        queued.writes.map(({ op, key, columns }) => ({ op, key, columns })),
        [
          { op: "insert", key: ["ok"], columns: { id: "ok", body: "fits" } },
          { op: "insert", key: ["long"], columns: { id: "long", body: "far too long to fit" } },
        ],
      );
      assert.deepEqual(await pending(a), queued, "the holder page lists the same writes");
      assert.deepEqual(await b.evaluate(() => window.db.pendingWrites({ limit: 1 })), { count: 2, writes: queued.writes.slice(0, 1) });

      const round = await b.evaluate(() => window.db.sync());
      assert.equal(round.pushed, 1);
      assert.deepEqual(await pending(b), { count: 0, writes: [] }, "the sync drained the outbox");
      assert.deepEqual(await pending(a), { count: 0, writes: [] });

      const refused = await rejected(b);
      assert.equal(refused.count, 1);
      const [write] = refused.writes;
      assert.equal(write.seq, queued.writes[1].seq);
      assert.equal(write.code, "SQLITE_CONSTRAINT_CHECK");
      assert.deepEqual(write.columns, { id: "long", body: "far too long to fit" });
      assert.equal(typeof write.rejectedAt, "number");
      assert.deepEqual(await rejected(a), refused);

      // Discarded from the page that forwards, gone for both.
      assert.deepEqual(await b.evaluate((seq) => window.db.discardRejected(seq), write.seq), { discarded: 1 });
      assert.deepEqual(await rejected(a), { count: 0, writes: [] });
      assert.deepEqual(await rejected(b), { count: 0, writes: [] });

      // Arguments are checked where the database is, and the error comes back with its code.
      const bad = await b.evaluate(async () => {
        try {
          await window.db.pendingWrites({ limit: "all" });
          return "resolved";
        } catch (err) {
          return { instance: err instanceof window.outpost.OutpostError, code: err.code };
        }
      });
      assert.deepEqual(bad, { instance: true, code: "BAD_OPTIONS" });

      for (const page of [a, b]) await page.evaluate(() => window.db.close());
      assert.deepEqual([a, b].flatMap((p) => p.errors), []);
      for (const page of [a, b]) await page.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });
});

/**
 * Pushes inserts of `ids` to the primary in one request, as another device would (docs/PROTOCOL.md).
 * `round` numbers the requests: a client's seqs must increase from one request to the next.
 */
async function pushToPrimary(origin, db, round, ids) {
  const mutations = ids.map((id, i) => ({ seq: round * 100 + i, table: "notes", op: "insert", key: [id], columns: { id, body: `body ${id}` } }));
  const response = await fetch(`${origin}/v1/db/${db}/push`, {
    method: "POST",
    body: JSON.stringify({ v: 1, clientId: "other-device", mutations }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.deepEqual(body.rejected, []);
}
