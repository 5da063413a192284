// Uses every public API of outpost-sqlite under `strict`; compiled by tsc, never run.
// The @ts-expect-error lines prove that the types refuse what the runtime refuses.
import { open, OutpostError } from "outpost-sqlite";
import type {
  ArrayRow,
  QueryOptions,
  ChangeEvent,
  Database,
  DatabaseEvents,
  ExecuteResult,
  OpenOptions,
  OutpostErrorCode,
  Params,
  PendingWrite,
  RejectedMutation,
  RejectedWrite,
  ResyncEvent,
  Row,
  SqlValue,
  Subset,
  Statement,
  SyncOptions,
  Transaction,
  SyncResult,
  SyncStatus,
  WatchOptions,
  WriteList,
  WriteListOptions,
} from "outpost-sqlite";

// An interface, as most apps write their rows: no index signature needed.
interface Todo {
  id: string;
  title: string;
  done: number;
}


async function everything(): Promise<void> {
  const sync: SyncOptions = {
    url: "https://primary.example.com/v1/db/app",
    token: async () => "secret",
    tables: ["todos"],
    intervalMs: 5000,
    live: true,
  };
  const options: OpenOptions = {
    name: "app",
    storage: "opfs",
    migrations: ["CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)"],
    sync,
  };
  const db: Database = await open(options);
  await open({ name: "plain" });
  await open({ name: "mem", storage: "memory", sync: { url: "http://x", tables: ["t"], token: "static" } });

  const positional: Params = ["a", 1, 2n, 0.5, null, new Uint8Array([1])];
  const named: Params = { id: "a", done: 1 };
  const written: ExecuteResult = await db.execute("INSERT INTO todos (id, title) VALUES (?, ?)", positional);
  const n: number = written.rowsAffected;
  const rowid: number | bigint = written.lastInsertRowid;
  await db.execute("UPDATE todos SET done = :done WHERE id = :id", named);
  await db.execute("DELETE FROM todos");

  const rows: Row[] = await db.query("SELECT * FROM todos");
  const first: SqlValue | undefined = rows[0]?.["title"];
  const todos: Todo[] = await db.query<Todo>("SELECT id, title, done FROM todos WHERE done = ?", [0]);
  const title: string | undefined = todos[0]?.title;
  const arrays: ArrayRow[] = await db.query("SELECT id, title FROM todos", [], { rowMode: "array" });
  const pairs: [string, string][] = await db.query<[string, string]>("SELECT id, title FROM todos", undefined, { rowMode: "array" });
  const objectMode = { rowMode: "object" } satisfies QueryOptions;
  const objects: Row[] = await db.query("SELECT 1", [], objectMode);
  // @ts-expect-error array rows are arrays, not objects
  const notObjects: Todo[] = await db.query("SELECT * FROM todos", [], { rowMode: "array" });
  // @ts-expect-error there are two row modes
  await db.query("SELECT 1", [], { rowMode: "columns" });

  const statements: Statement[] = [{ sql: "INSERT INTO todos (id, title) VALUES (?, ?)", params: ["b", "two"] }, { sql: "UPDATE todos SET done = 1" }];
  const results: ExecuteResult[] = await db.batch(statements);
  const many: ExecuteResult = await db.executeMany("INSERT INTO todos (id, title) VALUES (?, ?)", [["c", "three"], ["d", "four"]]);

  // A transaction resolves with what its callback returns; tx has the calls that run inside it.
  const openCount: number = await db.transaction(async (tx: Transaction) => {
    await tx.execute("INSERT INTO todos (id, title) VALUES (?, ?)", ["t", "in a transaction"]);
    await tx.batch(statements);
    await tx.executeMany("INSERT INTO todos (id, title) VALUES (?, ?)", [["u", "five"]]);
    const inside: Todo[] = await tx.query<Todo>("SELECT * FROM todos WHERE done = 0");
    return inside.length;
  });
  const label: string = await db.transaction(() => "a plain value");
  // @ts-expect-error a transaction's callback returns what the transaction resolves with
  const wrong: number = await db.transaction(async () => "text");
  // @ts-expect-error tx has no sync: sync waits for the transaction
  await db.transaction((tx) => tx.sync());
  void [openCount, label, wrong];

  const round: SyncResult = await db.sync();
  const counts: [number, number] = [round.pushed, round.pulled];
  const refused: RejectedMutation[] = round.rejected;
  const reason: string | undefined = refused[0]?.reason;

  const listOptions: WriteListOptions = { limit: 10 };
  const queued: WriteList<PendingWrite> = await db.pendingWrites(listOptions);
  const queuedCount: number = queued.count;
  const next: PendingWrite | undefined = queued.writes[0];
  const nextOp: "insert" | "update" | "delete" | undefined = next?.op;
  const nextKey: SqlValue[] | undefined = next?.key;
  await db.pendingWrites();
  const refusedKept: WriteList<RejectedWrite> = await db.rejectedWrites({});
  const kept: RejectedWrite | undefined = refusedKept.writes[0];
  const keptAt: number | undefined = kept?.rejectedAt;
  const keptCode: string | undefined = kept?.code;
  const asMutation: RejectedMutation | undefined = kept;
  const discardedOne: { discarded: number } = await db.discardRejected(kept?.seq);
  const discardedAll: number = (await db.discardRejected()).discarded;
  void [queuedCount, nextOp, nextKey, keptAt, keptCode, asMutation, discardedOne, discardedAll];
  const subset: Subset = { tasks: { list_id: ["l1", 2, 3n] } };
  const removed: string[] = (await db.setSubset(subset)).removed;
  void removed;

  const status: SyncStatus = db.syncStatus();
  const state: "idle" | "syncing" | "waiting" | "offline" | "error" = status.state;
  const waitingCode: "SCHEMA_AHEAD" | undefined = status.waiting?.code;
  const pending: number = status.pending;
  const when: number | null = status.lastSyncedAt;
  const why: string | undefined = status.lastError?.code;

  const offStatus: () => void = db.on("status", (s: SyncStatus) => void s.state);
  const offRejected = db.on("rejected", (mutation: RejectedMutation) => void mutation.columns[mutation.key.length]);
  const offChange = db.on("change", (change: ChangeEvent) => void change.tables.join());
  const offResync = db.on("resync", (resync: ResyncEvent) => void resync.at.toFixed());
  offStatus();
  offRejected();
  offChange();
  offResync();
  const payload: DatabaseEvents["change"] = { tables: ["todos"] };

  const stopWatch: () => void = db.watch<Todo>("SELECT * FROM todos WHERE done = ?", [0], (live: Todo[]) => void live[0]?.title, {
    onError: (err: OutpostError | Error) => void err.message,
  });
  const stopPlain = db.watch("SELECT count(*) AS n FROM todos", (live: Row[]) => void live.length);
  const watchOptions: WatchOptions = {};
  stopWatch();
  stopPlain();
  // @ts-expect-error onRows is required
  db.watch("SELECT 1", []);

  try {
    await db.execute("INSERT INTO todos (id, title) VALUES ('a', 'dup')");
  } catch (err) {
    if (err instanceof OutpostError) {
      const code: OutpostErrorCode = err.code;
      const text: string = err.message;
      if (err.code === "SQLITE_CONSTRAINT_PRIMARYKEY" || err.code === "DATABASE_IN_USE") void text;
      void code;
    }
  }
  const made = new OutpostError("BAD_OPTIONS", "made by hand");
  const isError: Error = made;
  await db.close();

  void [n, rowid, first, title, results, many, counts, reason, state, waitingCode, pending, when, why, payload, isError];

  // @ts-expect-error a name is required
  await open({ storage: "memory" });
  // @ts-expect-error storage is "opfs" or "memory"
  await open({ name: "x", storage: "disk" });
  // @ts-expect-error migrations are SQL strings
  await open({ name: "x", migrations: [1] });
  // @ts-expect-error sync needs tables
  await open({ name: "x", sync: { url: "http://x" } });
  // @ts-expect-error a token is a string or a function returning one
  await open({ name: "x", sync: { url: "http://x", tables: [], token: 5 } });
  // @ts-expect-error parameters are SQL values
  await db.query("SELECT ?", [{}]);
  // @ts-expect-error not an event
  db.on("nonsense", () => {});
  // @ts-expect-error the status listener receives a SyncStatus
  db.on("status", (s: string) => void s);
  // @ts-expect-error a limit is a number
  await db.pendingWrites({ limit: "10" });
  // @ts-expect-error a rejected write is named by its seq, a number
  await db.discardRejected("1");
  // @ts-expect-error a subset names values by column
  await db.setSubset({ tasks: ["l1"] });
  // @ts-expect-error syncStatus() is synchronous
  await db.syncStatus().then(() => {});
}

void everything;
