// Deno side of `npm run test:builds`. Usage: deno run --allow-read scripts/probe-builds-deno.mjs MODEL.gguf BUILD_DIR MANIFEST.json
import { buildChecks } from "../build/browser-tests/probe.js";

const [modelPath, buildDir, manifestPath] = Deno.args;
const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
const files = { default: "engine.wasm", relaxed: "engine-relaxed.wasm", threads: "engine-threads.wasm", worker: "thread-worker.wasm" };
const wasm = {};
for (const [k, f] of Object.entries(files)) wasm[k] = await Deno.readFile(`${buildDir}/${f}`);
console.log(JSON.stringify(await buildChecks(await Deno.readFile(modelPath), modelPath.split("/").pop(), wasm, manifest.tokens)));
