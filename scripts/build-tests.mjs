// Bundles tests/*.test.ts and bench/*.bench.ts into build/ so node --test runs them without a TS loader.
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const entries = [
  ...readdirSync("tests").filter((f) => f.endsWith(".test.ts")).map((f) => `tests/${f}`),
  ...readdirSync("bench").filter((f) => f.endsWith(".bench.ts")).map((f) => `bench/${f}`),
];
await build({
  entryPoints: entries,
  outdir: "build",
  outbase: ".",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  inject: ["host/node/wasm.ts"], // build/engine.wasm is the default engine in tests and benches
  sourcemap: "inline",
  logLevel: "warning",
});
