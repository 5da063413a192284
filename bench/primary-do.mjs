// The Durable Object primary (primary-do/, in workerd through miniflare: node primary-do/serve.mjs)
// beside outpost-primary on its SQLite store, both on 127.0.0.1 without tokens, on the same JSON
// requests a replica sends: pushes of 1,000 inserts, a pull of every row in pages of 1,000, and
// write-to-visible (a push on one connection answering a long poll waiting on another). Prints a
// markdown table; reports, never fails for slowness.
//
//   node bench/primary-do.mjs [--primary PATH]     (PATH: an outpost-primary binary, release for figures)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const { values } = parseArgs({ options: { primary: { type: "string" } } });
const SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL, note TEXT);\n";
const BATCH = 1000;
const BATCHES = 10;
const VISIBLE = 30;

function serve(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, XDG_CONFIG_HOME: join(root, ".config") } });
  return new Promise((resolveUrl, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolveUrl({ url: match[1], child });
    });
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

async function post(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(base) {
  const db = `${base}/v1/db/bench`;
  let seq = 0;
  const pushMs = [];
  for (let b = 0; b < BATCHES; b++) {
    const mutations = [];
    for (let i = 0; i < BATCH; i++) {
      const id = b * BATCH + i + 1;
      seq += 1;
      mutations.push({ seq, table: "items", op: "insert", key: [id], columns: { id, title: `item ${id}`, done: id % 2, note: null } });
    }
    const started = performance.now();
    await post(`${db}/push`, { v: 2, clientId: "writer", lastSeq: seq, mutations });
    pushMs.push(performance.now() - started);
  }
  let cursor = 0;
  let rows = 0;
  const pullStarted = performance.now();
  for (;;) {
    const page = await post(`${db}/pull`, { v: 2, tables: ["items"], cursor });
    rows += page.changes.length;
    cursor = page.cursor;
    if (!page.more) break;
  }
  const pullMs = performance.now() - pullStarted;
  const visibleMs = [];
  for (let i = 0; i < VISIBLE; i++) {
    const waiting = post(`${db}/pull`, { v: 2, tables: ["items"], cursor, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20)); // the poll is waiting
    seq += 1;
    const started = performance.now();
    const id = BATCH * BATCHES + i + 1;
    await Promise.all([
      post(`${db}/push`, { v: 2, clientId: "writer", lastSeq: seq, mutations: [{ seq, table: "items", op: "insert", key: [id], columns: { id, title: "x", done: 0 } }] }),
      waiting.then((page) => {
        visibleMs.push(performance.now() - started);
        cursor = page.cursor;
      }),
    ]);
  }
  return { pushRate: (BATCH * 1000) / median(pushMs), pullRate: (rows * 1000) / pullMs, rows, visible: median(visibleMs) };
}

const dir = mkdtempSync(join(tmpdir(), "outpost-bench-do-"));
const schema = join(dir, "schema.sql");
writeFileSync(schema, SCHEMA);
const results = {};
try {
  const durable = await serve("node", ["primary-do/serve.mjs", "--schema", schema, "--no-auth", "--persist", join(dir, "objects")]);
  try {
    results["Durable Object (workerd, miniflare)"] = await measure(durable.url);
  } finally {
    durable.child.stdin.end();
  }
  if (values.primary) {
    const server = await serve(values.primary, ["serve", "--listen", "127.0.0.1:0", "--data", join(dir, "data"), "--schema", schema, "--no-auth"]);
    try {
      results["outpost-primary, SQLite store"] = await measure(server.url);
    } finally {
      server.child.kill("SIGTERM");
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`| primary | push, ${BATCH}-mutation batches (median) | pull ${BATCH * BATCHES} rows, pages of 1,000 | write-to-visible, long poll (median of ${VISIBLE}) |`);
console.log("|---|---|---|---|");
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${Math.round(r.pushRate).toLocaleString("en")} mutations/s | ${Math.round(r.pullRate).toLocaleString("en")} rows/s | ${r.visible.toFixed(1)} ms |`);
}
