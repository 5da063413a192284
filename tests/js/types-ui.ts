// Uses outpost-sqlite/react and outpost-sqlite/inspector under `strict`; compiled by tsc
// (tsconfig.json, beside types-check.ts), never run. The hooks' types need no React types.
import { open, type SyncStatus } from "outpost-sqlite";
import { useQuery, useSyncStatus, type QueryState } from "outpost-sqlite/react";
import { mountInspector, type Inspector } from "outpost-sqlite/inspector";

interface Todo {
  id: string;
  title: string;
}

async function ui(): Promise<void> {
  const db = await open({ name: "app" });
  const todos: QueryState<Todo> = useQuery<Todo>(db, "SELECT id, title FROM todos WHERE done = ?", [0]);
  const titles: string[] | undefined = todos.rows?.map((todo) => todo.title);
  const code: string | undefined = todos.error && "code" in todos.error ? todos.error.code : undefined;
  const opening: QueryState<Todo> = useQuery<Todo>(null, "SELECT id, title FROM todos");
  const status: SyncStatus | null = useSyncStatus(db);
  const pending: number | undefined = status?.pending;
  // @ts-expect-error the parameters are SQL values
  useQuery(db, "SELECT 1 WHERE ? = 1", [{}]);
  // @ts-expect-error useSyncStatus takes a database
  useSyncStatus("app");

  const inspector: Inspector = mountInspector(db, document.createElement("div"));
  const redrawn: Promise<void> = inspector.refresh();
  inspector.close();
  // @ts-expect-error mountInspector takes an open database
  mountInspector("app");
  void [titles, code, opening, pending, redrawn, todos.loading];
}

void ui;
