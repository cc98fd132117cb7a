// `dip serve`: the web demo (web/ and its bundles in build/web/), the engine wasm and the default
// model over HTTP on 127.0.0.1 only, with the cross-origin isolation headers (COOP/COEP) that let
// pages use SharedArrayBuffer and precise timers. node:http, no server dependency.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { basename, extname, resolve, sep } from "node:path";
import type { AddressInfo } from "node:net";
import { projectRoot } from "./paths.js";
import { ENGINE_BUILD_FILES } from "../wasm.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".gguf": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".dipstream": "application/octet-stream",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface ServeOptions {
  /** 0 picks a free port */
  port?: number;
  /** the model the page loads by default (a file) */
  modelPath: string;
  /** a .dipstream the page offers to stream (its URL prefilled) */
  streamPath?: string;
  /** extra files by URL path (tests serve fixtures this way) */
  extra?: Record<string, string>;
}

export interface DemoServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** The files a request path may name, in order (404 when none exists). Only these roots are reachable. */
function candidates(pathname: string, o: ServeOptions): string[] {
  const root = projectRoot();
  if (pathname === "/" || pathname === "/index.html") return [resolve(root, "web", "index.html")];
  // the engine builds (host/wasm.ts ENGINE_BUILD_FILES): default, relaxed SIMD, threads + worker
  const build = Object.values(ENGINE_BUILD_FILES).find((f) => pathname === `/${f}`);
  if (build) return [resolve(root, "build", build)];
  if (pathname === `/models/${basename(o.modelPath)}`) return [o.modelPath];
  if (o.streamPath && pathname === `/models/${basename(o.streamPath)}`) return [o.streamPath];
  if (o.extra?.[pathname]) return [o.extra[pathname]];
  // the bundles (build/web), then the page's static files (web/, never its TypeScript sources)
  const out: string[] = [];
  for (const dir of [resolve(root, "build", "web"), resolve(root, "web")]) {
    const file = resolve(dir, "." + pathname);
    if (!file.startsWith(dir + sep)) return [];
    if (!file.endsWith(".ts")) out.push(file);
  }
  return out;
}

async function isFile(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

export async function startDemoServer(o: ServeOptions): Promise<DemoServer> {
  const config = JSON.stringify({ defaultModel: `models/${basename(o.modelPath)}`, ...(o.streamPath ? { streamModel: `models/${basename(o.streamPath)}` } : {}) });
  const server = createServer(async (req, res) => {
    const headers: Record<string, string> = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cross-Origin-Resource-Policy": "same-origin",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-store",
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...headers, Allow: "GET, HEAD" }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname);
    } catch {
      res.writeHead(400, headers).end("bad request\n");
      return;
    }
    if (pathname === "/config.json") {
      res.writeHead(200, { ...headers, "Content-Type": TYPES[".json"] }).end(req.method === "HEAD" ? undefined : config);
      return;
    }
    for (const file of candidates(pathname, o)) {
      const size = await isFile(file);
      if (size === undefined) continue;
      res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream", "Content-Length": String(size) });
      if (req.method === "HEAD") res.end();
      else createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, { ...headers, "Content-Type": "text/plain; charset=utf-8" }).end(`not found: ${pathname}\n`);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(o.port ?? 8080, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
