#!/usr/bin/env node
// Runs every benchmark and writes bench/results/latest.json and bench/RESULTS.md.
// Local engine: headless Chromium, dedicated workers, Outpost vs @sqlite.org/sqlite-wasm
// (opfs-sahpool), alternating, BENCH_RUNS runs (default 5). Sync: the browser build and the native
// core against a real outpost-primary on 127.0.0.1. Exits 0 whatever the figures; non-zero only
// when the harness itself breaks.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { startServer } from "./server.mjs";
import { withRegularProfile } from "./profile.mjs";
import { measureSizes } from "./sizes.mjs";
import { writeReport } from "./report.mjs";
import { rulesRuns } from "./rules-pull.mjs";
import { BEFORE_MOUNT, visibleRuns } from "./visible.mjs";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SYNC_RUNS = Number(process.env.BENCH_SYNC_RUNS ?? 3);
const EXPERIMENT_RUNS = Number(process.env.BENCH_EXPERIMENT_RUNS ?? 3);
/** Write-to-visible samples per run (and per profile and build). */
const VISIBLE_SAMPLES = Number(process.env.BENCH_VISIBLE_SAMPLES ?? 100);
/** Variants measured besides the comparison itself, to explain it (see RESULTS.md findings). */
const WAL = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"];
const EXPERIMENTS = [
  { id: "outpost-synced", engine: "outpost-synced", pragmas: [], label: "Outpost, every table synced (outbox triggers on)" },
  { id: "outpost-wal", engine: "outpost", pragmas: WAL, label: "Outpost, journal_mode=WAL + synchronous=NORMAL" },
  { id: "anchor-wal", engine: "anchor", pragmas: WAL, label: "anchor, journal_mode=WAL + synchronous=NORMAL" },
];
const anchorDir = join(bench, "node_modules/@sqlite.org/sqlite-wasm");
const builtPrimary = process.env.OUTPOST_PRIMARY ?? join(root, "target/release/outpost-primary");
// Measured from snapshots, so a rebuild of pkg/ or the primary during the run cannot break it.
const snapshot = join(bench, "target/snapshot");
const pkgDir = join(snapshot, "pkg");
const primaryBin = join(snapshot, "outpost-primary");
const nativeBin = process.env.OUTPOST_BENCH_NATIVE ?? join(bench, "target/release/outpost-bench");
const CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

const log = (...args) => console.error("[bench]", ...args);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pick = (runs, path) => runs.map((r) => path.split(".").reduce((o, k) => o?.[k], r));
const med = (runs, path) => median(pick(runs, path));

