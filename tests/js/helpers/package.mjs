// Makes the built package (pkg/) importable by its name, "outpost-sqlite", from tests/js, the way
// an app imports it: tests/js/node_modules/outpost-sqlite is a link to pkg/.
import { existsSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const pkgDir = fileURLToPath(new URL("../../../pkg", import.meta.url));
const link = fileURLToPath(new URL("../node_modules/outpost-sqlite", import.meta.url));

export function linkPackage() {
  if (!existsSync(`${pkgDir}/package.json`)) {
    throw new Error("pkg/ is not built: run node scripts/build-package.mjs (or bash scripts/test-js.sh)");
  }
  let current = null;
  try {
    current = readlinkSync(link);
  } catch {
    // no link yet
  }
  if (current === "../../../pkg") return;
  if (current !== null) unlinkSync(link);
  mkdirSync(fileURLToPath(new URL("../node_modules", import.meta.url)), { recursive: true });
  symlinkSync("../../../pkg", link, "dir");
}

/** Imports the package by name, through its export conditions (here: "node"). */
export async function importPackage() {
  linkPackage();
  return import("outpost-sqlite");
}
