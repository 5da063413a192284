// Headless Debian Chromium through playwright-core (never a downloaded browser), for the page tests
// (tests/js) and the end-to-end tests (tests/e2e). $CHROMIUM_PATH picks another binary.
import { chromium } from "playwright-core";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless=new",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A browser with a fresh profile (so OPFS starts empty). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
}
