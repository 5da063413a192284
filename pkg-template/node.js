// Entry point for Node: the wasm is read from the package folder and compiled once, on the first
// open(). There is no OPFS in Node, so databases live in memory (storage: "memory").
import { readFileSync } from "node:fs";
import { initSync } from "./outpost.js";
import { LiveDatabase } from "./live.js";
import { openLocal } from "./local.js";

export { OutpostError } from "./error.js";

let initialized = false;

/** @type {import("./index.d.ts").open} */
export async function open(options) {
  if (!initialized) {
    initSync({ module: readFileSync(new URL("./outpost_bg.wasm", import.meta.url)) });
    initialized = true;
  }
  return new LiveDatabase(await openLocal(options, { defaultStorage: "memory" }));
}
