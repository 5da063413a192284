// Sizes, data and statistics shared by the worker and main-thread benchmarks.
export const COMMITS = 1000;
export const BULK_ROWS = 100_000;
export const READ_ROWS = 10_000;
export const POINT_READS = 5000;
export const WARMUP = 200;

export function bulkRows(n) {
  const rows = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = [i + 1, i * 31, i * 0.25, `bulk row ${i} payload`];
  return rows;
}

/** 8 columns: integers, reals and short texts. */
export function readRows(n) {
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const id = i + 1;
    rows[i] = [id, id * 3, id * 1.5, `name ${id}`, `city-${id % 97}`, id % 1000, id / 7, `note about row ${id}`];
  }
  return rows;
}

/** A fixed pseudo-random sequence of ids in 1..max (the same for both engines). */
export function pointIds(n, max) {
  let x = 0x2545f491;
  const ids = new Array(n + WARMUP);
  for (let i = 0; i < ids.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    ids[i] = ((x >>> 0) % max) + 1;
  }
  return ids;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, n: sorted.length };
}

/**
 * Counts the OPFS calls both VFSes make (they share FileSystemSyncAccessHandle), to split a
 * commit's time between storage I/O and everything else. A wrapper costs well under 1 µs a call.
 */
export function instrumentIo() {
  const proto = globalThis.FileSystemSyncAccessHandle?.prototype;
  const stats = {};
  if (!proto) return { reset() {}, snapshot: () => null };
  for (const method of ["read", "write", "flush", "truncate", "getSize"]) {
    const original = proto[method];
    stats[method] = { calls: 0, ms: 0 };
    proto[method] = function (...args) {
      const start = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        stats[method].calls += 1;
        stats[method].ms += performance.now() - start;
      }
    };
  }
  return {
    reset() {
      for (const s of Object.values(stats)) s.calls = s.ms = 0;
    },
    /** Per operation: calls and milliseconds of each method. */
    snapshot(operations) {
      return Object.fromEntries(Object.entries(stats).map(([m, s]) => [m, { calls: s.calls / operations, ms: s.ms / operations }]));
    },
  };
}
