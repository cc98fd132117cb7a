// Bundles the page and its worker with esbuild into dist/, beside the engine wasm and index.html.
// (Vite and webpack would find the wasm and the worker themselves through new URL(..., import.meta.url).)
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
await build({
  entryPoints: [here("./main.ts"), here("./worker.ts")],
  outdir: here("./dist"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  logLevel: "warning",
});
mkdirSync(here("./dist"), { recursive: true });
copyFileSync(fileURLToPath(import.meta.resolve("dip-engine/engine.wasm")), here("./dist/engine.wasm"));
copyFileSync(here("./index.html"), here("./dist/index.html"));
