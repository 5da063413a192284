// A pull of 100,000 rows into an empty native replica under sync rules, beside the same pull
// without them, in the same run (bench/native/src/ruled.rs does the filling and the pulls).
//
// One database (`ruled`) is filled once with 100,000 items of user `bench` and its 100 list
// memberships, then served in turn by a primary without rules, with the read rule
// `owner_id = :sub` and with a membership subquery (bench/rules/*.txt): the same data, the same
// token, the same 100,000 rows sent; the variants alternate run by run. A second database
// (`mixed`) interleaves 100,000 items of another user, which the owner rule must leave out of
// the same 100,000-row pull. Reports medians and ratios; never fails for slowness.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const rulesDir = join(dirname(fileURLToPath(import.meta.url)), "rules");
const schema = join(rulesDir, "schema.sql");
const ROWS = 100_000;
const SECRET_ENV = { OUTPOST_SECRET: "bench-rules-secret-0123456789abcdef" };
const VARIANTS = {
  none: [],
  owner: ["--rules", join(rulesDir, "owner.txt")],
  member: ["--rules", join(rulesDir, "member.txt")],
};

export async function rulesRuns({ primaryBin, nativeBin, runs, startPrimary, median, log }) {
  const token = (db) =>
    execFileSync(primaryBin, ["token", "--secret-env", "OUTPOST_SECRET", "--sub", "bench", "--db", db], {
      env: { ...process.env, ...SECRET_ENV },
      encoding: "utf8",
    }).trim();
  const tokens = { ruled: token("ruled"), mixed: token("mixed") };
  const native = (db, ...args) =>
    JSON.parse(
      execFileSync(nativeBin, args.map(String), {
        encoding: "utf8",
        maxBuffer: 1 << 24,
        env: { ...process.env, OUTPOST_TOKEN: tokens[db] },
      }),
    );
  const data = mkdtempSync(join(tmpdir(), "outpost-bench-rules-"));
  const serve = (variant) => startPrimary({ data, schema, args: ["--secret-env", "OUTPOST_SECRET", ...VARIANTS[variant]], env: SECRET_ENV });
  const out = { rows: ROWS, pulls: { none: [], owner: [], member: [], mixedOwner: [] } };
  try {
    let primary = await serve("owner");
    try {
      out.fill = {
        ruled: native("ruled", "ruled-fill", primary.url, "ruled", schema, ROWS, 0),
        mixed: native("mixed", "ruled-fill", primary.url, "mixed", schema, ROWS, ROWS),
      };
    } finally {
      await primary.stop();
    }
    const names = Object.keys(VARIANTS);
    for (let r = 0; r < runs; r++) {
      for (const variant of r % 2 === 0 ? names : [...names].reverse()) {
        primary = await serve(variant);
        try {
          out.pulls[variant].push(native("ruled", "ruled-pull", primary.url, "ruled", schema, ROWS));
          if (variant === "owner") out.pulls.mixedOwner.push(native("mixed", "ruled-pull", primary.url, "mixed", schema, ROWS));
        } finally {
          await primary.stop();
        }
      }
      const seconds = (v) => out.pulls[v].at(-1).seconds.toFixed(2);
      log(`rules run ${r + 1}/${runs}: pull 100k without rules ${seconds("none")} s, owner rule ${seconds("owner")} s, ` +
        `membership rule ${seconds("member")} s, owner rule among 200k ${seconds("mixedOwner")} s`);
    }
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
  const secondsOf = (v) => median(out.pulls[v].map((p) => p.seconds));
  const none = secondsOf("none");
  out.summary = Object.fromEntries(
    Object.keys(out.pulls).map((v) => [v, { seconds: secondsOf(v), rowsPerSec: ROWS / secondsOf(v), ratio: secondsOf(v) / none }]),
  );
  return out;
}
