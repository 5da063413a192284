// The browser side of the page tests (page.test.mjs, tabs.test.mjs): for one describe() block, the
// static server and a fresh Chromium context, started before its tests and closed after them, and
// app pages: tests/js/pages/app.html loaded, with the package on window.outpost.
import { after, before } from "node:test";
import { launchChromium } from "../../support/chromium.mjs";
import { startServer } from "./server.mjs";

/** Call inside describe(); `server` and `context` are set once its before() hook has run. */
export function useAppPages() {
  const pages = {
    server: null,
    context: null,
    /** A new tab on app.html, once the package has loaded; its uncaught errors in `page.errors`. */
    async appPage() {
      const page = await pages.context.newPage();
      const errors = [];
      page.on("pageerror", (err) => errors.push(err));
      await page.goto(`${pages.server.origin}/pages/app.html`);
      await page.waitForFunction(() => window.outpostLoaded === true);
      page.errors = errors;
      return page;
    },
  };
  let browser;

  before(async () => {
    pages.server = await startServer();
    browser = await launchChromium();
    pages.context = await browser.newContext();
  });

  after(async () => {
    await pages.context?.close();
    await browser?.close();
    await pages.server?.close();
  });

  return pages;
}
