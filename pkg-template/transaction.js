// db.transaction(callback), written once for every layer that offers it (the page's proxy, a tab,
// the database's own thread). The callback runs where it was called; its calls travel like any
// other, as steps of the transaction (methods.js: step) that carry its id: begin, each call,
// then commit when the callback resolves or roll back when it throws. Wherever the database is,
// every other caller (other calls of this page, other tabs, the sync loop) waits until the
// transaction ends (local.js), and a transaction whose tab goes away is rolled back by the tab
// holding the database (shared.js).
import { OutpostError } from "./error.js";
import { defineMethods, IN_TRANSACTION, TRANSACTION_STEPS } from "./methods.js";

const { begin: BEGIN, run: RUN, end: END } = TRANSACTION_STEPS;

/**
 * Runs `callback(tx)` in one transaction of `db` (which has the steps under TRANSACTION_STEPS):
 * committed when it resolves, with its value; rolled back when it throws, with its error.
 */
export async function runTransaction(db, callback) {
  if (typeof callback !== "function") {
    throw new OutpostError("BAD_PARAMS", "transaction(callback) takes a function: db.transaction(async (tx) => { ... })");
  }
  const id = await db[BEGIN]();
  let result;
  try {
    result = await callback(new Transaction(db, id));
  } catch (err) {
    try {
      await db[END](id, false);
    } catch {
      // the callback's error is the one to report; the transaction is gone either way
    }
    throw err;
  }
  await db[END](id, true);
  return result;
}

/** The `tx` of a transaction: the calls of the Database that run inside it (methods.js: inTransaction). */
class Transaction {
  #db;
  #id;

  constructor(db, id) {
    this.#db = db;
    this.#id = id;
  }

  static {
    defineMethods(this, IN_TRANSACTION, function (method, args) {
      return this.#db[RUN](this.#id, method.name, args);
    });
  }
}
