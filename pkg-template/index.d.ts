// Types of outpost-sqlite: one API for browsers (OPFS, in a Worker), Node and Cloudflare Workers.

/**
 * A value stored in or read from SQLite.
 *
 * - INTEGER → `number`, or `bigint` when outside ±(2^53 − 1); `bigint` parameters are accepted.
 * - REAL → `number`
 * - TEXT → `string`
 * - BLOB → `Uint8Array`
 * - NULL → `null`
 */
export type SqlValue = null | number | bigint | string | Uint8Array;

/**
 * Statement parameters: an array for the `?` placeholders, in order, or an object for named
 * placeholders (`:name`, `@name`, `$name`), keyed by the bare name: `{ name: "Ada" }`.
 */
export type Params = readonly SqlValue[] | { readonly [name: string]: SqlValue };

/**
 * One result row: column name → value. `db.query<Todo>()` takes any object type for its rows, an
 * `interface` as well as a `type` alias.
 */
export type Row = Record<string, SqlValue>;

/** One result row of a query run with `{ rowMode: "array" }`: the values in column order. */
export type ArrayRow = SqlValue[];

/** The options of {@link Database.query}. */
export interface QueryOptions {
  /**
   * `"object"` (the default): each row an object keyed by column name; of two columns with the
   * same name, the last one wins. `"array"`: each row an array of values in column order, so
   * nothing is lost when a join selects two columns of the same name (what ORM drivers use).
   */
  rowMode?: "object" | "array";
}

/** What a write did. */
export interface ExecuteResult {
  /** Rows inserted, updated or deleted by the statement. */
  rowsAffected: number;
  /** The rowid of the most recent successful INSERT on this connection. */
  lastInsertRowid: number | bigint;
}

/** One statement of a {@link Database.batch}. */
export interface Statement {
  sql: string;
  params?: Params;
}

/** Where the database lives. */
export type Storage = "opfs" | "memory";

/** Keeping the database in step with a primary (`outpost-primary`). */
export interface SyncOptions {
  /** The database's URL on the primary, e.g. `https://primary.example.com/v1/db/app`. */
  url: string;
  /**
   * Sent as `Authorization: Bearer <token>`. A function is called whenever a token is needed
   * (so it can refresh one); in a browser it runs on the page's main thread.
   */
  token?: string | (() => string | Promise<string>);
  /** The tables whose local writes are pushed and whose remote changes are pulled. */
  tables: string[];
  /**
   * Time between background sync rounds, in milliseconds. Default 5000; in Cloudflare Workers 0.
   * With `intervalMs: 0` and `live: false` nothing runs by itself: no timer, no push after writes,
   * no retries. Sync then happens only when asked: {@link Database.sync}, {@link Database.push},
   * {@link Database.ensureFresh}.
   */
  intervalMs?: number;
  /**
   * Hold a pull open until the primary has changes, so they arrive within milliseconds.
   * Default true; in Cloudflare Workers false (nothing may run between requests there).
   */
  live?: boolean;
  /**
   * How old the replica may be for {@link Database.ensureFresh} to answer without the network:
   * it pulls first when the newest complete pull was sent longer ago than this. Default 1000.
   */
  maxStalenessMs?: number;
  /**
   * Sync only some rows of some tables, within what the primary's rules allow: for each table,
   * one column and the values whose rows are synced (`{ tasks: { list_id: ["l1"] } }`). Tables
   * not named are synced whole. Kept in the database: leave it out to keep the one set last
   * (by an earlier open or {@link Database.setSubset}).
   */
  subset?: Subset;
}

/** For each table synced in part, one column and the values (integers or text) of its rows. */
export type Subset = Record<string, Record<string, Array<string | number | bigint>>>;

/** The options of {@link open}. */
export interface OpenOptions {
  /** The database's name: one database per name (and per origin, in a browser). */
  name: string;
  /**
   * `"opfs"`: the Origin Private File System, persistent (the browser default).
   * `"memory"`: gone when closed (the default in Node and Cloudflare Workers, which have no OPFS).
   * Asking for `"opfs"` where it is not available fails with `OPFS_UNAVAILABLE`.
   */
  storage?: Storage;
  /**
   * The schema, one SQL string per version, applied in order. Those already applied are skipped;
   * never edit or remove one that has shipped (that fails with `MIGRATION_CHANGED`): append a new one.
   */
  migrations?: string[];
  /** Sync with a primary. Without it, {@link Database.sync} rejects with `SYNC_NOT_CONFIGURED`. */
  sync?: SyncOptions;
}

