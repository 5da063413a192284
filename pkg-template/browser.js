// Entry point for browsers. On a page's main thread, each open() starts a dedicated module Worker
// that owns the database (OPFS sync access handles exist only there) and returns a proxy to it.
// Inside a dedicated Worker, the database runs in that thread directly.
import { openRemote } from "./remote.js";

export { OutpostError } from "./error.js";

let wasmReady = null;

/** @type {import("./index.d.ts").open} */
export async function open(options) {
  if (typeof WorkerGlobalScope === "undefined") return openRemote(options);
  const [{ default: init }, { openLocal }] = await Promise.all([import("./outpost.js"), import("./local.js")]);
  wasmReady ??= init();
  await wasmReady;
  return openLocal(options, { defaultStorage: "opfs" });
}
