// The adapter over a Durable Object's `ctx.storage` that the Rust store runs on
// (primary/src/store/durable/storage.rs). SQL on a Durable Object may not open transactions or
// savepoints itself: `transactionSync` is both, nested.

/** Thrown inside `transactionSync` to roll it back; never escapes. */
class RollBack {}

export function storageAdapter(storage) {
  const sql = storage.sql;
  return {
    rows(text, params) {
      return sql.exec(text, ...params).raw().toArray();
    },
    run(text, params) {
      const cursor = sql.exec(text, ...params);
      cursor.toArray(); // a statement runs to its end only as its cursor is read
      return cursor.rowsWritten;
    },
    transaction(body) {
      let committed = false;
      try {
        storage.transactionSync(() => {
          if (!body()) throw new RollBack();
          committed = true;
        });
      } catch (error) {
        if (!(error instanceof RollBack)) throw error;
      }
      return committed;
    },
    // One statement, always rolled back: /query reads, and what it would write is undone.
    query(text, params) {
      let answer;
      try {
        storage.transactionSync(() => {
          const cursor = sql.exec(text, ...params);
          const rows = cursor.raw().toArray();
          answer = { columns: cursor.columnNames, rows, written: cursor.rowsWritten };
          throw new RollBack();
        });
      } catch (error) {
        if (!(error instanceof RollBack)) throw error;
      }
      return answer;
    },
  };
}
