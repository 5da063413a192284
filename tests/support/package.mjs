// The built package (pkg/), importable by its name "outpost-sqlite" from a test's folder the way an
// app imports it after `npm install`: <dir>/node_modules/outpost-sqlite becomes a link to pkg/.
import { existsSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const pkgDir = join(resolve(fileURLToPath(new URL("../..", import.meta.url))), "pkg");

/** Links `dir`/node_modules/outpost-sqlite to pkg/ (a relative link), unless it already is. */
export function linkPackage(dir) {
  if (!existsSync(join(pkgDir, "package.json"))) {
    throw new Error("pkg/ is not built: run node scripts/build-package.mjs (or the suite's scripts/test-*.sh)");
  }
  const modules = join(dir, "node_modules");
  const link = join(modules, "outpost-sqlite");
  const target = relative(modules, pkgDir);
  let current = null;
  try {
    current = readlinkSync(link);
  } catch {
    // no link yet
  }
  if (current === target) return;
  if (current !== null) unlinkSync(link);
  mkdirSync(modules, { recursive: true });
  symlinkSync(target, link, "dir");
}
