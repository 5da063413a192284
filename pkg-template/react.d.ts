// Types of outpost-sqlite/react: React hooks over an Outpost database (needs react).
import type { Database, OutpostError, Params, Row, SyncStatus } from "./index.js";

/** What {@link useQuery} returns on each render. */
export interface QueryState<T> {
  /** The query's rows, `undefined` until the first read of the current `sql` and `params` (and after an error). */
  rows: T[] | undefined;
  /** Why the query failed (bad SQL, unknown table, the database closed), or `null`. */
  error: OutpostError | Error | null;
  /** True until the first rows (or error) of the current `sql` and `params` arrive, and while `db` is null. */
  loading: boolean;
}

/**
 * A live query in a component: re-renders with the rows when they are read, and again whenever a
 * write (local, another tab's, or pulled) changes them. A change of `sql` or of `params` (compared
 * by value) starts a new watch; unmounting stops it. `db` may be `null` or `undefined` while it opens.
 */
export function useQuery<T extends object = Row>(db: Database | null | undefined, sql: string, params?: Params): QueryState<T>;

/**
 * The sync status (state, pending writes, last sync, last error), re-rendering when it changes;
 * `null` while `db` is `null` or `undefined`.
 */
export function useSyncStatus(db: Database | null | undefined): SyncStatus | null;
