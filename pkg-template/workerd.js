// Entry point for Cloudflare Workers (workerd): the bundler hands over the wasm as a compiled
// WebAssembly.Module, which is instantiated once, on the first open(). Workers have no OPFS, so
// databases live in memory, filled and kept fresh by sync.
import wasmModule from "./outpost_bg.wasm";
import { initSync } from "./outpost.js";
import { openLocal } from "./local.js";

export { OutpostError } from "./error.js";

let initialized = false;

/** @type {import("./index.d.ts").open} */
export async function open(options) {
  if (!initialized) {
    initSync({ module: wasmModule });
    initialized = true;
  }
  return openLocal(options, { defaultStorage: "memory" });
}
