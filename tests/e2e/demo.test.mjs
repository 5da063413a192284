// The demo page (www-demo/) in headless Chromium, served by the real outpost-primary.
// Two browser contexts are two devices of one board (device A at a laptop's width, device B at a
// phone's). Everything is driven through the page's own controls, as a person would.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "../support/chromium.mjs";
import { until } from "../support/wait.mjs";
import { artifacts, describePng, makeStaticRoot, openDemo, root, settled, startPrimary } from "./helpers.mjs";

/** A task added on one device must show on the other, without a reload, within this (measured: see the diagnostics). */
const PROPAGATION_BOUND_MS = 1000;

describe("the demo page", { timeout: 240_000 }, () => {
  let staticRoot;
  let primary;
  let browser;
  let A;
  let B;

  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    staticRoot = makeStaticRoot();
    primary = await startPrimary({ schemaFile: join(root, "www-demo/schema.sql"), staticDir: staticRoot.dir });
    browser = await launchChromium();
    A = await openDevice("a", { width: 1280, height: 900 });
    B = await openDevice("b", { width: 390, height: 844 });
  });

  after(async () => {
    await browser?.close();
    await primary?.stop();
    if (primary) rmSync(primary.dataDir, { recursive: true, force: true });
    staticRoot?.cleanup();
  });

  async function openDevice(device, viewport) {
    return { device, ...(await openDemo(browser, `${primary.origin}/?device=${device}`, viewport)) };
  }

  // ---- driving the page ----------------------------------------------------------------------

  const list = ({ page }, name) => page.locator(`.list:has(.list-name .text-button:text-is("${name}"))`);
  const task = ({ page }, title) => page.locator(`.task:has(.task-title:text-is("${title}"))`);

  async function addList(device, name) {
    await device.page.fill("#new-list-name", name);
    await device.page.press("#new-list-name", "Enter");
    await list(device, name).waitFor();
  }

  async function addTask(device, listName, title) {
    const input = list(device, listName).locator(".add-task-input");
    await input.fill(title);
    await input.press("Enter");
  }

  async function rename(device, title, newTitle) {
    await task(device, title).locator(".task-title").click();
    const editor = device.page.locator(".task .edit-input");
    await editor.fill(newTitle);
    await editor.press("Enter");
    await task(device, newTitle).waitFor();
  }

  async function setOffline(device, offline) {
    const toggle = device.page.locator("#offline-switch");
    if ((await toggle.getAttribute("aria-checked")) !== String(offline)) await toggle.click();
    await device.page.locator(`#offline-switch[aria-checked="${offline}"]:not([disabled])`).waitFor();
    if (offline) await device.page.locator('#sync-state[data-state="offline"]').waitFor();
  }

  const outboxCount = async ({ page }) => Number(await page.locator("#outbox-count").textContent());

  /** For a failed wait: what a device shows and holds (outbox, tasks) and any page errors. */
  const describeDevice = async (device) =>
    JSON.stringify({
      device: device.device,
      outboxShown: await outboxCount(device),
      outbox: await device.page.evaluate(async () =>
        (await window.outpostDemo.db()).query("SELECT seq, op, columns, acked_version FROM _outpost_outbox ORDER BY seq"),
      ),
      shown: await shown(device),
      problems: device.problems,
    });

  /** What the page shows: each list and its tasks as [title, done], in order. */
  const shown = ({ page }) =>
    page.evaluate(() =>
      [...document.querySelectorAll(".list")].map((section) => ({
        list: section.querySelector(".list-name").textContent,
        tasks: [...section.querySelectorAll(".task")].map((li) => [
          li.querySelector(".task-title").textContent,
          li.querySelector(".task-done").checked,
        ]),
      })),
    );

  /** What the local database holds. */
  const stored = ({ page }) =>
    page.evaluate(async () => {
      const db = await window.outpostDemo.db();
      return {
        lists: await db.query("SELECT id, name, position FROM lists ORDER BY id"),
        tasks: await db.query("SELECT id, list_id, title, done, position FROM tasks ORDER BY id"),
      };
    });

  const onPrimary = async () => ({
    lists: await primary.query("demo", "SELECT id, name, position FROM lists ORDER BY id"),
    tasks: await primary.query("demo", "SELECT id, list_id, title, done, position FROM tasks ORDER BY id"),
  });

  /** What the page should show, drawn from its own database: what `shown` must equal once it has caught up. */
  const drawnFromDatabase = ({ page }) =>
    page.evaluate(async () => {
      const db = await window.outpostDemo.db();
      const lists = await db.query("SELECT id, name FROM lists ORDER BY position, created_at, id");
      const tasks = await db.query("SELECT list_id, title, done FROM tasks ORDER BY list_id, position, created_at, id");
      return lists.map((l) => ({
        list: l.name,
        tasks: tasks.filter((t) => t.list_id === l.id).map((t) => [t.title, Boolean(t.done)]),
      }));
    });

  const pendingIn = ({ page }) =>
    page.evaluate(async () => {
      const db = await window.outpostDemo.db();
      return (await db.query("SELECT count(*) AS n FROM _outpost_outbox WHERE acked_version IS NULL"))[0].n;
    });

  /**
   * Waits until nothing is pending on either device, both databases equal the primary row for row,
   * and each page shows what its database holds (with an outbox count of 0). Returns A's board.
   */
  async function converged(message) {
    const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
    await until(
      async () => {
        if ((await pendingIn(A)) !== 0 || (await pendingIn(B)) !== 0) return false;
        const [a, b, p] = [await stored(A), await stored(B), await onPrimary()];
        if (!same(a, p) || !same(b, p)) return false;
        for (const device of [A, B]) {
          if ((await outboxCount(device)) !== 0) return false;
          if (!same(await shown(device), await drawnFromDatabase(device))) return false;
        }
        return true;
      },
      { timeout: 30_000, message, explain: async () => `${await describeDevice(A)} ${await describeDevice(B)} primary: ${JSON.stringify(await onPrimary())}` },
    );
    return shown(A);
  }

  // ---- the tests -----------------------------------------------------------------------------------

  it("uses the same schema on the page and on the primary", async () => {
    const { MIGRATIONS } = await import(join(root, "www-demo/app/schema.js"));
    const sql = readFileSync(join(root, "www-demo/schema.sql"), "utf8");
    const steps = sql.split(/^-- outpost:migration .*$/m);
    assert.equal(steps.length, MIGRATIONS.length, "the primary has as many migrations as the page");
    MIGRATIONS.forEach((migration, i) =>
      assert.ok(steps[i].includes(migration), `www-demo/schema.sql's step ${i + 1} contains the page's migration verbatim`),
    );
    const index = readFileSync(join(root, "www-demo/index.html"), "utf8");
    assert.doesNotMatch(index, /(src|href)="(https?:)?\/\//, "no CDN scripts, styles or fonts");
  });

  it("a task added on one device appears on the other without a reload", async (t) => {
    await until(() => A.page.locator("#empty-board").isVisible(), { message: "the empty board" });
    await addList(A, "Launch");
    await list(B, "Launch").waitFor({ timeout: 10_000 });
    // Timestamps taken in the pages (one machine, one clock): A's form submit, and the moment B's
    // DOM shows the task. Playwright's own polling adds about 100 ms on top; that total is reported too.
    await A.page.evaluate(() => {
      window.submittedAt = {};
      document.addEventListener("submit", (event) => {
        const input = event.target.querySelector(".add-task-input");
        if (input) window.submittedAt[input.value.trim()] = performance.timeOrigin + performance.now();
      }, true);
    });
    await B.page.evaluate(() => {
      window.shownAt = {};
      new MutationObserver(() => {
        for (const el of document.querySelectorAll(".task-title")) {
          window.shownAt[el.textContent] ??= performance.timeOrigin + performance.now();
        }
      }).observe(document.getElementById("lists"), { childList: true, subtree: true });
    });
    const inPage = [];
    const observed = [];
    for (let i = 1; i <= 6; i++) {
      const started = Date.now();
      await addTask(A, "Launch", `Task ${i}`);
      await task(B, `Task ${i}`).waitFor({ timeout: 10_000 });
      observed.push(Date.now() - started);
      const submitted = await A.page.evaluate((title) => window.submittedAt[title], `Task ${i}`);
      const shownOnB = await B.page.evaluate((title) => window.shownAt[title], `Task ${i}`);
      inPage.push(Math.round(shownOnB - submitted));
    }
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    t.diagnostic(
      `propagation A → B, submitted on A to shown on B (ms): ${inPage.join(", ")}; median ${median(inPage)}, max ${Math.max(...inPage)}`,
    );
    t.diagnostic(`the same, as seen by Playwright from typing to detecting (ms): ${observed.join(", ")}`);
    writeFileSync(
      join(artifacts, "propagation.json"),
      JSON.stringify({ boundMs: PROPAGATION_BOUND_MS, inPageMs: inPage, playwrightMs: observed }, null, 2),
    );
    for (const ms of inPage) assert.ok(ms < PROPAGATION_BOUND_MS, `a task took ${ms} ms to travel (bound ${PROPAGATION_BOUND_MS} ms)`);
    await converged("both devices to show the six tasks");
  });

  it("keeps a task being typed when a change from the other device re-renders the board", async () => {
    const input = list(A, "Launch").locator(".add-task-input");
    await input.click();
    await input.pressSequentially("Typed while B");
    await addTask(B, "Launch", "Arrives mid-typing");
    await task(A, "Arrives mid-typing").waitFor({ timeout: 10_000 });
    // The re-render did not take the field's focus or its text: the rest of the typing and Enter land.
    assert.equal(await A.page.evaluate(() => document.activeElement?.classList.contains("add-task-input")), true);
    await A.page.keyboard.type(", finished");
    await A.page.keyboard.press("Enter");
    await task(B, "Typed while B, finished").waitFor({ timeout: 10_000 });
    await settled(() => input.inputValue(), "", { message: "the field to be cleared after its task was added" });
    for (const title of ["Arrives mid-typing", "Typed while B, finished"]) {
      await task(A, title).getByRole("button", { name: `Delete: ${title}` }).click();
    }
    await converged("both devices to be back to the six tasks");
  });

  it("keeps a title being edited when a change from the other device re-renders the board", async () => {
    // Every task above the one being edited is drawn anew by the re-render; the editor must stay put.
    await task(A, "Task 6").locator(".task-title").click();
    const editor = A.page.locator(".task .edit-input");
    await editor.fill("Task 6, edited while B");
    await task(B, "Task 1").locator(".task-done").check();
    await until(async () => (await task(A, "Task 1").locator(".task-done").isChecked()) === true, {
      message: "B's change to re-render A's board",
    });
    assert.equal(await editor.count(), 1, "the editor is still open");
    assert.equal(await editor.inputValue(), "Task 6, edited while B");
    await editor.press("Enter");
    await task(B, "Task 6, edited while B").waitFor({ timeout: 10_000 });
    await rename(A, "Task 6, edited while B", "Task 6");
    await task(B, "Task 1").locator(".task-done").uncheck();
    await converged("both devices to be back to the six tasks, none done");
  });

  it("offline edits fill the outbox, drain on reconnect, and reach the other device once", async () => {
    await setOffline(A, true);
    await addTask(A, "Launch", "Offline one");
    await addTask(A, "Launch", "Offline two");
    await addTask(A, "Launch", "Offline three");
    await task(A, "Task 1").locator(".task-done").check();
    await rename(A, "Task 2", "Task 2, renamed offline");
    await task(A, "Task 5").getByRole("button", { name: "Move up: Task 5" }).click();
    await task(A, "Task 3").getByRole("button", { name: "Delete: Task 3" }).click();

    // Seven writes, seven outbox entries, shown in the panel and matching the package's count.
    await until(async () => (await outboxCount(A)) === 7, {
      message: "the outbox count to show 7",
      explain: () => describeDevice(A),
    });
    await settled(() => A.page.locator("#outbox-entries .entry").count(), 7, { message: "seven entries in the outbox panel" });
    await settled(() => A.page.evaluate(async () => (await window.outpostDemo.db()).syncStatus().pending), 7, {
      message: "the package to count seven pending writes",
    });
    await settled(() => A.page.locator("#sync-state").textContent(), "Offline", { message: 'the status to read "Offline"' });

    // The switch really stops the sync module: B hears nothing.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await task(B, "Offline one").count(), 0);
    assert.equal(await task(B, "Task 3").count(), 1);

    await setOffline(A, false);
    await until(async () => (await outboxCount(A)) === 0, { timeout: 15_000, message: "A's outbox to drain" });
    const board = await converged("B to receive A's offline edits");
    assert.deepEqual(board, [
      {
        list: "Launch",
        tasks: [
          ["Task 1", true],
          ["Task 2, renamed offline", false],
          ["Task 5", false],
          ["Task 4", false],
          ["Task 6", false],
          ["Offline one", false],
          ["Offline two", false],
          ["Offline three", false],
        ],
      },
    ]);
    const titles = (await stored(B)).tasks.map((row) => row.title);
    assert.equal(new Set(titles).size, titles.length, "nothing duplicated");
  });

  it("concurrent edits to different fields of one task both survive", async () => {
    await setOffline(A, true);
    await setOffline(B, true);
    await rename(A, "Task 4", "Task 4, title from A");
    await task(B, "Task 4").locator(".task-done").check();
    await until(async () => (await outboxCount(A)) === 1 && (await outboxCount(B)) === 1, {
      message: "one pending write on each device",
      explain: async () => `${await describeDevice(A)} ${await describeDevice(B)}`,
    });
    await setOffline(A, false);
    await setOffline(B, false);
    const board = await converged("both edits to reach both devices");
    assert.deepEqual(
      board[0].tasks.find(([title]) => title.startsWith("Task 4")),
      ["Task 4, title from A", true],
    );
  });

  it("shows a write the primary refuses, with its reason, and undoes it", async () => {
    await A.page.click("#provoke");
    await until(async () => (await A.page.locator("#rejected-count").textContent()) === "1", { message: "one rejection" });
    const rejection = A.page.locator(".rejection").first();
    await settled(() => rejection.locator(".rejection-code").textContent(), "SQLITE_CONSTRAINT_TRIGGER", { message: "the rejection's code" });
    assert.match(await rejection.locator(".rejection-reason").textContent(), /at most 80 characters/);
    await until(async () => (await A.page.locator(".task-title", { hasText: "deliberately longer" }).count()) === 0, {
      message: "the refused task to be undone on A",
    });
    await converged("the devices to agree after the rejection");
    assert.equal(await B.page.locator(".task-title", { hasText: "deliberately longer" }).count(), 0);
    // The refused content is still shown, until cleared.
    assert.match(await rejection.locator(".entry-columns").textContent(), /title="This title is deliberately/);
    await A.page.click("#clear-rejected");
    await until(async () => (await A.page.locator("#rejected-count").textContent()) === "0", { message: "the rejection to be cleared" });
    await settled(() => A.page.locator(".rejection").count(), 0, { message: "the rejection to leave the panel" });
  });

  it("keeps everything across a reload, even offline (OPFS)", async () => {
    const before = await shown(A);
    const storedBefore = await stored(A);
    // Offline, so what the reloaded page shows can only come from this browser's storage.
    await setOffline(A, true);
    await A.page.reload();
    await A.page.evaluate(() => window.outpostDemo.ready);
    await settled(() => shown(A), before, { message: "the board as it was before the reload" });
    await settled(() => A.page.locator("#offline-switch").getAttribute("aria-checked"), "true", { message: "the switch still offline" });
    assert.deepEqual(await stored(A), storedBefore);
    await setOffline(A, false);
    await converged("the devices to agree after the reload");
  });

  it("looks finished: a non-blank screenshot at laptop and phone widths, no sideways scrolling", async () => {
    // A second list, made on the phone, renamed on the laptop.
    await addList(B, "Ideas");
    await addTask(B, "Ideas", "Dark mode for the dashboard");
    await addTask(B, "Ideas", "Export the board as CSV");
    await list(A, "Ideas").waitFor({ timeout: 10_000 });
    await list(A, "Ideas").locator(".list-name .text-button").click();
    await A.page.locator(".list-head .edit-input").fill("Ideas for later");
    await A.page.locator(".list-head .edit-input").press("Enter");
    await list(B, "Ideas for later").waitFor({ timeout: 10_000 });
    await converged("both devices to show two lists");
    await A.page.click("#measure");
    await until(async () => (await A.page.locator("#latency-table td.ratio").first().textContent()) !== "–", {
      message: "latency figures",
    });
    await A.page.waitForTimeout(300);
    const shots = { "demo-laptop.png": A, "demo-phone.png": B };
    for (const [file, device] of Object.entries(shots)) {
      const png = await device.page.screenshot({ path: join(artifacts, file), fullPage: file.includes("phone") });
      const picture = describePng(png);
      assert.ok(picture.colours > 200, `${file}: ${picture.colours} colours`);
      assert.ok(picture.luminanceStdDev > 15, `${file}: luminance deviation ${picture.luminanceStdDev.toFixed(1)}`);
      const overflow = await device.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${file}: the page scrolls sideways by ${overflow}px`);
    }
    for (const device of [A, B]) assert.deepEqual(device.problems, [], `device ${device.device}: no errors`);
  });

  it("deletes a list and its tasks, after a second click to confirm, on every device", async () => {
    const remove = list(B, "Ideas for later").getByRole("button", { name: "Delete list Ideas for later" });
    await remove.click();
    // The first click only arms the button: nothing is deleted yet.
    const confirm = list(B, "Ideas for later").getByRole("button", { name: "Confirm: delete list Ideas for later and its tasks" });
    await confirm.waitFor();
    assert.equal(await list(A, "Ideas for later").count(), 1);
    await confirm.click();
    await until(async () => (await list(A, "Ideas for later").count()) === 0, { message: "the list to go from A" });
    const board = await converged("both devices to show one list");
    assert.deepEqual(board.map((l) => l.list), ["Launch"]);
    const orphans = await primary.query("demo", "SELECT count(*) AS n FROM tasks WHERE list_id NOT IN (SELECT id FROM lists)");
    assert.deepEqual(orphans, [{ n: 0 }], "the list's tasks went with it");
    for (const device of [A, B]) assert.deepEqual(device.problems, [], `device ${device.device}: no errors`);
  });
});
