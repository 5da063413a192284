// Uses outpost-sqlite/drizzle and outpost-sqlite/kysely under `strict`, typed by the ORMs' own
// schemas; compiled by tsc (tsconfig.orm.json), never run. skipLibCheck there: drizzle-orm's own
// declarations do not all compile without the drivers of other databases installed.
import { open } from "outpost-sqlite";
import { drizzle, watch as watchDrizzle } from "outpost-sqlite/drizzle";
import { OutpostDialect, watch as watchKysely } from "outpost-sqlite/kysely";
import { eq } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Kysely } from "kysely";

interface Todo {
  id: string;
  title: string;
  done: number;
}
interface Schema {
  todos: Todo;
}
const todos = sqliteTable("todos", { id: text("id").primaryKey(), title: text("title").notNull(), done: integer("done").notNull() });

async function orms(): Promise<void> {
  const db = await open({ name: "app" });

  const orm = drizzle(db);
  const selected: { id: string; title: string; done: number }[] = await orm.select().from(todos).where(eq(todos.done, 0));
  const stopDrizzle: () => void = watchDrizzle(db, orm.select({ title: todos.title }).from(todos), (live: { title: string }[]) => void live);
  // @ts-expect-error drizzle() takes an open database
  drizzle("app");
  // @ts-expect-error the rows are what the query selects
  watchDrizzle(db, orm.select({ title: todos.title }).from(todos), (live: { done: number }[]) => void live);

  const kysely = new Kysely<Schema>({ dialect: new OutpostDialect({ database: db }) });
  const picked: { title: string }[] = await kysely.selectFrom("todos").select("title").execute();
  const stopKysely: () => void = watchKysely(db, kysely.selectFrom("todos").selectAll(), (live: Todo[]) => void live);
  // @ts-expect-error the dialect takes an open database
  new OutpostDialect({ database: "app" });
  // @ts-expect-error the rows are what the query selects
  watchKysely(db, kysely.selectFrom("todos").select("title"), (live: Todo[]) => void live);
  void [selected, stopDrizzle, picked, stopKysely];
}

void orms;
