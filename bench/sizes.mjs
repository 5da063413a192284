// Download size of each engine, raw and gzip -9: the .wasm, and the JS a browser loads to use it.
// Outpost: every module reachable from browser.js (page side) and worker.js (the Worker it starts).
// Anchor: dist/index.mjs and dist/sqlite3.wasm (all that opfs-sahpool in a worker needs; the
// opfs-async-proxy and worker1 files serve other VFSes/APIs). Also the JS minified by esbuild, since
// the anchor ships unminified with comments and a bundler would shrink both.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function measure(files, base) {
  const esbuild = require("esbuild");
  const list = files.map((path) => {
    const bytes = readFileSync(path);
    const entry = { file: relative(base, path), raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    if (path.endsWith(".js") || path.endsWith(".mjs")) {
      const min = esbuild.transformSync(bytes.toString("utf8"), { minify: true, format: "esm", loader: "js" }).code;
      entry.minifiedRaw = Buffer.byteLength(min);
      entry.minifiedGzip = gzipSync(min, { level: 9 }).length;
    }
    return entry;
  });
  const sum = (key, filter) => list.filter(filter).reduce((t, e) => t + (e[key] ?? 0), 0);
  const isWasm = (e) => e.file.endsWith(".wasm");
  const isJs = (e) => !isWasm(e);
  return {
    wasm: { raw: sum("raw", isWasm), gzip: sum("gzip", isWasm) },
    js: { raw: sum("raw", isJs), gzip: sum("gzip", isJs), minifiedRaw: sum("minifiedRaw", isJs), minifiedGzip: sum("minifiedGzip", isJs) },
    totalGzip: sum("gzip", () => true),
    totalGzipMinifiedJs: sum("gzip", isWasm) + sum("minifiedGzip", isJs),
    files: list,
  };
}

/** Relative static and dynamic imports, followed from `entries`. */
function moduleGraph(entries) {
  const seen = new Set();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)["'](\.{1,2}\/[^"']+)["']/g)) {
      if (!m[1].endsWith(".d.ts")) queue.push(resolve(dirname(file), m[1]));
    }
  }
  return [...seen];
}

export function measureSizes(pkg, anchorDir) {
  const outpostFiles = [...moduleGraph([join(pkg, "browser.js"), join(pkg, "worker.js")]), join(pkg, "outpost_bg.wasm")];
  const anchorFiles = [join(anchorDir, "dist/index.mjs"), join(anchorDir, "dist/sqlite3.wasm")];
  return { outpost: measure(outpostFiles, pkg), anchor: measure(anchorFiles, anchorDir) };
}
