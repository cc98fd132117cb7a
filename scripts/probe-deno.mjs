// Deno side of `npm run test:runtimes`: the same probe bundle (build/browser-tests/probe.js) on Deno's own
// file API. Usage: deno run --allow-read scripts/probe-deno.mjs MODEL.gguf build/engine.wasm TOKENS.json
import { logitsHashes } from "../build/browser-tests/probe.js";

const [modelPath, wasmPath, tokensPath] = Deno.args;
const manifest = JSON.parse(await Deno.readTextFile(tokensPath));
const name = modelPath.split("/").pop();
const hashes = await logitsHashes(await Deno.readFile(modelPath), name, await Deno.readFile(wasmPath), manifest.tokens);
console.log(JSON.stringify(hashes));
