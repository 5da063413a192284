// The package's array-row queries and its ORM drivers, in Node from the built package:
// outpost-sqlite/drizzle (drizzle-orm's sqlite-proxy, typed schemas, joins whose tables share
// column names, transactions, batches, drizzle-kit's SQL as migrations, live queries) and
// outpost-sqlite/kysely (a Dialect: the same, and introspection without Outpost's own tables).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { eq, sql } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { Kysely } from "kysely";
import { until } from "../support/wait.mjs";
import { importPackage } from "./helpers/package.mjs";

const { open, OutpostError } = await importPackage();
const { drizzle, watch: watchDrizzle } = await import("outpost-sqlite/drizzle");
const { OutpostDialect, watch: watchKysely } = await import("outpost-sqlite/kysely");

// As drizzle-kit generate writes a migration: statements separated by breakpoint comments.
const SCHEMA = [
  "CREATE TABLE `authors` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`name` text NOT NULL\n);\n",
  "--> statement-breakpoint\n",
  "CREATE TABLE `books` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`name` text NOT NULL,\n",
  "\t`author_id` integer NOT NULL REFERENCES `authors`(`id`)\n);\n",
].join("");

const authors = sqliteTable("authors", { id: integer("id").primaryKey(), name: text("name").notNull() });
const books = sqliteTable("books", {
  id: integer("id").primaryKey(),
  name: text("name").notNull(),
  authorId: integer("author_id").notNull(),
});

async function library(name, extra = {}) {
  const db = await open({ name, migrations: [SCHEMA], ...extra });
  await db.execute("INSERT INTO authors (id, name) VALUES (1, 'Le Guin'), (2, 'Calvino')");
  await db.execute("INSERT INTO books (id, name, author_id) VALUES (10, 'The Dispossessed', 1), (20, 'Invisible Cities', 2)");
  return db;
}

/** Drizzle wraps a driver's error in its own ("Failed query: ..."), the OutpostError as its cause. */
async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    const outpost = err instanceof OutpostError ? err : err?.cause;
    assert.ok(outpost instanceof OutpostError, `expected an OutpostError, got ${err?.stack ?? err}`);
    assert.equal(outpost.code, code, outpost.message);
    return true;
  });
}

describe("array rows", () => {
  it("keep every column of a join whose tables share column names", async () => {
    const db = await library("rows-array");
    const joined = "SELECT * FROM books JOIN authors ON authors.id = books.author_id ORDER BY books.id";
    assert.deepEqual(await db.query(joined, [], { rowMode: "array" }), [
      [10, "The Dispossessed", 1, 1, "Le Guin"],
      [20, "Invisible Cities", 2, 2, "Calvino"],
    ]);
    // Objects keep one value per name: what an ORM cannot map back.
    assert.deepEqual((await db.query(joined))[0], { id: 1, name: "Le Guin", author_id: 1 });
    assert.deepEqual(await db.query("SELECT 1 AS a WHERE 0", undefined, { rowMode: "array" }), []);
    assert.deepEqual(await db.query("SELECT NULL, ?", [2n ** 60n], { rowMode: "array" }), [[null, 2n ** 60n]]);
    const inTx = await db.transaction((tx) => tx.query("SELECT id, name FROM authors ORDER BY id", [], { rowMode: "array" }));
    assert.deepEqual(inTx, [[1, "Le Guin"], [2, "Calvino"]]);
    await db.close();
  });

  it("refuse a row mode that is not one, before running anything", async () => {
    const db = await library("rows-bad");
    for (const options of [{ rowMode: "arrays" }, null, "array", [1]]) {
      await rejectsWith(db.query("DELETE FROM books RETURNING id", [], options), "BAD_OPTIONS");
    }
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM books"), [{ n: 2 }]);
    await db.close();
  });

  it("a query that writes (RETURNING) re-runs the watches of what it wrote", async () => {
    const db = await library("rows-returning");
    const seen = [];
    const stop = db.watch("SELECT count(*) AS n FROM books", (rows) => seen.push(rows[0].n));
    await until(() => seen.length === 1, { message: "the first rows" });
    const returned = await db.query("INSERT INTO books VALUES (30, 'Earthsea', 1) RETURNING id", [], { rowMode: "array" });
    assert.deepEqual(returned, [[30]]);
    await until(() => seen.at(-1) === 3, { message: "the watch to see the row the query wrote", explain: () => seen });
    stop();
    await db.close();
  });
});

