// The app every bundler test builds: on each load it counts the visits it has recorded in an
// OPFS database, records one more, and reads it back. window.outpostVisit holds the outcome.
import { open } from "outpost-sqlite";

async function visit() {
  const db = await open({ name: "visits", migrations: ["CREATE TABLE visits (id INTEGER PRIMARY KEY, at TEXT NOT NULL)"] });
  const [{ n: before }] = await db.query("SELECT count(*) AS n FROM visits");
  const at = new Date().toISOString();
  await db.execute("INSERT INTO visits (at) VALUES (?)", [at]);
  const [last] = await db.query("SELECT at FROM visits ORDER BY id DESC LIMIT 1");
  const [{ n: after }] = await db.query("SELECT count(*) AS n FROM visits");
  await db.close();
  return { before, after, readBack: last.at === at };
}

visit().then(
  (result) => {
    window.outpostVisit = result;
  },
  (err) => {
    window.outpostVisit = { error: `${err.code ?? err.name}: ${err.message}` };
  },
);
