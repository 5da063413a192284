// Waiting in tests: polling for a condition that another process (a browser page, a Worker, the
// primary) brings about, with a message that says what never happened.

/** Polls `check` (sync or async) until it returns a truthy value; returns it. A throw counts as not yet. */
export async function until(check, { timeout = 15_000, interval = 50, message = "condition" } = {}) {
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
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${last?.stack ?? JSON.stringify(last)}`);
    }
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