async function main() {
  const started = new Date();
  rmSync(snapshot, { recursive: true, force: true });
  mkdirSync(snapshot, { recursive: true });
  const sourcePkg = process.env.BENCH_PKG ? resolve(process.env.BENCH_PKG) : join(root, "pkg");
  cpSync(sourcePkg, pkgDir, { recursive: true });
  const built = JSON.parse(readFileSync(join(pkgDir, "size.json"), "utf8"));
  if ((built.profile !== "release" || !built.wasmOpt) && process.env.BENCH_ALLOW_DEV !== "1") {
    throw new Error(`${sourcePkg} is a ${built.profile} build${built.wasmOpt ? "" : " without wasm-opt"}: ` +
      "benchmark a release build (node scripts/build-package.mjs), or set BENCH_ALLOW_DEV=1");
  }
  copyFileSync(builtPrimary, primaryBin);
  const results = { date: started.toISOString(), machine: machine(), versions: versions(), config: { runs: RUNS, syncRuns: SYNC_RUNS, experimentRuns: EXPERIMENT_RUNS, pkg: sourcePkg, pkgProfile: built.profile } };
  results.sizes = measureSizes(pkgDir, anchorDir);

  const mounts = { "/bench/": join(bench, "browser"), "/pkg/": pkgDir, "/anchor/": join(anchorDir, "dist") };
  if (process.env.BENCH_VISIBLE_BEFORE) {
    // A second build, measured beside the package in the write-to-visible runs (visible.mjs).
    const beforeDir = join(snapshot, "pkg-before");
    cpSync(resolve(process.env.BENCH_VISIBLE_BEFORE), beforeDir, { recursive: true });
    mounts[BEFORE_MOUNT] = beforeDir;
    results.config.visibleBefore = resolve(process.env.BENCH_VISIBLE_BEFORE);
  }
  const server = await startServer(mounts);
  const chromiumOptions = { executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS };
  const browser = await chromium.launch(chromiumOptions);
  results.versions.chromium = browser.version();
  let primary = null;
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => log("page error:", e.message));
    await page.goto(`${server.url}/bench/index.html`);
    await page.waitForFunction(() => window.benchReady === true);
    results.config.crossOriginIsolated = await page.evaluate(() => window.bench.crossOriginIsolated());
    await page.evaluate(() => window.bench.clearOpfs());

    // A phase that breaks is recorded and the others still run; the exit code then says so.
    const phase = async (name, run) => {
      try {
        return await run();
      } catch (err) {
        log(`${name} failed: ${err?.stack ?? err}`);
        (results.errors ??= []).push({ phase: name, error: String(err?.message ?? err) });
        return null;
      }
    };
    // BENCH_PHASES=engine,experiments,mainThread,sync,firstSync,visible,rules (default all): e.g. only sync for an A/B of a fix.
    const phases = new Set((process.env.BENCH_PHASES ?? "engine,experiments,mainThread,sync,firstSync,visible,rules").split(","));
    if (phases.has("engine")) {
      results.engine = await phase("engine", () => engineRuns(page));
      if (results.engine) {
        results.engine.regularColdStart = await phase("engine.regularColdStart", () =>
          withRegularProfile({ serverUrl: server.url, chromiumOptions, log }, (regularPage) => regularColdStarts(regularPage)));
      }
    }
    if (phases.has("experiments")) results.experiments = await phase("experiments", () => experimentRuns(page));
    if (phases.has("mainThread")) results.mainThread = await phase("mainThread", () => mainThreadRuns(page));
    if (results.mainThread) {
      results.mainThread.offline = await phase("mainThreadOffline", async () => {
        const x = await page.evaluate((n) => window.bench.mainThreadOffline("offline", n), 100_000);
        log(`main thread, offline with ${x.pendingMany} pending: read p50 ${x.pointReadUsManyPending.p50.toFixed(0)} µs ` +
          `(with 100 pending: ${x.pointReadUsFewPending.p50.toFixed(0)} µs)`);
        return x;
      });
    }
    if (phases.has("sync") || phases.has("firstSync") || phases.has("visible")) {
      primary = await startPrimary();
      results.versions.primary = primary.version;
    }
    if (phases.has("sync")) results.sync = await phase("sync", () => withRegularProfile({ serverUrl: server.url, chromiumOptions, log }, (regularPage) => syncRuns(page, regularPage, primary.url, phase)));
    if (phases.has("firstSync")) {
      results.firstSync = await phase("firstSync", () => withRegularProfile({ serverUrl: server.url, chromiumOptions, log }, (regularPage) => firstSyncRun(regularPage, primary.url)));
    }
    if (phases.has("visible")) {
      results.visible = await phase("visible", async () => ({
        browser: await visibleRuns({ serverUrl: server.url, incognitoPage: page, primaryUrl: primary.url, chromiumOptions, runs: SYNC_RUNS, samples: VISIBLE_SAMPLES, log }),
        // Its floor: the native core, A pushing after each write and B long-polling in another thread.
        native: await phase("visible.native", () => nativeVisible(primary.url)),
      }));
    }
    if (phases.has("rules")) {
      results.versions.primary ??= execFileSync(primaryBin, ["--version"], { encoding: "utf8" }).trim();
      results.rules = await phase("rules", () => rulesRuns({ primaryBin, nativeBin, runs: SYNC_RUNS, startPrimary, median, log }));
    }
  } finally {
    await browser.close().catch(() => {});
    await server.close();
    await primary?.stop();
  }
  results.durationSeconds = (Date.now() - started.getTime()) / 1000;
  results.machine.loadAverageAfter = loadavg();
  // BENCH_OUT: write elsewhere (e.g. when measuring a patched build against the committed figures).
  const out = process.env.BENCH_OUT ? resolve(process.env.BENCH_OUT) : bench;
  mkdirSync(join(out, "results"), { recursive: true });
  writeFileSync(join(out, "results/latest.json"), JSON.stringify(results, null, 2) + "\n");
  writeReport(join(out, "RESULTS.md"), results);
  log(`done in ${results.durationSeconds.toFixed(0)} s: bench/results/latest.json, bench/RESULTS.md`);
  if (results.errors) {
    log(`${results.errors.length} phase(s) broke: ${results.errors.map((e) => e.phase).join(", ")}`);
    process.exitCode = 1;
  }
}

