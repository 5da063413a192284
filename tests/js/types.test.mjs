// The package's TypeScript types: types-check.ts (every public API, strict) compiles against the
// built pkg/index.d.ts, and index.d.ts never falls back to `any`.
import { it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { linkPackage, pkgDir } from "./helpers/package.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

it("types-check.ts compiles with tsc --strict against the package's index.d.ts", () => {
  linkPackage();
  try {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tests/js/tsconfig.json"], {
      cwd: root,
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch (err) {
    assert.fail(`tsc failed:\n${err.stdout}${err.stderr}`);
  }
});

it("index.d.ts has no `any`", () => {
  const source = readFileSync(`${pkgDir}/index.d.ts`, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(source, /\bany\b/);
});
