// Bundles the TypeScript host: the Node CLI and library entry into build/host/, and the browser
// side (runtime-neutral core, web demo page and its engine worker) into build/web/.
import { build } from "esbuild";

// Node bundles: the Node adapter registers build/engine.wasm as the default engine.
await build({
  entryPoints: { cli: "host/cli/main.ts", index: "host/index.ts", "stream-worker": "host/node/stream-worker.ts" },
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
// keeps the core runtime-neutral. dip.js is the library for pages; app.js and worker.js the demo;
// session.js the demo's run (the end-to-end test runs it in Node too); probe.js the cross-runtime
// determinism probe (scripts/test-runtimes.mjs); stream-probe.js its streamed counterpart, a worker
// reading a .dipstream through OPFS or Blob slices (scripts/browser-stream-e2e.mjs).
await build({
  entryPoints: { dip: "host/core.ts", app: "web/app.ts", worker: "web/worker.ts", session: "web/session.ts", probe: "web/probe.ts", "stream-probe": "web/stream-probe.ts" },
  outdir: "build/web",
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  sourcemap: "linked",
  logLevel: "warning",
});
