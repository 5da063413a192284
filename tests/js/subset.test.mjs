// A replica that syncs a subset of a table through the package (db.setSubset, sync.subset),
// against the real primary in Node: it receives only its subset's rows, a watch follows the rows
// that leave and enter it, the choice is kept across an open, and a bad subset is BAD_OPTIONS.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withPrimary } from "../support/primary.mjs";
import { until } from "../support/wait.mjs";
import { importPackage } from "./helpers/package.mjs";

const { open } = await importPackage();

const TASKS = "CREATE TABLE tasks (id TEXT PRIMARY KEY, list_id TEXT NOT NULL, title TEXT NOT NULL)";

describe("a replica syncing a subset", () => {
  it("receives only its subset's rows, and follows when the subset changes", async () => {
    await withPrimary({ schemaSql: `${TASKS};\n`, args: ["--no-auth"] }, async (primary) => {
      const sync = (name) => ({ url: `${primary.origin}/v1/db/subsets`, tables: ["tasks"], live: false, intervalMs: 0, name });
      const writer = await open({ name: "subset-writer", storage: "memory", migrations: [TASKS], sync: sync() });
      const lists = { l0: 3, l1: 4, l2: 2 };
      for (const [list, count] of Object.entries(lists)) {
        for (let i = 0; i < count; i++) {
          await writer.execute("INSERT INTO tasks VALUES (?, ?, ?)", [`${list}-${i}`, list, `task ${i}`]);
        }
      }
      await writer.sync();

      const reader = await open({
        name: "subset-reader",
        storage: "memory",
        migrations: [TASKS],
        sync: { ...sync(), subset: { tasks: { list_id: ["l0"] } } },
      });
      const seen = [];
      const stop = reader.watch("SELECT list_id, count(*) AS n FROM tasks GROUP BY list_id ORDER BY list_id", [], (rows) =>
        seen.push(rows.map((r) => `${r.list_id}:${r.n}`).join(" ")),
      );
      assert.equal((await reader.sync()).pulled, 3);
      await until(() => seen.at(-1) === "l0:3", () => `the watch saw ${JSON.stringify(seen)}`);

      // Gaining l1 brings its 4 tasks only; dropping l0 removes its rows at once.
      assert.deepEqual(await reader.setSubset({ tasks: { list_id: ["l0", "l1"] } }), { removed: [] });
      assert.equal((await reader.sync()).pulled, 4, "only l1's tasks come");
      assert.deepEqual(await reader.setSubset({ tasks: { list_id: ["l1"] } }), { removed: ["tasks"] });
      await until(() => seen.at(-1) === "l1:4", () => `the watch saw ${JSON.stringify(seen)}`);
      assert.equal((await reader.pendingWrites()).count, 0, "leaving the subset writes nothing");

      // A task moved into the subset on the primary arrives; one moved out leaves.
      await writer.execute("UPDATE tasks SET list_id = 'l1' WHERE id = 'l2-0'");
      await writer.execute("UPDATE tasks SET list_id = 'l0' WHERE id = 'l1-0'");
      await writer.sync();
      await reader.sync();
      const ids = await reader.query("SELECT id FROM tasks ORDER BY id");
      assert.deepEqual(ids.map((r) => r.id), ["l1-1", "l1-2", "l1-3", "l2-0"]);

      // Bad subsets change nothing.
      for (const bad of [{ lists: { id: ["x"] } }, { tasks: { colour: ["red"] } }, { tasks: { list_id: "l1" } }, { tasks: { id: [1.5] } }]) {
        await assert.rejects(reader.setSubset(bad), (err) => err.code === "BAD_OPTIONS", JSON.stringify(bad));
      }
      assert.equal((await reader.sync()).pulled, 0);
      stop();
      await reader.close();
      await writer.close();
    });
  });

  it("pushes its own writes outside the subset, then lets them go; a bad subset at open is BAD_OPTIONS", async () => {
    await withPrimary({ schemaSql: `${TASKS};\n`, args: ["--no-auth"] }, async (primary) => {
      const options = (extra = {}) => ({
        name: "subset-kept",
        storage: "memory",
        migrations: [TASKS],
        sync: { url: `${primary.origin}/v1/db/kept`, tables: ["tasks"], live: false, intervalMs: 0, ...extra },
      });
      const db = await open(options({ subset: { tasks: { list_id: ["l1"] } } }));
      await db.execute("INSERT INTO tasks VALUES ('a', 'l1', 'mine'), ('b', 'l2', 'elsewhere')");
      await db.sync();
      // Its own write outside the subset was pushed, then left the replica.
      assert.deepEqual((await db.query("SELECT id FROM tasks ORDER BY id")).map((r) => r.id), ["a"]);
      await db.close();
      await assert.rejects(open(options({ subset: { tasks: { nope: ["l1"] } } })), (err) => err.code === "BAD_OPTIONS");
    });
  });
});
