// The demo page under the board's sync rules (www-demo/rules.txt), served as scripts/demo.sh serves
// it: Ana and Ben, each in their own browser context with their own token (users.json). A shared
// list is on both boards, a private one only on its owner's: checked in each replica's database at
// every pull, not only on screen. A write the rules refuse shows in the page's rejected panel.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { launchChromium } from "../support/chromium.mjs";
import { until } from "../support/wait.mjs";
import { makeStaticRoot, openDemo, settled, startPrimaryWithUsers } from "./helpers.mjs";

describe("the demo page with two users under sync rules", { timeout: 120_000 }, () => {
  let staticRoot;
  let primary;
  let browser;
  let ana;
  let ben;

  before(async () => {
    staticRoot = makeStaticRoot();
    primary = await startPrimaryWithUsers({ staticDir: staticRoot.dir });
    browser = await launchChromium();
    [ana, ben] = await Promise.all([openAs("ana"), openAs("ben")]);
  });

  after(async () => {
    await browser?.close();
    await primary?.stop();
    if (primary) rmSync(primary.dataDir, { recursive: true, force: true });
    staticRoot?.cleanup();
  });

  /**
   * Opens the board as `user` in a fresh context. From then on, after every pull that changed the
   * local database, the page records every list and task the database holds (window.everHeld).
   */
  async function openAs(user) {
    const { page, problems } = await openDemo(browser, `${primary.origin}/?user=${user}`, { width: 1280, height: 900 });
    await page.evaluate(() => {
      window.everHeld = { lists: [], tasks: [] };
      const record = async () => {
        const db = await window.outpostDemo.db();
        for (const { name } of await db.query("SELECT name FROM lists")) window.everHeld.lists.push(name);
        for (const { title } of await db.query("SELECT title FROM tasks")) window.everHeld.tasks.push(title);
      };
      window.outpostDemo.replica.addEventListener("change", () => record().catch(() => {}));
    });
    return { user, page, problems };
  }

  const list = ({ page }, name) => page.locator(`.list:has(.list-name .text-button:text-is("${name}"))`);

  async function addList({ page }, name, { privateList = false } = {}) {
    await page.fill("#new-list-name", name);
    await page.setChecked("#new-list-private", privateList);
    await page.press("#new-list-name", "Enter");
    await list({ page }, name).waitFor();
  }

  async function addTask(device, listName, title) {
    const input = list(device, listName).locator(".add-task-input");
    await input.fill(title);
    await input.press("Enter");
  }

  /** What a user's local database holds: lists as [name, private], task titles; sorted. */
  const held = ({ page }) =>
    page.evaluate(async () => {
      const db = await window.outpostDemo.db();
      return {
        lists: (await db.query("SELECT name, private FROM lists ORDER BY name")).map((l) => [l.name, l.private]),
        tasks: (await db.query("SELECT title FROM tasks ORDER BY title")).map((t) => t.title),
      };
    });

  const listNamesShown = ({ page }) => page.locator(".list .list-name").allTextContents().then((names) => names.sort());

  const pending = ({ page }) => page.evaluate(async () => (await window.outpostDemo.db()).syncStatus().pending);

  it("shows each user the shared list and their own private one, never the other's", async () => {
    assert.equal(await ana.page.locator("#this-user").textContent(), "Ana");
    assert.equal(await ana.page.locator("#other-user").getAttribute("href"), "?user=ben");
    await addList(ana, "Team");
    await addTask(ana, "Team", "Plan the launch");
    await addList(ana, "Ana's notes", { privateList: true });
    await addTask(ana, "Ana's notes", "Ana's secret");
    await addList(ben, "Ben's notes", { privateList: true });
    await addTask(ben, "Ben's notes", "Ben's secret");

    const anaSees = { lists: [["Ana's notes", 1], ["Team", 0]], tasks: ["Ana's secret", "Plan the launch"] };
    const benSees = { lists: [["Ben's notes", 1], ["Team", 0]], tasks: ["Ben's secret", "Plan the launch"] };
    await settled(() => held(ana), anaSees, { message: "Ana's replica to hold the shared list and hers" });
    await settled(() => held(ben), benSees, { message: "Ben's replica to hold the shared list and his" });
    await settled(() => pending(ana), 0, { message: "Ana's writes to be pushed" });
    await settled(() => pending(ben), 0, { message: "Ben's writes to be pushed" });
    // Pushed and pulled: the boards stay as they are (nothing more arrives) and the pages show them.
    assert.deepEqual(await held(ana), anaSees);
    assert.deepEqual(await held(ben), benSees);
    await settled(() => listNamesShown(ana), ["Ana's notes", "Team"], { message: "Ana's page to show her lists" });
    await settled(() => listNamesShown(ben), ["Ben's notes", "Team"], { message: "Ben's page to show his lists" });
    assert.equal(await list(ben, "Team").locator(".privacy-button").textContent(), "Shared · Ana");
    assert.equal(await list(ben, "Ben's notes").locator(".privacy-button").textContent(), "Private · mine");

    for (const [device, other] of [[ana, "Ben"], [ben, "Ana"]]) {
      const ever = await device.page.evaluate(() => window.everHeld);
      assert.ok(ever.lists.length > 0, `${device.user}'s pulls were recorded`);
      assert.ok(!ever.lists.includes(`${other}'s notes`), `${device.user} never held ${other}'s private list`);
      assert.ok(!ever.tasks.includes(`${other}'s secret`), `${device.user} never held ${other}'s private task`);
    }
  });

  it("shows a write the rules refuse as NOT_PERMITTED, and undoes it", async () => {
    // Only a list's owner makes it private: Ben's click on Ana's list is refused by the primary.
    await list(ben, "Team").getByRole("button", { name: "Make list Team private" }).click();
    await until(async () => (await ben.page.locator("#rejected-count").textContent()) === "1", {
      message: "one rejection on Ben's page",
    });
    const rejection = ben.page.locator(".rejection").first();
    await settled(() => rejection.locator(".rejection-code").textContent(), "NOT_PERMITTED", {
      message: "the rejection's code",
    });
    assert.equal(await rejection.locator(".entry-table").textContent(), "lists");
    await settled(() => list(ben, "Team").locator(".privacy-button").textContent(), "Shared · Ana", {
      message: "the refused change to be undone on Ben's page",
    });
    await settled(() => held(ben), { lists: [["Ben's notes", 1], ["Team", 0]], tasks: ["Ben's secret", "Plan the launch"] }, {
      message: "Ben's replica to be back as the primary has it",
    });
    assert.equal(await ana.page.locator("#rejected-count").textContent(), "0");
  });

  it("takes a list away from the other user when its owner makes it private, and brings it back", async () => {
    await list(ana, "Team").getByRole("button", { name: "Make list Team private" }).click();
    await settled(() => held(ben), { lists: [["Ben's notes", 1]], tasks: ["Ben's secret"] }, {
      message: "Team and its task to leave Ben's replica",
    });
    await settled(() => listNamesShown(ben), ["Ben's notes"], { message: "Ben's page without Team" });
    await list(ana, "Team").getByRole("button", { name: "Share list Team with the board" }).click();
    await settled(() => held(ben), { lists: [["Ben's notes", 1], ["Team", 0]], tasks: ["Ben's secret", "Plan the launch"] }, {
      message: "Team to come back whole to Ben's replica",
    });
    for (const device of [ana, ben]) assert.deepEqual(device.problems, [], `${device.user}: no errors`);
  });
});