async function engineRuns(page) {
  const runs = { outpost: [], anchor: [] };
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? ["outpost", "anchor"] : ["anchor", "outpost"];
    for (const engine of order) {
      const name = `e${r}-${engine}`;
      const suite = await page.evaluate(([e, n]) => window.bench.suite(e, n), [engine, name]);
      const cold = await page.evaluate(([e, n]) => window.bench.cold(e, n), [engine, name]);
      suite.coldStartMs = cold.wallMs;
      runs[engine].push(suite);
      log(`run ${r + 1}/${RUNS} ${engine}: commit p50 ${suite.commitMs.p50.toFixed(2)} ms, bulk ${Math.round(suite.bulkLoopRowsPerSec)} rows/s, ` +
        `read p50 ${suite.pointReadUs.p50.toFixed(1)} µs, 10k×8 ${suite.materialiseMs.toFixed(1)} ms, cold ${cold.wallMs.toFixed(0)} ms`);
    }
  }
  const summary = { outpost: summariseSuite(runs.outpost), anchor: summariseSuite(runs.anchor) };
  return { summary, runs };
}

/** Cold starts (`new Worker` → first row) of both engines in a regular profile, alternating: medians of RUNS. */
async function regularColdStarts(page) {
  const ms = { outpost: [], anchor: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const engine of r % 2 === 0 ? ["outpost", "anchor"] : ["anchor", "outpost"]) {
      const name = `cold${r}-${engine}`;
      await page.evaluate(([e, n]) => window.bench.seed(e, n), [engine, name]);
      ms[engine].push((await page.evaluate(([e, n]) => window.bench.cold(e, n), [engine, name])).wallMs);
    }
  }
  const out = { outpostMs: median(ms.outpost), anchorMs: median(ms.anchor), samples: ms };
  log(`cold start, regular profile: outpost ${out.outpostMs.toFixed(0)} ms, anchor ${out.anchorMs.toFixed(0)} ms`);
  return out;
}

function summariseSuite(rs) {
  return {
    commitP50Ms: med(rs, "commitMs.p50"),
    commitP99Ms: med(rs, "commitMs.p99"),
    bulkRowsPerSec: med(rs, "bulkLoopRowsPerSec"),
    bulkBatchRowsPerSec: med(rs, "bulkBatchRowsPerSec"),
    pointReadP50Us: med(rs, "pointReadUs.p50"),
    pointReadP99Us: med(rs, "pointReadUs.p99"),
    pointReadMeanUs: med(rs, "pointReadUs.mean"),
    reopenedPointReadP50Us: med(rs, "reopenedPointReadUs.p50"),
    materialiseMs: med(rs, "materialiseMs"),
    coldStartMs: med(rs, "coldStartMs"),
    commitIo: {
      flushes: med(rs, "commitIo.flush.calls"),
      writes: med(rs, "commitIo.write.calls"),
      truncates: med(rs, "commitIo.truncate.calls"),
      flushMs: med(rs, "commitIo.flush.ms"),
      ioMs: median(rs.map((r) => (r.commitIo ? Object.values(r.commitIo).reduce((t, m) => t + m.ms, 0) : NaN))),
    },
    pragmas: rs[0]?.pragmas,
  };
}

