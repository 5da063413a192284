// What the ORM drivers (drizzle.js, kysely.js) share: a live query built by the ORM, and the check
// that they were handed an open Outpost database.
import { OutpostError } from "./error.js";

/** Throws BAD_OPTIONS unless `db` looks like what open() resolves with. */
export function checkDatabase(db, where) {
  const ok = db !== null && typeof db === "object" && ["execute", "query", "transaction", "watch"].every((m) => typeof db[m] === "function");
  if (!ok) throw new OutpostError("BAD_OPTIONS", `${where} takes the Database that open() resolves with`);
}

/**
 * Watches a query the ORM built: `statement` is its SQL and parameters, `run` runs it through the
 * ORM, so the rows arrive mapped and typed as the ORM's own calls return them. The database's
 * watch says when the rows changed (it compares them by value); the ORM's query then runs again.
 * A run that a later one overtakes is not delivered.
 */
export function watchOrmQuery(db, statement, run, onRows, options) {
  if (typeof onRows !== "function") throw new OutpostError("BAD_OPTIONS", "watch(db, query, onRows): onRows must be a function");
  const onError = options?.onError ?? reportLater;
  let latest = 0;
  let stopped = false;
  const stop = db.watch(
    statement.sql,
    statement.params,
    () => {
      const mine = ++latest;
      Promise.resolve()
        .then(run)
        .then(
          (rows) => {
            if (!stopped && mine === latest) onRows(rows);
          },
          (err) => {
            if (!stopped) onError(err);
          },
        );
    },
    { onError },
  );
  return () => {
    stopped = true;
    stop();
  };
}

function reportLater(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else setTimeout(() => {
    throw err;
  });
}
