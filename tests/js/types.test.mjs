// The package's TypeScript types: types-check.ts (every public API, strict) compiles against the
// built pkg/index.d.ts, types-ui.ts against its react and inspector subpaths, types-orm.ts against
// its drizzle and kysely subpaths; index.d.ts never falls back to `any`, and its Database declares
// exactly the public calls of the package's method table (methods.js), besides the synchronous ones.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { linkPackage, pkgDir } from "./helpers/package.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

function tsc(project) {
  linkPackage();
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", project], { cwd: root, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
}

it("types-check.ts and types-ui.ts compile with tsc --strict against index.d.ts and the react and inspector subpaths", () => {
  tsc("tests/js/tsconfig.json");
});

it("types-orm.ts compiles with tsc --strict against the drizzle and kysely subpaths", () => {
  tsc("tests/js/tsconfig.orm.json");
});

it("index.d.ts has no `any`", () => {
  const source = readFileSync(`${pkgDir}/index.d.ts`, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(source, /\bany\b/);
});

it("index.d.ts's Database declares the method table's public calls", async () => {
  const { METHODS } = await import(`${pkgDir}/methods.js`);
  const source = readFileSync(`${pkgDir}/index.d.ts`, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const body = /export interface Database \{([\s\S]*?)\n\}/.exec(source)[1];
  const declared = new Set([...body.matchAll(/^ {2}(\w+)[<(]/gm)].map((m) => m[1]));
  // The synchronous calls are each proxy's own, not passed on.
  const synchronous = ["syncStatus", "on", "watch"];
  // A transaction's steps travel like calls but are no methods of the Database (methods.js: step).
  const passedOn = METHODS.filter((m) => m.api && !m.step).map((m) => m.name);
  assert.deepEqual([...declared].sort(), [...passedOn, ...synchronous].sort());
});
