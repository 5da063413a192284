// The Worker the wrangler test bundles: writes ?v= into an in-memory database and reads it back.
import { open } from "outpost-sqlite";

let database;
export default {
  async fetch(request) {
    database ??= open({ name: "w", migrations: ["CREATE TABLE t (v TEXT)"] });
    const db = await database;
    await db.execute("INSERT INTO t VALUES (?)", [new URL(request.url).searchParams.get("v")]);
    return Response.json(await db.query("SELECT v FROM t"));
  },
};
