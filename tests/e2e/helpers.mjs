// Shared by the end-to-end tests: the real outpost-primary (tests/support/primary.mjs), without
// authentication or with the demo board's sync rules and users, serving a temporary static root with
// the demo and the built package; and a PNG check for screenshots. The browser and waiting come
// from tests/support too.
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { writeDemoUsers } from "../../scripts/demo-users.mjs";
import { primaryBinary, queryPrimary, startPrimary as startSupportPrimary } from "../support/primary.mjs";
import { until } from "../support/wait.mjs";

export const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const artifacts = join(root, "tests/e2e/.artifacts");
/** The built package: pkg/, or $OUTPOST_PKG (e.g. a copy, while pkg/ is being rebuilt). */
export const pkgDir = process.env.OUTPOST_PKG ? resolve(process.env.OUTPOST_PKG) : join(root, "pkg");

/**
 * A static root for the primary's --static: every entry of www-demo/ (except its own pkg link,
 * data and users), a copy of the built package at /pkg (a copy, so that a rebuild of pkg/ during
 * the run cannot pull files from under the browser), this folder's test pages at /e2e, and a
 * users.json without users (the demo's shared board; startPrimaryWithUsers writes users in).
 * Removed by cleanup().
 */
export function makeStaticRoot() {
  if (!existsSync(join(pkgDir, "package.json")) || !existsSync(join(pkgDir, "browser.js"))) {
    throw new Error("pkg/ is not built: run bash scripts/test-e2e.sh (or node scripts/build-package.mjs)");
  }
  const dir = mkdtempSync(join(tmpdir(), "outpost-e2e-static-"));
  for (const entry of readdirSync(join(root, "www-demo"))) {
    if (["pkg", "data", "worker", "users.json"].includes(entry)) continue;
    symlinkSync(join(root, "www-demo", entry), join(dir, entry));
  }
  cpSync(pkgDir, join(dir, "pkg"), { recursive: true });
  symlinkSync(join(root, "tests/e2e/pages"), join(dir, "e2e"));
  writeFileSync(join(dir, "users.json"), '{ "users": [] }\n');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts outpost-primary with --no-auth (and `staticDir` as its --static root); the other options
 * are those of startPrimary in tests/support/primary.mjs. Adds query(db, sql, params).
 */
export async function startPrimary({ staticDir, ...options }) {
  const args = staticDir ? ["--no-auth", "--static", staticDir] : ["--no-auth"];
  const primary = await startSupportPrimary({ ...options, args });
  return {
    ...primary,
    /** Read-only SQL on the primary's database `db`, over its /query endpoint. */
    query: (db, sql, params = []) => queryPrimary(primary.origin, db, sql, { params }),
  };
}

/**
 * Opens the demo page at `url` in a fresh browser context (its own OPFS: another device) and waits
 * until it is ready; `problems` collects its page errors and console errors.
 */
export async function openDemo(browser, url, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  await page.goto(url);
  await page.evaluate(() => window.outpostDemo.ready);
  return { context, page, problems };
}

/**
 * Another device: a fresh browser context (its own OPFS) on the test page /e2e/sync.html at
 * `pageOrigin`, where the package opens database `name` with one migration, `schema`, syncing the
 * table todos by `sync` (open()'s sync options). The page's errors collect in `errors`.
 */
export async function openSyncDevice(browser, pageOrigin, { name, schema, sync }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(err));
  await page.goto(`${pageOrigin}/e2e/sync.html`);
  await page.waitForFunction(() => window.outpostLoaded === true);
  await page.evaluate(
    async ({ name, schema, sync }) => {
      window.db = await window.outpost.open({ name, migrations: [schema], sync: { ...sync, tables: ["todos"] } });
    },
    { name, schema, sync },
  );
  return { context, page, errors };
}

/** Waits until `status()` (a device's syncStatus) is "offline" with `pending` writes waiting; returns it. */
export function untilOffline(status, pending) {
  return until(
    async () => {
      const s = await status();
      return s.state === "offline" && s.pending === pending ? s : null;
    },
    { message: `the device in state "offline" with ${pending} pending writes` },
  );
}

/**
 * Starts outpost-primary as scripts/demo.sh does: the board's schema and sync rules
 * (www-demo/rules.txt), tokens required, and users.json (scripts/demo-users.mjs) written into
 * `staticDir`, its --static root. Under rules the primary answers no /query.
 */
export async function startPrimaryWithUsers({ staticDir }) {
  const env = { OUTPOST_SECRET: "e2e-demo-secret-0123456789abcdef" };
  writeDemoUsers(join(staticDir, "users.json"), { primary: primaryBinary(), env: { ...process.env, ...env } });
  return startSupportPrimary({
    schemaFile: join(root, "www-demo/schema.sql"),
    args: ["--secret-env", "OUTPOST_SECRET", "--rules", join(root, "www-demo/rules.txt"), "--static", staticDir],
    env,
  });
}

/**
 * Polls `read()` until it deep-equals `expected`, and returns it: what another device, a Worker or
 * the sync loop brings about is asserted only once it has happened (a test that asserts it at once
 * passes or fails by timing). On timeout the error shows the last value read.
 */
export async function settled(read, expected, { timeout = 15_000, message = "the expected state" } = {}) {
  let last;
  try {
    return await until(
      async () => {
        last = await read();
        return isDeepStrictEqual(last, expected) ? { value: last } : null;
      },
      { timeout, message },
    ).then(({ value }) => value);
  } catch (err) {
    err.message += `\n  expected: ${JSON.stringify(expected)}\n  last read: ${JSON.stringify(last)}`;
    throw err;
  }
}

/**
 * Decodes an 8-bit, non-interlaced PNG (as Chromium writes screenshots) and describes its pixels:
 * size, number of distinct colours, and the standard deviation of luminance.
 */
export function describePng(buffer) {
  const signature = "89504e470d0a1a0a";
  if (buffer.subarray(0, 8).toString("hex") !== signature) throw new Error("not a PNG");
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString("ascii", offset + 4, offset + 8);
    const data = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error("only 8-bit non-interlaced PNGs are decoded here");
      colorType = data[9];
    } else if (type === "IDAT") {
      idat.push(data);
    }
    offset += 12 + length;
  }
  const channels = { 2: 3, 6: 4, 0: 1, 4: 2 }[colorType];
  if (!channels) throw new Error(`PNG colour type ${colorType} is not decoded here`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let value = line[x];
      if (filter === 1) value += a;
      else if (filter === 2) value += b;
      else if (filter === 3) value += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = value & 0xff;
    }
  }
  const colours = new Set();
  let sum = 0;
  let sumSquares = 0;
  const count = width * height;
  for (let i = 0; i < count; i++) {
    const p = i * channels;
    const [r, g, b] = channels >= 3 ? [pixels[p], pixels[p + 1], pixels[p + 2]] : [pixels[p], pixels[p], pixels[p]];
    colours.add((r << 16) | (g << 8) | b);
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += luminance;
    sumSquares += luminance * luminance;
  }
  const mean = sum / count;
  return { width, height, colours: colours.size, luminanceStdDev: Math.sqrt(sumSquares / count - mean * mean) };
}
