// A tiny static server for the benchmark pages, on 127.0.0.1 only. It sends COOP/COEP so the
// pages are cross-origin isolated: performance.now() then has 5 µs resolution instead of 100 µs.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** Serves `mounts` ({ "/prefix/": "/abs/dir" }); resolves to { url, close }. */
export function startServer(mounts) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "no-cache",
    };
    if (!prefix) {
      res.writeHead(404, headers).end("not found");
      return;
    }
    const root = resolve(mounts[prefix]);
    const file = normalize(join(root, path.slice(prefix.length) || "index.html"));
    if (!file.startsWith(root)) {
      res.writeHead(403, headers).end("forbidden");
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, headers).end("not found");
    }
  });
  return new Promise((resolveStart) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolveStart({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}
