// The Worker the native tests run (`serve.mjs --test-routes`, never deployed): index.js's Worker and
// Durable Object, plus routes for what the tests do behind the server's back
// (tests/native/src/durable.rs). A backend job writes through the object's `write()` RPC, as the
// app's own Worker code does; reads see the object's SQL storage, values with their SQLite types.
//
//   POST /test/db/{name}/write  {sql, params}  -> the rows the statement itself changed
//   POST /test/db/{name}/rows   {sql, params}  -> [[type, value], ...] per row; an integer as text
//   POST /test/db/{name}/tables {}             -> the object's tables, Outpost's own included
//
// A param is null, a number (REAL), a string, or {blob: [bytes]}; the kit binds an integer as text
// cast to INTEGER, as the store does, since a JS number is a double.
import primary, { OutpostPrimary } from "./index.js";

/** Thrown inside `transactionSync` to roll a read back; never escapes. */
class RollBack {}

function bound(param) {
  return param !== null && typeof param === "object" ? new Uint8Array(param.blob) : param;
}

function typed(value) {
  return value instanceof ArrayBuffer ? { blob: [...new Uint8Array(value)] } : value;
}

class TestedPrimary extends OutpostPrimary {
  /** `write()` as the app's Worker code calls it, then, in the same turn, the rows it changed. */
  writeCounting(sql, params) {
    this.write(sql, ...params);
    return this.ctx.storage.sql.exec("SELECT changes() AS n").one().n;
  }

  /** The rows of `sql`, each value beside its type: never writes (it is rolled back). */
  typedRows(sql, params) {
    const storage = this.ctx.storage;
    let rows;
    try {
      storage.transactionSync(() => {
        const width = storage.sql.exec(sql, ...params).columnNames.length;
        const names = Array.from({ length: width }, (_, i) => `c${i}`);
        const columns = names.map(
          (c) => `typeof(${c}), CASE typeof(${c}) WHEN 'integer' THEN CAST(${c} AS TEXT) ELSE ${c} END`,
        );
        const all = `WITH q(${names.join(", ")}) AS (${sql}) SELECT ${columns.join(", ")} FROM q`;
        rows = storage.sql.exec(all, ...params).raw().toArray();
        throw new RollBack();
      });
    } catch (error) {
      if (!(error instanceof RollBack)) throw error;
    }
    return rows.map((row) => Array.from({ length: row.length / 2 }, (_, i) => [row[2 * i], typed(row[2 * i + 1])]));
  }

  tables() {
    const sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name";
    return this.ctx.storage.sql.exec(sql).toArray().map((row) => row.name);
  }
}

export { TestedPrimary as OutpostPrimary };

export default {
  async fetch(request, env, ctx) {
    const route = new URL(request.url).pathname.match(/^\/test\/db\/([^/]+)\/(write|rows|tables)$/);
    if (!route) return primary.fetch(request, env, ctx);
    const [, name, what] = route;
    const object = env.OUTPOST_PRIMARY.get(env.OUTPOST_PRIMARY.idFromName(decodeURIComponent(name)));
    try {
      const { sql, params = [] } = await request.json(); // read whole, so the connection stays usable
      const answer = {
        write: () => object.writeCounting(sql, params.map(bound)),
        rows: () => object.typedRows(sql, params.map(bound)),
        tables: () => object.tables(),
      }[what];
      return Response.json(await answer());
    } catch (error) {
      return Response.json({ error: String(error.message ?? error) }, { status: 400 });
    }
  },
};
