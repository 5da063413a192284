// Makes the built package (pkg/) importable by its name, "outpost-sqlite", from tests/js, the way
// an app imports it: tests/js/node_modules/outpost-sqlite is a link to pkg/.
import { fileURLToPath } from "node:url";
import { linkPackage as linkPackageInto, pkgDir } from "../../support/package.mjs";

export { pkgDir };

export function linkPackage() {
  linkPackageInto(fileURLToPath(new URL("..", import.meta.url)));
}

/** Imports the package by name, through its export conditions (here: "node"). */
export async function importPackage() {
  linkPackage();
  return import("outpost-sqlite");
}
