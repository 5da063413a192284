// Types of outpost-sqlite/drizzle: Drizzle ORM over an Outpost database (needs drizzle-orm).
import type { DrizzleConfig } from "drizzle-orm";
import type { SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import type { Database, WatchOptions } from "./index.js";

/**
 * A Drizzle database over `db` (what `open()` resolves with). Rows travel as arrays, so joins
 * whose tables share column names map correctly. `orm.transaction(async (tx) => ...)` is an
 * Outpost transaction: every other call, from other tabs and from sync, waits for it; nested
 * transactions (savepoints) are refused with `TRANSACTION_STATEMENT`. `orm.batch([...])` runs in
 * one transaction.
 */
export function drizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  db: Database,
  config?: DrizzleConfig<TSchema>,
): SqliteRemoteDatabase<TSchema>;

/** A Drizzle query, as `orm.select()...` or `orm.query.table.findMany()` builds it. */
export interface DrizzleQuery<T> {
  toSQL(): { sql: string; params: unknown[] };
  execute(): Promise<T>;
}

/**
 * A live Drizzle query: `onRows` gets the query's result, mapped and typed as Drizzle returns it,
 * at once and again whenever a write (local, another tab's, or pulled) changes its rows. Returns
 * the function that stops it.
 */
export function watch<T>(db: Database, query: DrizzleQuery<T>, onRows: (result: T) => void, options?: WatchOptions): () => void;
