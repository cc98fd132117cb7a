// The typed ABI (host/abi.ts): a build without the exports the host calls is refused when it is
// instantiated, naming them; the layout sizes the host allocates by are the wasm's, checked here
// against the layouts as assembly/kernels/q8.ts documents them (independent arithmetic).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DTYPE_F32, DTYPE_Q8, engineExports, layoutBytes, Q8_TILE_BYTES } from "../host/abi.js";
import { loadDefaultEngineWasm } from "../host/wasm.js";

test("an engine build missing exports is refused at instantiation, naming what is missing", () => {
  const stale = { memory: new WebAssembly.Memory({ initial: 1 }), forward: () => {} };
  assert.throws(() => engineExports(stale), /the engine wasm lacks the exports arenaAlloc, arenaUsedBytes, .*: a stale build/);
  assert.throws(() => engineExports({}), /lacks the exports memory, arenaAlloc/);
});

test("layout sizes come from the wasm: f32 4 bytes a weight; q8 whole tiles of 8 rows, input-major quants + f16 scales", async () => {
  const wasm = await loadDefaultEngineWasm();
  const f32 = layoutBytes(wasm, DTYPE_F32);
  assert.deepEqual([f32.row(70), f32.matrix(3, 70), f32.inputMajor(70, 5), f32.allColumns(70, 5)], [280, 840, 1400, 1400]);
  const q8 = layoutBytes(wasm, DTYPE_Q8);
  assert.equal(q8.row(70), 3 * 36, "3 blocks of 32 quants and an f32 scale");
  assert.equal(q8.matrix(9, 70), 2 * 3 * Q8_TILE_BYTES, "2 tiles of 8 rows x 3 blocks");
  assert.equal(q8.inputMajor(3, 2), 8 + 2 * 2, "6 quants padded to 8, then one f16 scale per output");
  assert.equal(q8.allColumns(70, 5), 70 * 5 + 2 * 5 * 3, "every quant and every block's scales");
  // past 4 GiB the sizes stay exact (f64 from the wasm, no u32 wrap)
  assert.equal(f32.matrix(65536, 32768), 2 ** 33);
});
