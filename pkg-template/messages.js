// How values the structured clone cannot carry faithfully cross between the page and the worker.
// An OutpostError loses its class and `code` in a clone, so it travels as {code, message} and is
// rebuilt on the other side; other errors keep their name and message.
import { OutpostError } from "./error.js";

export function errorToWire(err) {
  if (err instanceof OutpostError || (err instanceof Error && typeof err.code === "string" && err.name === "OutpostError")) {
    return { outpost: true, code: err.code, message: err.message };
  }
  if (err instanceof Error) return { outpost: false, name: err.name, message: err.message };
  return { outpost: false, name: "Error", message: String(err) };
}

const ERROR_CLASSES = { TypeError, RangeError, SyntaxError, ReferenceError };

export function errorFromWire(wire) {
  if (wire.outpost) return new OutpostError(wire.code, wire.message);
  const err = new (ERROR_CLASSES[wire.name] ?? Error)(wire.message);
  if (!(wire.name in ERROR_CLASSES) && wire.name !== "Error") err.name = wire.name;
  return err;
}

/** A sync status whose `lastError` is plain data, so it survives postMessage. */
export function statusToWire(status) {
  if (!status || !(status.lastError instanceof Error)) return status;
  const { code = "SYNC_FAILED", message } = status.lastError;
  return { ...status, lastError: { code, message } };
}
