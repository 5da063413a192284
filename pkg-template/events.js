// Listener lists for the events a database emits ("status", "rejected", "change").
// A listener that throws must not break the sync loop that emitted, so its error is reported
// asynchronously, like an exception in a DOM event listener.
const EVENTS = new Set(["status", "rejected", "change"]);

export class Listeners {
  #byEvent = new Map();

  /** Adds `listener` for `event`; returns the function that removes it. */
  on(event, listener, newError) {
    if (!EVENTS.has(event)) {
      throw newError("BAD_OPTIONS", `unknown event ${JSON.stringify(event)}: expected "status", "rejected" or "change"`);
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
