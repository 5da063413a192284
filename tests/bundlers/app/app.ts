// Compiled by tsc in the tsc tests (never run): the package's types as an app uses them, under
// each module resolution. Rows typed by an interface; the ORM subpaths resolve with their types.
import { open, OutpostError, type Database, type SqlValue } from "outpost-sqlite";
import { drizzle } from "outpost-sqlite/drizzle";
import { OutpostDialect } from "outpost-sqlite/kysely";
import outpostSqlite from "outpost-sqlite/rollup";

interface Visit {
  id: number;
  at: string;
}

export async function visits(): Promise<Visit[]> {
  const db: Database = await open({ name: "visits" });
  const rows: Visit[] = await db.query<Visit>("SELECT id, at FROM visits");
  const arrays: SqlValue[][] = await db.query("SELECT id, at FROM visits", [], { rowMode: "array" });
  void [arrays, drizzle(db), new OutpostDialect({ database: db }), outpostSqlite().name, OutpostError];
  return rows;
}
