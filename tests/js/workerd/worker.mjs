// A Cloudflare Worker using outpost-sqlite as an app would: imported by name, bundled with the
// "workerd" export condition. The database lives in memory for the isolate's lifetime.
import { open, OutpostError } from "outpost-sqlite";

let db;

async function database() {
  db ??= open({
    name: "edge",
    migrations: [
      "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)",
      "INSERT INTO todos (id, title) VALUES ('seed', 'from a migration')",
    ],
  });
  return db;
}

// BigInt and Uint8Array have no JSON form: spell them out so the test can check their types.
function toJson(value) {
  if (typeof value === "bigint") return { bigint: String(value) };
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  return value;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      const todos = await database();
      if (request.method === "POST") {
        const { id, title } = await request.json();
        const result = await todos.execute("INSERT INTO todos (id, title) VALUES (?, ?)", [id, title]);
        return Response.json({ rowsAffected: result.rowsAffected });
      }
      if (url.pathname === "/values") {
        const [row] = await todos.query("SELECT 1 AS i, 9007199254740993 AS big, 0.5 AS r, 'x' AS t, x'00ff' AS b, NULL AS n");
        return Response.json(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toJson(v)])));
      }
      return Response.json(await todos.query("SELECT id, title, done FROM todos ORDER BY id"));
    } catch (err) {
      const code = err instanceof OutpostError ? err.code : "NOT_AN_OUTPOST_ERROR";
      return Response.json({ code, message: String(err?.message ?? err) }, { status: 409 });
    }
  },
};
