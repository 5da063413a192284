// An app's own dedicated Worker using the package directly (local mode, OPFS).
import { open, OutpostError } from "/pkg/browser.js";

try {
  const db = await open({ name: "own-worker", migrations: ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"] });
  await db.execute("INSERT INTO t (v) VALUES (?)", ["from the worker"]);
  const rows = await db.query("SELECT v FROM t");
  let code = null;
  try {
    await db.execute("INSERT INTO t (id, v) VALUES (1, 'dup')");
  } catch (err) {
    code = err instanceof OutpostError ? err.code : `not an OutpostError: ${err}`;
  }
  await db.close();
  self.postMessage({ rows, code });
} catch (err) {
  self.postMessage({ error: `${err?.code ?? ""} ${err?.message ?? err}` });
}