async function experimentRuns(page) {
  const out = {};
  if (EXPERIMENT_RUNS <= 0) return out;
  const runs = Object.fromEntries(EXPERIMENTS.map((x) => [x.id, []]));
  for (let r = 0; r < EXPERIMENT_RUNS; r++) {
    const order = r % 2 === 0 ? EXPERIMENTS : [...EXPERIMENTS].reverse();
    for (const x of order) {
      const name = `x${r}-${x.id}`;
      const suite = await page.evaluate(([e, n, p]) => window.bench.suite(e, n, p), [x.engine, name, x.pragmas]);
      const cold = await page.evaluate(([e, n, p]) => window.bench.cold(e, n, p), [x.engine, name, x.pragmas]);
      suite.coldStartMs = cold.wallMs;
      runs[x.id].push(suite);
      log(`experiment run ${r + 1}/${EXPERIMENT_RUNS} ${x.id}: commit p50 ${suite.commitMs.p50.toFixed(2)} ms, bulk ${Math.round(suite.bulkLoopRowsPerSec)} rows/s`);
    }
  }
  for (const x of EXPERIMENTS) out[x.id] = { label: x.label, pragmas: x.pragmas, summary: summariseSuite(runs[x.id]), runs: runs[x.id] };
  return out;
}

async function mainThreadRuns(page) {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const result = await page.evaluate((n) => window.bench.mainThread(n), `m${r}`);
    runs.push(result);
    log(`main thread run ${r + 1}/${RUNS}: commit p50 ${result.commitMs.p50.toFixed(2)} ms, read p50 ${result.pointReadUs.p50.toFixed(0)} µs, ` +
      `10k×8 ${result.materialiseMs.toFixed(1)} ms, cold ${result.coldStartMs.toFixed(0)} ms`);
  }
  return {
    summary: {
      commitP50Ms: med(runs, "commitMs.p50"),
      commitP99Ms: med(runs, "commitMs.p99"),
      bulkBatchRowsPerSec: med(runs, "bulkBatchRowsPerSec"),
      pointReadP50Us: med(runs, "pointReadUs.p50"),
      pointReadP99Us: med(runs, "pointReadUs.p99"),
      materialiseMs: med(runs, "materialiseMs"),
      coldStartMs: med(runs, "coldStartMs"),
      openMs: med(runs, "openMs"),
    },
    runs,
  };
}