describe("outpost-sqlite/drizzle", () => {
  it("maps a join whose tables share column names, with typed rows", async () => {
    const db = await library("drizzle-join");
    const orm = drizzle(db);
    const rows = await orm.select().from(books).innerJoin(authors, eq(authors.id, books.authorId)).orderBy(books.id);
    assert.deepEqual(rows, [
      { books: { id: 10, name: "The Dispossessed", authorId: 1 }, authors: { id: 1, name: "Le Guin" } },
      { books: { id: 20, name: "Invisible Cities", authorId: 2 }, authors: { id: 2, name: "Calvino" } },
    ]);
    const picked = await orm
      .select({ book: books.name, author: authors.name })
      .from(books)
      .innerJoin(authors, eq(authors.id, books.authorId))
      .where(eq(books.id, 20));
    assert.deepEqual(picked, [{ book: "Invisible Cities", author: "Calvino" }]);
    assert.deepEqual(await orm.select().from(authors).where(eq(authors.id, 2)).get(), { id: 2, name: "Calvino" });
    assert.equal(await orm.select().from(authors).where(eq(authors.id, 99)).get(), undefined);
    const inserted = await orm.insert(authors).values({ id: 3, name: "Jemisin" }).returning();
    assert.deepEqual(inserted, [{ id: 3, name: "Jemisin" }]);
    const run = await orm.update(authors).set({ name: "N. K. Jemisin" }).where(eq(authors.id, 3)).run();
    assert.equal(run.rowsAffected, 1);
    assert.deepEqual(await orm.all(sql`SELECT name FROM authors WHERE id = ${3}`), [["N. K. Jemisin"]]);
    await db.close();
  });

  it("runs transactions as Outpost transactions: committed together, or not at all", async () => {
    const db = await library("drizzle-tx");
    const orm = drizzle(db);
    const count = await orm.transaction(async (tx) => {
      await tx.insert(authors).values({ id: 3, name: "Jemisin" });
      await tx.insert(books).values({ id: 30, name: "The Fifth Season", authorId: 3 });
      return (await tx.select().from(books)).length;
    });
    assert.equal(count, 3);
    await assert.rejects(
      orm.transaction(async (tx) => {
        await tx.delete(books);
        throw new Error("changed my mind");
      }),
      /changed my mind/,
    );
    assert.equal((await orm.select().from(books)).length, 3, "the rolled-back delete left every book");
    // Outpost's transaction keeps other callers out until it ends, then they run.
    let release;
    const held = orm.transaction(async (tx) => {
      await tx.insert(authors).values({ id: 4, name: "Borges" });
      await new Promise((resolve) => {
        release = resolve;
      });
    });
    await until(() => release, { message: "the transaction to start" });
    const outside = db.query("SELECT count(*) AS n FROM authors");
    release();
    await held;
    assert.deepEqual(await outside, [{ n: 4 }]);
    await rejectsWith(
      orm.transaction((tx) => tx.transaction(async () => {})),
      "TRANSACTION_STATEMENT",
    );
    const [first, second] = await orm.batch([orm.insert(authors).values({ id: 5, name: "Woolf" }), orm.select().from(authors)]);
    assert.equal(first.rowsAffected, 1);
    assert.equal(second.length, 5);
    await rejectsWith(orm.batch([orm.delete(books), orm.insert(authors).values({ id: 1, name: "again" })]), "SQLITE_CONSTRAINT_PRIMARYKEY");
    assert.equal((await orm.select().from(books)).length, 3, "the failed batch changed nothing");
    await db.close();
  });

  it("watches a Drizzle query: mapped rows at once and after each write", async () => {
    const db = await library("drizzle-watch");
    const orm = drizzle(db);
    const seen = [];
    const query = orm.select({ book: books.name, author: authors.name }).from(books).innerJoin(authors, eq(authors.id, books.authorId)).orderBy(books.id);
    const stop = watchDrizzle(db, query, (rows) => seen.push(rows));
    await until(() => seen.length === 1, { message: "the first rows" });
    assert.deepEqual(seen[0][0], { book: "The Dispossessed", author: "Le Guin" });
    await orm.insert(books).values({ id: 30, name: "Mr Palomar", authorId: 2 });
    await until(() => seen.at(-1)?.length === 3, { message: "the new row", explain: () => JSON.stringify(seen) });
    assert.deepEqual(seen.at(-1)[2], { book: "Mr Palomar", author: "Calvino" });
    stop();
    await db.close();
  });
});