/** The state of the sync loop. */
export interface SyncStatus {
  /**
   * `idle`: nothing in flight; `syncing`: a round is running; `waiting`: the last push stopped at a
   * write the primary cannot take yet (see `waiting`); `offline`: the primary cannot be reached;
   * `error`: the last round failed (`UPGRADE_REQUIRED` in `lastError`: the primary needs a newer app).
   */
  state: "idle" | "syncing" | "waiting" | "offline" | "error";
  /** Local writes not yet acknowledged by the primary. */
  pending: number;
  /** When a round last completed (milliseconds since the epoch), or `null`. */
  lastSyncedAt: number | null;
  /** Why the last round failed, or `null`. */
  lastError: { code: string; message: string } | null;
  /**
   * Set while pushes wait for the primary: `SCHEMA_AHEAD` when this app is a migration ahead of it
   * (a table or column it does not have yet). The writes stay pending, in order, and go out once
   * the primary has the migration; `null` otherwise.
   */
  waiting: { code: "SCHEMA_AHEAD"; reason: string } | null;
}

/** A local write the primary refused. The row returns to the primary's state. */
export interface RejectedMutation {
  /** The write's sequence number in the outbox. */
  seq: number;
  table: string;
  op: "insert" | "update" | "delete";
  /** The row's primary-key values, in the order of the key's columns. */
  key: SqlValue[];
  /** The columns the write set (insert: all; update: the changed ones; delete: none). */
  columns: Row;
  /** Why: `UNKNOWN_TABLE`, `UNKNOWN_COLUMN`, `BAD_KEY`, or a SQLite constraint code such as `SQLITE_CONSTRAINT_NOTNULL`. */
  code: string;
  /** The reason, for people. */
  reason: string;
}

/** A local write the primary has not acknowledged yet, as {@link Database.pendingWrites} lists it. */
export interface PendingWrite {
  /** The write's sequence number in the outbox: writes are pushed in this order. */
  seq: number;
  table: string;
  op: "insert" | "update" | "delete";
  /** The row's primary-key values, in the order of the key's columns. */
  key: SqlValue[];
  /** The columns the write set (insert: all; update: the changed ones; delete: none). */
  columns: Row;
}

/** A write the primary refused, kept with its content until {@link Database.discardRejected}. */
export interface RejectedWrite extends RejectedMutation {
  /** When the refusal reached this database (milliseconds since the epoch, to the second). */
  rejectedAt: number;
}

/** Some writes, and how many there are in all. */
export interface WriteList<W> {
  /** All of them, however many are listed. */
  count: number;
  /** At most `limit` of them. */
  writes: W[];
}

/** The options of {@link Database.pendingWrites} and {@link Database.rejectedWrites}. */
export interface WriteListOptions {
  /** The most writes to list, 0 or more. Default 100. */
  limit?: number;
}

/** What one {@link Database.sync} round did. */
export interface SyncResult {
  /** Local writes the primary accepted. */
  pushed: number;
  /** Changes received from the primary. */
  pulled: number;
  /** Local writes the primary refused, as the push answered or (when that answer was lost) as the pull found. */
  rejected: RejectedMutation[];
}

/** What {@link Database.ensureFresh} did. */
export interface FreshResult {
  /** Changes pulled by this call: 0 when the replica was fresh enough already. */
  pulled: number;
  /** When the newest complete pull was sent (milliseconds since the epoch): the replica has every change the primary had committed then. */
  pulledAt: number;
}

/** What {@link Database.push} did. */
export interface PushResult {
  /** Local writes the primary accepted. */
  pushed: number;
  /** Local writes the primary refused. */
  rejected: RejectedMutation[];
}

/** The payload of the `change` event. */
export interface ChangeEvent {
  /** The tables that changes from the primary touched. */
  tables: string[];
}

/**
 * The payload of the `resync` event: this replica's history and the primary's parted (the
 * primary was restored from a backup or replaced, or this replica's file was restored from an
 * older copy or copied to another device), so it pulls every row again, keeping its pending writes.
 */
export interface ResyncEvent {
  /** When the replica found out (milliseconds since the epoch). */
  at: number;
}

/** Events and their payloads, for {@link Database.on}. */
export interface DatabaseEvents {
  /** The sync status changed. */
  status: SyncStatus;
  /** The primary refused a local write (one event per write), found by a push or by a pull. */
  rejected: RejectedMutation;
  /** Changes from the primary were applied. */
  change: ChangeEvent;
  /** The replica pulls everything again: its history and the primary's parted. */
  resync: ResyncEvent;
}

