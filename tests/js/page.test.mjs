// The package in headless Chromium, used from a page's main thread as an app would use it:
// OPFS persistence across a reload, a second tab sharing the database (array rows included), values and errors
// crossing the Worker boundary, batch atomicity, and local mode inside the app's own Worker.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { useAppPages } from "./helpers/pages.mjs";

const TODOS = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

describe("outpost-sqlite in a browser page", { timeout: 120_000 }, () => {
  const pages = useAppPages();
  const { appPage } = pages;

  it("keeps OPFS data across a reload, and a second tab shares the database", async () => {
    const page = await appPage();
    const opened = await page.evaluate(async (migration) => {
      window.db = await window.outpost.open({ name: "todos", migrations: [migration] });
      await window.db.execute("INSERT INTO todos (id, title) VALUES (?, ?)", ["a", "buy milk"]);
      await window.db.execute("INSERT INTO todos (id, title, done) VALUES (:id, :title, 1)", { id: "b", title: "walk" });
      return window.db.query("SELECT id, title, done FROM todos ORDER BY id");
    }, TODOS);
    assert.deepEqual(opened, [
      { id: "a", title: "buy milk", done: 0 },
      { id: "b", title: "walk", done: 1 },
    ]);

    // Reload without closing: the old page's worker may hold the OPFS files for a moment, and
    // open() waits for them. The migration is already applied and is skipped.
    await page.reload();
    await page.waitForFunction(() => window.outpostLoaded === true);
    const reloaded = await page.evaluate(async (migration) => {
      window.db = await window.outpost.open({ name: "todos", storage: "opfs", migrations: [migration] });
      return window.db.query("SELECT id, title, done FROM todos ORDER BY id");
    }, TODOS);
    assert.deepEqual(reloaded, opened);

    // A second tab on the same origin, while the first holds the database: it opens at once and
    // works, its calls served by the first tab (see tabs.test.mjs for more).
    const second = await appPage();
    const shared = await second.evaluate(async (migration) => {
      window.db = await window.outpost.open({ name: "todos", migrations: [migration] });
      await window.db.execute("INSERT INTO todos (id, title) VALUES ('c', 'from the second tab')");
      return window.db.query("SELECT id FROM todos ORDER BY id");
    }, TODOS);
    assert.deepEqual(shared, [{ id: "a" }, { id: "b" }, { id: "c" }]);
    // Array rows cross both hops (page to Worker, tab to the holding tab) with every column.
    const arrays = await second.evaluate(() =>
      window.db.query("SELECT t.id, u.id FROM todos t JOIN todos u ON u.id = t.id ORDER BY t.id", [], { rowMode: "array" }),
    );
    assert.deepEqual(arrays, [["a", "a"], ["b", "b"], ["c", "c"]]);

    // The first tab sees the second tab's write, and writes on.
    const still = await page.evaluate(async () => {
      await window.db.execute("UPDATE todos SET done = 1 WHERE id = 'a'");
      return window.db.query("SELECT id, done FROM todos ORDER BY id");
    });
    assert.deepEqual(still, [
      { id: "a", done: 1 },
      { id: "b", done: 1 },
      { id: "c", done: 0 },
    ]);

    // Once the first tab closes its database, the second takes it over and goes on.
    await page.evaluate(() => window.db.close());
    const count = await second.evaluate(async () => {
      const [{ n }] = await window.db.query("SELECT count(*) AS n FROM todos WHERE done = 1");
      await window.db.close();
      return n;
    });
    assert.equal(count, 2);
    assert.deepEqual([...page.errors, ...second.errors], []);
    await page.close();
    await second.close();
  });

  it("bulk-loads into OPFS with executeMany: all or nothing, kept across a reload, the WAL back after", async () => {
    const page = await appPage();
    const ROWS = 25_000; // above the count from which the load skips the WAL
    const loaded = await page.evaluate(async ({ migration, rows }) => {
      window.db = await window.outpost.open({ name: "bulk", migrations: [migration] });
      const lists = Array.from({ length: rows }, (_, i) => [`r${i}`, `row ${i} ✓`, i % 2]);
      const sql = "INSERT INTO todos (id, title, done) VALUES (?, ?, ?)";
      const done = await window.db.executeMany(sql, lists);
      let failed = null;
      try {
        await window.db.executeMany(sql, [...lists.map(([id, ...rest]) => [`again-${id}`, ...rest]), ["r0", "duplicate", 0]]);
      } catch (err) {
        failed = err.code;
      }
      const [{ n }] = await window.db.query("SELECT count(*) AS n FROM todos");
      const [{ journal_mode }] = await window.db.query("PRAGMA journal_mode");
      return { rowsAffected: done.rowsAffected, failed, n, journal_mode };
    }, { migration: TODOS, rows: ROWS });
    assert.deepEqual(loaded, { rowsAffected: ROWS, failed: "SQLITE_CONSTRAINT_PRIMARYKEY", n: ROWS, journal_mode: "wal" });

    await page.reload();
    await page.waitForFunction(() => window.outpostLoaded === true);
    const reloaded = await page.evaluate(async (migration) => {
      const db = await window.outpost.open({ name: "bulk", migrations: [migration] });
      const rows = await db.query("SELECT count(*) AS n, sum(done) AS done, max(title) AS last FROM todos");
      await db.close();
      return rows[0];
    }, TODOS);
    assert.deepEqual(reloaded, { n: ROWS, done: ROWS / 2, last: "row 9999 ✓" });
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it("round-trips every value type through the main-thread proxy", async () => {
    const page = await appPage();
    const values = await page.evaluate(async () => {
      const db = await window.outpost.open({
        name: "values",
        migrations: ["CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, big INTEGER, r REAL, t TEXT, b BLOB, n TEXT)"],
      });
      const big = 2n ** 62n + 7n;
      const blob = new Uint8Array([0, 1, 2, 254, 255]);
      const written = await db.execute("INSERT INTO v (i, big, r, t, b, n) VALUES (?, ?, ?, ?, ?, ?)", [
        42,
        big,
        3.25,
        "héllo ✓",
        blob,
        null,
      ]);
      const [row] = await db.query("SELECT i, big, r, t, b, n, -9007199254740993 AS negbig FROM v WHERE id = ?", [
        written.lastInsertRowid,
      ]);
      await db.close();
      return {
        written: { rowsAffected: written.rowsAffected, lastInsertRowid: String(written.lastInsertRowid) },
        i: [typeof row.i, row.i],
        big: [typeof row.big, String(row.big), row.big === big],
        negbig: [typeof row.negbig, String(row.negbig)],
        r: [typeof row.r, row.r],
        t: [typeof row.t, row.t],
        b: [row.b instanceof Uint8Array, Array.from(row.b)],
        n: row.n,
      };
    });
    assert.deepEqual(values, {
      written: { rowsAffected: 1, lastInsertRowid: "1" },
      i: ["number", 42],
      big: ["bigint", String(2n ** 62n + 7n), true],
      negbig: ["bigint", "-9007199254740993"],
      r: ["number", 3.25],
      t: ["string", "héllo ✓"],
      b: [true, [0, 1, 2, 254, 255]],
      n: null,
    });
    await page.close();
  });

  it("rejects with OutpostError across the Worker boundary, and batch is all or nothing", async () => {
    const page = await appPage();
    const result = await page.evaluate(async (migration) => {
      const { open, OutpostError } = window.outpost;
      const caught = async (promise) => {
        try {
          await promise;
          return "resolved";
        } catch (err) {
          return { instance: err instanceof OutpostError, isError: err instanceof Error, code: err.code, message: err.message };
        }
      };
      const db = await open({ name: "errors", migrations: [migration] });
      await db.execute("INSERT INTO todos (id, title) VALUES ('x', 'first')");
      const duplicate = await caught(db.execute("INSERT INTO todos (id, title) VALUES ('x', 'again')"));
      const syntax = await caught(db.query("SELEC nothing"));
      const batch = await caught(
        db.batch([
          { sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["y", "in batch"] },
          { sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["x", "conflict"] },
        ]),
      );
      const afterBatch = await db.query("SELECT id, title FROM todos ORDER BY id");
      const okBatch = await db.batch([
        { sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["y", "y"] },
        { sql: "UPDATE todos SET done = 1" },
      ]);
      const many = await db.executeMany("INSERT INTO todos (id, title) VALUES (?, ?)", [["m1", "a"], ["m2", "b"], ["m3", "c"]]);
      const manyConflict = await caught(db.executeMany("INSERT INTO todos (id, title) VALUES (?, ?)", [["m4", "d"], ["m1", "again"]]));
      const afterMany = (await db.query("SELECT count(*) AS n FROM todos WHERE id LIKE 'm%'"))[0].n;
      const noSync = await caught(db.sync());
      const badParams = await caught(db.query("SELECT ?", [() => 1]));
      await db.close();
      await db.close(); // idempotent
      const closed = await caught(db.query("SELECT 1"));
      const badOptions = await caught(open({ name: "", migrations: [] }));
      const notStrings = await caught(open({ name: "m", migrations: [42] }));
      return { duplicate, syntax, batch, afterBatch, okBatch: okBatch.map((r) => r.rowsAffected), many: many.rowsAffected, manyConflict, afterMany, noSync, badParams, closed, badOptions, notStrings };
    }, TODOS);

    assert.equal(result.duplicate.instance, true);
    assert.equal(result.duplicate.isError, true);
    assert.match(result.duplicate.code, /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/);
    assert.equal(result.syntax.instance, true);
    assert.equal(result.syntax.code, "SQLITE_ERROR");
    assert.match(result.batch.code, /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/);
    assert.deepEqual(result.afterBatch, [{ id: "x", title: "first" }], "the failed batch left nothing behind");
    assert.deepEqual(result.okBatch, [1, 2]);
    assert.equal(result.many, 3, "executeMany inserts every parameter list");
    assert.equal(result.manyConflict.instance, true);
    assert.match(result.manyConflict.code, /^SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)$/);
    assert.equal(result.afterMany, 3, "a failing executeMany leaves nothing of its own behind");
    assert.equal(result.noSync.code, "SYNC_NOT_CONFIGURED");
    assert.equal(result.badParams.code, "BAD_PARAMS");
    assert.equal(result.closed.code, "DATABASE_CLOSED");
    assert.equal(result.badOptions.code, "BAD_OPTIONS");
    assert.equal(result.notStrings.code, "BAD_OPTIONS");
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it("asks the page for the sync token: the token function stays on the main thread", async () => {
    const page = await appPage();
    pages.server.primaryRequests.length = 0;
    const result = await page.evaluate(async (origin) => {
      let calls = 0;
      const db = await window.outpost.open({
        name: "synced",
        storage: "memory",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)"],
        sync: {
          url: `${origin}/primary/v1/db/synced`,
          token: async () => `page-token-${++calls}`,
          tables: ["notes"],
          live: false,
          intervalMs: 600_000,
        },
      });
      await db.execute("INSERT INTO notes (id, body) VALUES ('n1', 'to push')");
      let code = null;
      try {
        await db.sync();
      } catch (err) {
        code = err instanceof window.outpost.OutpostError ? err.code : `not an OutpostError: ${err}`;
      }
      const status = db.syncStatus();
      await db.close();
      return { calls, code, state: status.state, pending: status.pending };
    }, pages.server.origin);
    assert.ok(result.calls >= 1, "the page's token function was called");
    assert.ok(pages.server.primaryRequests.length >= 1, "the worker contacted the primary");
    for (const request of pages.server.primaryRequests) {
      assert.match(request.authorization ?? "", /^Bearer page-token-\d+$/);
    }
    assert.equal(typeof result.code, "string", "sync() against a primary that is down rejects with an OutpostError");
    assert.ok(["idle", "syncing", "offline", "error"].includes(result.state));
    assert.equal(typeof result.pending, "number");
    await page.close();
  });

  it("runs in the app's own dedicated Worker, in that thread", async () => {
    const page = await pages.context.newPage();
    await page.goto(`${pages.server.origin}/pages/in-worker.html`);
    const result = await page.evaluate(() => window.workerResult);
    assert.deepEqual(result, { rows: [{ v: "from the worker" }], code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    await page.close();
  });
});
