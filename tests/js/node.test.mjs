// The built package in Node, imported by its package name (through the "node" export condition):
// memory storage, migrations, execute/query/batch, transactions, values, errors with stable codes,
// and against the real outpost-primary: the pending and rejected writes, sync around a
// transaction, and what a pull settles (refusals whose push answer was lost, a resync).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { queryPrimary, startPrimary } from "../support/primary.mjs";
import { until } from "../support/wait.mjs";
import { importPackage } from "./helpers/package.mjs";

const { open, OutpostError } = await importPackage();

const TODOS = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof OutpostError, `expected an OutpostError, got ${err?.stack ?? err}`);
    assert.ok(err instanceof Error);
    assert.equal(err.name, "OutpostError");
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.length > 0);
    return true;
  });
}

describe("outpost-sqlite in Node", () => {
  it("opens in memory, applies migrations, writes and reads", async () => {
    const db = await open({ name: "node-basic", migrations: [TODOS, "ALTER TABLE todos ADD COLUMN note TEXT"] });
    const first = await db.execute("INSERT INTO todos (id, title) VALUES (?, ?)", ["a", "buy milk"]);
    assert.deepEqual(first, { rowsAffected: 1, lastInsertRowid: 1 });
    await db.execute("INSERT INTO todos (id, title, note) VALUES (?, ?, ?)", ["b", "walk", "with the dog"]);
    const updated = await db.execute("UPDATE todos SET done = 1");
    assert.equal(updated.rowsAffected, 2);
    assert.deepEqual(await db.query("SELECT id, title, done, note FROM todos ORDER BY id"), [
      { id: "a", title: "buy milk", done: 1, note: null },
      { id: "b", title: "walk", done: 1, note: "with the dog" },
    ]);
    assert.deepEqual(await db.query("SELECT * FROM todos WHERE id = ?", ["zzz"]), []);
    await db.close();
  });

  it("defaults to memory storage: a new open starts empty", async () => {
    const one = await open({ name: "node-memory", migrations: [TODOS] });
    await one.execute("INSERT INTO todos (id, title) VALUES ('a', 'a')");
    await one.close();
    const two = await open({ name: "node-memory", storage: "memory", migrations: [TODOS] });
    assert.deepEqual(await two.query("SELECT count(*) AS n FROM todos"), [{ n: 0 }]);
    await two.close();
  });

  it("round-trips every value type", async () => {
    const db = await open({ name: "node-values", migrations: ["CREATE TABLE v (i INTEGER, big INTEGER, r REAL, t TEXT, b BLOB, n TEXT)"] });
    const big = 2n ** 62n + 7n;
    await db.execute("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)", [-5, big, 0.5, "héllo ✓", new Uint8Array([0, 255]), null]);
    await db.execute("INSERT INTO v (i, big) VALUES (?, ?)", [9007199254740991, 12n]);
    const rows = await db.query("SELECT i, big, r, t, b, n FROM v ORDER BY rowid");
    assert.deepEqual(rows[0], { i: -5, big, r: 0.5, t: "héllo ✓", b: new Uint8Array([0, 255]), n: null });
    assert.ok(rows[0].b instanceof Uint8Array);
    assert.equal(rows[1].i, 9007199254740991, "the largest safe integer stays a number");
    assert.equal(rows[1].big, 12, "a small BigInt parameter reads back as a number");
    await db.close();
  });

  it("batch runs in one transaction: all or nothing", async () => {
    const db = await open({ name: "node-batch", migrations: [TODOS] });
    const results = await db.batch([
      { sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["a", "one"] },
      { sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["b", "two"] },
      { sql: "UPDATE todos SET done = 1" },
    ]);
    assert.deepEqual(
      results.map((r) => r.rowsAffected),
      [1, 1, 2],
    );
    await rejectsWith(
      db.batch([
        { sql: "INSERT INTO todos (id, title) VALUES ('c', 'three')" },
        { sql: "INSERT INTO todos (id, title) VALUES ('a', 'duplicate')" },
      ]),
      "SQLITE_CONSTRAINT_PRIMARYKEY",
    );
    assert.deepEqual(await db.query("SELECT id FROM todos ORDER BY id"), [{ id: "a" }, { id: "b" }]);
    await db.close();
  });

  it("executeMany runs one statement over many parameter lists, all or nothing", async () => {
    const db = await open({ name: "node-many", migrations: [TODOS] });
    const sql = "INSERT INTO todos (id, title) VALUES (:id, :title)";
    const lists = Array.from({ length: 1000 }, (_, i) => ({ id: `t${i}`, title: `task ${i}` }));
    const result = await db.executeMany(sql, lists);
    assert.equal(result.rowsAffected, 1000);
    assert.equal(result.lastInsertRowid, 1000);
    await rejectsWith(db.executeMany(sql, [{ id: "new", title: "x" }, { id: "t0", title: "dup" }]), "SQLITE_CONSTRAINT_PRIMARYKEY");
    await rejectsWith(db.executeMany(sql, [{ id: "only-id" }]), "BAD_PARAMS");
    await rejectsWith(db.executeMany(sql, "not a list"), "BAD_PARAMS");
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM todos"), [{ n: 1000 }]);
    await db.close();
  });

  it("executeMany stores every kind of value exactly as execute does", async () => {
    const db = await open({ name: "node-many-values", migrations: ["CREATE TABLE a (n INTEGER PRIMARY KEY, v)", "CREATE TABLE b (n INTEGER PRIMARY KEY, v)"] });
    const values = [
      0, -0, 42, -7, 0.25, -1e300, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 1.5e-10, Infinity, NaN,
      "", "plain ascii", "x".repeat(200), "héllo", "世界 🌍", "\ud800 lone surrogate", `${"é".repeat(100)}`,
      true, false, null, undefined,
      2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n,
      new Uint8Array([0, 1, 255]), new Uint8Array(0), new Uint8Array([9, 8, 7]).buffer,
    ];
    const lists = values.map((v, n) => [n, v]);
    await db.executeMany("INSERT INTO a (n, v) VALUES (?, ?)", lists);
    for (const list of lists) await db.execute("INSERT INTO b (n, v) VALUES (?, ?)", list);
    const read = (table) => db.query(`SELECT n, v, typeof(v) AS type FROM ${table} ORDER BY n`);
    const [many, one] = [await read("a"), await read("b")];
    assert.equal(many.length, values.length);
    assert.deepEqual(many, one);
    assert.deepEqual(many.slice(0, 3).map((r) => r.type), ["integer", "integer", "integer"], "integral numbers are INTEGER");
    assert.equal(many[4].type, "real");
    assert.equal(many[24].v, -(2n ** 63n));

    // Values it cannot store are refused with BAD_PARAMS, and nothing of the call stays.
    for (const bad of [2n ** 64n, { an: "object" }, Symbol("s"), () => 1]) {
      await rejectsWith(db.executeMany("INSERT INTO a (n, v) VALUES (?, ?)", [[1000, 1], [1001, bad]]), "BAD_PARAMS");
    }
    await rejectsWith(db.executeMany("INSERT INTO a (n, v) VALUES (?, ?)", [[1000, 1], [1001]]), "BAD_PARAMS");
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM a"), [{ n: values.length }]);
    await db.close();
  });

  it("reports SQL errors with SQLite's extended code", async () => {
    const db = await open({ name: "node-errors", migrations: [TODOS] });
    await db.execute("INSERT INTO todos (id, title) VALUES ('a', 'a')");
    await rejectsWith(db.execute("INSERT INTO todos (id, title) VALUES ('a', 'again')"), "SQLITE_CONSTRAINT_PRIMARYKEY");
    await rejectsWith(db.execute("INSERT INTO todos (id) VALUES ('b')"), "SQLITE_CONSTRAINT_NOTNULL");
    await rejectsWith(db.query("SELEC 1"), "SQLITE_ERROR");
    await rejectsWith(db.query("SELECT * FROM nowhere"), "SQLITE_ERROR");
    await db.close();
  });

  it("rejects bad options with BAD_OPTIONS", async () => {
    await rejectsWith(open(), "BAD_OPTIONS");
    await rejectsWith(open({}), "BAD_OPTIONS");
    await rejectsWith(open({ name: "" }), "BAD_OPTIONS");
    await rejectsWith(open({ name: "x", storage: "disk" }), "BAD_OPTIONS");
    await rejectsWith(open({ name: "x", migrations: "CREATE TABLE t (a)" }), "BAD_OPTIONS");
    await rejectsWith(open({ name: "x", migrations: [42] }), "BAD_OPTIONS");
    await rejectsWith(open({ name: "x", sync: { url: "http://127.0.0.1:1/v1/db/x" } }), "BAD_OPTIONS");
    await rejectsWith(open({ name: "x", sync: { url: "http://127.0.0.1:1/v1/db/x", tables: ["t"], token: 5 } }), "BAD_OPTIONS");
  });

  it("has no OPFS in Node: asking for it fails with OPFS_UNAVAILABLE", async () => {
    await rejectsWith(open({ name: "x", storage: "opfs" }), "OPFS_UNAVAILABLE");
  });

  it("reports a failing migration and leaves no half-applied schema", async () => {
    await rejectsWith(open({ name: "node-migration", migrations: [TODOS, "CREATE TABLE broken ("] }), "MIGRATION_FAILED");
  });

  it("rejects bad parameters with BAD_PARAMS", async () => {
    const db = await open({ name: "node-params", migrations: [TODOS] });
    await rejectsWith(db.query("SELECT ?", [{ not: "a value" }]), "BAD_PARAMS");
    await rejectsWith(db.query("SELECT ?", [Symbol("no JSON")]), "BAD_PARAMS");
    await db.close();
  });

  it("without sync options, sync() rejects with SYNC_NOT_CONFIGURED and the status is idle", async () => {
    const db = await open({ name: "node-nosync", migrations: [TODOS] });
    await rejectsWith(db.sync(), "SYNC_NOT_CONFIGURED");
    assert.deepEqual(db.syncStatus(), { state: "idle", pending: 0, lastSyncedAt: null, lastError: null, waiting: null });
    const off = db.on("status", () => {});
    assert.equal(typeof off, "function");
    off();
    assert.throws(() => db.on("nonsense", () => {}), (err) => err instanceof OutpostError && err.code === "BAD_OPTIONS");
    await db.close();
  });

  it("fails every call on a closed database with DATABASE_CLOSED; close is idempotent", async () => {
    const db = await open({ name: "node-closed", migrations: [TODOS] });
    await db.close();
    await db.close();
    await rejectsWith(db.query("SELECT 1"), "DATABASE_CLOSED");
    await rejectsWith(db.execute("DELETE FROM todos"), "DATABASE_CLOSED");
    await rejectsWith(db.batch([{ sql: "SELECT 1" }]), "DATABASE_CLOSED");
  });

  it("with sync options, an unreachable primary rejects sync() with OFFLINE", async () => {
    const db = await open({
      name: "node-offline",
      migrations: [TODOS],
      sync: { url: "http://127.0.0.1:9/v1/db/node-offline", tables: ["todos"], token: () => "t", live: false, intervalMs: 60_000 },
    });
    await db.execute("INSERT INTO todos (id, title) VALUES ('a', 'queued')");
    assert.equal(db.syncStatus().pending >= 0, true);
    await rejectsWith(db.sync(), "OFFLINE");
    await db.close();
  });

  it("refuses transaction statements, and runs db.transaction() all or nothing", async () => {
    const db = await open({ name: "node-transactions", migrations: [TODOS, "CREATE TABLE log (what TEXT, seen INTEGER)"] });
    await db.execute("INSERT INTO todos (id, title) VALUES ('a', 'kept')");
    for (const sql of ["BEGIN", "BEGIN IMMEDIATE", "COMMIT", "END", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "ROLLBACK TO s"]) {
      await rejectsWith(db.execute(sql), "TRANSACTION_STATEMENT");
      await rejectsWith(db.query(sql), "TRANSACTION_STATEMENT");
      await rejectsWith(db.batch([{ sql: "DELETE FROM todos" }, { sql }]), "TRANSACTION_STATEMENT");
      await rejectsWith(db.executeMany(sql, [[]]), "TRANSACTION_STATEMENT");
    }
    assert.deepEqual(await db.query("SELECT id FROM todos"), [{ id: "a" }], "nothing ran");

    // Committed when the callback resolves, with its value; its reads see its own writes.
    const seen = await db.transaction(async (tx) => {
      await tx.execute("INSERT INTO todos (id, title) VALUES ('b', 'two')");
      await tx.batch([{ sql: "INSERT INTO todos (id, title) VALUES ('c', 'three')" }]);
      await tx.executeMany("INSERT INTO todos (id, title) VALUES (?, ?)", [["d", "four"], ["e", "five"]]);
      return (await tx.query("SELECT count(*) AS n FROM todos"))[0].n;
    });
    assert.equal(seen, 5);

    // Rolled back when it throws, and the error comes back as it was thrown.
    const failure = new Error("the app changed its mind");
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute("DELETE FROM todos");
        await tx.execute("INSERT INTO todos (id, title) VALUES ('x', 'gone')");
        throw failure;
      }),
      (err) => err === failure,
    );
    // A statement that fails inside rolls the whole transaction back too, unless the callback catches it.
    await rejectsWith(
      db.transaction(async (tx) => {
        await tx.execute("INSERT INTO todos (id, title) VALUES ('y', 'gone too')");
        await tx.execute("INSERT INTO todos (id, title) VALUES ('a', 'duplicate')");
      }),
      "SQLITE_CONSTRAINT_PRIMARYKEY",
    );
    assert.deepEqual(
      (await db.query("SELECT id FROM todos ORDER BY id")).map((r) => r.id),
      ["a", "b", "c", "d", "e"],
      "nothing of either rolled-back transaction",
    );

    // Every other call waits until the transaction ends, then runs after it, in order.
    let release;
    const released = new Promise((resolve) => {
      release = resolve;
    });
    const order = [];
    const transaction = db.transaction(async (tx) => {
      await tx.execute("INSERT INTO todos (id, title) VALUES ('f', 'six')");
      await released;
      await tx.execute("INSERT INTO log VALUES ('in the transaction', (SELECT count(*) FROM todos))");
      order.push("transaction");
    });
    await new Promise((r) => setTimeout(r, 20)); // the transaction is open now
    const outside = db.execute("INSERT INTO log VALUES ('outside', (SELECT count(*) FROM todos))").then(() => order.push("write"));
    const read = db.query("SELECT count(*) AS n FROM todos").then((rows) => {
      order.push("read");
      return rows[0].n;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(order, [], "the other calls wait");
    release();
    await Promise.all([transaction, outside]);
    assert.equal(await read, 6, "the read ran after the commit");
    assert.equal(order[0], "transaction");
    assert.deepEqual(await db.query("SELECT what, seen FROM log ORDER BY rowid"), [
      { what: "in the transaction", seen: 6 },
      { what: "outside", seen: 6 },
    ]);

    // tx works only while its callback runs; transactions do not take a non-function.
    let escaped;
    await db.transaction((tx) => {
      escaped = tx;
    });
    await rejectsWith(escaped.execute("DELETE FROM todos"), "TRANSACTION_STATEMENT");
    await rejectsWith(db.transaction("BEGIN"), "BAD_PARAMS");
    assert.equal((await db.query("SELECT count(*) AS n FROM todos"))[0].n, 6);
    await db.close();
  });

  it("a sync during a transaction waits for it and pushes only committed writes", async () => {
    const primary = await startPrimary({ schemaSql: `${TODOS};\n`, args: ["--no-auth"] });
    try {
      const db = await open({
        name: "node-sync-transaction",
        migrations: [TODOS],
        sync: { url: `${primary.origin}/v1/db/node-sync-transaction`, tables: ["todos"], live: false, intervalMs: 0 },
      });
      const states = [];
      db.on("status", ({ state }) => states.push(state));
      await db.execute("INSERT INTO todos (id, title) VALUES ('before', 'committed')");

      let syncing;
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.execute("INSERT INTO todos (id, title) VALUES ('undone', 'rolled back')");
          syncing = db.sync(); // waits: it must not read the open transaction
          await new Promise((r) => setTimeout(r, 300));
          assert.deepEqual(await queryPrimary(primary.origin, "node-sync-transaction", "SELECT id FROM todos"), [], "nothing pushed yet");
          throw new Error("undo");
        }),
        /undo/,
      );
      const round = await syncing;
      assert.equal(round.pushed, 1, "only the committed write");
      assert.deepEqual(await queryPrimary(primary.origin, "node-sync-transaction", "SELECT id FROM todos ORDER BY id"), [{ id: "before" }]);

      // The next committed write is applied, not taken for a retry of the rolled-back one.
      await db.transaction((tx) => tx.execute("INSERT INTO todos (id, title) VALUES ('after', 'committed')"));
      await db.sync();
      assert.deepEqual(await queryPrimary(primary.origin, "node-sync-transaction", "SELECT id FROM todos ORDER BY id"), [
        { id: "after" },
        { id: "before" },
      ]);
      assert.deepEqual(await db.pendingWrites(), { count: 0, writes: [] });
      assert.ok(!states.includes("error") && !states.includes("offline"), `the wait was no failure: ${states}`);
      await db.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("a pull reports the refusals whose push answer was lost, and a resync when the primary lost its history", async () => {
    // The primary refuses long notes; the replica's schema does not.
    const schemaSql = "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL CHECK (length(body) <= 10));\n";
    let primary = await startPrimary({ schemaSql, args: ["--no-auth"] });
    // Between the replica and the primary: the answer to the first push is lost on the way back.
    let losePushAnswers = 1;
    const proxy = createServer(async (req, res) => {
      const body = await new Promise((resolve) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks)));
      });
      try {
        const answer = await fetch(`${primary.origin}${req.url}`, { method: req.method, headers: { "content-type": "application/json" }, body });
        const text = await answer.text();
        if (req.url.endsWith("/push") && losePushAnswers > 0) {
          losePushAnswers -= 1;
          req.socket.destroy(); // applied on the primary, never answered
          return;
        }
        res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
      } catch {
        req.socket.destroy();
      }
    });
    await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${proxy.address().port}/v1/db/node-pull-settles`;
    try {
      const db = await open({
        name: "node-pull-settles",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"],
        sync: { url, tables: ["notes"], live: false, intervalMs: 0 },
      });
      const events = { rejected: [], resync: [], change: [] };
      for (const event of Object.keys(events)) db.on(event, (payload) => events[event].push(payload));
      await db.execute("INSERT INTO notes (id, body) VALUES ('ok', 'fits')");
      await db.execute("INSERT INTO notes (id, body) VALUES ('long', 'far too long to fit')");
      await rejectsWith(db.push(), "OFFLINE");
      assert.deepEqual(events.rejected, [], "the push's answer, with the refusal, was lost");

      // The pull's state holds both writes: it settles them and reports the refusal, as the push would have.
      const fresh = await db.ensureFresh({ maxStalenessMs: 0 });
      assert.equal(fresh.pulled >= 0, true);
      assert.deepEqual(
        events.rejected.map(({ key, code, op }) => ({ key, code, op })),
        [{ key: ["long"], code: "SQLITE_CONSTRAINT_CHECK", op: "insert" }],
      );
      assert.deepEqual((await db.rejectedWrites()).writes.map((w) => w.key), [["long"]]);
      assert.deepEqual(await db.pendingWrites(), { count: 0, writes: [] });
      assert.deepEqual(events.resync, []);

      // The primary is replaced by one without this history (restored from an older backup, say).
      const listen = primary.listen;
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      primary = await startPrimary({ schemaFile: primary.schemaFile, listen, args: ["--no-auth"] });
      await db.sync();
      assert.equal(events.resync.length, 1, "one resync");
      assert.equal(typeof events.resync[0].at, "number");
      // It pulled everything again: its rows are the new primary's (what that primary lost, it
      // lost), and a write made now reaches it.
      assert.deepEqual(await db.query("SELECT id FROM notes"), await queryPrimary(primary.origin, "node-pull-settles", "SELECT id FROM notes"));
      assert.ok(events.change.some(({ tables }) => tables.includes("notes")));
      await db.execute("INSERT INTO notes (id, body) VALUES ('new', 'after')");
      await db.sync();
      assert.deepEqual(await queryPrimary(primary.origin, "node-pull-settles", "SELECT id FROM notes"), [{ id: "new" }]);
      assert.equal(events.resync.length, 1, "still one resync");
      await db.close();
    } finally {
      await new Promise((r) => proxy.close(r));
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("an app a migration ahead waits with SCHEMA_AHEAD until the primary has it; one too old keeps its writes, UPGRADE_REQUIRED", async () => {
    const name = "node-schema-versions";
    let primary = await startPrimary({ schemaSql: `${TODOS};\n`, args: ["--no-auth"] });
    const restartWith = async (schemaSql) => {
      await primary.stop();
      writeFileSync(primary.schemaFile, schemaSql);
      primary = await startPrimary({ schemaFile: primary.schemaFile, dataDir: primary.dataDir, listen: primary.listen, args: ["--no-auth"] });
    };
    try {
      const db = await open({
        name,
        migrations: [TODOS, "ALTER TABLE todos ADD COLUMN note TEXT"],
        sync: { url: `${primary.origin}/v1/db/${name}`, tables: ["todos"], live: false, intervalMs: 0 },
      });
      const states = [];
      db.on("status", ({ state }) => states.push(state));
      const rejected = [];
      db.on("rejected", (mutation) => rejected.push(mutation));
      await db.execute("INSERT INTO todos (id, title, note) VALUES ('a', 'ahead', 'a note')");
      await db.sync();
      const waiting = db.syncStatus();
      assert.equal(waiting.state, "waiting", JSON.stringify(waiting));
      assert.equal(waiting.waiting?.code, "SCHEMA_AHEAD");
      assert.match(waiting.waiting.reason, /note/);
      assert.equal(waiting.pending, 1, "kept, not refused");
      assert.equal(waiting.lastError, null, "waiting is no failure");
      assert.deepEqual(await queryPrimary(primary.origin, name, "SELECT id FROM todos"), []);

      // The primary gains the column: the next round pushes the write, and the state is idle again.
      const withNote = `${TODOS};\n-- outpost:migration note\nALTER TABLE todos ADD COLUMN note TEXT;\n`;
      await restartWith(withNote);
      await db.sync();
      assert.deepEqual(db.syncStatus().state, "idle");
      assert.equal(db.syncStatus().waiting, null);
      assert.equal(db.syncStatus().pending, 0);
      assert.deepEqual(await queryPrimary(primary.origin, name, "SELECT id, note FROM todos"), [{ id: "a", note: "a note" }]);

      // A breaking migration for app version 3: this version (2 migrations) is told to upgrade,
      // and its write waits where the app can read it.
      await restartWith(`${withNote}-- outpost:migration drop note\n-- outpost:min-replica-schema 3\nALTER TABLE todos DROP COLUMN note;\n`);
      await db.execute("INSERT INTO todos (id, title, note) VALUES ('b', 'too old', 'kept')");
      await rejectsWith(db.sync(), "UPGRADE_REQUIRED");
      assert.equal(db.syncStatus().state, "error");
      assert.equal(db.syncStatus().lastError?.code, "UPGRADE_REQUIRED");
      const pending = await db.pendingWrites();
      assert.equal(pending.count, 1);
      assert.deepEqual(pending.writes[0].columns, { id: "b", title: "too old", done: 0, note: "kept" });
      assert.deepEqual(rejected, [], "nothing was refused");
      assert.ok(states.includes("waiting"), `${states}`);
      await db.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("a pull re-runs a watch at once; a burst of local writes re-runs it once, after the burst", async () => {
    const primary = await startPrimary({ schemaSql: `${TODOS};\n`, args: ["--no-auth"] });
    try {
      const sync = { url: `${primary.origin}/v1/db/node-watch`, tables: ["todos"], live: false, intervalMs: 0 };
      const writer = await open({ name: "node-watch-writer", migrations: [TODOS], sync });
      const reader = await open({ name: "node-watch-reader", migrations: [TODOS], sync });
      const seen = [];
      reader.watch("SELECT id FROM todos ORDER BY id", [], (rows) => seen.push(rows.map((r) => r.id).join(",")));
      await until(() => seen.length === 1, { message: "the first result" });

      // A timer set when the pull's change event fires runs after the watch re-ran: the re-run
      // waited for no timer (a local write's re-run waits 15 ms for the rest of its burst).
      await writer.execute("INSERT INTO todos (id, title) VALUES ('pulled', 'from the writer')");
      await writer.sync();
      let atTimer;
      const off = reader.on("change", () => setTimeout(() => (atTimer = [...seen])));
      await reader.sync();
      await until(() => atTimer, { message: "the timer set at the change event" });
      off();
      assert.deepEqual(atTimer, ["", "pulled"], "the pulled row was delivered before any timer ran");

      // Five local writes at once: one re-run, once they are all in.
      await Promise.all([1, 2, 3, 4, 5].map((n) => reader.execute("INSERT INTO todos (id, title) VALUES (?, 'local')", [`local-${n}`])));
      assert.equal(seen.length, 2, "the local writes' re-run waits for the burst");
      await until(() => seen.length === 3, { message: "the re-run after the burst" });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seen, ["", "pulled", "local-1,local-2,local-3,local-4,local-5,pulled"], "one re-run for the burst");
      await writer.close();
      await reader.close();
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("a live replica pushes a write alone: its long poll, not one more pull, brings the changes", async () => {
    const primary = await startPrimary({ schemaSql: `${TODOS};\n`, args: ["--no-auth"] });
    // Between the replica and the primary: records each request (push, or pull with its waitMs),
    // and holds pushes back `pushDelayMs`.
    const requests = [];
    let pushDelayMs = 0;
    const proxy = createServer(async (req, res) => {
      const body = await new Promise((resolve) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks)));
      });
      const kind = req.url.split("/").pop();
      requests.push({ kind, waitMs: kind === "pull" ? JSON.parse(body).waitMs : undefined });
      if (kind === "push") await new Promise((r) => setTimeout(r, pushDelayMs));
      try {
        const answer = await fetch(`${primary.origin}${req.url}`, { method: req.method, headers: { "content-type": "application/json" }, body });
        res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
      } catch {
        req.socket.destroy();
      }
    });
    await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const name = "node-live-push";
      const db = await open({
        name,
        migrations: [TODOS],
        sync: { url: `http://127.0.0.1:${proxy.address().port}/v1/db/${name}`, tables: ["todos"], intervalMs: 60_000 },
      });
      const livePolls = () => requests.filter((r) => r.kind === "pull" && r.waitMs > 0).length;
      await until(() => livePolls() > 0 && db.syncStatus().state === "idle", { message: "the first round and the live pull" });
      const from = requests.length;
      await db.execute("INSERT INTO todos (id, title) VALUES ('mine', 'pushed alone')");
      await until(async () => (await queryPrimary(primary.origin, name, "SELECT id FROM todos")).length === 1, { message: "the push" });
      await until(() => db.syncStatus().pending === 0 && db.syncStatus().state === "idle", { message: "the acknowledgement" });

      // Another device's write reaches the replica through the long poll.
      const other = await open({ name: "node-live-push-other", migrations: [TODOS], sync: { url: `${primary.origin}/v1/db/${name}`, tables: ["todos"], live: false, intervalMs: 0 } });
      await other.execute("INSERT INTO todos (id, title) VALUES ('theirs', 'from another device')");
      await other.sync();
      await until(async () => (await db.query("SELECT id FROM todos ORDER BY id")).length === 2, { message: "the other device's row" });
      const since = requests.slice(from);
      assert.equal(since.filter((r) => r.kind === "push").length, 1, "one push for the write");
      assert.deepEqual(since.filter((r) => r.kind === "pull" && r.waitMs === 0), [], "no pull besides the live one");

      // A sync() while a write's push is on its way pushes after it, not the same write beside it.
      pushDelayMs = 300;
      const pushes = () => requests.filter((r) => r.kind === "push").length;
      const pushesBefore = pushes();
      await db.execute("INSERT INTO todos (id, title) VALUES ('second', 'pushed once')");
      await until(() => pushes() === pushesBefore + 1, { message: "the write's push" });
      const round = await db.sync();
      assert.equal(round.pushed, 0, "the write's own push had taken it");
      assert.equal(pushes(), pushesBefore + 1, "one push for the write");
      assert.deepEqual(await queryPrimary(primary.origin, name, "SELECT id FROM todos ORDER BY id"), [{ id: "mine" }, { id: "second" }, { id: "theirs" }]);
      await other.close();
      await db.close();
    } finally {
      proxy.closeAllConnections();
      proxy.close();
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });

  it("lists pending writes until a sync drains them, and rejected writes until they are discarded", async () => {
    // The primary refuses long notes; the replica's schema does not.
    const primary = await startPrimary({
      schemaSql: "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL CHECK (length(body) <= 10));\n",
      args: ["--no-auth"],
    });
    try {
      const db = await open({
        name: "node-writes",
        migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"],
        sync: { url: `${primary.origin}/v1/db/node-writes`, tables: ["notes"], live: false, intervalMs: 0 },
      });
      await db.execute("INSERT INTO notes (id, body) VALUES ('short', 'fits')");
      await db.execute("INSERT INTO notes (id, body) VALUES ('long', 'far too long to fit')");
      await db.execute("UPDATE notes SET body = 'fits too' WHERE id = 'short'");
      await db.execute("INSERT INTO notes (id, body) VALUES ('longer', 'longer still, refused too')");

      const pending = await db.pendingWrites();
      assert.equal(pending.count, 4);
      assert.deepEqual(
        pending.writes.map(({ table, op, key, columns }) => ({ table, op, key, columns })),
        [
          { table: "notes", op: "insert", key: ["short"], columns: { id: "short", body: "fits" } },
          { table: "notes", op: "insert", key: ["long"], columns: { id: "long", body: "far too long to fit" } },
          { table: "notes", op: "update", key: ["short"], columns: { body: "fits too" } },
          { table: "notes", op: "insert", key: ["longer"], columns: { id: "longer", body: "longer still, refused too" } },
        ],
      );
      assert.ok(pending.writes.every((w, i) => i === 0 || w.seq > pending.writes[i - 1].seq), "oldest first");
      assert.equal(db.syncStatus().pending, 4, "the status counts the same writes");
      const first = await db.pendingWrites({ limit: 1 });
      assert.deepEqual(first, { count: 4, writes: pending.writes.slice(0, 1) });
      assert.deepEqual(await db.rejectedWrites(), { count: 0, writes: [] });

      const round = await db.sync();
      assert.equal(round.pushed, 2);
      assert.deepEqual(await db.pendingWrites(), { count: 0, writes: [] }, "the sync drained the outbox");

      const rejected = await db.rejectedWrites();
      assert.equal(rejected.count, 2);
      assert.deepEqual(
        rejected.writes.map(({ key, code }) => ({ key, code })),
        [
          { key: ["longer"], code: "SQLITE_CONSTRAINT_CHECK" },
          { key: ["long"], code: "SQLITE_CONSTRAINT_CHECK" },
        ],
        "newest first, with the primary's code",
      );
      const [newest, oldest] = rejected.writes;
      assert.equal(oldest.seq, pending.writes[1].seq);
      assert.deepEqual(oldest.columns, { id: "long", body: "far too long to fit" }, "the refused content is still readable");
      assert.equal(oldest.op, "insert");
      assert.equal(typeof oldest.reason, "string");
      assert.ok(Math.abs(oldest.rejectedAt - Date.now()) < 60_000, `rejectedAt ${oldest.rejectedAt} is a time in ms`);
      assert.deepEqual(
        round.rejected.map((r) => r.seq),
        [oldest.seq, newest.seq],
        "the same writes the sync reported",
      );

      assert.deepEqual(await db.discardRejected(oldest.seq), { discarded: 1 });
      assert.deepEqual(await db.discardRejected(oldest.seq), { discarded: 0 }, "already discarded");
      assert.deepEqual(await db.rejectedWrites(), { count: 1, writes: [newest] });
      assert.deepEqual(await db.discardRejected(), { discarded: 1 });
      assert.deepEqual(await db.rejectedWrites(), { count: 0, writes: [] });

      await rejectsWith(db.pendingWrites({ limit: -1 }), "BAD_OPTIONS");
      await rejectsWith(db.rejectedWrites({ limt: 5 }), "BAD_OPTIONS");
      await rejectsWith(db.discardRejected("all"), "BAD_OPTIONS");
      await db.close();
      await rejectsWith(db.pendingWrites(), "DATABASE_CLOSED");
    } finally {
      await primary.stop();
      rmSync(primary.dataDir, { recursive: true, force: true });
      rmSync(primary.schemaFile, { force: true });
    }
  });
});
