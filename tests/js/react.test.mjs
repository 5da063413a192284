// outpost-sqlite/react in headless Chromium: a React app (pages/react-app.jsx, bundled with esbuild
// as an app's bundler would) renders useQuery's rows and re-renders when a row is written, when its
// parameters change and when its query fails, holds one watch per mounted query and none once
// unmounted; useSyncStatus shows the pending writes, the sync and the last error of a real primary.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { withPrimary } from "../support/primary.mjs";
import { useAppPages } from "./helpers/pages.mjs";
import { linkPackage } from "./helpers/package.mjs";

const TODOS = "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)";

async function bundleApp() {
  linkPackage();
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./pages/react-app.jsx", import.meta.url))],
    bundle: true,
    format: "esm",
    jsx: "automatic",
    write: false,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

describe("outpost-sqlite/react in a browser page", { timeout: 60_000 }, () => {
  const pages = useAppPages();
  const app = bundleApp();

  /** app.html with the React app loaded and a database open on window.db. */
  async function reactPage(options) {
    const page = await pages.appPage();
    await page.addScriptTag({ content: await app, type: "module" });
    await page.waitForFunction(() => window.reactApp !== undefined);
    await page.evaluate((o) => window.outpost.open(o).then((db) => (window.db = db)), options);
    return page;
  }

  const titles = (page) => page.$$eval("#todos li", (items) => items.map((li) => li.textContent));

  it("useQuery renders the rows, re-renders on a write and on new parameters, and stops watching on unmount", async () => {
    const page = await reactPage({ name: "react-todos", storage: "memory", migrations: [TODOS] });
    await page.evaluate(() => {
      window.unmount = window.reactApp.mount(window.db);
    });
    await page.waitForSelector("#todos[data-loading=false]");
    assert.deepEqual(await titles(page), []);

    await page.evaluate(() => window.db.execute("INSERT INTO todos (id, title) VALUES ('a', 'buy milk'), ('b', 'walk')"));
    await page.waitForFunction(() => document.querySelectorAll("#todos li").length === 2);
    assert.deepEqual(await titles(page), ["buy milk", "walk"]);

    // The filter is a parameter: a new one re-watches, and the old watch stops.
    await page.evaluate(() => window.db.execute("INSERT INTO todos (id, title, done) VALUES ('c', 'call mum', 1)"));
    await page.click("#show-done");
    await page.waitForFunction(() => [...document.querySelectorAll("#todos li")].map((li) => li.textContent).join() === "call mum");
    assert.equal(await page.evaluate(() => window.reactApp.watches), 1);
    await page.evaluate(() => window.db.execute("UPDATE todos SET done = 1 WHERE id = 'a'"));
    await page.waitForFunction(() => document.querySelectorAll("#todos li").length === 2);
    assert.deepEqual(await titles(page), ["buy milk", "call mum"]);

    await page.evaluate(() => window.unmount());
    assert.equal(await page.evaluate(() => window.reactApp.watches), 0);
    assert.equal(await page.$("#todos"), null);

    // A query that fails renders its error, with its code.
    await page.evaluate(() => {
      window.unmount = window.reactApp.mount(window.db, "SELECT id, title FROM no_such_table WHERE done = ?");
    });
    await page.waitForSelector("#error");
    assert.equal(await page.textContent("#error"), "SQLITE_ERROR");
    await page.evaluate(() => window.unmount());
    await page.evaluate(() => window.db.close());
    assert.deepEqual(page.errors, []);
    await page.close();
  });

  it("useSyncStatus shows the pending writes, the sync that drains them, and the last error", async () => {
    await withPrimary({ schemaSql: `${TODOS};\n`, args: ["--no-auth"] }, async (primary) => {
      const page = await reactPage({
        name: "react-status",
        storage: "memory",
        migrations: [TODOS],
        // Nothing syncs by itself: the test says when.
        sync: { url: `${primary.origin}/v1/db/react-status`, tables: ["todos"], live: false, intervalMs: 0 },
      });
      await page.evaluate(() => {
        window.unmount = window.reactApp.mount(window.db);
      });
      await page.waitForSelector("#status[data-state=idle][data-pending='0']");
      await page.evaluate(() => window.db.execute("INSERT INTO todos (id, title) VALUES ('a', 'buy milk')"));
      await page.waitForSelector("#status[data-pending='1']");

      await page.evaluate(() => window.db.sync());
      await page.waitForSelector("#status[data-state=idle][data-pending='0'][data-error='']");

      await primary.stop();
      await page.evaluate(() => window.db.execute("INSERT INTO todos (id, title) VALUES ('b', 'walk')"));
      const failed = await page.evaluate(() => window.db.sync().then(() => "synced", (err) => err.code));
      assert.equal(failed, "OFFLINE");
      await page.waitForSelector("#status[data-state=offline][data-pending='1'][data-error=OFFLINE]");
      await page.evaluate(() => window.unmount());
      await page.evaluate(() => window.db.close());
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  });
});
