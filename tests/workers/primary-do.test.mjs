// The primary as a Cloudflare Durable Object (primary-do/), in real workerd through miniflare with
// SQLite-backed Durable Objects: the same endpoints, bodies, codes and tokens as outpost-primary
// (tokens minted by its own `token` command), one object per database, long polls woken by a
// push, and the data kept across a restart of the runtime on persisted storage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { primaryBinary } from "../support/primary.mjs";
import { root } from "./helpers.mjs";

const SECRET = "primary-do-test-secret-0123456789";
const SCHEMA = [
  "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, size);",
  "-- outpost:migration lists",
  "CREATE TABLE lists (id INTEGER PRIMARY KEY, name TEXT);",
  "CREATE TABLE members (team TEXT, user INTEGER, role TEXT, PRIMARY KEY (team, user));",
].join("\n");

function token(db, { secret = SECRET, sub = "do-test", claims = [] } = {}) {
  const extra = claims.flatMap((claim) => ["--claim", claim]);
  return execFileSync(primaryBinary(), ["token", "--secret-env", "OUTPOST_SECRET", "--sub", sub, "--db", db, ...extra], {
    env: { ...process.env, OUTPOST_SECRET: secret },
    encoding: "utf8",
  }).trim();
}

function startPrimaryDo(persistTo, bindings = { OUTPOST_SCHEMA: SCHEMA, OUTPOST_SECRET: SECRET }) {
  return new Miniflare({
    modules: true,
    scriptPath: join(root, "primary-do/js/index.js"),
    modulesRoot: join(root, "primary-do"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2025-01-01",
    durableObjects: { OUTPOST_PRIMARY: { className: "OutpostPrimary", useSQLite: true } },
    durableObjectsPersist: persistTo,
    bindings,
  });
}

describe("the primary as a Durable Object", { timeout: 120_000 }, () => {
  let mf;
  let persist;
  const tokens = {};

  before(async () => {
    persist = mkdtempSync(join(tmpdir(), "outpost-primary-do-"));
    mf = startPrimaryDo(persist);
    await mf.ready;
    tokens.a = token("team-a");
    tokens.b = token("team-b");
  });

  after(async () => {
    await mf?.dispose();
    rmSync(persist, { recursive: true, force: true });
  });

  async function call(db, endpoint, body, { auth = tokens.a, method = "POST" } = {}) {
    const headers = { "content-type": "application/json" };
    if (auth) headers.authorization = `Bearer ${auth}`;
    const res = await mf.dispatchFetch(`http://primary.test/v1/db/${db}/${endpoint}`, {
      method,
      headers,
      body: method === "POST" ? (typeof body === "string" ? body : JSON.stringify(body)) : undefined,
    });
    return { status: res.status, body: await res.json() };
  }

  const insert = (seq, id, columns) => ({ seq, table: "todos", op: "insert", key: [id], columns: { id, ...columns } });

  it("applies a push once and pulls it back, every value exact", async () => {
    const push = {
      v: 2,
      clientId: "phone",
      lastSeq: 2,
      mutations: [
        insert(1, "t1", { title: "milk", done: 0, size: "BIG" }),
        insert(2, "t2", { title: "eggs", done: 1, size: 2.5 }),
      ],
    };
    // 2^53 + 1, which no JS number holds: written into the JSON text as the replica would send it.
    const pushText = JSON.stringify(push).replace('"BIG"', "9007199254740993");
    const first = await call("team-a", "push", pushText);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.ackedThrough, 2);
    assert.deepEqual(first.body.rejected, []);
    // A retry of the same batch applies nothing twice.
    const again = await call("team-a", "push", pushText);
    assert.equal(again.body.ackedThrough, 2);

    const pulled = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: 0, clientId: "laptop" });
    assert.equal(pulled.status, 200, JSON.stringify(pulled.body));
    const rows = Object.fromEntries(pulled.body.changes.map((c) => [c.key[0], c.row]));
    assert.deepEqual(Object.keys(rows).sort(), ["t1", "t2"]);
    assert.equal(rows.t2.size, 2.5);
    assert.equal(rows.t1.title, "milk");
    assert.equal(rows.t2.done, 1);
    assert.equal(pulled.body.cursor >= 2, true);
    assert.ok(pulled.body.epoch, "a history marker");
    // 2^53 + 1 survives: read as the answer's JSON text, not as a JS number.
    const raw = await mf.dispatchFetch("http://primary.test/v1/db/team-a/pull", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify({ v: 2, tables: ["todos"], cursor: 0 }),
    });
    assert.match(await raw.text(), /"size":9007199254740993/);
  });

  it("keeps the extreme 64-bit integers exact, as keys and as values", async () => {
    const push = `{"v":2,"clientId":"edges","lastSeq":2,"mutations":[
      {"seq":1,"table":"lists","op":"insert","key":[9223372036854775807],"columns":{"id":9223372036854775807,"name":"max"}},
      {"seq":2,"table":"lists","op":"insert","key":[-9223372036854775808],"columns":{"id":-9223372036854775808,"name":"min"}}]}`;
    const pushed = await call("team-a", "push", push);
    assert.deepEqual(pushed.body.rejected, [], JSON.stringify(pushed.body));
    const res = await mf.dispatchFetch("http://primary.test/v1/db/team-a/pull", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.a}` },
      body: JSON.stringify({ v: 2, tables: ["lists"], cursor: 0 }),
    });
    const text = await res.text();
    assert.match(text, /"key":\[9223372036854775807\],"row":\{"id":9223372036854775807,"name":"max"\}/);
    assert.match(text, /"key":\[-9223372036854775808\],"row":\{"id":-9223372036854775808,"name":"min"\}/);
  });

  it("refuses a mutation alone, with the server's code, and applies the rest", async () => {
    const answer = await call("team-a", "push", {
      v: 2,
      clientId: "tablet",
      lastSeq: 3,
      mutations: [
        insert(1, "t1", { title: "someone else's", done: 0 }),
        insert(2, "t3", { title: null }),
        insert(3, "t4", { title: "bread", done: 0 }),
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.ackedThrough, 3);
    const codes = Object.fromEntries(answer.body.rejected.map((r) => [r.seq, r.code]));
    assert.deepEqual(codes, { 1: "KEY_EXISTS", 2: "SQLITE_CONSTRAINT_NOTNULL" });
    assert.equal(answer.body.rejected[0].row.title, "milk");
    const query = await call("team-a", "query", { v: 2, sql: "SELECT id FROM todos ORDER BY id" });
    assert.equal(query.status, 200, JSON.stringify(query.body));
    assert.deepEqual(query.body.rows, [["t1"], ["t2"], ["t4"]]);
  });

  it("answers a waiting pull within moments of a push to the same object", async () => {
    const { body: now } = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: 0 });
    const started = Date.now();
    const waiting = call("team-a", "pull", { v: 2, tables: ["todos"], cursor: now.cursor, waitMs: 20_000 });
    // The pull is held (nothing after its cursor) until this push lands.
    await new Promise((r) => setTimeout(r, 300));
    const pushed = await call("team-a", "push", { v: 2, clientId: "watch", lastSeq: 1, mutations: [insert(1, "t5", { title: "jam", done: 0 })] });
    assert.equal(pushed.status, 200);
    const woken = await waiting;
    assert.equal(woken.status, 200);
    assert.deepEqual(woken.body.changes.map((c) => c.key[0]), ["t5"]);
    assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);
  });

  it("sends replicas the writes the app's own Worker code makes with write()", async () => {
    const { body: now } = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: 0 });
    const waiting = call("team-a", "pull", { v: 2, tables: ["todos"], cursor: now.cursor, waitMs: 20_000 });
    const namespace = await mf.getDurableObjectNamespace("OUTPOST_PRIMARY");
    const object = namespace.get(namespace.idFromName("team-a"));
    await object.write("UPDATE todos SET title = ? WHERE id = ?", "oat milk", "t1");
    const woken = await waiting;
    assert.deepEqual(woken.body.changes.map((c) => [c.key[0], c.row.title]), [["t1", "oat milk"]]);
  });

  it("pulls rows of a composite key, and a tombstone for a deleted one, in one page", async () => {
    const member = (seq, op, team, user, columns = {}) => ({ seq, table: "members", op, key: [team, user], columns });
    const pushed = await call("team-a", "push", {
      v: 2,
      clientId: "admin",
      lastSeq: 4,
      mutations: [
        member(1, "insert", "red", 1, { team: "red", user: 1, role: "lead" }),
        member(2, "insert", "red", 2, { team: "red", user: 2, role: "dev" }),
        member(3, "insert", "blue", 1, { team: "blue", user: 1, role: "dev" }),
        member(4, "delete", "red", 2),
      ],
    });
    assert.deepEqual(pushed.body.rejected, [], JSON.stringify(pushed.body));
    const pulled = await call("team-a", "pull", { v: 2, tables: ["members"], cursor: 0, limit: 10 });
    const byKey = Object.fromEntries(pulled.body.changes.map((c) => [c.key.join("/"), c.row]));
    assert.deepEqual(byKey["red/1"], { team: "red", user: 1, role: "lead" });
    assert.deepEqual(byKey["blue/1"], { team: "blue", user: 1, role: "dev" });
    assert.equal(byKey["red/2"], null, "a tombstone for the deleted member");
  });

  it("keeps each database in its own object", async () => {
    const pulled = await call("team-b", "pull", { v: 2, tables: ["todos"], cursor: 0 }, { auth: tokens.b });
    assert.equal(pulled.status, 200, JSON.stringify(pulled.body));
    assert.deepEqual(pulled.body.changes, []);
  });

  it("refuses bad tokens and bad requests with the server's codes, changing nothing", async () => {
    const pull = { v: 2, tables: ["todos"], cursor: 0 };
    const cases = [
      [await call("team-a", "pull", pull, { auth: null }), 401, "UNAUTHORIZED"],
      [await call("team-a", "pull", pull, { auth: token("team-a", { secret: "another-secret-0123456789" }) }), 401, "UNAUTHORIZED"],
      [await call("team-a", "pull", pull, { auth: tokens.b }), 403, "FORBIDDEN"],
      [await call("Team A", "pull", pull), 400, "BAD_DATABASE_NAME"],
      [await call("team-a", "pull", "{not json"), 400, "BAD_REQUEST"],
      [await call("team-a", "pull", { ...pull, v: 99 }), 400, "UNSUPPORTED_VERSION"],
      [await call("team-a", "pull", { ...pull, v: 1, tables: ["nope"] }), 400, "UNKNOWN_TABLE"],
      [await call("team-a", "push", { v: 2, clientId: "x", mutations: [insert(2, "z", {}), insert(1, "y", {})] }), 400, "BAD_REQUEST"],
      [await call("team-a", "query", { v: 2, sql: "DELETE FROM todos" }), 400, "READ_ONLY"],
      [await call("team-a", "push", undefined, { method: "GET" }), 405, "METHOD_NOT_ALLOWED"],
      [await call("team-a", "nothing", {}), 404, "NOT_FOUND"],
    ];
    for (const [answer, status, code] of cases) {
      assert.equal(answer.body.error?.code, code, JSON.stringify(answer.body));
      assert.equal(answer.status, status, code);
    }
    const query = await call("team-a", "query", { v: 2, sql: "SELECT count(*) FROM todos" });
    assert.deepEqual(query.body.rows, [[4]]);
    const health = await mf.dispatchFetch("http://primary.test/v1/health");
    assert.deepEqual(await health.json(), { ok: true });
    // A browser's preflight, answered as the server does, kept 2 hours.
    const preflight = await mf.dispatchFetch("http://primary.test/v1/db/team-a/push", { method: "OPTIONS" });
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.equal(preflight.headers.get("access-control-max-age"), "7200");
  });

  it("refuses every request while no token secret is set", async () => {
    const unset = startPrimaryDo(undefined, { OUTPOST_SCHEMA: SCHEMA });
    try {
      const res = await unset.dispatchFetch("http://primary.test/v1/db/team-a/pull", {
        method: "POST",
        body: JSON.stringify({ v: 2, tables: ["todos"], cursor: 0 }),
      });
      assert.equal(res.status, 500);
      const body = await res.json();
      assert.equal(body.error.code, "INTERNAL");
      assert.match(body.error.message, /OUTPOST_SECRET/);
    } finally {
      await unset.dispose();
    }
  });

  it("keeps every acknowledged write across a restart, which starts an epoch", async () => {
    const before = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: 0 });
    await mf.dispose();
    mf = startPrimaryDo(persist);
    await mf.ready;
    const after = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: 0 });
    assert.deepEqual(after.body.changes, before.body.changes);
    const epochs = await call("team-a", "query", { v: 2, sql: "SELECT count(*) FROM _outpost_epochs" });
    assert.deepEqual(epochs.body.rows, [[2]], "the object really started again");
    // The replica's cursor from before is still in this history: it is answered, not reset.
    const caughtUp = await call("team-a", "pull", { v: 2, tables: ["todos"], cursor: before.body.cursor, epoch: before.body.epoch });
    assert.equal(caughtUp.body.reset, undefined, JSON.stringify(caughtUp.body));
    assert.deepEqual(caughtUp.body.changes, []);
  });
});

// Sync rules (docs/RULES.md) given as the OUTPOST_RULES binding: notes private to their owner
// unless shared, read by an auditor (a claim other than `sub`) whatever they are.
const NOTES = "CREATE TABLE notes (id TEXT PRIMARY KEY, owner TEXT NOT NULL, list TEXT, body TEXT, shared INTEGER NOT NULL DEFAULT 0);";
const RULES = `table notes
  read:   owner = :sub OR shared = 1 OR :role = 'auditor'
  insert: new.owner = :sub
  # Only the owner edits a note, and cannot give it away.
  update: old.owner = :sub AND new.owner = old.owner
  delete: old.owner = :sub
`;

describe("the Durable Object primary with sync rules", { timeout: 120_000 }, () => {
  let mf;
  const tokens = {};

  before(async () => {
    mf = startPrimaryDo(false, { OUTPOST_SCHEMA: NOTES, OUTPOST_SECRET: SECRET, OUTPOST_RULES: RULES });
    await mf.ready;
    tokens.ann = token("notes", { sub: "ann" });
    tokens.bob = token("notes", { sub: "bob" });
    tokens.carol = token("notes", { sub: "carol", claims: ["role=auditor"] });
  });

  after(async () => {
    await mf?.dispose();
  });

  async function call(user, endpoint, body) {
    const res = await mf.dispatchFetch(`http://primary.test/v1/db/notes/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens[user]}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  const note = (seq, id, columns) => ({ seq, table: "notes", op: "insert", key: [id], columns: { id, ...columns } });
  const pull = (user, fields = {}) => call(user, "pull", { v: 2, tables: ["notes"], cursor: 0, ...fields });
  const rows = (answer) => Object.fromEntries(answer.body.changes.map((c) => [c.key[0], c.row]));

  it("pulls each user only the rows the read rule gives their token's claims", async () => {
    const ann = await call("ann", "push", {
      v: 2,
      clientId: "ann-phone",
      lastSeq: 3,
      mutations: [
        note(1, "ann-private", { owner: "ann", list: "home", body: "diary" }),
        note(2, "ann-shared", { owner: "ann", list: "home", body: "groceries", shared: 1 }),
        note(3, "ann-work", { owner: "ann", list: "work", body: "report", shared: 1 }),
      ],
    });
    assert.deepEqual(ann.body.rejected, [], JSON.stringify(ann.body));
    const bob = await call("bob", "push", {
      v: 2,
      clientId: "bob-phone",
      lastSeq: 1,
      mutations: [note(1, "bob-private", { owner: "bob", list: "home", body: "bob's" })],
    });
    assert.deepEqual(bob.body.rejected, [], JSON.stringify(bob.body));

    const seen = async (user) => Object.keys(rows(await pull(user))).sort();
    assert.deepEqual(await seen("ann"), ["ann-private", "ann-shared", "ann-work"]);
    assert.deepEqual(await seen("bob"), ["ann-shared", "ann-work", "bob-private"]);
    assert.deepEqual(await seen("carol"), ["ann-private", "ann-shared", "ann-work", "bob-private"]);
  });

  it("refuses a write the rules do not allow with NOT_PERMITTED, changing nothing, and applies the rest", async () => {
    const answer = await call("bob", "push", {
      v: 2,
      clientId: "bob-phone",
      lastSeq: 4,
      mutations: [
        { seq: 2, table: "notes", op: "update", key: ["ann-shared"], columns: { body: "bob was here" } },
        note(3, "forged", { owner: "ann", body: "in ann's name" }),
        { seq: 4, table: "notes", op: "update", key: ["bob-private"], columns: { body: "bob's, edited" } },
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.ackedThrough, 4);
    const refused = Object.fromEntries(answer.body.rejected.map((r) => [r.seq, r]));
    assert.deepEqual(Object.keys(refused), ["2", "3"]);
    assert.equal(refused[2].code, "NOT_PERMITTED");
    assert.equal(refused[3].code, "NOT_PERMITTED");
    // The row put back as bob may read it: ann's shared note as it is; the forged one is not there.
    assert.equal(refused[2].row.body, "groceries");
    assert.equal(refused[3].row, null);
    const ann = rows(await pull("ann"));
    assert.equal(ann["ann-shared"].body, "groceries");
    assert.equal("forged" in ann, false);
    assert.equal(rows(await pull("bob"))["bob-private"].body, "bob's, edited");
    // A query would read past the rules.
    const query = await call("ann", "query", { v: 2, sql: "SELECT * FROM notes" });
    assert.equal(query.body.error?.code, "QUERY_DISABLED", JSON.stringify(query.body));
  });

  it("sends a row that leaves a user's view as a removal", async () => {
    const before = await pull("bob");
    assert.ok("ann-shared" in rows(before));
    const unshared = await call("ann", "push", {
      v: 2,
      clientId: "ann-phone",
      lastSeq: 4,
      mutations: [{ seq: 4, table: "notes", op: "update", key: ["ann-shared"], columns: { shared: 0 } }],
    });
    assert.deepEqual(unshared.body.rejected, [], JSON.stringify(unshared.body));
    const after = await pull("bob", { cursor: before.body.cursor, epoch: before.body.epoch });
    assert.equal(after.body.resync, undefined, JSON.stringify(after.body));
    assert.deepEqual(after.body.changes.map((c) => [c.key[0], c.row]), [["ann-shared", null]]);
    assert.equal(rows(await pull("ann"))["ann-shared"].shared, 0, "the owner still has it");
  });

  it("pulls a replica's subset, within what the rules allow", async () => {
    const subset = { notes: { column: "list", values: ["home"] } };
    assert.deepEqual(Object.keys(rows(await pull("bob", { subset }))).sort(), ["bob-private"]);
    assert.deepEqual(Object.keys(rows(await pull("ann", { subset }))).sort(), ["ann-private", "ann-shared"]);
    const work = await pull("bob", { subset: { notes: { column: "list", values: ["work"] } } });
    assert.deepEqual(Object.keys(rows(work)), ["ann-work"]);
  });

  it("refuses rules it cannot hold, naming why, as the server refuses to start", async () => {
    const cases = [
      [{ OUTPOST_AUTH: "none", OUTPOST_RULES: RULES }, /OUTPOST_RULES needs OUTPOST_SECRET/],
      [{ OUTPOST_SECRET: SECRET, OUTPOST_RULES: "table notes\n  read: ownr = :sub\n" }, /OUTPOST_RULES:2: .*no such column: ownr/],
      [{ OUTPOST_SECRET: SECRET, OUTPOST_RULES: "table nope\n  read: true\n" }, /OUTPOST_RULES:1: table nope is not a synced table/],
    ];
    for (const [bindings, message] of cases) {
      const bad = startPrimaryDo(false, { OUTPOST_SCHEMA: NOTES, ...bindings });
      try {
        const headers = bindings.OUTPOST_SECRET ? { authorization: `Bearer ${tokens.ann}` } : {};
        const res = await bad.dispatchFetch("http://primary.test/v1/db/notes/pull", {
          method: "POST",
          headers,
          body: JSON.stringify({ v: 2, tables: ["notes"], cursor: 0 }),
        });
        const body = await res.json();
        assert.equal(res.status, 500, JSON.stringify(body));
        assert.equal(body.error.code, "INTERNAL");
        assert.match(body.error.message, /^the primary is not configured: /);
        assert.match(body.error.message, message);
      } finally {
        await bad.dispose();
      }
    }
  });
});
