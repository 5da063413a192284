// React hooks over an Outpost database: useQuery is a live query (db.watch) held in component
// state, useSyncStatus the sync status kept current by the `status` event. React is an optional
// peer dependency: only this file imports it.
import { useEffect, useState } from "react";

/** @type {import("./react.d.ts").useQuery} */
export function useQuery(db, sql, params) {
  const key = paramsKey(params);
  const query = `${sql}\u0000${key}`;
  const [state, setState] = useState({ db: null, query: null, rows: undefined, error: null });
  useEffect(() => {
    if (!db) return undefined;
    let live = true;
    const deliver = (next) => {
      if (live) setState({ db, query, ...next });
    };
    let stop = () => {};
    try {
      stop = db.watch(sql, params, (rows) => deliver({ rows, error: null }), {
        onError: (error) => deliver({ rows: undefined, error }),
      });
    } catch (error) {
      // watch() throws BAD_OPTIONS synchronously for a sql that is not a string.
      deliver({ rows: undefined, error });
    }
    return () => {
      live = false;
      stop();
    };
    // `params` is compared by value (its key), so an array literal written in render does not re-watch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [db, query]);
  // Rows of an earlier database, sql or params are never shown for the current ones.
  if (!db || state.db !== db || state.query !== query) return { rows: undefined, error: null, loading: true };
  return { rows: state.rows, error: state.error, loading: false };
}

/** @type {import("./react.d.ts").useSyncStatus} */
export function useSyncStatus(db) {
  const [status, setStatus] = useState(() => (db ? { db, value: db.syncStatus() } : null));
  useEffect(() => {
    if (!db) return undefined;
    setStatus({ db, value: db.syncStatus() });
    return db.on("status", (value) => setStatus({ db, value }));
  }, [db]);
  if (!db) return null;
  return status?.db === db ? status.value : db.syncStatus();
}

/** A string equal for equal parameters (bigints and blobs included), so they are compared by value. */
function paramsKey(params) {
  if (params === undefined || params === null) return "";
  return JSON.stringify(params, (_name, value) => {
    if (typeof value === "bigint") return { bigint: value.toString() };
    if (value instanceof Uint8Array) return { blob: Array.from(value) };
    return value;
  });
}
