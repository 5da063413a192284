// Types of outpost-sqlite-primary-do (js/index.js): the Durable Object class and the Worker that
// routes /v1/db/{name}/... to it. The Workers runtime types come from the app's own setup
// (`wrangler types`, or @cloudflare/workers-types).
import { DurableObject } from "cloudflare:workers";

/** The bindings the primary reads (wrangler.toml, and `wrangler secret put` for the secret). */
export interface OutpostPrimaryEnv {
  /** The namespace of the class OutpostPrimary, declared in `new_sqlite_classes`. */
  OUTPOST_PRIMARY: DurableObjectNamespace<OutpostPrimary>;
  /** The schema's SQL as `outpost-primary serve --schema` reads it (`-- outpost:migration NAME` starts a step). */
  OUTPOST_SCHEMA?: string;
  /** The HS256 token secret; without it every request is refused, unless OUTPOST_AUTH is "none". */
  OUTPOST_SECRET?: string;
  /** "none" serves without tokens: anyone may use any database (development only). */
  OUTPOST_AUTH?: string;
  /** The sync rules' text as `outpost-primary serve --rules` reads it; needs OUTPOST_SECRET. */
  OUTPOST_RULES?: string;
}

/** One database: its SQLite storage, the push, pull and long polls of outpost-primary. */
export declare class OutpostPrimary extends DurableObject<OutpostPrimaryEnv> {
  /** The sync endpoints of one database, as the Worker forwards them. */
  fetch(request: Request): Promise<Response>;
  /**
   * SQL on the primary from the app's own Worker code, over RPC: one transaction, after the
   * schema's migrations, captured like a push so it reaches every replica; waiting pulls are
   * woken. Answers the statement's rows. A JS number binds as a double.
   */
  write(sql: string, ...params: SqlStorageValue[]): Record<string, SqlStorageValue>[];
}

/** The Worker: answers CORS preflights, checks the token, and forwards /v1/db/{name}/... to the object {name}. */
declare const primary: {
  fetch(request: Request, env: OutpostPrimaryEnv): Promise<Response>;
};
export default primary;
