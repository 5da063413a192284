// The Durable Object primary served on this machine, in workerd through miniflare, as
// `outpost-primary serve` serves the server: it prints `listening on http://ADDR` once it answers,
// and stops on SIGTERM or SIGINT, or when its stdin closes (the process that started it ended,
// however it ended): workerd, its child, would outlive a plain kill. For the native tests that sync replicas through it, and for
// trying it without a Cloudflare account. The module must be built (bash primary-do/build.sh).
//
//   node primary-do/serve.mjs --schema FILE [--rules FILE] [--listen 127.0.0.1:0] [--persist DIR] [--test-routes] (--no-auth | OUTPOST_SECRET=...)
//
// --persist keeps the objects' storage in DIR, so a restart on it keeps every database. --rules
// gives the sync rules as the OUTPOST_RULES binding (docs/RULES.md); like the server's, it needs
// tokens. --test-routes serves js/test-routes.js, the Worker with the routes the native tests
// reach the objects' storage by (tests/native/src/durable.rs); never deployed.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Miniflare } from "miniflare";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    schema: { type: "string" },
    rules: { type: "string" },
    listen: { type: "string", default: "127.0.0.1:0" },
    persist: { type: "string" },
    "no-auth": { type: "boolean", default: false },
    "test-routes": { type: "boolean", default: false },
  },
});
if (!values.schema) throw new Error("--schema FILE is required");
const [host, port] = values.listen.split(":");
const bindings = { OUTPOST_SCHEMA: readFileSync(values.schema, "utf8") };
if (values["no-auth"]) bindings.OUTPOST_AUTH = "none";
else if (process.env.OUTPOST_SECRET) bindings.OUTPOST_SECRET = process.env.OUTPOST_SECRET;
else throw new Error("set OUTPOST_SECRET, or pass --no-auth");
if (values.rules) {
  if (values["no-auth"]) throw new Error("--rules needs OUTPOST_SECRET: the rules read the claims of each request's verified token, and --no-auth has none");
  bindings.OUTPOST_RULES = readFileSync(values.rules, "utf8");
}

const mf = new Miniflare({
  host,
  port: Number(port),
  modules: true,
  scriptPath: join(here, values["test-routes"] ? "js/test-routes.js" : "js/index.js"),
  modulesRoot: here,
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2025-01-01",
  durableObjects: { OUTPOST_PRIMARY: { className: "OutpostPrimary", useSQLite: true } },
  durableObjectsPersist: values.persist ?? false,
  bindings,
});
const url = await mf.ready;
console.log(`listening on ${url.origin}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
