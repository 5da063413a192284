// The dedicated Worker behind a main-thread database (see remote.js for the other end). It opens the
// database through shared.js, so it either holds the OPFS file for every tab or forwards to the tab
// that does. Messages in: open, call, watch, unwatch, token-reply. Messages out: opened,
// open-failed, result, error, event, rows, watch-error, token.
// The sync token function stays on the page; the worker asks for a token each time it needs one.
import init from "./outpost.js";
import { openShared } from "./shared.js";
import { errorToWire, errorFromWire, statusToWire } from "./wire.js";

const METHODS = new Set(["execute", "executeMany", "query", "batch", "sync", "push", "ensureFresh", "close"]);

let db = null;
let wasmReady = null;
const watches = new Map();
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
    const sync = options.sync;
    if (sync && sync.tokenFromPage) {
      delete sync.tokenFromPage;
      sync.token = requestToken;
    }
    db = await openShared(options, () => (wasmReady ??= init()));
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
    if (method === "close") {
      for (const stop of watches.values()) stop();
      watches.clear();
    }
    const value = await db[method](...args);
    self.postMessage({ type: "result", id, value, status: statusToWire(db.syncStatus()) });
  } catch (err) {
    self.postMessage({ type: "error", id, error: errorToWire(err) });
  }
}

function handleWatch({ id, sql, params }) {
  try {
    const stop = db.watch(sql, params, (rows) => self.postMessage({ type: "rows", id, rows }), {
      onError: (err) => self.postMessage({ type: "watch-error", id, error: errorToWire(err) }),
    });
    watches.set(id, stop);
  } catch (err) {
    self.postMessage({ type: "watch-error", id, error: errorToWire(err) });
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
    case "watch":
      handleWatch(message);
      break;
    case "unwatch":
      watches.get(message.id)?.();
      watches.delete(message.id);
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
