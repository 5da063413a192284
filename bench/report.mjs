// Turns results/latest.json into the tables at the top of bench/RESULTS.md. The hand-written
// findings below the marker line are kept when the file is regenerated.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const MARKER = "<!-- findings: everything below this line is hand-written and kept by bench/report.mjs -->";

const f = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(digits));
const int = (x) => (x === null || x === undefined ? "n/a" : Math.round(x).toLocaleString("en-US"));
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

/** A figure as a share of its floor measured in the same run (1.00 = as fast as the floor). */
const ratio = (figure, floor) => (figure && floor ? `${(figure / floor).toFixed(2)}x` : "n/a");

/** Ratio as speed: > 1.0 means Outpost is faster. `lowerIsBetter` for latencies and times. */
function speed(outpost, anchor, lowerIsBetter) {
  if (!outpost || !anchor) return "n/a";
  const ratio = lowerIsBetter ? anchor / outpost : outpost / anchor;
  return `${ratio.toFixed(2)}x`;
}

function ioText(x) {
  if (!x || x.flushes === null) return "n/a";
  return `${f(x.flushes, 1)} / ${f(x.writes, 1)} / ${f(x.truncates, 1)}; ${f(x.ioMs)} ms (flush ${f(x.flushMs)} ms)`;
}

function offlineLines(x) {
  if (!x) return [];
  return [
    `With sync configured and the primary unreachable, point reads from the page: p50 ${f(x.pointReadUsFewPending.p50, 0)} µs with ${x.pendingFew} writes pending, ` +
      `${f(x.pointReadUsManyPending.p50, 0)} µs (p99 ${f(x.pointReadUsManyPending.p99, 0)}) with ${int(x.pendingMany)} pending (sync state: ${x.state}).`,
    "",
  ];
}

function experimentTable(r, o, a) {
  const xs = Object.values(r.experiments ?? {});
  if (xs.length === 0) return [];
  const row = (label, x) =>
    `| ${label} | ${f(x.commitP50Ms)} / ${f(x.commitP99Ms)} ms | ${ioText(x.commitIo)} | ${int(x.bulkRowsPerSec)} rows/s | ${f(x.pointReadMeanUs, 1)} µs | ${f(x.materialiseMs, 1)} ms | ${f(x.coldStartMs, 0)} ms |`;
  return [
    "### Variants (to explain the figures; not part of the comparison)",
    "",
    `Medians of ${r.config.experimentRuns} runs, alternating, same worker harness.`,
    "",
    "| variant | commit p50 / p99 | OPFS per commit: flush / write / truncate; I/O time | bulk insert | point read mean | 10k × 8 | cold start |",
    "|---|---|---|---|---|---|---|",
    row("Outpost (as compared above)", o),
    row("anchor (as compared above)", a),
    ...xs.map((x) => row(x.label, x.summary)),
    "",
  ];
}

function rulesLines(x, runs) {
  if (!x?.summary) return [];
  const row = (label, v, goal) =>
    `| ${label} | ${f(x.summary[v].seconds)} s | ${int(x.summary[v].rowsPerSec)} rows/s | ${f(x.summary[v].ratio)}x | ${goal ?? ""} |`;
  const within = (v) => `≤ 2x: ${x.summary[v].ratio <= 2 ? "met" : "**not met**"}`;
  return [
    "## Pulls under sync rules (native core)",
    "",
    `An empty replica pulls 100,000 rows of \`items\` (and its user's memberships) from one database, served in turn by a primary without rules and with each read rule (\`bench/rules/\`); the same token, the same rows sent. Medians of ${runs} runs, variants alternating.`,
    "",
    "| Pull of 100,000 rows | time | rate | vs without rules | goal |",
    "|---|---|---|---|---|",
    row("without rules", "none"),
    row("read rule `owner_id = :sub` (index `items_by_owner`)", "owner", within("owner")),
    row("read rule `list_id IN (SELECT list_id FROM members WHERE user_id = :sub)`", "member", within("member")),
    row("`owner_id = :sub`, among 200,000 rows of which the other 100,000 are another user's", "mixedOwner"),
    "",
  ];
}

