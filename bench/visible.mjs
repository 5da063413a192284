// Write on A → visible on B in the browser (bench/browser/visible.js), in two browser profiles:
//   regular:   a persistent profile (launchPersistentContext), as a user's browser keeps OPFS: in
//              the renderer, a write() is a file write and flush() an fsync;
//   incognito: Playwright's default context, where Chromium keeps OPFS in the browser process and
//              every write() of the VFS is a cross-process call (pessimistic; the earlier figures).
// With BENCH_VISIBLE_BEFORE=dir, a second package build is served at /pkg-before/ and measured
// in the same run, runs alternating the builds, so that a change is judged against its "before".
import { summarise } from "./browser/workloads.js";
import { withRegularProfile } from "./profile.mjs";

export const BEFORE_MOUNT = "/pkg-before/";

/** The builds measured: the package itself, and the "before" build when one is given. */
export function visibleBuilds() {
  const builds = [{ id: "pkg", path: "/pkg" }];
  if (process.env.BENCH_VISIBLE_BEFORE) builds.push({ id: "before", path: BEFORE_MOUNT.slice(0, -1) });
  return builds;
}

/**
 * Runs `runs` rounds of `samples` writes in each profile and build. `incognitoPage` is the
 * benchmark's page; the regular profile is launched here, on the same server. Samples of all
 * rounds are pooled for the percentiles.
 */
export async function visibleRuns({ serverUrl, incognitoPage, primaryUrl, chromiumOptions, runs, samples, log }) {
  return withRegularProfile({ serverUrl, chromiumOptions, log }, async (regularPage) => {
    const profiles = [
      { id: "regular", page: regularPage },
      { id: "incognito", page: incognitoPage },
    ];
    const builds = visibleBuilds();
    const raw = {};
    const rtt = {};
    for (let r = 0; r < runs; r++) {
      for (const profile of profiles) {
        (rtt[profile.id] ??= []).push(await profile.page.evaluate((m) => window.bench.sync(m), { mode: "rtt", url: primaryUrl, samples }));
        const order = r % 2 === 0 ? builds : [...builds].reverse();
        for (const build of order) {
          const name = `visible-${profile.id}-${build.id}-${r}`;
          const result = await profile.page.evaluate((m) => window.bench.visible(m), {
            url: `${primaryUrl}/v1/db/${name}`,
            name,
            samples,
            pkg: build.path,
          });
          const entry = ((raw[profile.id] ??= {})[build.id] ??= { watchMs: [], changeMs: [], missed: 0, runs: [] });
          entry.watchMs.push(...result.watchMs);
          entry.changeMs.push(...result.changeMs);
          entry.missed += result.missed;
          entry.runs.push({ watch: result.watch, change: result.change });
          log(`write-to-visible ${profile.id} ${build.id} run ${r + 1}/${runs}: watch p50 ${result.watch.p50.toFixed(1)} / p99 ` +
            `${result.watch.p99.toFixed(1)} ms, change+query p50 ${result.change.p50.toFixed(1)} / p99 ${result.change.p99.toFixed(1)} ms`);
        }
      }
    }
    const out = {};
    for (const [profile, list] of Object.entries(rtt)) {
      const medianOf = (key) => list.map((x) => x[key]).sort((a, b) => a - b)[list.length >> 1];
      (out[profile] ??= {}).fetchRtt = { p50: medianOf("p50"), p99: medianOf("p99") };
      log(`fetch round trip from a worker, ${profile}: p50 ${out[profile].fetchRtt.p50.toFixed(1)} ms`);
    }
    for (const [profile, byBuild] of Object.entries(raw)) {
      for (const [build, entry] of Object.entries(byBuild)) {
        out[profile][build] = { watch: summarise(entry.watchMs), change: summarise(entry.changeMs), missed: entry.missed, runs: entry.runs };
      }
    }
    return out;
  });
}
