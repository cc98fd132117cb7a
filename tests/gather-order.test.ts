// The f32 gather's order (assembly/kernels/gather.ts gatherOrder): each block of consecutive kept
// columns (256, or 128 on outputs wider than 2560) is added in an interleaved order. Every
// path must follow it, or logits stop being the same bits: one thread and two (each a part of the
// list), the streamed store (which reads and gathers in chunks, here smaller and larger than a
// block), and batched prefill. The model is shaped for it: dim 256 gives W_gate/W_up (4104 outputs)
// dense masks of two whole blocks of 128, and W_down (256 outputs) 16 blocks of 256. The
// kernel's order itself, and its closeness to a float64 sum, are checked in
// tests/assembly/gather.spec.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../host/node/wasm.js";
import { Engine } from "../host/engine.js";
import { syntheticModel } from "../host/synthetic.js";
import { openStreamFile, writeStreamFile, loadStreamFileFully } from "../host/node/stream-file.js";
import type { SparsitySpec } from "../host/sparsity.js";

const DIM = 256;
const HIDDEN = 4104;
const model = () => syntheticModel("stories260k-shape", 11, { config: { dim: DIM, hiddenDim: HIDDEN, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 304, seqLen: 32 } });
const TOKENS = [1, 17, 250, 3, 303, 42, 7, 128];
const SPECS: SparsitySpec[] = [{ method: "dense" }, { method: "dip", keep: 0.5 }];
const dir = mkdtempSync(join(tmpdir(), "dip-gather-order-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

function logitsOf(engine: Engine, spec: SparsitySpec): Float32Array[] {
  engine.setSparsity(spec);
  engine.reset();
  return TOKENS.map((t) => engine.step(t).slice());
}

function sameBits(got: Float32Array[], expected: Float32Array[], what: string): void {
  assert.equal(got.length, expected.length);
  got.forEach((g, i) => assert.deepEqual(bits(g), bits(expected[i]), `${what}, token ${i}`));
}

test("the shape takes the interleaved order: W_gate/W_up outputs past 16 KiB, dense masks of whole blocks", () => {
  assert.ok(HIDDEN * 4 > 16384 && DIM % 128 === 0 && DIM >= 256);
});

test("two threads give one thread's logits bit for bit on wide outputs (dense and dip)", async () => {
  const one = await Engine.create(model());
  const two = await Engine.create(model(), { threads: 2 });
  try {
    assert.equal(two.threads, 2);
    for (const spec of SPECS) sameBits(logitsOf(two, spec), logitsOf(one, spec), `2 threads ${spec.method}`);
  } finally {
    one.close();
    two.close();
  }
});

test("prefill gives the prompt step by step bit for bit on wide outputs", async () => {
  const engine = await Engine.create(model());
  try {
    engine.setSparsity({ method: "dense" });
    engine.reset();
    let stepwise = new Float32Array(0);
    for (const t of TOKENS) stepwise = engine.step(t).slice();
    engine.reset();
    const batched = engine.prefill(TOKENS).slice();
    assert.deepEqual(bits(batched), bits(stepwise));
  } finally {
    engine.close();
  }
});

// f32 and q8 streams; chunks of 8 entries (a block spans 16 chunks) and of 128 (a block is a chunk)
for (const dtype of ["f32", "q8"] as const)
for (const chunk of [8, 128]) {
  test(`streamed ${dtype}, chunks of ${chunk} columns, gives the resident logits bit for bit on wide outputs (dense and dip)`, async () => {
    const path = join(dir, `wide-${dtype}.dipstream`);
    if (!existsSync(path)) await writeStreamFile(model(), path, dtype); // the second chunk size reuses the file
    const o = openStreamFile(path);
    try {
      // resident: the file's own values (for q8, its MLP columns dequantized to f32)
      const resident = await Engine.create(loadStreamFileFully(path), { dtype: dtype === "f32" ? "f32" : "native" });
      const entryBytes = o.stream.header.groups[0].entry_bytes;
      const engine = await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e12, policy: "none", io: "inline", stageBytes: 2 * chunk * entryBytes } });
      try {
        for (const spec of SPECS) sameBits(logitsOf(engine, spec), logitsOf(resident, spec), `${dtype} ${spec.method}`);
        assert.ok(o.stream.counters.bytes > 0);
      } finally {
        engine.close();
        resident.close();
      }
    } finally {
      o.close();
    }
  });
}
