// The demo board's users and their bearer tokens, minted by the primary's own `token` command with
// the demo's secret and written to the users.json the page reads (www-demo/app/users.js). Used by
// scripts/demo.sh and by the end-to-end tests, so both give the page the same thing.
//
//   OUTPOST_SECRET=... node scripts/demo-users.mjs PRIMARY_BINARY OUT_FILE
//
// The tokens open only the demo's database, and the page holds them as they are: fine for a board
// on 127.0.0.1, never for a deployment, where the app's backend mints a token for whoever signed in.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Who is on the demo board: `id` is the token's `sub`, which the rules compare with a list's owner. */
export const DEMO_USERS = [
  { id: "ana", name: "Ana" },
  { id: "ben", name: "Ben" },
];
export const DEMO_DATABASE = "demo";
/** A week: long enough that a tab left open does not see its token expire. */
const TTL_SECS = 7 * 24 * 3600;

/** users.json's content: the database and, for each user, a token minted with the secret in `env[secretEnv]`. */
export function demoUsers({ primary, secretEnv = "OUTPOST_SECRET", env = process.env }) {
  const users = DEMO_USERS.map((user) => ({
    ...user,
    token: execFileSync(
      primary,
      ["token", "--secret-env", secretEnv, "--sub", user.id, "--db", DEMO_DATABASE, "--ttl-secs", String(TTL_SECS)],
      { env, encoding: "utf8" },
    ).trim(),
  }));
  return { database: DEMO_DATABASE, users };
}

export function writeDemoUsers(file, options) {
  writeFileSync(file, `${JSON.stringify(demoUsers(options), null, 2)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [primary, file] = process.argv.slice(2);
  if (!primary || !file) {
    console.error("usage: OUTPOST_SECRET=... node scripts/demo-users.mjs PRIMARY_BINARY OUT_FILE");
    process.exit(2);
  }
  writeDemoUsers(file, { primary });
}