function firstSyncLines(x) {
  if (!x?.browser) return [];
  const memory = x.browser.wasmMemory;
  const growth = memory.afterPullMB - memory.atOpenMB;
  const goal = (ok) => (ok ? "met" : "**not met**");
  return [
    "## First sync of a large app",
    "",
    `An empty replica pulls ${int(x.rows)} rows of \`items\` (4 columns, ~50 bytes) from the primary, pages of up to 20,000 staged and applied as one whole at the last page; the browser in a regular profile on OPFS. Memory: the wasm's linear memory, which only grows, at open and after the pull (its peak). One run.`,
    "",
    "| | time | rate | goal |",
    "|---|---|---|---|",
    `| browser (regular profile) | ${f(x.browser.ms / 1000)} s | ${int(x.browser.rowsPerSec)} rows/s; ${ratio(x.browser.rowsPerSec, x.floor.rowsPerSec)} of the floor | ≤ 3 s: ${goal(x.browser.ms <= 3000)} |`,
    `| browser: wasm memory at open → after the pull | ${f(memory.atOpenMB, 0)} → ${f(memory.afterPullMB, 0)} MB | | ≤ 64 MB above: ${goal(growth <= 64)} |`,
    `| native core | ${f(x.native.seconds)} s | ${int(x.native.rowsPerSec)} rows/s; ${ratio(x.native.rowsPerSec, x.floor.rowsPerSec)} of the floor | |`,
    `| floor: the same pages fetched and decoded, not applied (native) | ${f(x.floor.seconds)} s | ${int(x.floor.rowsPerSec)} rows/s | |`,
    "",
  ];
}

function visibleLines(x, config) {
  if (!x?.browser) return [];
  const native = x.native?.ms;
  const pair = (v) => (v ? `${f(v.p50, 1)} / ${f(v.p99, 1)} ms` : "n/a");
  const floor = (v) => (v && native ? `${f(v.p50 / native.p50, 1)}x / ${f(v.p99 / native.p99, 1)}x` : "n/a");
  const met = (v) => (v ? (v.p50 <= 10 && v.p99 <= 25 ? "met" : "**not met**") : "n/a");
  const profiles = [
    ["regular", "regular profile"],
    ["incognito", "incognito (OPFS in the browser process)"],
  ];
  const rows = [];
  for (const [id, label] of profiles) {
    const builds = x.browser[id];
    if (!builds) continue;
    for (const [build, v] of Object.entries(builds)) {
      if (build === "fetchRtt") continue;
      const name = build === "pkg" ? "" : `, build ${build}`;
      rows.push(`| ${label}${name}: B's \`watch()\` delivers the row | ${pair(v.watch)} | ${floor(v.watch)} | ${id === "regular" && build === "pkg" ? `≤ 10 / ≤ 25 ms: ${met(v.watch)}` : ""} |`);
      rows.push(`| ${label}${name}: B's \`change\` event, then B's query answers | ${pair(v.change)} | ${floor(v.change)} | |`);
    }
    if (builds.fetchRtt) rows.push(`| ${label}: floor, one \`fetch\` of the primary's /v1/health from a Worker | ${pair(builds.fetchRtt)} | | |`);
  }
  return [
    "## Write on A → visible on B (live pull)",
    "",
    "The package as an app uses it: A and B opened on one page with `open()`, each in its own Worker (two devices), both live as an app's replicas are, A pushing on write, B's long poll bringing the row; " +
      `from A's \`execute()\` on the page until B's answer reaches the page; the watch and the \`change\` listener are timed in separate passes. ${config.syncRuns} runs of ${x.browser.regular?.pkg?.watch.n / config.syncRuns || "?"} samples per profile and pass, pooled. ` +
      "The regular profile (`launchPersistentContext`) keeps OPFS as a user's browser does; incognito, Playwright's default, makes every OPFS write a call to the browser process. " +
      `Floor: the native core (A pushes after each write, B long-polls in another thread): p50 / p99 ${pair(native)}.` +
      (config.visibleBefore ? ` Build "before": ${config.visibleBefore}, runs alternating with the package.` : ""),
    "",
    "| write on A → on B | p50 / p99 | vs native floor (p50 / p99) | goal |",
    "|---|---|---|---|",
    ...rows,
    "",
  ];
}

