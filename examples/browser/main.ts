// A page that generates with a GGUF in a Web Worker: the page never blocks on the model, text
// streams in, Stop aborts. The model is downloaded once (kept in OPFS or the Cache API).
// URL parameters: ?model=URL (default stories260K-f32.gguf beside the page), &autorun=1 generates
// at once, &steps=N sets the length (default 64), &stopAfter=N aborts after N pieces of text (the
// package test uses them).
import { createWorkerEngine, type WorkerEngine } from "dip-engine";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>("status");
const out = $<HTMLPreElement>("out");
const generateButton = $<HTMLButtonElement>("generate");
const stopButton = $<HTMLButtonElement>("stop");
const params = new URLSearchParams(location.search);

let engine: WorkerEngine;
try {
  engine = await createWorkerEngine(params.get("model") ?? "stories260K-f32.gguf", {
    // esbuild leaves new URL(..., import.meta.url) alone: build.mjs puts these files beside main.js
    worker: new Worker(new URL("./worker.js", import.meta.url), { type: "module" }),
    wasmUrl: new URL("./engine.wasm", import.meta.url),
    sparsity: { method: "dip", keep: 0.5 },
    cache: true,
    onProgress: (got, total) => (status.textContent = `loading the model: ${got} of ${total ?? "?"} bytes`),
  });
} catch (e) {
  status.textContent = `error: ${(e as Error).message}`;
  throw e;
}
status.textContent = `${engine.name} loaded (${engine.config.nLayers} layers)`;
generateButton.disabled = false;

async function run(): Promise<void> {
  const controller = new AbortController();
  const stopAfter = Number(params.get("stopAfter") ?? Infinity);
  stopButton.onclick = () => controller.abort();
  generateButton.disabled = true;
  stopButton.disabled = false;
  out.textContent = "";
  status.textContent = "generating...";
  let pieces = 0;
  try {
    const stream = engine.generate({ prompt: $<HTMLInputElement>("prompt").value, steps: Number(params.get("steps") ?? 64), temperature: 0, signal: controller.signal });
    for await (const piece of stream) {
      out.textContent += piece;
      if (++pieces === stopAfter) controller.abort();
    }
    const result = await stream.result;
    status.textContent = `${result.aborted ? "stopped" : "done"}: ${result.generated_tokens} tokens`;
  } catch (e) {
    status.textContent = `error: ${(e as Error).message}`;
  } finally {
    generateButton.disabled = false;
    stopButton.disabled = true;
  }
}

$<HTMLFormElement>("form").onsubmit = (ev) => {
  ev.preventDefault();
  void run();
};
if (params.has("autorun")) void run();