/**
 * The calls of a {@link Database.transaction}: they run inside the transaction, and only while its
 * callback runs (a call after it returned fails with `TRANSACTION_STATEMENT`).
 */
export interface Transaction extends Pick<Database, "execute" | "query" | "executeMany" | "batch"> {}

/** An open database. Every method except {@link Database.syncStatus} and {@link Database.on} returns a Promise. */
export interface Database {
  /** Runs one statement that returns no rows (INSERT, UPDATE, DELETE, DDL). */
  execute(sql: string, params?: Params): Promise<ExecuteResult>;
  /**
   * Runs one statement and returns its rows. Local only: no network, ever.
   * The type argument describes the rows; it is not checked at run time.
   */
  query<T extends object = Row>(sql: string, params?: Params, options?: QueryOptions & { rowMode?: "object" }): Promise<T[]>;
  /** {@link Database.query} with each row an array of values in column order. */
  query<T extends readonly unknown[] = ArrayRow>(sql: string, params: Params | undefined, options: QueryOptions & { rowMode: "array" }): Promise<T[]>;
  /**
   * Runs one statement once per parameter list, in one transaction: all rows, or (on any error)
   * none. The statement is compiled once and the call crosses into the database once, so this is
   * the fast way to insert many rows. The result covers the whole run: `rowsAffected` is the sum.
   * Positional lists (arrays) are packed into one buffer on the way in; from 10,000 lists, an OPFS
   * database runs the call with a rollback journal instead of its WAL, which would write every page twice.
   */
  executeMany(sql: string, paramLists: readonly Params[]): Promise<ExecuteResult>;
  /** Runs the statements in one transaction: all of them, or (on any error) none. */
  batch(statements: readonly Statement[]): Promise<ExecuteResult[]>;
  /**
   * Runs `callback` in one transaction: its `tx` calls take effect together when it resolves
   * (the transaction resolves with its value), or not at all when it throws (the transaction
   * rejects with its error). Meanwhile every other call, from this page, from other tabs and from
   * sync, waits and runs after it; a transaction whose tab closes is rolled back. Inside the
   * callback, call `tx`, not the database: a call on the database waits for the transaction, which
   * waits for the callback. `BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT` and `RELEASE` sent as
   * statements are refused with `TRANSACTION_STATEMENT`; transactions do not nest.
   */
  transaction<T>(callback: (tx: Transaction) => Promise<T> | T): Promise<T>;
  /** Pushes local writes and pulls remote changes now. Rejects with `SYNC_NOT_CONFIGURED` without `sync` options. */
  sync(): Promise<SyncResult>;
  /**
   * Pushes every pending local write now, without pulling. In a Cloudflare Worker, hand it to
   * `ctx.waitUntil()` so the response does not wait. Rejects (with `OFFLINE`, `UNAUTHORIZED`, ...)
   * when the push fails; the writes then stay in the outbox for the next push.
   */
  push(): Promise<PushResult>;
  /**
   * Resolves at once, without the network, when the replica's newest complete pull was sent at
   * most `maxStalenessMs` ago (default: the sync option's, else 1000); otherwise pulls everything
   * new first. Callers that arrive during a pull share it. Await it before reads that must be
   * that fresh. Rejects like {@link Database.sync} when the pull fails.
   */
  ensureFresh(options?: { maxStalenessMs?: number }): Promise<FreshResult>;
  /**
   * The local writes the primary has not acknowledged yet (those in the outbox), oldest first, the
   * order they are pushed in; `count` is all of them. Empty without `sync` options.
   */
  pendingWrites(options?: WriteListOptions): Promise<WriteList<PendingWrite>>;
  /**
   * The writes the primary refused (each was reported once by the `rejected` event), newest first,
   * with their code, reason and content; `count` is all of them. They stay until discarded.
   */
  rejectedWrites(options?: WriteListOptions): Promise<WriteList<RejectedWrite>>;
  /** Forgets the rejected write numbered `seq`, or every rejected write without it. */
  discardRejected(seq?: number): Promise<{ discarded: number }>;
  /**
   * Syncs only the subset's rows of the tables it names, and the others whole. Rows that leave
   * the subset are deleted locally at once (`removed` names their tables; the primary keeps
   * them, and unpushed writes to them are still pushed); rows that enter it come with a pull
   * started at once, which pulls nothing the replica already has.
   */
  setSubset(subset: Subset): Promise<{ removed: string[] }>;
  /** The last known sync status (synchronous). */
  syncStatus(): SyncStatus;
  /** Calls `listener` on each `event`; returns a function that stops it. */
  on<E extends keyof DatabaseEvents>(event: E, listener: (payload: DatabaseEvents[E]) => void): () => void;
  /**
   * A live query: calls `onRows` with the query's rows as soon as they are read, then again each time a
   * write touches a table the query reads (a local write in any tab, or a pull) and the rows differ
   * from the last ones delivered. A burst of local writes causes one re-run, 15 ms after its first
   * write; a pull re-runs it at once (a stream of pulls at most once per 15 ms). Writes to other
   * tables never re-run it. The tables are SQLite's own account of the statement (views, triggers and foreign-key
   * actions included). Returns the function that stops the watch. Throws `BAD_OPTIONS` synchronously
   * for a `sql` that is not a string or an `onRows` that is not a function; a query that fails is
   * reported to `options.onError` (by default, as an uncaught error).
   */
  watch<T extends object = Row>(sql: string, params: Params | undefined, onRows: (rows: T[]) => void, options?: WatchOptions): () => void;
  /** {@link Database.watch} without parameters. */
  watch<T extends object = Row>(sql: string, onRows: (rows: T[]) => void): () => void;
  /** Stops syncing and closes the database, releasing its storage (and, in a browser, its Worker). Idempotent. */
  close(): Promise<void>;
}

