// The Database's asynchronous calls, written once. Every layer that passes calls on takes its
// methods, its allow-list and its rules from this table: the page's proxy and its Worker
// (remote.js, worker.js), a tab and the tab holding the database (shared.js), the live-query layer
// (live.js) and the wasm wrapper (local.js). A call added here, and answered in local.js, works
// from a page, from every tab, in a Worker, in Node and in Workers alike.
//
// For each call:
// - params: its parameters. A proxy passes on exactly these (extra arguments are not sent).
// - writes(...args): the SQL it runs that may change the app's tables. The live layer works out
//   which tables before it runs (a DROP cannot be compiled after) and tells the watches after it;
//   the sync loop pushes soon after.
// - resend: it changes nothing, so when the tab holding the database goes away before answering
//   it, it is simply sent to the next holder. Every other call then rejects with HOLDER_CHANGED:
//   it may or may not have been applied. A function decides from the call's arguments.
// - tabs: a tab that does not hold the database sends it to the tab that does.
// - api: a method of the public Database; a page's Worker runs it for the page.
// - own: every layer implements it itself instead of passing it on (close releases that layer's
//   own Worker, loop or handles).
// - engine: local.js answers it with the wasm Database's method of the same name.
// - inTransaction: the `tx` of db.transaction() has it too (transaction.js); it then runs inside
//   the transaction.
// - step: one step of a transaction (transaction.js), passed on like any call but defined under
//   a Symbol (TRANSACTION_STEPS), so it is no method of the public Database.
//
// While a transaction is open, the database runs its calls only and every other call waits
// (local.js), wherever it comes from; the steps carry the transaction's id.

export const METHODS = Object.freeze(
  [
    method("execute", ["sql", "params"], { writes: (sql) => [sql], engine: true, inTransaction: true }),
    method("executeMany", ["sql", "paramLists"], { writes: (sql) => [sql], inTransaction: true }),
    method("batch", ["statements"], { writes: statementSqls, engine: true, inTransaction: true }),
    // A query may write too (INSERT ... RETURNING, as ORMs send it): the live layer finds which
    // tables before it runs, and a query that returns what it wrote is not re-sent.
    method("query", ["sql", "params", "options"], { writes: (sql) => [sql], resend: readsOnly, engine: true, inTransaction: true }),
    method("pendingWrites", ["options"], { resend: true, engine: true }),
    method("rejectedWrites", ["options"], { resend: true, engine: true }),
    method("discardRejected", ["seq"], { engine: true }),
    // Setting the same subset twice changes nothing the first did not.
    method("setSubset", ["subset"], { resend: true }),
    method("sync", []),
    method("push", []),
    method("ensureFresh", ["options"]),
    // The tables a query reads, for a watch in a tab that does not hold the database.
    method("readTables", ["sql"], { resend: true, api: false }),
    // The callback cannot travel: each layer runs it where it is called, over the steps below.
    method("transaction", ["callback"], { tabs: false, own: true }),
    method("beginTransaction", [], { step: true }),
    method("runInTransaction", ["transaction", "method", "args"], { writes: transactionWrites, step: true }),
    method("endTransaction", ["transaction", "commit"], { step: true }),
    method("close", [], { tabs: false, own: true }),
  ].map(Object.freeze),
);

const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));

/** The property keys of a transaction's steps on every layer's Database. */
export const TRANSACTION_STEPS = Object.freeze({
  begin: methodNamed("beginTransaction").key,
  run: methodNamed("runInTransaction").key,
  end: methodNamed("endTransaction").key,
});

/** The calls a transaction's `tx` offers. */
export const IN_TRANSACTION = METHODS.filter((m) => m.inTransaction);

/** Whether a call of `method` with `args` may be sent again to a new holder (see resend above). */
export function mayResend(method, args) {
  return typeof method.resend === "function" ? method.resend(...args) : method.resend;
}

/** The method called `name`, or undefined: message data is not trusted to name a real one. */
export function methodNamed(name) {
  return typeof name === "string" ? BY_NAME.get(name) : undefined;
}

/** The public methods a proxy defines by passing them on. */
export const PASSED_ON = METHODS.filter((m) => m.api && !m.own);

/**
 * Defines `methods` on `target`'s prototype, each under its `key`. Each calls
 * `forward(method, args)` with `this` the instance and `args` cut to the method's params, and
 * returns what it returns. Call it from the class's static block, so `forward` can reach the
 * class's private members.
 */
export function defineMethods(target, methods, forward) {
  for (const method of methods) {
    const arity = method.params.length;
    const { [method.name]: passOn } = {
      [method.name](...args) {
        return forward.call(this, method, args.slice(0, arity));
      },
    };
    Object.defineProperty(passOn, "length", { value: arity });
    Object.defineProperty(target.prototype, method.key, { value: passOn, writable: true, configurable: true });
  }
}

function method(
  name,
  params,
  { writes = null, resend = false, tabs = true, api = true, own = false, engine = false, inTransaction = false, step = false } = {},
) {
  const key = step ? Symbol(name) : name;
  return { name, key, params, writes, resend, tabs, api, own, engine, inTransaction, step };
}

/** What a call inside a transaction writes: what the call itself would. */
function transactionWrites(_transaction, name, args) {
  const inner = methodNamed(name);
  return inner?.inTransaction && inner.writes && Array.isArray(args) ? inner.writes(...args) : [];
}

/** A query whose SQL says RETURNING writes what it returns: sent twice, it could write twice. */
function readsOnly(sql) {
  return typeof sql !== "string" || !/\breturning\b/i.test(sql);
}

function statementSqls(statements) {
  return Array.isArray(statements) ? statements.map((s) => s?.sql).filter((sql) => typeof sql === "string") : [];
}
