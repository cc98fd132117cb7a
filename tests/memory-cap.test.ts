// A cap on the wasm memory an engine may take (EngineOptions.maxMemoryBytes, host/memory-cap.ts):
// a model over it is refused up front with one line (the size needed and the options), a model
// under it runs exactly as without the cap. The browsers run the same check through
// tests/browser/tasks.ts (npm run test:runtimes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../host/engine.js";
import type { WeightStream } from "../host/stream/weights.js";
import { memoryNeed } from "../host/engine-bytes.js";
import { loadDefaultEngineWasm } from "../host/wasm.js";
import { storiesModel } from "./helpers.js";

const TOKENS = [1, 403, 407, 261, 378];

test("a cap below the model's need: one line with the size and the options, before any allocation", async () => {
  const model = await storiesModel();
  const need = memoryNeed(await loadDefaultEngineWasm(), model, "f32");
  const f32 = need.bytesIn.f32;
  const q8 = need.bytesIn.q8;
  const mb = (b: number) => (b / 1e6).toFixed(3).replace(".", "\\.");
  await assert.rejects(
    Engine.create(model, { maxMemoryBytes: q8 }),
    (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.doesNotMatch(e.message, /\n/, "one line");
      assert.match(e.message, new RegExp(`^${model.name.replace(".", "\\.")} needs ${mb(f32)} MB of wasm memory in f32 \\(weights \\+ KV cache for 512 positions\\), over the ${mb(q8)} MB of wasm memory this engine may take \\(maxMemoryBytes\\); options: load it in dtype q8 \\(${mb(q8)} MB\\), or stream it from a \\.dipstream with a DRAM budget of at most ${mb(q8)} MB`));
      return true;
    },
  );
  await assert.rejects(Engine.create(model, { maxMemoryBytes: q8 - 1 }), /load it in dtype q8 \([\d.]+ MB, also over the cap\)/);
  await assert.rejects(Engine.create(model, { maxMemoryBytes: 0 }), /maxMemoryBytes must be a positive number of bytes/);
  // streamed, the DRAM budget bounds the engine: it must be within the cap (checked before the stream is read)
  const source = {} as WeightStream;
  await assert.rejects(Engine.create(model, { maxMemoryBytes: 1e6, stream: { source, dramBytes: 2e6 } }), /a DRAM budget of 2\.000 MB is over the 1\.000 MB of wasm memory this engine may take \(maxMemoryBytes\); stream it with a budget of at most 1\.000 MB/);
});

test("a model within the cap runs exactly as without it", async () => {
  const model = await storiesModel();
  const need = memoryNeed(await loadDefaultEngineWasm(), model, "f32");
  for (const dtype of ["f32", "q8"] as const) {
    const free = await Engine.create(model, { dtype, sparsity: { method: "dip", keep: 0.5 } });
    const capped = await Engine.create(model, { dtype, sparsity: { method: "dip", keep: 0.5 }, maxMemoryBytes: need.bytesIn[dtype] });
    for (const t of TOKENS) assert.deepEqual(capped.step(t), free.step(t), dtype);
  }
});