async function syncRuns(page, regularPage, primaryUrl, phase) {
  const db = (name) => `${primaryUrl}/v1/db/${name}`;
  const inBrowser = (message) => page.evaluate((m) => window.bench.sync(m), message);
  const inRegular = (message) => regularPage.evaluate((m) => window.bench.sync(m), message);
  const native = (...args) => JSON.parse(execFileSync(nativeBin, args.map(String), { encoding: "utf8", maxBuffer: 1 << 24 }));
  const out = {
    browser: { push10k: [], push100k: [], pull100k: [] },
    regular: { push100k: [], pull100k: [] },
    native: { push10k: [], push100k: [], pull100k: [], pullFloor: [] },
  };

  for (let r = 0; r < SYNC_RUNS; r++) {
    out.browser.push10k.push(await inBrowser({ mode: "push", url: db(`bp10k-${r}`), name: `bp10k-${r}`, rows: 10_000 }));
    out.native.push10k.push(native("push", primaryUrl, `np10k-${r}`, 10_000));
    out.browser.push100k.push(await inBrowser({ mode: "push", url: db(`bp100k-${r}`), name: `bp100k-${r}`, rows: 100_000 }));
    out.native.push100k.push(native("push", primaryUrl, `np100k-${r}`, 100_000));
    // Pull the 100,000 rows pushed above into empty replicas.
    out.browser.pull100k.push(await inBrowser({ mode: "pull", url: db(`bp100k-${r}`), name: `bpull-${r}`, expected: 100_000 }));
    out.regular.push100k.push(await inRegular({ mode: "push", url: db(`rp100k-${r}`), name: `rp100k-${r}`, rows: 100_000 }));
    out.regular.pull100k.push(await inRegular({ mode: "pull", url: db(`bp100k-${r}`), name: `rpull-${r}`, expected: 100_000 }));
    out.native.pull100k.push(native("pull", primaryUrl, `np100k-${r}`, 100_000));
    // The floor of both pulls: the same pages, fetched and decoded but not applied.
    out.native.pullFloor.push(native("pull-floor", primaryUrl, `np100k-${r}`, 100_000));
    log(`sync run ${r + 1}/${SYNC_RUNS}: push 100k browser ${Math.round(out.browser.push100k.at(-1).rowsPerSec)} / native ${Math.round(out.native.push100k.at(-1).rowsPerSec)} rows/s; ` +
      `pull 100k browser ${Math.round(out.browser.pull100k.at(-1).rowsPerSec)} (regular profile ${Math.round(out.regular.pull100k.at(-1).rowsPerSec)}) / native ${Math.round(out.native.pull100k.at(-1).rowsPerSec)} rows/s`);
  }
  out.native.concurrent = await phase("sync.concurrent", () => native("concurrent", primaryUrl, "concurrent", 50, 10, 10));
  log(`50 clients: ${Math.round(out.native.concurrent?.mutationsPerSec)} mutations/s, request p99 ${out.native.concurrent?.requestMs.p99.toFixed(1)} ms`);
  // Its floor: the same requests built in memory, no replica database, so only the primary and HTTP count.
  out.native.concurrentFloor = await phase("sync.concurrentFloor", () => native("concurrent-floor", primaryUrl, "concurrent-floor", 50, 10, 10));
  log(`50 clients, floor: ${Math.round(out.native.concurrentFloor?.mutationsPerSec)} mutations/s, request p99 ${out.native.concurrentFloor?.requestMs.p99.toFixed(1)} ms`);

  const rate = (list) => median(list.map((x) => x.rowsPerSec));
  out.summary = {
    pushBatch: 1000,
    browserPush10kRowsPerSec: rate(out.browser.push10k),
    browserPush100kRowsPerSec: rate(out.browser.push100k),
    browserPull100kRowsPerSec: rate(out.browser.pull100k),
    regularPush100kRowsPerSec: rate(out.regular.push100k),
    regularPull100kRowsPerSec: rate(out.regular.pull100k),
    nativePush10kRowsPerSec: rate(out.native.push10k),
    nativePush100kRowsPerSec: rate(out.native.push100k),
    nativePull100kRowsPerSec: rate(out.native.pull100k),
    pullFloorRowsPerSec: rate(out.native.pullFloor),
    concurrentMutationsPerSec: out.native.concurrent?.mutationsPerSec,
    concurrentRequestP99Ms: out.native.concurrent?.requestMs.p99,
    concurrentPushP99Ms: out.native.concurrent?.pushMs.p99,
    concurrentPullP99Ms: out.native.concurrent?.pullMs.p99,
    concurrentFloorMutationsPerSec: out.native.concurrentFloor?.mutationsPerSec,
    concurrentFloorRequestP99Ms: out.native.concurrentFloor?.requestMs.p99,
    concurrentFloorPushP99Ms: out.native.concurrentFloor?.pushMs.p99,
  };
  return out;
}

const FIRST_SYNC_ROWS = Number(process.env.BENCH_FIRST_SYNC_ROWS ?? 1_000_000);

/**
 * The first sync of an app with a million rows: the native client pushes them, then an empty
 * browser replica (regular profile, OPFS) and an empty native one pull everything, beside the
 * floor (the same pages fetched and decoded, not applied). One run: it takes a minute or more.
 */
