// Drizzle ORM over an Outpost database: drizzle-orm's sqlite-proxy driver, fed array rows (so a
// join's columns of the same name stay apart; Drizzle maps them by position), with Drizzle's
// transactions run as Outpost transactions (db.transaction), so everything else waits for them.
import { drizzle as proxyDrizzle } from "drizzle-orm/sqlite-proxy";
import { SQLiteProxyTransaction, SQLiteRemoteSession } from "drizzle-orm/sqlite-proxy/session";
import { checkDatabase, watchOrmQuery } from "./orm.js";

/** @type {import("./drizzle.d.ts").drizzle} */
export function drizzle(db, config = {}) {
  checkDatabase(db, "drizzle(db)");
  const orm = proxyDrizzle(runOn(db), batchOn(db), config);
  const { session } = orm;
  // sqlite-proxy would send BEGIN and COMMIT as statements, which Outpost refuses (a transaction
  // must be the database's to open): run the callback over a session bound to an Outpost `tx`.
  session.transaction = (transaction) =>
    db.transaction((tx) => {
      const options = { logger: session.logger, cache: session.cache };
      const txSession = new SQLiteRemoteSession(runOn(tx), session.dialect, session.schema, batchOn(tx), options);
      return transaction(new SQLiteProxyTransaction("async", session.dialect, txSession, session.schema));
    });
  return orm;
}

/** @type {import("./drizzle.d.ts").watch} */
export function watch(db, query, onRows, options) {
  checkDatabase(db, "watch(db, query, onRows)");
  const { sql, params } = query.toSQL();
  return watchOrmQuery(db, { sql, params }, () => query.execute(), onRows, options);
}

/** sqlite-proxy's callback, on the database or a transaction's `tx`. */
function runOn(target) {
  return async (sql, params, method) => {
    if (method === "run") return { rows: [], ...(await target.execute(sql, params)) };
    const rows = await target.query(sql, params, { rowMode: "array" });
    // "get" wants the first row itself (undefined when there is none).
    return { rows: method === "get" ? rows[0] : rows };
  };
}

/** sqlite-proxy's batch callback: the statements in one transaction, all or nothing. */
function batchOn(target) {
  const runAll = async (tx, queries) => {
    const run = runOn(tx);
    const results = [];
    for (const { sql, params, method } of queries) results.push(await run(sql, params, method));
    return results;
  };
  return (queries) => (typeof target.transaction === "function" ? target.transaction((tx) => runAll(tx, queries)) : runAll(target, queries));
}
