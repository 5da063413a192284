// The benchmark's page in a regular browser profile (launchPersistentContext): OPFS as a user's
// browser keeps it, in the renderer, where a write() is a file write and flush() an fsync. Playwright's
// default (incognito) context keeps OPFS in the browser process instead, every write a cross-process call.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/** Runs `body(page)` with bench/index.html loaded in a fresh regular profile, then removes it. */
export async function withRegularProfile({ serverUrl, chromiumOptions, log }, body) {
  const profileDir = mkdtempSync(join(tmpdir(), "outpost-bench-profile-"));
  const regular = await chromium.launchPersistentContext(profileDir, chromiumOptions);
  try {
    const page = regular.pages()[0] ?? (await regular.newPage());
    page.on("pageerror", (e) => log("page error (regular profile):", e.message));
    await page.goto(`${serverUrl}/bench/index.html`);
    await page.waitForFunction(() => window.benchReady === true);
    return await body(page);
  } finally {
    await regular.close().catch(() => {});
    rmSync(profileDir, { recursive: true, force: true });
  }
}
