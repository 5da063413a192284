// Shared by the end-to-end tests: the real outpost-primary binary on 127.0.0.1 (a secure context,
// so OPFS works), serving a temporary static root with the demo and the built package; headless
// Debian Chromium through playwright-core; waiting; and a PNG check for screenshots.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const artifacts = join(root, "tests/e2e/.artifacts");
/** The built package: pkg/, or $OUTPOST_PKG (e.g. a copy, while pkg/ is being rebuilt). */
export const pkgDir = process.env.OUTPOST_PKG ? resolve(process.env.OUTPOST_PKG) : join(root, "pkg");

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--headless=new",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** The primary binary: $OUTPOST_PRIMARY, else the newest of target/{release,debug}/outpost-primary. */
export function primaryBinary() {
  if (process.env.OUTPOST_PRIMARY) return process.env.OUTPOST_PRIMARY;
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  const found = ["release", "debug"].map((p) => join(target, p, "outpost-primary")).filter((p) => existsSync(p));
  if (found.length === 0) {
    throw new Error("outpost-primary is not built: run bash scripts/test-e2e.sh (or cargo build -p outpost-primary)");
  }
  return found[0];
}

/**
 * A static root for the primary's --static: every entry of www-demo/ (except its own pkg link and
 * data), a copy of the built package at /pkg (a copy, so that a rebuild of pkg/ during the run
 * cannot pull files from under the browser), and this folder's test pages at /e2e.
 * Removed by cleanup().
 */
export function makeStaticRoot() {
  if (!existsSync(join(pkgDir, "package.json")) || !existsSync(join(pkgDir, "browser.js"))) {
    throw new Error("pkg/ is not built: run bash scripts/test-e2e.sh (or node scripts/build-package.mjs)");
  }
  const dir = mkdtempSync(join(tmpdir(), "outpost-e2e-static-"));
  for (const entry of readdirSync(join(root, "www-demo"))) {
    if (["pkg", "data", "worker"].includes(entry)) continue;
    symlinkSync(join(root, "www-demo", entry), join(dir, entry));
  }
  cpSync(pkgDir, join(dir, "pkg"), { recursive: true });
  symlinkSync(join(root, "tests/e2e/pages"), join(dir, "e2e"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts outpost-primary (--no-auth) and resolves once it prints `listening on http://ADDR`.
 * `listen` defaults to 127.0.0.1:0; pass the old address to restart on the same port.
 */
export async function startPrimary({ schemaSql, schemaFile, dataDir, staticDir, listen = "127.0.0.1:0" }) {
  const data = dataDir ?? mkdtempSync(join(tmpdir(), "outpost-e2e-data-"));
  let schema = schemaFile;
  if (!schema) {
    schema = join(data, "..", `${data.split("/").pop()}-schema.sql`);
    writeFileSync(schema, schemaSql);
  }
  const args = ["serve", "--listen", listen, "--data", data, "--schema", schema, "--no-auth"];
  if (staticDir) args.push("--static", staticDir);
  const child = spawn(primaryBinary(), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const origin = await new Promise((resolveOrigin, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`the primary did not start in 15 s:\n${stderr}`)), 15_000);
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveOrigin(match[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the primary exited (${code}) before listening:\n${stderr}`));
    });
  });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    origin,
    listen: new URL(origin).host,
    dataDir: data,
    schemaFile: schema,
    /** SIGTERM, then wait for the process to end (the primary answers waiting pulls and exits). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
    /** Read-only SQL on the primary's database `db`, over its /query endpoint. */
    async query(db, sql, params = []) {
      const response = await fetch(`${origin}/v1/db/${db}/query`, {
        method: "POST",
        body: JSON.stringify({ v: 1, sql, params }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`query failed: ${JSON.stringify(body)}`);
      return body.rows.map((row) => Object.fromEntries(body.columns.map((c, i) => [c, row[i]])));
    },
  };
}

/** Polls `check` (sync or async) until it returns a truthy value; returns it. */
export async function until(check, { timeout = 15_000, interval = 50, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${last?.stack ?? JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
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
