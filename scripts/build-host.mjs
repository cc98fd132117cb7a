// Bundles the TypeScript host: the Node CLI and library entry into build/host/, the package's
// browser library into build/browser/, the web demo (the browser entry, its page and engine worker)
// into build/web/, and the browser test harnesses (tests/browser/) into build/browser-tests/.
// Type declarations: `npm run build:types` (tsconfig.types.json -> build/types/).
import { build } from "esbuild";
import { rmSync } from "node:fs";

// Node bundles: the Node adapter registers build/engine.wasm as the default engine.
await build({
  entryPoints: { cli: "host/node/cli/main.ts", index: "host/index.ts", "stream-worker": "host/node/stream-worker.ts" },
  outdir: "build/host",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  inject: ["host/node/wasm.ts"],
  sourcemap: "linked",
  logLevel: "warning",
});

// Browser bundles: platform "browser" fails the build if anything reaches a node:* module, which
// keeps the core runtime-neutral. dip.js is the library for pages (host/web/index.ts: the core plus
// the browser adapters); app.js and worker.js the demo; session.js the demo's run (the end-to-end
// test runs it in Node too).
const browser = { bundle: true, platform: "browser", format: "esm", target: "es2022", sourcemap: "linked", logLevel: "warning" };
await build({
  ...browser,
  entryPoints: { dip: "host/web/index.ts", app: "web/app.ts", worker: "web/worker.ts", session: "web/session.ts" },
  outdir: "build/web",
});
// The package's browser library (package.json "exports": the browser condition and subpaths): the
// entry, the engine worker's script (createWorkerEngine's default worker: "./worker.js" beside it)
// and the OPFS stream adapters, sharing chunks. It finds the wasm files one folder up, in build/
// (host/wasm.ts bundledEngineUrl), so nothing here copies them.
// Emptied first: chunk names change with their contents, and stale chunks must not be packed. Its
// source maps are external (not packed: no dangling sourceMappingURL in an app's bundle).
rmSync("build/browser", { recursive: true, force: true });
await build({
  ...browser,
  entryPoints: { index: "host/web/index.ts", worker: "host/web/worker.ts", opfs: "host/web/stream-opfs.ts" },
  outdir: "build/browser",
  splitting: true,
  chunkNames: "chunk-[hash]",
  sourcemap: "external",
});
// Test harnesses, not part of the demo: probe.js the cross-runtime determinism probe
// (scripts/test-runtimes.mjs, test-builds.mjs); stream-probe.js its streamed counterpart, a worker
// reading a .dipstream through OPFS or Blob slices (scripts/browser-stream-e2e.mjs); tasks.js the
// page that runs them and reports back in browsers without WebDriver (scripts/browser-pages.mjs);
// demo-driver.js and stream-driver.js the demo's end-to-end scenarios inside the page, demo-page.js their helpers. The runners
// serve them beside the demo (scripts/browser-e2e.mjs PROBE_FILES).
await build({
  ...browser,
  entryPoints: { probe: "tests/browser/probe.ts", "stream-probe": "tests/browser/stream-probe.ts", tasks: "tests/browser/tasks.ts", "demo-page": "tests/browser/demo-page.ts", "demo-driver": "tests/browser/demo-driver.ts", "stream-driver": "tests/browser/stream-driver.ts" },
  outdir: "build/browser-tests",
});