async function firstSyncRun(regularPage, primaryUrl) {
  const name = "first-sync";
  const native = (...args) => JSON.parse(execFileSync(nativeBin, args.map(String), { encoding: "utf8", maxBuffer: 1 << 24 }));
  const fill = native("push", primaryUrl, name, FIRST_SYNC_ROWS);
  const browser = await regularPage.evaluate((m) => window.bench.sync(m), { mode: "pull", url: `${primaryUrl}/v1/db/${name}`, name: "first-sync-pull", expected: FIRST_SYNC_ROWS });
  const out = { rows: FIRST_SYNC_ROWS, fillRowsPerSec: fill.rowsPerSec, browser, native: native("pull", primaryUrl, name, FIRST_SYNC_ROWS), floor: native("pull-floor", primaryUrl, name, FIRST_SYNC_ROWS) };
  log(`first sync of ${FIRST_SYNC_ROWS} rows: browser (regular profile) ${(browser.ms / 1000).toFixed(1)} s, wasm memory ` +
    `${browser.wasmMemory.atOpenMB.toFixed(0)} -> ${browser.wasmMemory.afterPullMB.toFixed(0)} MB; native ${out.native.seconds.toFixed(1)} s; floor ${out.floor.seconds.toFixed(1)} s`);
  return out;
}

function nativeVisible(primaryUrl) {
  const result = JSON.parse(execFileSync(nativeBin, ["visible", primaryUrl, "nvisible", String(VISIBLE_SAMPLES * SYNC_RUNS)], { encoding: "utf8" }));
  log(`write-to-visible (native): p50 ${result.ms.p50.toFixed(1)} ms, p99 ${result.ms.p99.toFixed(1)} ms`);
  return result;
}

/**
 * Starts outpost-primary on 127.0.0.1. By default: a fresh data folder (removed by stop()), the
 * sync benchmarks' schema, no tokens. `data` keeps a folder across primaries (stop() leaves it);
 * `args` replace --no-auth (tokens, rules), `env` adds to the environment. stop() waits for the exit.
 */
function startPrimary({ data, schema = join(bench, "schema.sql"), args = ["--no-auth"], env = {} } = {}) {
  const dataDir = data ?? mkdtempSync(join(tmpdir(), "outpost-bench-primary-"));
  const version = execFileSync(primaryBin, ["--version"], { encoding: "utf8" }).trim();
  const child = spawn(primaryBin, ["serve", "--listen", "127.0.0.1:0", "--data", dataDir, "--schema", schema, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env, RUST_LOG: "warn" },
  });
  child.stderr.on("data", (d) => process.env.BENCH_VERBOSE && process.stderr.write(d));
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    if (!data) rmSync(dataDir, { recursive: true, force: true });
  };
  return new Promise((resolveStart, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error("outpost-primary did not print its address within 20 s")), 20_000);
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      const match = buffer.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolveStart({ url: match[1], version, stop });
      }
    });
    child.on("exit", (code) => reject(new Error(`outpost-primary exited with ${code}`)));
  });
}

function machine() {
  const cpu = cpus();
  return {
    nproc: cpu.length,
    cpuModel: cpu[0]?.model,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeMemoryGiB: +(freemem() / 2 ** 30).toFixed(1),
    loadAverageBefore: loadavg(),
    kernel: execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim(),
  };
}

function versions() {
  const require = createRequire(import.meta.url);
  const json = (path) => JSON.parse(readFileSync(path, "utf8"));
  const git = (...args) => {
    try {
      return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return null;
    }
  };
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const crate = (name) => lock.match(new RegExp(`name = "${name}"\\nversion = "([^"]+)"`))?.[1] ?? null;
  return {
    node: process.version,
    outpostSqlite: json(join(pkgDir, "package.json")).version,
    outpostCommit: git("rev-parse", "--short", "HEAD"),
    outpostWorkingTreeDirty: (git("status", "--porcelain") ?? "") !== "",
    outpostSqliteVersion: "3.53.4 (sqlite-wasm-rs bundled)",
    crates: { "sqlite-wasm-rs": crate("sqlite-wasm-rs"), "sqlite-wasm-vfs": crate("sqlite-wasm-vfs"), rusqlite: crate("rusqlite"), "wasm-bindgen": crate("wasm-bindgen") },
    anchor: `@sqlite.org/sqlite-wasm@${json(join(anchorDir, "package.json")).version}`,
    playwrightCore: json(require.resolve("playwright-core/package.json")).version,
  };
}

main().catch((err) => {
  console.error("[bench] harness failure:", err?.stack ?? err);
  process.exit(1);
});
