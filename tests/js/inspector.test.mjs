// outpost-sqlite/inspector in headless Chromium, over a real primary that refuses a write: the
// panel lists the pending writes, then (after its "Sync now") the rejected one with its code and
// reason, the sync state and the last error, and its "Discard" button forgets the rejected write.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withPrimary } from "../support/primary.mjs";
import { useAppPages } from "./helpers/pages.mjs";

describe("outpost-sqlite/inspector in a browser page", { timeout: 60_000 }, () => {
  const pages = useAppPages();

  it("shows a rejected write with its code and reason, and discards it", async () => {
    // The primary refuses long notes; the page's schema does not.
    const schemaSql = "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL CHECK (length(body) <= 10));\n";
    await withPrimary({ schemaSql, args: ["--no-auth"] }, async (primary) => {
      const page = await pages.appPage();
      const text = (selector) => page.textContent(`.outpost-inspector ${selector}`);
      /** Waits until the panel's part `selector` reads `pattern` (the panel redraws on each event). */
      const shows = (selector, pattern) =>
        page.waitForFunction(
          ([selector, source]) => new RegExp(source).test(document.querySelector(`.outpost-inspector ${selector}`)?.textContent ?? ""),
          [selector, pattern.source],
        );
      await page.evaluate(async (url) => {
        const { mountInspector } = await import("/pkg/inspector.js");
        window.db = await window.outpost.open({
          name: "inspected",
          storage: "memory",
          migrations: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"],
          sync: { url, tables: ["notes"], live: false, intervalMs: 0 },
        });
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('ok', 'fits')");
        await window.db.execute("INSERT INTO notes (id, body) VALUES ('long', 'far too long to fit')");
        window.inspector = mountInspector(window.db);
        await window.inspector.refresh();
      }, `${primary.origin}/v1/db/inspected`);
      await shows("[data-outpost=status]", /^sync: idle · pending 2 · never synced$/);
      assert.deepEqual(await page.$$eval(".outpost-inspector [data-outpost=pending] li", (items) => items.map((li) => li.textContent.replace(/^#\d+ /, ""))), [
        'insert notes ["ok"] {"body":"fits","id":"ok"}',
        'insert notes ["long"] {"body":"far too long to fit","id":"long"}',
      ]);
      assert.equal(await text("[data-outpost=rejected]"), "none");

      // "Sync now": one write accepted, the other refused, shown with its code and reason.
      await page.click(".outpost-inspector [data-outpost=sync]");
      await shows("[data-outpost=status]", /^sync: idle · pending 0 · last synced/);
      await page.waitForSelector(".outpost-inspector [data-outpost=rejected] li[data-code=SQLITE_CONSTRAINT_CHECK]");
      assert.match(await text("[data-outpost=rejected] li"), /insert notes \["long"\] .* — SQLITE_CONSTRAINT_CHECK: .*CHECK constraint failed/);
      assert.equal(await text("[data-outpost=pending]"), "none");

      // "Discard": the rejected write is forgotten, by the database too.
      await page.click(".outpost-inspector [data-outpost=rejected] [data-outpost=discard]");
      await page.waitForFunction(() => document.querySelector(".outpost-inspector [data-outpost=rejected]")?.textContent === "none");
      assert.deepEqual(await page.evaluate(() => window.db.rejectedWrites()), { count: 0, writes: [] });

      // With the primary gone, "Sync now" shows the sync state and the error.
      await primary.stop();
      await page.evaluate(() => window.db.execute("INSERT INTO notes (id, body) VALUES ('later', 'short')"));
      await page.click(".outpost-inspector [data-outpost=sync]");
      await shows("[data-outpost=status]", /^sync: offline · pending 1/);
      await shows("[data-outpost=error]", /^OFFLINE: /);

      await page.evaluate(() => {
        window.inspector.close();
        return window.db.close();
      });
      assert.equal(await page.$(".outpost-inspector"), null);
      assert.deepEqual(page.errors, []);
      await page.close();
    });
  });
});
