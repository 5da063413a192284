// The dedicated Worker behind a main-thread database (see remote.js for the other end).
// Messages in: open, call, token-reply. Messages out: opened, open-failed, result, error, event, token.
// The sync token function stays on the page; the worker asks for a token each time it needs one.
import init from "./outpost.js";
import { openLocal } from "./local.js";
import { errorToWire, errorFromWire, statusToWire } from "./wire.js";

const METHODS = new Set(["execute", "query", "batch", "sync", "close"]);

let db = null;
const tokenRequests = new Map();
let nextTokenRequest = 1;

function requestToken() {
  const id = nextTokenRequest++;
  return new Promise((resolve, reject) => {
    tokenRequests.set(id, { resolve, reject });
    self.postMessage({ type: "token", id });
  });
}

async function handleOpen(options) {
  try {
    await init();
    const sync = options.sync;
    if (sync && sync.tokenFromPage) {
      delete sync.tokenFromPage;
      sync.token = requestToken;
    }
    db = await openLocal(options, { defaultStorage: "opfs" });
    for (const event of ["status", "rejected", "change"]) {
      db.on(event, (payload) => {
        self.postMessage({ type: "event", event, payload: event === "status" ? statusToWire(payload) : payload });
      });
    }
    self.postMessage({ type: "opened", status: statusToWire(db.syncStatus()) });
  } catch (err) {
    self.postMessage({ type: "open-failed", error: errorToWire(err) });
  }
}

async function handleCall({ id, method, args }) {
  try {
    if (!METHODS.has(method)) throw new TypeError(`unknown method ${method}`);
    const value = await db[method](...args);
    self.postMessage({ type: "result", id, value, status: statusToWire(db.syncStatus()) });
  } catch (err) {
    self.postMessage({ type: "error", id, error: errorToWire(err) });
  }
}

self.addEventListener("message", (event) => {
  const message = event.data;
  switch (message.type) {
    case "open":
      handleOpen(message.options);
      break;
    case "call":
      handleCall(message);
      break;
    case "token-reply": {
      const request = tokenRequests.get(message.id);
      tokenRequests.delete(message.id);
      if (!request) break;
      if (message.error) request.reject(errorFromWire(message.error));
      else request.resolve(message.token);
      break;
    }
  }
});
