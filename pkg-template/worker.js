// The dedicated Worker behind a main-thread database (see remote.js for the other end). It opens the
// database through shared.js, so it either holds the OPFS file for every tab or forwards to the tab
// that does. It runs the page's calls of the public API (methods.js) and its watches; the messages
// are described in messages.js. The sync token function stays on the page: the worker calls the
// page for a token each time it needs one.
import init from "./outpost.js";
import { EVENT_NAMES } from "./events.js";
import { methodNamed } from "./methods.js";
import { openShared } from "./shared.js";
import { errorToMessage, postReply, replyTo, settle, statusToMessage } from "./messages.js";

let db = null;
let wasmReady = null;
const watches = new Map();
/** This worker's calls to the page (for tokens) not yet answered: id -> { resolve, reject }. */
const pageCalls = new Map();
let nextPageCall = 1;

function requestToken() {
  const id = nextPageCall++;
  return new Promise((resolve, reject) => {
    pageCalls.set(id, { resolve, reject });
    self.postMessage({ kind: "call", id, method: "token", args: [] });
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
    for (const event of EVENT_NAMES) {
      db.on(event, (payload) => {
        self.postMessage({ kind: "event", event, payload: event === "status" ? statusToMessage(payload) : payload });
      });
    }
    self.postMessage({ kind: "opened", status: statusToMessage(db.syncStatus()) });
  } catch (err) {
    self.postMessage({ kind: "open-failed", error: errorToMessage(err) });
  }
}

async function handleCall({ id, method, args }) {
  const reply = await replyTo(id, () => {
    const called = methodNamed(method);
    if (!called?.api) throw new TypeError(`unknown method ${method}`);
    if (method === "close") {
      for (const stop of watches.values()) stop();
      watches.clear();
    }
    return db[called.key](...args);
  });
  postReply((message) => self.postMessage(message), { ...reply, status: statusToMessage(db?.syncStatus()) });
}

function handleWatch({ id, sql, params }) {
  try {
    const stop = db.watch(sql, params, (rows) => self.postMessage({ kind: "rows", id, rows }), {
      onError: (err) => self.postMessage({ kind: "watch-error", id, error: errorToMessage(err) }),
    });
    watches.set(id, stop);
  } catch (err) {
    self.postMessage({ kind: "watch-error", id, error: errorToMessage(err) });
  }
}

self.addEventListener("message", (event) => {
  const message = event.data;
  switch (message.kind) {
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
    case "reply": {
      const call = pageCalls.get(message.id);
      pageCalls.delete(message.id);
      if (call) settle(call, message);
      break;
    }
  }
});
