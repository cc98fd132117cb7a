// The demo's engine worker: loads the model and runs generation off the page's thread, feeding each
// token's masks to a live Flash -> DRAM simulator on the same wasm instance (as `dip simulate` does).
import { Engine } from "../host/engine.js";
import { fetchBytes, loadModel, nameOf, type ProgressCallback } from "../host/formats/bytes.js";
import type { LoadedModel } from "../host/model.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import type { Tokenizer } from "../host/tokenizer/types.js";
import type { FromWorker, RunSettings, ToWorker } from "./protocol.js";
import { runSession } from "./session.js";

const post = (m: FromWorker) => (self as unknown as { postMessage(m: FromWorker): void }).postMessage(m);

let wasmBytes: Promise<Uint8Array<ArrayBuffer>> | undefined;
let current: { model: LoadedModel; engine: Engine; tokenizer: Tokenizer } | undefined;

async function open(model: LoadedModel): Promise<void> {
  if (!model.vocab) throw new Error(`${model.name}: the file has no vocabulary (tokenizer.ggml.tokens); the demo needs a GGUF with one`);
  wasmBytes ??= fetchBytes(new URL("./engine.wasm", import.meta.url));
  const engine = await Engine.create(model, { wasmBytes: await wasmBytes });
  current = { model, engine, tokenizer: new SentencePieceTokenizer(model.vocab) };
  const c = model.config;
  const w = engine.weightBytes();
  post({ type: "loaded", name: model.name, config: c, params: (w.embedding + w.attention + w.mlp + w.lm_head) / 4, bytes: engine.memoryBytes() });
}

function run(s: RunSettings): void {
  if (!current) throw new Error("load a model first");
  const { result, sim } = runSession(current.engine, current.tokenizer, s, {
    onText: (text) => post({ type: "text", text }),
    onStep: (position, snap) => post({ type: "step", position, sim: snap }),
  });
  post({ type: "done", text: result.text, tokens: result.tokens, generated: result.generated_tokens, tokS: result.tok_s, sim });
}

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  try {
    if (m.type === "load") {
      current = undefined;
      let lastPost = 0;
      const progress: ProgressCallback = (loaded, total) => {
        const now = performance.now();
        if (now - lastPost < 50 && loaded !== total) return; // a few messages a second, not one per chunk
        lastPost = now;
        post({ type: "progress", loaded, total });
      };
      const model = "file" in m ? await loadModel(m.file, m.file.name, progress) : await loadModel(await fetchBytes(m.url, progress), nameOf(m.url));
      await open(model);
    } else if (m.type === "generate") {
      run(m.settings);
    }
  } catch (e) {
    post({ type: "error", message: (e as Error).message ?? String(e) });
  }
};
