// Types of outpost-sqlite/rollup: the Rollup plugin that emits the database's Worker and wasm.
import type { Plugin } from "rollup";

/** `plugins: [nodeResolve({ browser: true }), outpostSqlite()]` in rollup.config.js. */
export default function outpostSqlite(): Plugin;
