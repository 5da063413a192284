// Listener lists for the events a database emits: "status", "rejected", "change" and "resync"
// (the replica's and the primary's histories parted, and it pulls everything again).
// A listener that throws must not break the sync loop that emitted, so its error is reported
// asynchronously, like an exception in a DOM event listener.

/** Every event, in the order the docs list them; the layers that pass events on pass these. */
export const EVENT_NAMES = Object.freeze(["status", "rejected", "change", "resync"]);
const EVENTS = new Set(EVENT_NAMES);

export class Listeners {
  #byEvent = new Map();

  /** Adds `listener` for `event`; returns the function that removes it. */
  on(event, listener, newError) {
    if (!EVENTS.has(event)) {
      throw newError("BAD_OPTIONS", `unknown event ${JSON.stringify(event)}: expected one of ${EVENT_NAMES.map((e) => `"${e}"`).join(", ")}`);
    }
    if (typeof listener !== "function") {
      throw newError("BAD_OPTIONS", `the listener for "${event}" must be a function`);
    }
    // Wrap so that adding the same function twice gives two independent subscriptions.
    const entry = { listener };
    let set = this.#byEvent.get(event);
    if (!set) this.#byEvent.set(event, (set = new Set()));
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  emit(event, payload) {
    const set = this.#byEvent.get(event);
    if (!set) return;
    for (const { listener } of [...set]) {
      try {
        listener(payload);
      } catch (err) {
        report(err);
      }
    }
  }

  clear() {
    this.#byEvent.clear();
  }
}

function report(err) {
  if (typeof globalThis.reportError === "function") {
    globalThis.reportError(err);
  } else {
    setTimeout(() => {
      throw err;
    });
  }
}
