// A static file server for the browser tests: /pkg/* from the built package, /pages/* from
// tests/js/pages. It listens on 127.0.0.1 (a secure context, so OPFS is available) on a free port.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const PAGE_MOUNTS = { "/pkg/": join(root, "pkg"), "/pages/": join(root, "tests/js/pages") };
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/**
 * Starts the server; resolves with its origin, a close() function, and `primaryRequests`: the
 * requests made to /primary/* (answered 503, as by a primary that is down), for checking headers.
 * `mounts` (URL prefix -> folder) replaces the page tests' /pkg/ and /pages/, e.g. { "/": dist }.
 */
export async function startServer({ mounts = PAGE_MOUNTS } = {}) {
  const primaryRequests = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (path.startsWith("/primary/")) {
      primaryRequests.push({ method: req.method, path, authorization: req.headers.authorization ?? null });
      req.resume();
      res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"code":"UNAVAILABLE","message":"down"}}');
      return;
    }
    const mount = Object.keys(mounts).find((prefix) => path.startsWith(prefix));
    const file = mount && normalize(join(mounts[mount], path.slice(mount.length) || "index.html"));
    if (!file || !file.startsWith(mounts[mount])) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    primaryRequests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
