// Cloudflare's runtime in the tests (tests/js, tests/workers): bundling for it as a user's esbuild
// build would, and running a bundle in a fresh workerd isolate through miniflare.
import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";

/**
 * esbuild options for a Worker bundle, as wrangler builds one: the export conditions wrangler uses
 * (workerd, worker, browser), and the .wasm left as a separate module import, as in a deploy.
 */
export const WORKERD_BUNDLE = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  external: ["*.wasm"],
  logLevel: "warning",
};

/** Runs a bundle (entry module + the wasm it imports) in a fresh workerd isolate, with the Worker's vars and secrets. */
export async function startWorker({ entry, wasm, bindings }) {
  const mf = new Miniflare({
    compatibilityDate: "2025-01-01",
    modules: [
      { type: "ESModule", path: "index.js", contents: readFileSync(entry.path, "utf8") },
      { type: "CompiledWasm", path: wasm.importedAs, contents: readFileSync(wasm.path) },
    ],
    bindings,
  });
  await mf.ready;
  return mf;
}
