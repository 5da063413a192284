// Waiting in tests: polling for a condition that another process (a browser page, a Worker, the
// primary) brings about, with a message that says what never happened.

/**
 * Polls `check` (sync or async) until it returns a truthy value; returns it. A throw counts as not yet.
 * On timeout, `explain` (if given) is asked what the state was, for the error message.
 */
export async function until(check, { timeout = 15_000, interval = 50, message = "condition", explain } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const state = explain ? `; state: ${await Promise.resolve().then(explain).catch((err) => `(explain failed: ${err})`)}` : "";
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${last?.stack ?? JSON.stringify(last)}${state}`);
    }
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
