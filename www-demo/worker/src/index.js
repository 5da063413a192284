// The demo board at the edge: a Cloudflare Worker that answers from its own copy of the board, a
// SQLite database in the isolate's memory, instead of crossing the ocean to the primary.
//
// - The first request of an isolate opens the database and pulls the whole board (a cold start).
// - A read pulls first only when the replica's last pull is older than MAX_STALENESS_MS; otherwise
//   it is answered locally, without touching the network.
// - A write is local (so this isolate reads it back at once) and queued in the outbox; the push to
//   the primary runs in ctx.waitUntil, after the response has gone.
//
// GET /lists, GET /tasks   the board; x-outpost-pulled says how many changes this request pulled
// POST /tasks              { list_id, title, id?, position? } → 201 and the new task
// PATCH /tasks/:id         { done?, title? } → the task
// GET /status              the replica's sync status
import { open, OutpostError } from "outpost-sqlite";
import { MIGRATIONS, SYNCED_TABLES } from "../../app/schema.js";

/** One replica per isolate, opened by the first request and shared by the ones after it. */
let replica = null;
/** When this isolate's replica was last known fresh, or null before its first pull. */
let lastPulledAt = null;

function database(env) {
  replica ??= open({
    name: "board",
    migrations: MIGRATIONS,
    sync: {
      url: env.OUTPOST_URL,
      token: env.OUTPOST_TOKEN, // a secret: `wrangler secret put OUTPOST_TOKEN`
      tables: SYNCED_TABLES,
      maxStalenessMs: Number(env.MAX_STALENESS_MS ?? 1000),
      // In Workers these are the defaults, spelled out: nothing runs between requests.
      live: false,
      intervalMs: 0,
    },
  }).catch((err) => {
    replica = null; // let the next request try again
    throw err;
  });
  return replica;
}

const TASK_COLUMNS = "id, list_id, title, done, position, created_at";

export default {
  async fetch(request, env, ctx) {
    try {
      const db = await database(env);
      const response = await route(request, db);
      // Writes left behind by a failed push go with any later request; an empty outbox costs nothing.
      if (db.syncStatus().pending > 0) ctx.waitUntil(pushInBackground(db));
      return response;
    } catch (err) {
      return failure(err);
    }
  },
};

async function route(request, db) {
  const { pathname } = new URL(request.url);
  const taskId = pathname.match(/^\/tasks\/([^/]+)$/)?.[1];
  if (request.method === "GET" && pathname === "/status") return Response.json(db.syncStatus());
  if (request.method === "GET" && (pathname === "/tasks" || pathname === "/lists")) {
    const { pulled, pulledAt, stale } = await freshness(db);
    const rows =
      pathname === "/tasks"
        ? await db.query(`SELECT ${TASK_COLUMNS} FROM tasks ORDER BY list_id, position`)
        : await db.query("SELECT id, name, position, created_at FROM lists ORDER BY position");
    return Response.json(rows, {
      headers: {
        "x-outpost-pulled": String(pulled),
        "x-outpost-pulled-at": String(pulledAt),
        ...(stale ? { "x-outpost-stale": stale } : {}),
      },
    });
  }
  if (request.method === "POST" && pathname === "/tasks") {
    const { id = crypto.randomUUID(), list_id, title, position = Date.now() } = await request.json();
    await db.execute(
      "INSERT INTO tasks (id, list_id, title, done, position, created_at) VALUES (?, ?, ?, 0, ?, ?)",
      [id, list_id, title, position, Date.now()],
    );
    return Response.json(await task(db, id), { status: 201 });
  }
  if (request.method === "PATCH" && taskId) {
    const changes = await request.json();
    await db.batch([
      ...("title" in changes ? [{ sql: "UPDATE tasks SET title = ? WHERE id = ?", params: [changes.title, taskId] }] : []),
      ...("done" in changes ? [{ sql: "UPDATE tasks SET done = ? WHERE id = ?", params: [changes.done ? 1 : 0, taskId] }] : []),
    ]);
    const row = await task(db, taskId);
    return row ? Response.json(row) : Response.json({ code: "NOT_FOUND" }, { status: 404 });
  }
  return Response.json({ code: "NOT_FOUND" }, { status: 404 });
}

/**
 * Pulls first when the replica is older than its staleness bound. If the primary cannot be reached,
 * a replica that was filled before answers anyway (and says so); an empty one cannot.
 */
async function freshness(db) {
  try {
    const fresh = await db.ensureFresh();
    lastPulledAt = fresh.pulledAt;
    return fresh;
  } catch (err) {
    if (lastPulledAt === null || !(err instanceof OutpostError)) throw err;
    return { pulled: 0, pulledAt: lastPulledAt, stale: err.code };
  }
}

async function task(db, id) {
  const [row] = await db.query(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`, [id]);
  return row ?? null;
}

/** The push after a response: it fails quietly (the writes stay in the outbox for the next one). */
async function pushInBackground(db) {
  try {
    const { rejected } = await db.push();
    for (const { table, key, code } of rejected) console.warn(`the primary refused a write to ${table} ${key}: ${code}`);
  } catch (err) {
    console.warn(`push failed, will retry with the next request: ${err.code ?? ""} ${err.message}`);
  }
}

function failure(err) {
  if (err instanceof SyntaxError) return Response.json({ code: "BAD_REQUEST", message: err.message }, { status: 400 });
  if (!(err instanceof OutpostError)) throw err;
  // OFFLINE / UNAUTHORIZED: the primary could not vouch for freshness (or never filled the replica).
  const status = err.code.startsWith("SQLITE_CONSTRAINT") ? 409 : err.code.startsWith("SQLITE_") || err.code === "BAD_PARAMS" ? 400 : 503;
  return Response.json({ code: err.code, message: err.message }, { status });
}
