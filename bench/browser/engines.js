// The two engines behind one small interface, each used the fastest way its own API offers.
// Both run in this dedicated worker on OPFS through a sync-access-handle pool, with the same
// pragmas: foreign_keys=ON and locking_mode=EXCLUSIVE (Outpost sets both itself on OPFS).
//
// Outpost: the raw wasm `Database` of pkg/outpost.js (what the package's worker calls).
//   execute(sql, params) per statement (statements are cached by SQL text in the core);
//   executeMany for the bulk insert as the package's worker runs it: the rows packed into one
//   buffer in JS (pkg/packed.js), then executeManyPacked (one statement compiled once, one crossing);
//   batch([{sql, params}]) for the one-crossing variant of the bulk insert.
// Anchor: @sqlite.org/sqlite-wasm's oo1 API on its opfs-sahpool VFS, with one prepared
//   statement per benchmark reused through bind/step/reset (its fastest path).

const PRAGMAS = ["foreign_keys", "locking_mode", "journal_mode", "synchronous", "page_size", "cache_size", "temp_store"];

/**
 * `engine`: "outpost", "outpost-synced" (every table synced: each write also appends its outbox
 * entry, the real cost of a synced table) or "anchor". `schema` is created at open for
 * outpost-synced (synced tables must exist before open); `pragmas` are extra PRAGMA statements
 * for experiments (e.g. journal_mode=WAL), run right after open.
 */
export async function openEngine(engine, name, { schema = [], pragmas = [] } = {}) {
  const db = engine === "anchor" ? await openAnchor(name) : await openOutpost(name, engine === "outpost-synced" ? schema : []);
  for (const pragma of pragmas) db.scalar(pragma);
  return db;
}

let outpostReady = null;

async function openOutpost(name, syncedSchema) {
  const [glue, { packParamLists }] = await Promise.all([import("/pkg/outpost.js"), import("/pkg/packed.js")]);
  outpostReady ??= glue.default();
  await outpostReady;
  const syncTables = syncedSchema.map((sql) => sql.match(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/)[1]);
  const db = await glue.Database.open({ name, storage: "opfs", migrations: syncedSchema.length ? [syncedSchema.join(";\n")] : [], syncTables });
  return {
    exec: (sql) => db.execute(sql, undefined),
    insertOne: (sql, params) => db.execute(sql, params),
    // One statement compiled once over every row, in one transaction: Outpost's counterpart of
    // the anchor's re-used prepared statement. Packing the rows is part of the time.
    bulkInsertLoop: (sql, rows) => db.executeManyPacked(sql, packParamLists(rows)),
    bulkInsertBatch: (statements) => db.batch(statements),
    pointReader(sql) {
      return (id) => db.query(sql, [id])[0];
    },
    selectAll: (sql) => db.query(sql, undefined),
    scalar: (sql) => Object.values(db.query(sql, undefined)[0] ?? {})[0],
    pending: () => db.pendingCount(),
    pragmas: () => Object.fromEntries(PRAGMAS.map((p) => [p, Object.values(db.query(`PRAGMA ${p}`, undefined)[0])[0]])),
    close: () => db.close(),
  };
}

let anchorModule = null;

async function openAnchor(name) {
  const { default: sqlite3InitModule } = await import("/anchor/index.mjs");
  anchorModule ??= sqlite3InitModule();
  const sqlite3 = await anchorModule;
  const pool = await sqlite3.installOpfsSAHPoolVfs({ name: `anchor-${name}`, directory: `/.anchor/${name}` });
  // Opened again in the same worker (the reopened-reads measure): the pool was paused at close.
  if (pool.isPaused?.()) await pool.unpauseVfs();
  const db = new pool.OpfsSAHPoolDb(`/${name}.sqlite3`);
  db.exec("PRAGMA foreign_keys=ON; PRAGMA locking_mode=EXCLUSIVE;");
  const statements = new Map();
  const prepared = (sql) => {
    let stmt = statements.get(sql);
    if (!stmt) statements.set(sql, (stmt = db.prepare(sql)));
    return stmt;
  };
  return {
    exec: (sql) => db.exec(sql),
    insertOne(sql, params) {
      prepared(sql).bind(params).stepReset();
    },
    bulkInsertLoop(sql, rows) {
      const stmt = prepared(sql);
      db.exec("BEGIN");
      for (let i = 0; i < rows.length; i++) stmt.bind(rows[i]).stepReset();
      db.exec("COMMIT");
    },
    bulkInsertBatch: null,
    pointReader(sql) {
      const stmt = prepared(sql);
      return (id) => {
        stmt.bind([id]);
        const row = stmt.step() ? stmt.get({}) : undefined;
        stmt.reset();
        return row;
      };
    },
    selectAll: (sql) => db.selectObjects(sql),
    scalar: (sql) => db.selectValue(sql),
    pragmas: () => Object.fromEntries(PRAGMAS.map((p) => [p, db.selectValue(`PRAGMA ${p}`)])),
    close() {
      for (const stmt of statements.values()) stmt.finalize();
      db.close();
      pool.pauseVfs?.();
    },
    version: sqlite3.version,
  };
}
