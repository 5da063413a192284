// The Outpost primary on Cloudflare: a Worker whose `fetch` routes /v1/db/{name}/... to the
// Durable Object named {name}, which holds that database in its SQLite storage and answers as
// outpost-primary does (docs/PROTOCOL.md). The protocol, the checks and the store are the Rust
// primary's, compiled to wasm; this module only carries requests, and wakes waiting pulls.
//
// Bindings (wrangler.toml): OUTPOST_PRIMARY, the Durable Object namespace of class
// OutpostPrimary (SQLite-backed); OUTPOST_SCHEMA, the schema's SQL (migrations as
// outpost-primary reads them); OUTPOST_SECRET, the token secret (a Worker secret), or
// OUTPOST_AUTH = "none" to serve without tokens (development only); OUTPOST_RULES, optional, the
// sync rules' text as outpost-primary's --rules reads it (docs/RULES.md), which needs the secret.
import { DurableObject } from "cloudflare:workers";
import wasmModule from "../pkg/outpost_primary_do_bg.wasm";
import { initSync, OutpostDatabase, route } from "../pkg/outpost_primary_do.js";
import { storageAdapter } from "./storage.js";

initSync({ module: wasmModule });

const CORS = { "access-control-allow-origin": "*" };
// As the server's: a browser may keep a preflight 2 hours, so pushes after a quiet spell do not wait for one.
const PREFLIGHT = {
  ...CORS,
  "access-control-allow-methods": "GET,POST",
  "access-control-allow-headers": "authorization,content-type,accept",
  "access-control-max-age": "7200",
};

/** A reply from the wasm, as plain fields (its object is freed). */
function take(reply) {
  const fields = { status: reply.status, body: reply.body, waitMs: reply.waitMs, database: reply.database };
  reply.free();
  return fields;
}

function respond({ status, body }) {
  return new Response(body, { status, headers: { ...CORS, "content-type": "application/json" } });
}

/** The token secret, undefined when the Worker serves without tokens; throws when neither is set. */
function secretOf(env) {
  if (env.OUTPOST_SECRET) return env.OUTPOST_SECRET;
  if (env.OUTPOST_AUTH === "none") return undefined;
  throw new Error("set the OUTPOST_SECRET secret (or OUTPOST_AUTH = \"none\" for development)");
}

function misconfigured(error) {
  const body = JSON.stringify({ error: { code: "INTERNAL", message: `the primary is not configured: ${error.message}` } });
  return respond({ status: 500, body });
}

function authorization(request) {
  return request.headers.get("authorization") ?? undefined;
}

export class OutpostPrimary extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.env = env;
    this.database = null;
    /** Pulls waiting for a push, each the function that wakes it. */
    this.waiting = new Set();
  }

  /** The database's state in the wasm, made on first use; throws when the Worker is not configured. */
  open() {
    this.database ??= new OutpostDatabase(
      storageAdapter(this.ctx.storage),
      this.env.OUTPOST_SCHEMA ?? "",
      secretOf(this.env),
      this.env.OUTPOST_RULES,
    );
    return this.database;
  }

  async fetch(request) {
    try {
      this.open();
    } catch (error) {
      return misconfigured(error);
    }
    const path = new URL(request.url).pathname;
    const body = new Uint8Array(await request.arrayBuffer());
    const accept = request.headers.get("accept") ?? undefined;
    const ask = () => take(this.database.handle(request.method, path, authorization(request), accept, body));
    let reply = ask();
    if (reply.waitMs > 0) {
      // Long poll: every write reaches this object, so a push here is the only news; ask again
      // when one lands, or once the wait is over.
      const deadline = Date.now() + reply.waitMs;
      while (reply.waitMs > 0 && Date.now() < deadline) {
        await this.nextPush(deadline - Date.now());
        reply = ask();
      }
    }
    if (path.endsWith("/push") && reply.status === 200) this.wake();
    return respond(reply);
  }

  /**
   * SQL on the primary from the app's own Worker code, over RPC:
   * `env.OUTPOST_PRIMARY.get(env.OUTPOST_PRIMARY.idFromName(name)).write(sql, ...params)`. It runs
   * in one transaction, after the schema's migrations, and the capture triggers record it like
   * any push, so it reaches every replica; waiting pulls are woken. Answers the rows as objects.
   * Values bind as ctx.storage.sql binds them: a JS number is a double.
   */
  write(sql, ...params) {
    const refusal = this.open().ready();
    if (refusal) {
      const { body } = take(refusal);
      throw new Error(`the primary's store cannot open: ${JSON.parse(body).error.message}`);
    }
    const rows = this.ctx.storage.transactionSync(() => this.ctx.storage.sql.exec(sql, ...params).toArray());
    this.wake();
    return rows;
  }

  /** Resolves when a push lands or after `ms`; no timer is left running either way. */
  nextPush(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }

  wake() {
    for (const done of [...this.waiting]) done();
  }
}

export default {
  async fetch(request, env) {
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: PREFLIGHT });
    let secret;
    try {
      secret = secretOf(env);
    } catch (error) {
      return misconfigured(error);
    }
    const path = new URL(request.url).pathname;
    const reply = take(route(request.method, path, authorization(request), secret));
    if (!reply.database) {
      // Read the body all the same: workerd closes a connection whose request body was left
      // unread, and a client's next request on it (kept alive) would fail.
      await request.arrayBuffer();
      return respond(reply);
    }
    const object = env.OUTPOST_PRIMARY.get(env.OUTPOST_PRIMARY.idFromName(reply.database));
    return object.fetch(request);
  },
};
