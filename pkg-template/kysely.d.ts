// Types of outpost-sqlite/kysely: a Kysely dialect for an Outpost database (needs kysely).
import type { Compilable, DatabaseIntrospector, Dialect, DialectAdapter, Driver, QueryCompiler } from "kysely";
import type { Database, WatchOptions } from "./index.js";

export interface OutpostDialectConfig {
  /** What `open()` resolves with. */
  database: Database;
}

/**
 * `new Kysely<DB>({ dialect: new OutpostDialect({ database: db }) })`. Kysely's transactions are
 * Outpost transactions: every other call, from other tabs and from sync, waits for them.
 * Introspection lists the app's tables only, never Outpost's own.
 */
export declare class OutpostDialect implements Dialect {
  constructor(config: OutpostDialectConfig);
  createAdapter(): DialectAdapter;
  createDriver(): Driver;
  createQueryCompiler(): QueryCompiler;
  createIntrospector(db: Parameters<Dialect["createIntrospector"]>[0]): DatabaseIntrospector;
}

/** A Kysely query that can run: `db.selectFrom(...)...`. */
export interface KyselyQuery<O> extends Compilable<O> {
  execute(): Promise<O[]>;
}

/**
 * A live Kysely query: `onRows` gets its rows at once and again whenever a write (local, another
 * tab's, or pulled) changes them. Returns the function that stops it.
 */
export function watch<O>(db: Database, query: KyselyQuery<O>, onRows: (rows: O[]) => void, options?: WatchOptions): () => void;