/** The options of {@link Database.watch}. */
export interface WatchOptions {
  /** Called instead of `onRows` when the query fails (bad SQL, unknown table, the database closed). */
  onError?: (error: OutpostError | Error) => void;
}

/**
 * Stable error codes. SQLite errors use SQLite's extended code names
 * (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_CONSTRAINT_PRIMARYKEY`, `SQLITE_ERROR`, ...).
 * The primary's codes reach the app unchanged; docs/PROTOCOL.md says when it sends each.
 */
export type OutpostErrorCode =
  // Raised on the device, by the database or this package.
  | "BAD_OPTIONS"
  | "BAD_PARAMS"
  | "DATABASE_CLOSED"
  | "DATABASE_IN_USE"
  | "HOLDER_CHANGED"
  | "OPFS_UNAVAILABLE"
  | "STORAGE_FULL"
  | "MIGRATION_FAILED"
  | "MIGRATION_CHANGED"
  | "SYNC_NOT_CONFIGURED"
  | "SYNC_FAILED"
  | "OFFLINE"
  | "PROTOCOL_ERROR"
  | "WORKER_FAILED"
  | "TRANSACTION_OPEN"
  | "TRANSACTION_STATEMENT"
  | "MUTATION_TOO_LARGE"
  | "REPLICA_RESTORED"
  | "SCHEMA_CHANGED"
  // Sent by the primary.
  | "BAD_REQUEST"
  | "UNSUPPORTED_VERSION"
  | "BAD_NAME"
  | "BAD_DATABASE_NAME"
  | "UNKNOWN_TABLE"
  | "UNKNOWN_COLUMN"
  | "BAD_KEY"
  | "KEY_EXISTS"
  | "NOT_PERMITTED"
  | "SCHEMA_AHEAD"
  | "UPGRADE_REQUIRED"
  | "READ_ONLY"
  | "QUERY_DISABLED"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "UNKNOWN_DATABASE"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "BATCH_TOO_LARGE"
  | "INTERNAL"
  | `SQLITE_${string}`
  | (string & {});

/** The one error class Outpost throws. */
export class OutpostError extends Error {
  constructor(code: string, message: string);
  readonly name: "OutpostError";
  /** A stable, machine-readable code, e.g. `"SQLITE_CONSTRAINT_UNIQUE"` or `"DATABASE_IN_USE"`. */
  readonly code: OutpostErrorCode;
}

/**
 * Opens (creating if needed) the database `options.name` and applies new migrations.
 *
 * In a browser page, the database runs in a dedicated Worker that this call starts; the returned
 * object forwards to it. An OPFS database is shared by every tab (and Worker) of the origin that
 * opens it: one holds the file (and runs sync), the others send their calls to it, and another takes
 * over when it goes away. A call the departed holder did not answer rejects with `HOLDER_CHANGED`
 * (a write may or may not have been applied; queries are re-sent instead). The holder's options
 * apply: give every tab the same ones.
 */
export function open(options: OpenOptions): Promise<Database>;
