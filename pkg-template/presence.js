// Whether a tab is still there, told by the browser itself: every tab (every SharedDatabase, in
// its dedicated Worker) holds a Web Lock of its own, "outpost:<name>:tab:<id>", for as long as it
// has the database open. The browser releases it when the tab closes or crashes, so another tab
// waiting for that lock is granted it exactly when the first one is gone. The tab holding the
// database waits so on every tab with a transaction open there, to roll it back if its tab dies.

function lockName(database, tab) {
  return `outpost:${database}:tab:${tab}`;
}

/**
 * Takes this tab's lock. `held` resolves once the browser granted it (a transaction begins only
 * then, so no other tab can take the lock for a sign that this one is gone); `release()` lets go.
 */
export function announcePresence(database, tab) {
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  const held = new Promise((granted) => {
    navigator.locks
      .request(lockName(database, tab), () => {
        granted();
        return released;
      })
      .catch(() => {
        // never aborted: without the lock this tab's transactions go unwatched, but still run
        granted();
      });
  });
  return { held, release };
}

/** Calls `gone()` once `tab` has let go of its lock, unless `signal` aborts first. */
export function whenGone(database, tab, signal, gone) {
  navigator.locks.request(lockName(database, tab), { signal }, gone).catch(() => {
    // AbortError: the tab's transaction ended first
  });
}