describe("outpost-sqlite/kysely", () => {
  it("queries, joins and writes through the dialect", async () => {
    const db = await library("kysely-join");
    const kysely = new Kysely({ dialect: new OutpostDialect({ database: db }) });
    const rows = await kysely
      .selectFrom("books")
      .innerJoin("authors", "authors.id", "books.author_id")
      .select(["books.id", "books.name", "authors.id as authorId", "authors.name as author"])
      .orderBy("books.id")
      .execute();
    assert.deepEqual(rows, [
      { id: 10, name: "The Dispossessed", authorId: 1, author: "Le Guin" },
      { id: 20, name: "Invisible Cities", authorId: 2, author: "Calvino" },
    ]);
    const inserted = await kysely.insertInto("authors").values({ id: 3, name: "Jemisin" }).executeTakeFirst();
    assert.equal(inserted.numInsertedOrUpdatedRows, 1n);
    assert.equal(inserted.insertId, 3n);
    const updated = await kysely.updateTable("authors").set({ name: "N. K. Jemisin" }).where("id", ">", 1).executeTakeFirst();
    assert.equal(updated.numUpdatedRows, 2n);
    const returned = await kysely.deleteFrom("authors").where("id", "=", 3).returning(["id", "name"]).execute();
    assert.deepEqual(returned, [{ id: 3, name: "N. K. Jemisin" }]);
    await kysely.destroy();
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM authors"), [{ n: 2 }], "destroy() leaves the database open");
    await db.close();
  });

  it("runs transactions as Outpost transactions: committed together, or not at all", async () => {
    const db = await library("kysely-tx");
    const kysely = new Kysely({ dialect: new OutpostDialect({ database: db }) });
    await kysely.transaction().execute(async (trx) => {
      await trx.insertInto("authors").values({ id: 3, name: "Jemisin" }).execute();
      await trx.insertInto("books").values({ id: 30, name: "The Fifth Season", author_id: 3 }).execute();
    });
    await assert.rejects(
      kysely.transaction().execute(async (trx) => {
        await trx.deleteFrom("books").execute();
        await trx.insertInto("authors").values({ id: 1, name: "again" }).execute();
      }),
      (err) => err instanceof OutpostError && err.code === "SQLITE_CONSTRAINT_PRIMARYKEY",
    );
    const left = await kysely.selectFrom("books").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow();
    assert.equal(left.n, 3, "the rolled-back delete left every book");
    await db.close();
  });

  it("introspects the app's tables, never Outpost's own", async () => {
    const sync = { url: "http://127.0.0.1:9/v1/db/app", tables: ["books"], intervalMs: 0, live: false };
    const db = await library("kysely-introspect", { sync });
    assert.ok((await db.query("SELECT name FROM sqlite_master WHERE name LIKE '\\_outpost\\_%' ESCAPE '\\'")).length > 0);
    const kysely = new Kysely({ dialect: new OutpostDialect({ database: db }) });
    const tables = await kysely.introspection.getTables();
    assert.deepEqual(tables.map((t) => t.name), ["authors", "books"]);
    assert.deepEqual(tables[1].columns.map((c) => c.name), ["id", "name", "author_id"]);
    await db.close();
  });

  it("watches a Kysely query: rows at once and after each write", async () => {
    const db = await library("kysely-watch");
    const kysely = new Kysely({ dialect: new OutpostDialect({ database: db }) });
    const seen = [];
    const stop = watchKysely(db, kysely.selectFrom("authors").select(["id", "name"]).where("id", ">", 1).orderBy("id"), (rows) => seen.push(rows));
    await until(() => seen.length === 1, { message: "the first rows" });
    assert.deepEqual(seen[0], [{ id: 2, name: "Calvino" }]);
    await kysely.insertInto("authors").values({ id: 3, name: "Jemisin" }).execute();
    await until(() => seen.at(-1)?.length === 2, { message: "the new row", explain: () => JSON.stringify(seen) });
    stop();
    await db.close();
  });

  it("refuses what is not an open database", () => {
    assert.throws(() => new OutpostDialect({ database: {} }), (err) => err.code === "BAD_OPTIONS");
    assert.throws(() => drizzle(null), (err) => err.code === "BAD_OPTIONS");
  });
});
