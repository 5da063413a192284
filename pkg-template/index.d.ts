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

/** One result row: column name → value. */
export type Row = Record<string, SqlValue>;

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
  /** Time between background sync rounds, in milliseconds. Default 5000. */
  intervalMs?: number;
  /** Hold a pull open until the primary has changes, so they arrive within milliseconds. Default true. */
  live?: boolean;
}

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
  /** `idle`: nothing in flight; `syncing`: a round is running; `offline`: the primary cannot be reached; `error`: the last round failed. */
  state: "idle" | "syncing" | "offline" | "error";
  /** Local writes not yet acknowledged by the primary. */
  pending: number;
  /** When a round last completed (milliseconds since the epoch), or `null`. */
  lastSyncedAt: number | null;
  /** Why the last round failed, or `null`. */
  lastError: { code: string; message: string } | null;
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
  /** Why: `UNKNOWN_TABLE`, `UNKNOWN_COLUMN`, `BAD_KEY`, `NOT_PERMITTED`, or a SQLite constraint code such as `SQLITE_CONSTRAINT_NOTNULL`. */
  code: string;
  /** The reason, for people. */
  reason: string;
}

/** What one {@link Database.sync} round did. */
export interface SyncResult {
  /** Local writes the primary accepted. */
  pushed: number;
  /** Changes received from the primary. */
  pulled: number;
  /** Local writes the primary refused. */
  rejected: RejectedMutation[];
}

/** The payload of the `change` event. */
export interface ChangeEvent {
  /** The tables that changes from the primary touched. */
  tables: string[];
}

/** Events and their payloads, for {@link Database.on}. */
export interface DatabaseEvents {
  /** The sync status changed. */
  status: SyncStatus;
  /** The primary refused a local write (one event per write). */
  rejected: RejectedMutation;
  /** Changes from the primary were applied. */
  change: ChangeEvent;
}

/** An open database. Every method except {@link Database.syncStatus} and {@link Database.on} returns a Promise. */
export interface Database {
  /** Runs one statement that returns no rows (INSERT, UPDATE, DELETE, DDL). */
  execute(sql: string, params?: Params): Promise<ExecuteResult>;
  /**
   * Runs one statement and returns its rows. Local only: no network, ever.
   * The type argument describes the rows; it is not checked at run time.
   */
  query<T extends Row = Row>(sql: string, params?: Params): Promise<T[]>;
  /** Runs the statements in one transaction: all of them, or (on any error) none. */
  batch(statements: readonly Statement[]): Promise<ExecuteResult[]>;
  /** Pushes local writes and pulls remote changes now. Rejects with `SYNC_NOT_CONFIGURED` without `sync` options. */
  sync(): Promise<SyncResult>;
  /** The last known sync status (synchronous). */
  syncStatus(): SyncStatus;
  /** Calls `listener` on each `event`; returns a function that stops it. */
  on<E extends keyof DatabaseEvents>(event: E, listener: (payload: DatabaseEvents[E]) => void): () => void;
  /** Stops syncing and closes the database, releasing its storage (and, in a browser, its Worker). Idempotent. */
  close(): Promise<void>;
}

/**
 * Stable error codes. SQLite errors use SQLite's extended code names
 * (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_CONSTRAINT_PRIMARYKEY`, `SQLITE_ERROR`, ...).
 */
export type OutpostErrorCode =
  | "BAD_OPTIONS"
  | "BAD_PARAMS"
  | "DATABASE_CLOSED"
  | "DATABASE_IN_USE"
  | "OPFS_UNAVAILABLE"
  | "STORAGE_FULL"
  | "MIGRATION_FAILED"
  | "MIGRATION_CHANGED"
  | "SYNC_NOT_CONFIGURED"
  | "OFFLINE"
  | "PROTOCOL_ERROR"
  | "UNAUTHORIZED"
  | "WORKER_FAILED"
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
 * object forwards to it. If another tab holds the same OPFS database, this waits up to about 3 s,
 * then rejects with `DATABASE_IN_USE`.
 */
export function open(options: OpenOptions): Promise<Database>;
