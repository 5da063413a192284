// A Rollup plugin for apps that bundle outpost-sqlite: Rollup does not follow
// `new Worker(new URL("./worker.js", import.meta.url))` nor `new URL("outpost_bg.wasm", ...)`, so
// this emits the database's Worker as a chunk named worker.js and the wasm beside it, where those
// URLs point once the package's code is bundled into a chunk of the output folder's top level.
import { readFile } from "node:fs/promises";

/** @type {import("./rollup.d.ts").default} */
export default function outpostSqlite() {
  return {
    name: "outpost-sqlite",
    async buildStart() {
      this.emitFile({ type: "chunk", id: "outpost-sqlite/worker.js", fileName: "worker.js" });
      const wasm = await this.resolve("outpost-sqlite/outpost_bg.wasm");
      if (!wasm) this.error("outpost-sqlite/outpost_bg.wasm cannot be resolved: add @rollup/plugin-node-resolve before this plugin");
      this.emitFile({ type: "asset", fileName: "outpost_bg.wasm", source: await readFile(wasm.id) });
    },
  };
}
