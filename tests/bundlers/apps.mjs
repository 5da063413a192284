// The fresh apps the bundler tests make, one folder each under tests/bundlers/.work/, each with the
// package installed from its packed tarball in its own node_modules, and below the one install of
// every bundler (tests/bundlers/node_modules, pinned by its package-lock.json). Each
// recipe is what the package's README tells a user of that bundler to write: its config, if any,
// and its build command.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const here = fileURLToPath(new URL(".", import.meta.url));
export const root = join(here, "../..");
export const work = join(here, ".work");
const bin = (path) => join(here, "node_modules", path);

/** The browser apps built ahead of the test: name -> recipe (files besides app/, and the command). */
export const BUILDS = {
  "vite 8 build": { command: [process.execPath, bin("vite/bin/vite.js"), "build", "--logLevel", "warn"] },
  "vite 7 build": { command: [process.execPath, bin("vite7/bin/vite.js"), "build", "--logLevel", "warn"] },
  webpack: {
    command: [process.execPath, bin("webpack-cli/bin/cli.js"), "--mode", "production", "--entry", "./main.js", "--output-path", "dist"],
    html: true,
  },
  esbuild: {
    // The README's one line: the Worker and the wasm as entry points of their own.
    command: [
      bin("esbuild/bin/esbuild"),
      "main.js",
      "worker=outpost-sqlite/worker.js",
      "outpost_bg=outpost-sqlite/outpost_bg.wasm",
      "--loader:.wasm=copy",
      "--bundle",
      "--format=esm",
      "--outdir=dist",
      "--log-level=warning",
    ],
    html: true,
  },
  rollup: {
    files: {
      "rollup.config.mjs": [
        'import { nodeResolve } from "@rollup/plugin-node-resolve";',
        'import outpostSqlite from "outpost-sqlite/rollup";',
        'export default { input: "main.js", output: { dir: "dist", format: "es" }, plugins: [nodeResolve({ browser: true }), outpostSqlite()] };',
      ].join("\n"),
    },
    command: [process.execPath, bin("rollup/dist/bin/rollup"), "-c", "--silent"],
    html: true,
  },
  parcel: {
    command: [process.execPath, bin("parcel/lib/bin.js"), "build", "index.html", "--dist-dir", "dist", "--no-cache", "--cache-dir", ".parcel-cache", "--log-level", "warn"],
  },
};

/** The dev servers, started in this process through each Vite's API. */
export const DEV_SERVERS = {
  "vite 8 dev": { vite: "vite" },
  // Vite 7's dependency pre-bundling moves the package away from its Worker: the README's one line.
  "vite 7 dev": { vite: "vite7", config: { optimizeDeps: { exclude: ["outpost-sqlite"] } } },
};

/** Packs pkg/ with npm pack and unpacks the tarball into .work/package, as npm install lays it out. */
export async function installPackedPackage() {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "package"), { recursive: true });
  const [{ filename }] = JSON.parse(await run(["npm", "pack", join(root, "pkg"), "--pack-destination", work, "--json"], work));
  await run(["tar", "-xzf", join(work, filename), "-C", join(work, "package"), "--strip-components=1"], work);
  return JSON.parse(readFileSync(join(work, "package/package.json"), "utf8"));
}

/** A fresh app folder `name`: tests/bundlers/app/, the package in its node_modules, and `files`; returns its path. */
export function makeApp(name, files = {}) {
  const dir = join(work, name.replaceAll(" ", "-"));
  cpSync(join(here, "app"), dir, { recursive: true });
  // A copy, not a link: bundlers and dev servers then see the package inside the app, as installed.
  cpSync(join(work, "package"), join(dir, "node_modules/outpost-sqlite"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: dir.split("/").pop(), private: true, type: "module" }, null, 2));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Builds the app of recipe `name`; resolves with the folder to serve and how long the build took. */
export async function buildApp(name) {
  const recipe = BUILDS[name];
  const dir = makeApp(name, recipe.files);
  const started = performance.now();
  await run(recipe.command, dir);
  const ms = performance.now() - started;
  // Bundlers given only a script entry leave the page to the app: the same page, beside the bundle.
  if (recipe.html) cpSync(join(dir, "index.html"), join(dir, "dist/index.html"));
  return { dist: join(dir, "dist"), ms };
}

/** Runs argv in `cwd`; resolves with its stdout, rejects with its output. */
export function run([file, ...args], cwd, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${[file, ...args].join(" ")} failed in ${cwd}:\n${stdout}${stderr}${err.message}`));
      else resolve(stdout);
    });
  });
}

/** Runs `tasks` (functions returning Promises) at most `limit` at a time; resolves with their results, in order. */
export async function inParallel(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}
