// Decode speed in the webviews' engines: tok/s of greedy steps on the stories110M shape (random
// weights, as `dip bench --synthetic stories110m` builds it; f32, dense and DIP keep 0.5) in Node
// and in headless Chromium (V8), Firefox ESR (SpiderMonkey) and WebKitGTK (JavaScriptCore) from one
// run, each page a fresh profile on `dip serve`'s server (tests/browser/tasks.ts "decode",
// scripts/browser-pages.mjs). Prints one JSON object with the load average at start and end; the
// numbers and the exact command go in bench/README.md. Run it on an idle machine.
//
//   npm run build && node bench/browsers.mjs [--tokens 64] [--warmup 4] [--shape stories110m]
//                                            [--runtimes node,chromium,firefox,webkit]
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { decodeSpeed } from "../build/browser-tests/probe.js";
import { recordLoad, startDemoServer } from "../build/host/index.js";
import { PROBE_FILES } from "../scripts/browser-e2e.mjs";
import { acceptReports, browserVersion, runTask } from "../scripts/browser-pages.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: o } = parseArgs({
  options: { tokens: { type: "string", default: "64" }, warmup: { type: "string", default: "4" }, shape: { type: "string", default: "stories110m" }, runtimes: { type: "string", default: "node,chromium,firefox,webkit" } },
});
const log = (m) => process.stderr.write(`bench-browsers: ${m}\n`);
const args = { shape: o.shape, tokens: Number(o.tokens), warmup: Number(o.warmup) };
const runtimes = o.runtimes.split(",");
if (!(args.tokens >= 1 && args.warmup >= 0)) throw new RangeError("--tokens must be >= 1 and --warmup >= 0");

const out = { shape: args.shape, tokens: args.tokens, warmup: args.warmup, cpus: cpus().length, cpu: cpus()[0]?.model, load_start: recordLoad("bench/browsers", "start"), runtimes: {} };
// the pages build their model; the server's default model is only served, never loaded
const shared = process.env.DIP_SHARED_DIR ? resolve(process.env.DIP_SHARED_DIR) : resolve(root, "..", "shared");
const server = await startDemoServer({ port: 0, modelPath: resolve(shared, "models", "stories260K", "stories260K-f32.gguf"), extra: PROBE_FILES });
const reports = acceptReports(server);
try {
  for (const name of runtimes) {
    log(`${name}: ${args.tokens} tokens after ${args.warmup} warm-up steps`);
    out.runtimes[name] =
      name === "node"
        ? { version: process.version, tok_s: await decodeSpeed(args.shape, new Uint8Array(readFileSync(resolve(root, "build", "engine.wasm"))), args.tokens, args.warmup) }
        : { version: browserVersion(name), tok_s: await runTask(name, server, reports, "decode", args, { timeoutMs: 30 * 60 * 1000 }) };
  }
} finally {
  await server.close();
}
out.load_end = recordLoad("bench/browsers", "end");
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