export function writeReport(path, r) {
  const o = r.engine?.summary.outpost ?? {};
  const a = r.engine?.summary.anchor ?? {};
  const cold = r.engine?.regularColdStart;
  const m = r.mainThread?.summary ?? {};
  const s = r.sync?.summary ?? {};
  const so = r.sizes.outpost;
  const sa = r.sizes.anchor;
  const goal = (ok) => (ok ? "met" : "**not met**");
  const lines = [
    "# Outpost benchmarks",
    "",
    `Generated by \`scripts/bench.sh\` on ${r.date} in ${f(r.durationSeconds, 0)} s. Raw figures: \`bench/results/latest.json\`.`,
    "",
    `- Machine: ${r.machine.nproc} cores (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; ` +
      `load average before ${r.machine.loadAverageBefore.map((x) => x.toFixed(2)).join(" ")}, after ${(r.machine.loadAverageAfter ?? []).map((x) => x.toFixed(2)).join(" ")}.`,
    `- Browser: headless Chromium ${r.versions.chromium} (playwright-core ${r.versions.playwrightCore}), page cross-origin isolated: ${r.config.crossOriginIsolated} (5 µs timers).`,
    `- Outpost: outpost-sqlite ${r.versions.outpostSqlite} (${r.config.pkgProfile ?? "?"} build, measured from ${r.config.pkg ?? "pkg/"}; working tree at commit ${r.versions.outpostCommit}${r.versions.outpostWorkingTreeDirty ? " + uncommitted changes" : ""}), ` +
      `SQLite ${r.versions.outpostSqliteVersion}, sqlite-wasm-rs ${r.versions.crates["sqlite-wasm-rs"]}, sqlite-wasm-vfs ${r.versions.crates["sqlite-wasm-vfs"]} (sahpool), ` +
      `rusqlite ${r.versions.crates.rusqlite}, wasm-bindgen ${r.versions.crates["wasm-bindgen"]}.`,
    `- Anchor: ${r.versions.anchor} (SQLite ${r.engine?.runs.anchor[0]?.anchorVersion?.libVersion ?? "?"}), VFS opfs-sahpool, oo1 API.`,
    `- Primary: ${r.versions.primary}, on 127.0.0.1, sharing the 2 cores with the clients. Node ${r.versions.node}.`,
    `- Both engines: dedicated worker, OPFS sync-access-handle pool, pragmas ${JSON.stringify(o.pragmas)} ` +
      `(anchor: ${JSON.stringify(a.pragmas)}). Medians of ${r.config.runs} runs, engines alternating (run 1 Outpost first, run 2 anchor first, ...).`,
    "",
    ...(r.errors ? ["**Phases that broke this run** (their figures are missing): " + r.errors.map((e) => `${e.phase} (${e.error})`).join("; "), ""] : []),
    "## Local engine, in a dedicated worker",
    "",
    "Speed ratio = how many times faster Outpost is (> 1.0x: Outpost faster; for latencies anchor/Outpost, for rates Outpost/anchor).",
    "",
    "| # | Benchmark | Outpost | anchor | speed ratio | goal ≥ 1.0x |",
    "|---|---|---|---|---|---|",
    `| 1 | commit latency, 1,000 single-row INSERTs, one tx each: p50 | ${f(o.commitP50Ms)} ms | ${f(a.commitP50Ms)} ms | ${speed(o.commitP50Ms, a.commitP50Ms, true)} | |`,
    `| 1 | commit latency: p99 | ${f(o.commitP99Ms)} ms | ${f(a.commitP99Ms)} ms | ${speed(o.commitP99Ms, a.commitP99Ms, true)} | |`,
    `| 1 | OPFS calls per commit: flush / write / truncate; time in OPFS calls | ${ioText(o.commitIo)} | ${ioText(a.commitIo)} | | |`,
    `| 2 | bulk insert 100,000 rows, one tx, one statement re-used (Outpost: \`executeMany(sql, rows)\`, compiled once; anchor: prepared stmt bind/stepReset) | ${int(o.bulkRowsPerSec)} rows/s | ${int(a.bulkRowsPerSec)} rows/s | ${speed(o.bulkRowsPerSec, a.bulkRowsPerSec)} | ${goal(o.bulkRowsPerSec >= a.bulkRowsPerSec)} |`,
    `| 2b | bulk insert, Outpost \`batch()\` of 100,000 {sql, params} (one call) | ${int(o.bulkBatchRowsPerSec)} rows/s | ${int(a.bulkRowsPerSec)} rows/s | ${speed(o.bulkBatchRowsPerSec, a.bulkRowsPerSec)} | |`,
    `| 3 | point read by PK, 5,000 calls: p50 | ${f(o.pointReadP50Us, 1)} µs | ${f(a.pointReadP50Us, 1)} µs | ${speed(o.pointReadP50Us, a.pointReadP50Us, true)} | ${goal(o.pointReadP50Us <= a.pointReadP50Us)} |`,
    `| 3 | point read: p99 | ${f(o.pointReadP99Us, 1)} µs | ${f(a.pointReadP99Us, 1)} µs | ${speed(o.pointReadP99Us, a.pointReadP99Us, true)} | |`,
    `| 3 | point read: mean | ${f(o.pointReadMeanUs, 1)} µs | ${f(a.pointReadMeanUs, 1)} µs | ${speed(o.pointReadMeanUs, a.pointReadMeanUs, true)} | |`,
    `| 3 | point read p50 after reopening, in a session that only reads | ${f(o.reopenedPointReadP50Us, 1)} µs | ${f(a.reopenedPointReadP50Us, 1)} µs | ${speed(o.reopenedPointReadP50Us, a.reopenedPointReadP50Us, true)} | |`,
    `| 4 | materialise 10,000 rows × 8 columns as JS objects | ${f(o.materialiseMs, 1)} ms | ${f(a.materialiseMs, 1)} ms | ${speed(o.materialiseMs, a.materialiseMs, true)} | ${goal(o.materialiseMs <= a.materialiseMs)} |`,
    `| 5 | cold start: \`new Worker\` → first row (warm HTTP cache) | ${f(o.coldStartMs, 0)} ms | ${f(a.coldStartMs, 0)} ms | ${speed(o.coldStartMs, a.coldStartMs, true)} | ${goal(o.coldStartMs <= a.coldStartMs)} |`,
    ...(cold ? [`| 5 | cold start in a regular profile (OPFS as a user's browser keeps it; ≤ 100 ms: ${goal(cold.outpostMs <= 100)}) | ${f(cold.outpostMs, 0)} ms | ${f(cold.anchorMs, 0)} ms | ${speed(cold.outpostMs, cold.anchorMs, true)} | ${goal(cold.outpostMs <= cold.anchorMs)} |`] : []),
    "",
    "Point reads: anchor re-uses one prepared statement (bind/step/get/reset); Outpost calls `query(sql, [id])`, which looks the statement up in its cache by SQL text.",
    "Materialise: anchor `db.selectObjects(sql)`; Outpost `query(sql)`. Both give an array of plain objects keyed by column name.",
    "",
    ...experimentTable(r, o, a),
    "### Size (what a browser downloads; gzip -9)",
    "",
    "| | Outpost | anchor | goal: Outpost ≤ anchor |",
    "|---|---|---|---|",
    `| .wasm raw / gzip | ${kib(so.wasm.raw)} / ${kib(so.wasm.gzip)} | ${kib(sa.wasm.raw)} / ${kib(sa.wasm.gzip)} | |`,
    `| JS as shipped raw / gzip | ${kib(so.js.raw)} / ${kib(so.js.gzip)} | ${kib(sa.js.raw)} / ${kib(sa.js.gzip)} | |`,
    `| JS minified (esbuild) raw / gzip | ${kib(so.js.minifiedRaw)} / ${kib(so.js.minifiedGzip)} | ${kib(sa.js.minifiedRaw)} / ${kib(sa.js.minifiedGzip)} | |`,
    `| **total gzip, as shipped** | **${kib(so.totalGzip)}** | **${kib(sa.totalGzip)}** | ${goal(so.totalGzip <= sa.totalGzip)} |`,
    `| total gzip, JS minified by the app's bundler | ${kib(so.totalGzipMinifiedJs)} | ${kib(sa.totalGzipMinifiedJs)} | ${goal(so.totalGzipMinifiedJs <= sa.totalGzipMinifiedJs)} |`,
    "",
    "Outpost JS = every module reachable from `browser.js` and `worker.js`; anchor JS = `dist/index.mjs` (the opfs-sahpool path needs nothing else).",
    "",
    "## Outpost from the page's main thread (the cost a page really pays)",
    "",
    "The package's `open()` on the page starts its Worker; every call is a postMessage round trip and a structured clone of the result.",
    "",
    "| Benchmark | main thread | in the worker | overhead |",
    "|---|---|---|---|",
    `| commit latency p50 / p99 | ${f(m.commitP50Ms)} / ${f(m.commitP99Ms)} ms | ${f(o.commitP50Ms)} / ${f(o.commitP99Ms)} ms | ${f(m.commitP50Ms - o.commitP50Ms)} ms |`,
    `| bulk insert 100,000 rows via \`batch()\` | ${int(m.bulkBatchRowsPerSec)} rows/s | ${int(o.bulkBatchRowsPerSec)} rows/s | |`,
    `| point read p50 / p99 | ${f(m.pointReadP50Us, 0)} / ${f(m.pointReadP99Us, 0)} µs | ${f(o.pointReadP50Us, 1)} / ${f(o.pointReadP99Us, 1)} µs | ${f(m.pointReadP50Us - o.pointReadP50Us, 0)} µs |`,
    `| materialise 10,000 × 8 | ${f(m.materialiseMs, 1)} ms | ${f(o.materialiseMs, 1)} ms | ${f(m.materialiseMs - o.materialiseMs, 1)} ms |`,
    `| cold start: \`open()\` → first row | ${f(m.coldStartMs, 0)} ms | ${f(o.coldStartMs, 0)} ms | |`,
    "",
    ...offlineLines(r.mainThread?.offline),
    "## Sync over loopback against outpost-primary",
    "",
    `Push batch size: ${s.pushBatch} mutations per request (MAX_PUSH_MUTATIONS); a pull answer carries at most 20,000 changes (MAX_PULL_CHANGES; 5,000 in the runs before 2026-12-04). ` +
      `Browser = the wasm package in a dedicated worker on OPFS, fetch to the primary, in Playwright's incognito context unless a row says "regular profile" (incognito keeps OPFS in the browser process, every write a cross-process call); native = the core (bundled SQLite, file on disk, ureq). Medians of ${r.config.syncRuns} runs.`,
    "",
    "| # | Benchmark | browser (wasm) | native core | goal |",
    "|---|---|---|---|---|",
    `| 7 | push 10,000 outbox rows | ${int(s.browserPush10kRowsPerSec)} rows/s | ${int(s.nativePush10kRowsPerSec)} rows/s | |`,
    `| 7 | push 100,000 outbox rows | ${int(s.browserPush100kRowsPerSec)} rows/s | ${int(s.nativePush100kRowsPerSec)} rows/s | |`,
    `| 8 | pull + apply 100,000 rows into an empty replica | ${int(s.browserPull100kRowsPerSec)} rows/s | ${int(s.nativePull100kRowsPerSec)} rows/s | ≥ 200,000 rows/s: browser ${goal(s.browserPull100kRowsPerSec >= 200_000)} |`,
    ...(s.regularPull100kRowsPerSec === undefined ? [] : [
      `| 7 | push 100,000 outbox rows, browser in a regular profile (OPFS as a user's browser keeps it) | ${int(s.regularPush100kRowsPerSec)} rows/s | | ≥ 100,000 rows/s: ${goal(s.regularPush100kRowsPerSec >= 100_000)} |`,
      `| 8 | pull + apply 100,000 rows, browser in a regular profile | ${int(s.regularPull100kRowsPerSec)} rows/s; ${ratio(s.regularPull100kRowsPerSec, s.pullFloorRowsPerSec)} of the floor | | ≥ 200,000 rows/s: ${goal(s.regularPull100kRowsPerSec >= 200_000)} |`,
    ]),
    `| 8 | floor: the same pages fetched and decoded, not applied (native) | ${ratio(s.browserPull100kRowsPerSec, s.pullFloorRowsPerSec)} of it | ${int(s.pullFloorRowsPerSec)} rows/s; the pull is ${ratio(s.nativePull100kRowsPerSec, s.pullFloorRowsPerSec)} of it | |`,
    `| 10 | 50 concurrent clients (native), each: insert 10 rows, push, pull; 10 s | | ${int(s.concurrentMutationsPerSec)} mutations/s; request p99 ${f(s.concurrentRequestP99Ms, 1)} ms (push p99 ${f(s.concurrentPushP99Ms, 1)}, pull p99 ${f(s.concurrentPullP99Ms, 1)}) | |`,
    `| 10 | floor: the same requests from memory, no replica database (primary and HTTP only) | | ${int(s.concurrentFloorMutationsPerSec)} mutations/s; request p99 ${f(s.concurrentFloorRequestP99Ms, 1)} ms (push p99 ${f(s.concurrentFloorPushP99Ms, 1)}); the clients get ${ratio(s.concurrentMutationsPerSec, s.concurrentFloorMutationsPerSec)} of it | ≥ 20,000 mutations/s, p99 ≤ 50 ms: ${goal(s.concurrentMutationsPerSec >= 20_000)} |`,
    "",
    ...firstSyncLines(r.firstSync),
    ...visibleLines(r.visible, r.config),
    ...rulesLines(r.rules, r.config.syncRuns),
  ];
  let findings = `${MARKER}\n\n## Findings\n\n(none yet)\n`;
  if (existsSync(path)) {
    const old = readFileSync(path, "utf8");
    const at = old.indexOf(MARKER);
    if (at >= 0) findings = old.slice(at);
  }
  writeFileSync(path, lines.join("\n") + "\n" + findings);
}
