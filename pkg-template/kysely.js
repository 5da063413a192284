// A Kysely dialect for an Outpost database: SQLite's query compiler and adapter, a driver whose
// one connection is the database (Kysely's calls take turns on it), and Kysely's transactions run
// as Outpost transactions (db.transaction), so everything else, sync included, waits for them.
// Introspection leaves out Outpost's own tables.
import { SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from "kysely";
import { OutpostError } from "./error.js";
import { checkDatabase, watchOrmQuery } from "./orm.js";

/** Node kinds whose statements change rows and, without RETURNING, return none. */
const WRITES = new Set(["InsertQueryNode", "UpdateQueryNode", "DeleteQueryNode", "MergeQueryNode"]);
/** Outpost's own tables (outbox, rejected writes, metadata): not the app's schema. */
const INTERNAL_TABLE = /^_outpost_/;

export class OutpostDialect {
  #database;

  /** @param {{ database: import("./index.d.ts").Database }} config */
  constructor(config) {
    checkDatabase(config?.database, "new OutpostDialect({ database })");
    this.#database = config.database;
  }

  createAdapter() {
    return new SqliteAdapter();
  }

  createDriver() {
    return new OutpostDriver(this.#database);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createIntrospector(db) {
    return new OutpostIntrospector(db);
  }
}

/** @type {import("./kysely.d.ts").watch} */
export function watch(db, query, onRows, options) {
  checkDatabase(db, "watch(db, query, onRows)");
  const { sql, parameters } = query.compile();
  return watchOrmQuery(db, { sql, params: [...parameters] }, () => query.execute(), onRows, options);
}

class OutpostDriver {
  #connection;
  /** Resolves when the connection is free; Kysely's calls take turns, as on any one-connection driver. */
  #free = Promise.resolve();
  #release = null;

  constructor(database) {
    this.#connection = new OutpostConnection(database);
  }

  async init() {}

  async acquireConnection() {
    for (;;) {
      const free = this.#free;
      await free;
      if (free === this.#free) break;
    }
    this.#free = new Promise((resolve) => {
      this.#release = resolve;
    });
    return this.#connection;
  }

  async releaseConnection() {
    const release = this.#release;
    this.#release = null;
    release?.();
  }

  async beginTransaction(connection) {
    await connection.begin();
  }

  async commitTransaction(connection) {
    await connection.end(true);
  }

  async rollbackTransaction(connection) {
    await connection.end(false);
  }

  /** The database stays open: the app opened it and closes it. */
  async destroy() {}
}

/** Thrown inside the Outpost transaction to roll it back; never reaches the app. */
const ROLLBACK = Symbol("rollback");

class OutpostConnection {
  #database;
  /** The open transaction: { tx, end(commit), done }, or null. */
  #transaction = null;

  constructor(database) {
    this.#database = database;
  }

  async executeQuery(compiledQuery) {
    const target = this.#transaction?.tx ?? this.#database;
    const { sql, parameters, query } = compiledQuery;
    const params = [...parameters];
    if (WRITES.has(query?.kind) && !query.returning) {
      const { rowsAffected, lastInsertRowid } = await target.execute(sql, params);
      return { rows: [], numAffectedRows: BigInt(rowsAffected), insertId: BigInt(lastInsertRowid) };
    }
    return { rows: await target.query(sql, params) };
  }

  async *streamQuery() {
    throw new OutpostError("BAD_OPTIONS", "the Outpost dialect does not stream; run the query with execute()");
  }

  async begin() {
    let opened;
    const ready = new Promise((resolve) => {
      opened = resolve;
    });
    let end;
    const ended = new Promise((resolve) => {
      end = resolve;
    });
    const done = this.#database.transaction(async (tx) => {
      opened(tx);
      if (!(await ended)) throw ROLLBACK;
    });
    // begin() fails as the transaction's start fails (the database closed, ...).
    const tx = await Promise.race([ready, done.then(() => null)]);
    this.#transaction = { tx, end, done };
  }

  async end(commit) {
    const transaction = this.#transaction;
    this.#transaction = null;
    if (!transaction) return;
    transaction.end(commit);
    try {
      await transaction.done;
    } catch (err) {
      if (err !== ROLLBACK) throw err;
    }
  }
}

class OutpostIntrospector {
  #inner;

  constructor(db) {
    this.#inner = new SqliteIntrospector(db);
  }

  async getSchemas() {
    return this.#inner.getSchemas();
  }

  async getTables(options) {
    return (await this.#inner.getTables(options)).filter((table) => !INTERNAL_TABLE.test(table.name));
  }

  async getMetadata(options) {
    return { tables: await this.getTables(options) };
  }
}
