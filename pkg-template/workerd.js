// Entry point for Cloudflare Workers (workerd): the bundler hands over the wasm as a compiled
// WebAssembly.Module, which is instantiated once, on the first open(). Workers have no OPFS, so
// databases live in memory, filled from the primary and kept fresh by pulls the app asks for.
// Nothing may run outside a request here (timers and fetches between requests are cut off, and
// I/O objects cannot cross requests), so sync defaults to no background loop: the app calls
// db.ensureFresh() before reading and hands db.push() to ctx.waitUntil() after writing.
import wasmModule from "./outpost_bg.wasm";
import { initSync } from "./outpost.js";
import { LiveDatabase } from "./live.js";
import { openLocal } from "./local.js";

export { OutpostError } from "./error.js";

let initialized = false;

/** @type {import("./index.d.ts").open} */
export async function open(options) {
  if (!initialized) {
    initSync({ module: wasmModule });
    initialized = true;
  }
  return new LiveDatabase(await openLocal(options, { defaultStorage: "memory", syncDefaults: { live: false, intervalMs: 0 } }));
}
