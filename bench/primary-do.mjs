// The Durable Object primary (primary-do/, in workerd through miniflare: node primary-do/serve.mjs)
// beside outpost-primary on its SQLite store, both on 127.0.0.1 without tokens, on the same JSON
// requests a replica sends: pushes of 1,000 inserts, a pull of every row in pages of 1,000, and
// write-to-visible (a push on one connection answering a long poll waiting on another). The object
// runs again with sync rules and a token (each row its owner's: an insert rule and a read rule),
// so the rules' cost shows beside it. Prints a markdown table; reports, never fails for slowness.
//
//   node bench/primary-do.mjs [--primary PATH]     (PATH: an outpost-primary binary, release for figures;
//                                                   it also mints the rules run's token)
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { primaryBinary } from "../tests/support/primary.mjs";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const { values } = parseArgs({ options: { primary: { type: "string" } } });
const SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL, note TEXT, owner TEXT);\n";
const RULES = "table items\n  read: owner = :sub\n  insert: new.owner = :sub\n";
const SECRET = "bench-secret-0123456789abcdef0123";
const BATCH = 1000;
const BATCHES = 10;
const VISIBLE = 30;
const PULLS = 5;

function serve(command, args, env = {}) {
  const child = spawn(command, args, { cwd: root, stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, XDG_CONFIG_HOME: join(root, ".config"), ...env } });
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

async function postAs(url, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `token`, when given, is the rules run's: it is `owner`'s, and every row is theirs. */
async function measure(base, { token, owner = null } = {}) {
  const db = `${base}/v1/db/bench`;
  const post = (url, body) => postAs(url, body, token);
  let seq = 0;
  const pushMs = [];
  for (let b = 0; b < BATCHES; b++) {
    const mutations = [];
    for (let i = 0; i < BATCH; i++) {
      const id = b * BATCH + i + 1;
      seq += 1;
      mutations.push({ seq, table: "items", op: "insert", key: [id], columns: { id, title: `item ${id}`, done: id % 2, note: null, owner } });
    }
    const started = performance.now();
    await post(`${db}/push`, { v: 2, clientId: "writer", lastSeq: seq, mutations });
    pushMs.push(performance.now() - started);
  }
  let cursor;
  let epoch; // with rules, a pull from a cursor names the view it was read in
  let rows;
  const pullMs = [];
  for (let round = 0; round < PULLS; round++) {
    [cursor, epoch, rows] = [0, undefined, 0];
    const started = performance.now();
    for (;;) {
      const page = await post(`${db}/pull`, { v: 2, tables: ["items"], cursor, epoch });
      rows += page.changes.length;
      ({ cursor, epoch } = page);
      if (!page.more) break;
    }
    pullMs.push(performance.now() - started);
  }
  const visibleMs = [];
  for (let i = 0; i < VISIBLE; i++) {
    const waiting = post(`${db}/pull`, { v: 2, tables: ["items"], cursor, epoch, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 20)); // the poll is waiting
    seq += 1;
    const started = performance.now();
    const id = BATCH * BATCHES + i + 1;
    await Promise.all([
      post(`${db}/push`, { v: 2, clientId: "writer", lastSeq: seq, mutations: [{ seq, table: "items", op: "insert", key: [id], columns: { id, title: "x", done: 0, owner } }] }),
      waiting.then((page) => {
        visibleMs.push(performance.now() - started);
        ({ cursor, epoch } = page);
      }),
    ]);
  }
  if (rows !== BATCH * BATCHES) throw new Error(`pulled ${rows} rows, not ${BATCH * BATCHES}`);
  return { pushRate: (BATCH * 1000) / median(pushMs), pullRate: (rows * 1000) / median(pullMs), rows, visible: median(visibleMs) };
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
  const rules = join(dir, "rules.txt");
  writeFileSync(rules, RULES);
  const mint = values.primary ?? primaryBinary();
  const token = execFileSync(mint, ["token", "--secret-env", "OUTPOST_SECRET", "--sub", "ann", "--db", "bench"], { env: { ...process.env, OUTPOST_SECRET: SECRET }, encoding: "utf8" }).trim();
  const ruled = await serve("node", ["primary-do/serve.mjs", "--schema", schema, "--rules", rules, "--persist", join(dir, "ruled")], { OUTPOST_SECRET: SECRET });
  try {
    results["Durable Object, owner rules and a token"] = await measure(ruled.url, { token, owner: "ann" });
  } finally {
    ruled.child.stdin.end();
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
console.log(`| primary | push, ${BATCH}-mutation batches (median) | pull ${BATCH * BATCHES} rows, pages of 1,000 (median of ${PULLS}) | write-to-visible, long poll (median of ${VISIBLE}) |`);
console.log("|---|---|---|---|");
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${Math.round(r.pushRate).toLocaleString("en")} mutations/s | ${Math.round(r.pullRate).toLocaleString("en")} rows/s | ${r.visible.toFixed(1)} ms |`);
}
