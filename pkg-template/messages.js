// The messages between threads and tabs: between a page and its database's Worker (remote.js,
// worker.js), and between the tabs that share a database (shared.js). They travel by structured
// clone, so each is plain data with a `kind`, and this module holds the rules for what a clone
// cannot carry faithfully: an OutpostError loses its class and `code`, so errors travel as
// {code, message} and are rebuilt on arrival (other errors keep their name and message), and a
// sync status carries its lastError as plain data.
//
// One vocabulary on both hops:
//   call {id, method, args}  ->  reply {id, ok, value | error, status}   (status: the sync status after it)
//   event {event, payload}       a database event: "status", "rejected", "change" or "resync"
// Page and its Worker: open {options} -> opened {status} | open-failed {error};
//   watch {id, sql, params} -> rows {id, rows} | watch-error {id, error}; unwatch {id}.
//   The Worker calls the page too: call {id, method: "token"}, for the sync token.
// Between tabs, where every tab hears every message, a call also says who sends it and which
// holder it is for (from, to), and a reply whom it answers (to). Then: hello {from};
// holder {id, ready, since, status}; resign {id}; tables {tables, pulled} (pulled: pulls alone changed them).
import { OutpostError } from "./error.js";

export function errorToMessage(err) {
  if (err instanceof OutpostError || (err instanceof Error && typeof err.code === "string" && err.name === "OutpostError")) {
    return { outpost: true, code: err.code, message: err.message };
  }
  if (err instanceof Error) return { outpost: false, name: err.name, message: err.message };
  return { outpost: false, name: "Error", message: String(err) };
}

const ERROR_CLASSES = { TypeError, RangeError, SyntaxError, ReferenceError };

export function errorFromMessage(data) {
  if (data.outpost) return new OutpostError(data.code, data.message);
  const err = new (ERROR_CLASSES[data.name] ?? Error)(data.message);
  if (!(data.name in ERROR_CLASSES) && data.name !== "Error") err.name = data.name;
  return err;
}

/** A sync status whose `lastError` is plain data, so it survives postMessage. */
export function statusToMessage(status) {
  if (!status || !(status.lastError instanceof Error)) return status;
  const { code = "SYNC_FAILED", message } = status.lastError;
  return { ...status, lastError: { code, message } };
}

/** The reply to call `id`: what `run` resolved with, or why it failed. */
export async function replyTo(id, run) {
  try {
    return { kind: "reply", id, ok: true, value: await run() };
  } catch (err) {
    return { kind: "reply", id, ok: false, error: errorToMessage(err) };
  }
}

/** Posts `reply` with `post`; a value the clone cannot carry is answered with that failure instead. */
export function postReply(post, reply) {
  try {
    post(reply);
  } catch (err) {
    const { value: _unsent, ...rest } = reply;
    post({ ...rest, ok: false, error: errorToMessage(err) });
  }
}

/** Settles a waiting call, `{ resolve, reject }`, with its reply. */
export function settle(call, reply) {
  if (reply.ok) call.resolve(reply.value);
  else call.reject(errorFromMessage(reply.error));
}
