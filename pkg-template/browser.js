// Entry point for browsers. On a page's main thread, each open() starts a dedicated module Worker
// that runs the database (OPFS sync access handles exist only there) and returns a proxy to it.
// Inside a dedicated Worker, the database runs in that thread directly. Either way an OPFS
// database is shared by every tab of the origin (shared.js): one holds it, the others forward.
import { openRemote } from "./remote.js";

export { OutpostError } from "./error.js";

let wasmReady = null;

/** @type {import("./index.d.ts").open} */
export async function open(options) {
  if (typeof WorkerGlobalScope === "undefined") return openRemote(options);
  const [{ default: init }, { openShared }] = await Promise.all([import("./outpost.js"), import("./shared.js")]);
  return openShared(options, () => (wasmReady ??= init()));
}
