// ggml block formats: every readable type decoded exactly (hand-built blocks whose values are
// worked out by hand from ggml-common.h's layouts), every GGUF fixture's logits at --dtype f32
// against its float64 reference, and the reference quantizers (hand cases, round-trip bounds,
// re-quantizing the fixtures' own blocks).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Engine } from "../host/engine.js";
import { parseGguf, readGgufHeader } from "../host/formats/gguf.js";
import { GGML_TYPE, QUANTIZABLE_TYPES, dequantizeRow, ggmlBlock, ggmlRowBytes, quantizeRow } from "../host/formats/ggml-blocks.js";
import { floatToHalfBits } from "../host/float16.js";
import { fixturesDir } from "../host/node/paths.js";
import { ModelFormatError } from "../host/model.js";
import { seededRandom } from "../host/prng.js";
import { sha256Hex } from "../host/sha256.js";
import { readF32, readJson } from "./helpers.js";

const ggufDir = resolve(fixturesDir(), "gguf");
const manifest = readJson(resolve(ggufDir, "manifest.json"));

/** The float64 references are within this of an exact-dequantizing f32 engine (manifest's tolerance_hint). */
const LOGIT_TOLERANCE = 1e-3;

for (const entry of manifest.files as { file: string; architecture: string; tokens: number[]; logits_file: string; logits_shape: [number, number] }[]) {
  test(`gguf fixture ${entry.file}: --dtype f32 logits within ${LOGIT_TOLERANCE} of the float64 reference`, async (t) => {
    const bytes = new Uint8Array(readFileSync(resolve(ggufDir, entry.file)));
    let model;
    try {
      model = parseGguf(bytes, entry.file);
    } catch (e) {
      // qwen2/phi3 belong to the architectures work (#15); skipped, visibly, until it lands
      if (e instanceof ModelFormatError && /unsupported architecture/.test(e.message) && entry.architecture !== "llama") {
        t.skip(`architecture ${entry.architecture} not supported yet: ${e.message}`);
        return;
      }
      throw e;
    }
    const engine = await Engine.create(model, { dtype: "f32" });
    const [T, V] = entry.logits_shape;
    assert.equal(V, engine.config.vocabSize);
    assert.equal(T, entry.tokens.length);
    const ref = readF32(resolve(ggufDir, entry.logits_file));
    let maxDiff = 0;
    entry.tokens.forEach((tok, i) => {
      const logits = engine.step(tok);
      for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(logits[v] - ref[i * V + v]));
    });
    t.diagnostic(`max abs diff ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < LOGIT_TOLERANCE, `${entry.file}: max |logit - reference| = ${maxDiff}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Hand-built blocks. Scales are powers of two, so every expected value is exact whatever the
// order of operations; each layout is addressed element by element here (e -> byte, bit, scale),
// not by the decoder's loops.

const half = (v: number): number => floatToHalfBits(v);
function putHalf(b: Uint8Array, at: number, v: number): void {
  const h = half(v);
  b[at] = h & 255;
  b[at + 1] = h >> 8;
}
/** deterministic bytes: a different pattern per seed */
const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 101 + ((i * i) >> 3)) & 255);

function decode(type: number, block: Uint8Array): Float32Array {
  const { blockElems, blockBytes } = ggmlBlock(type)!;
  assert.equal(block.length, blockBytes);
  const out = new Float32Array(blockElems + 3).fill(NaN);
  // decode into the middle of a bigger buffer from a shifted source: offsets must be honoured
  const src = new Uint8Array(blockBytes + 5);
  src.set(block, 5);
  dequantizeRow(type, src, 5, blockElems, out, 2);
  assert.ok(Number.isNaN(out[0]) && Number.isNaN(out[1]) && Number.isNaN(out[blockElems + 2]), "writes only its n values");
  return out.subarray(2, 2 + blockElems);
}

test("ggml blocks: sizes are ggml-common.h's", () => {
  const expected: [number, number, number][] = [
    [GGML_TYPE.F32, 1, 4], [GGML_TYPE.F16, 1, 2], [GGML_TYPE.BF16, 1, 2],
    [GGML_TYPE.Q4_0, 32, 2 + 16], [GGML_TYPE.Q4_1, 32, 4 + 16], [GGML_TYPE.Q5_0, 32, 2 + 4 + 16], [GGML_TYPE.Q5_1, 32, 4 + 4 + 16], [GGML_TYPE.Q8_0, 32, 2 + 32],
    [GGML_TYPE.Q2_K, 256, 16 + 64 + 4], [GGML_TYPE.Q3_K, 256, 32 + 64 + 12 + 2], [GGML_TYPE.Q4_K, 256, 4 + 12 + 128], [GGML_TYPE.Q5_K, 256, 4 + 12 + 32 + 128], [GGML_TYPE.Q6_K, 256, 128 + 64 + 16 + 2],
  ];
  for (const [type, elems, bytes] of expected) {
    assert.deepEqual({ blockElems: ggmlBlock(type)!.blockElems, blockBytes: ggmlBlock(type)!.blockBytes }, { blockElems: elems, blockBytes: bytes }, ggmlBlock(type)!.name);
  }
  assert.equal(ggmlRowBytes(GGML_TYPE.Q4_K, 512), 288);
  for (const unreadable of [9, 15, 16, 20, 23, 29, 34, 35, 39, 99]) assert.equal(ggmlBlock(unreadable), undefined, `type ${unreadable}`);
});

test("ggml blocks: F32, F16 and BF16 elements", () => {
  const f32 = new Uint8Array(new Float32Array([1.5, -0.1]).buffer);
  assert.deepEqual(Array.from(decode(GGML_TYPE.F32, f32.subarray(0, 4))), [1.5]);
  assert.deepEqual(Array.from(decode(GGML_TYPE.F16, Uint8Array.of(0x00, 0x3c))), [1]);
  assert.deepEqual(Array.from(decode(GGML_TYPE.F16, Uint8Array.of(0x01, 0x80))), [-(2 ** -24)]);
  assert.deepEqual(Array.from(decode(GGML_TYPE.BF16, Uint8Array.of(0x80, 0x3f))), [1]);
  assert.deepEqual(Array.from(decode(GGML_TYPE.BF16, Uint8Array.of(0xc9, 0xc0))), [-6.28125]);
});

test("ggml blocks: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 by hand", () => {
  // Q4_0: d = 0.5; byte j holds element j (low nibble) and j + 16 (high); value (q - 8) d
  const q40 = new Uint8Array(18);
  putHalf(q40, 0, 0.5);
  for (let j = 0; j < 16; j++) q40[2 + j] = j | ((15 - j) << 4);
  const y40 = decode(GGML_TYPE.Q4_0, q40);
  for (let j = 0; j < 16; j++) {
    assert.equal(y40[j], (j - 8) * 0.5);
    assert.equal(y40[j + 16], (7 - j) * 0.5);
  }
  // Q4_1: d = 0.25, m = -1; value q d + m
  const q41 = new Uint8Array(20);
  putHalf(q41, 0, 0.25);
  putHalf(q41, 2, -1);
  for (let j = 0; j < 16; j++) q41[4 + j] = ((j * 5) & 15) | (j << 4);
  const y41 = decode(GGML_TYPE.Q4_1, q41);
  for (let j = 0; j < 16; j++) {
    assert.equal(y41[j], ((j * 5) & 15) * 0.25 - 1);
    assert.equal(y41[j + 16], j * 0.25 - 1);
  }
  // Q5_0: d = 2, qh bit e is the 5th bit of element e; value (q - 16) d
  const q50 = new Uint8Array(22);
  putHalf(q50, 0, 2);
  const qh = 0xa5c3_5a3c;
  new DataView(q50.buffer).setUint32(2, qh, true);
  for (let j = 0; j < 16; j++) q50[6 + j] = pattern(16, 3)[j];
  const y50 = decode(GGML_TYPE.Q5_0, q50);
  for (let e = 0; e < 32; e++) {
    const nibble = e < 16 ? q50[6 + e] & 15 : q50[6 + e - 16] >> 4;
    const q = nibble + 16 * ((qh >>> e) & 1);
    assert.equal(y50[e], (q - 16) * 2, `element ${e}`);
  }
  // Q5_1: d = 0.125, m = 3
  const q51 = new Uint8Array(24);
  putHalf(q51, 0, 0.125);
  putHalf(q51, 2, 3);
  new DataView(q51.buffer).setUint32(4, qh, true);
  for (let j = 0; j < 16; j++) q51[8 + j] = pattern(16, 4)[j];
  const y51 = decode(GGML_TYPE.Q5_1, q51);
  for (let e = 0; e < 32; e++) {
    const nibble = e < 16 ? q51[8 + e] & 15 : q51[8 + e - 16] >> 4;
    assert.equal(y51[e], (nibble + 16 * ((qh >>> e) & 1)) * 0.125 + 3, `element ${e}`);
  }
  // Q8_0: d = -0.125, int8 quants
  const q80 = new Uint8Array(34);
  putHalf(q80, 0, -0.125);
  for (let j = 0; j < 32; j++) q80[2 + j] = (j * 8 - 128) & 255;
  const y80 = decode(GGML_TYPE.Q8_0, q80);
  for (let j = 0; j < 32; j++) assert.equal(y80[j], (j * 8 - 128) * -0.125);
});

test("ggml blocks: Q2_K, Q3_K, Q4_K, Q5_K and Q6_K by hand", () => {
  // Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin. Element e: sub-block
  // e >> 4, 2-bit quant in byte 32 (e >> 7) + (e & 31) at shift 2 ((e >> 5) & 3).
  const q2 = new Uint8Array(84);
  q2.set(pattern(80, 5));
  putHalf(q2, 80, 0.5);
  putHalf(q2, 82, 0.25);
  const y2 = decode(GGML_TYPE.Q2_K, q2);
  for (let e = 0; e < 256; e++) {
    const sc = q2[e >> 4];
    const q = (q2[16 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
    assert.equal(y2[e], 0.5 * (sc & 15) * q - 0.25 * (sc >> 4), `Q2_K element ${e}`);
  }

  // Q3_K: hmask[32], qs[64], scales[12], d. 16 six-bit scales s (stored s + 32): low nibbles in
  // bytes 0..7 (j < 8 low half, else high half of byte j - 8), top 2 bits in byte 8 + j % 4 at
  // shift 2 (j >> 2). Element e: 2 low bits as Q2_K, high bit = bit (e >> 5) of hmask[e & 31];
  // q = low - 4 when that bit is clear.
  const s3 = Array.from({ length: 16 }, (_, j) => ((j * 7) % 64) - 32);
  const q3 = new Uint8Array(110);
  q3.set(pattern(96, 6));
  for (let j = 0; j < 16; j++) {
    const u = s3[j] + 32;
    q3[96 + (j % 8)] |= (u & 15) << (j < 8 ? 0 : 4);
    q3[96 + 8 + (j % 4)] |= (u >> 4) << (2 * (j >> 2));
  }
  putHalf(q3, 108, 0.25);
  const y3 = decode(GGML_TYPE.Q3_K, q3);
  for (let e = 0; e < 256; e++) {
    const low = (q3[32 + 32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
    const high = (q3[e & 31] >> (e >> 5)) & 1;
    assert.equal(y3[e], 0.25 * s3[e >> 4] * (low - (high ? 0 : 4)), `Q3_K element ${e}`);
  }

  // Q4_K / Q5_K: d, dmin, 12 bytes of 8 six-bit (scale, min) pairs, [qh[32],] qs[128]. Sub-block
  // e >> 5; nibble of byte 32 (e >> 6) + (e & 31), low for even sub-blocks; Q5_K's 5th bit is
  // bit (e >> 5) of qh[e & 31]. Value d scale q - dmin min.
  const scales = [63, 1, 17, 32, 40, 5, 62, 33];
  const mins = [0, 63, 9, 48, 31, 2, 60, 16];
  const packed = new Uint8Array(12);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] |= scales[j];
      packed[j + 4] |= mins[j];
    } else {
      packed[j + 4] = (scales[j] & 15) | ((mins[j] & 15) << 4);
      packed[j - 4] |= (scales[j] >> 4) << 6;
      packed[j] |= (mins[j] >> 4) << 6;
    }
  }
  for (const five of [false, true]) {
    const type = five ? GGML_TYPE.Q5_K : GGML_TYPE.Q4_K;
    const block = new Uint8Array(five ? 176 : 144);
    block.set(pattern(block.length, five ? 8 : 7));
    putHalf(block, 0, 2 ** -6);
    putHalf(block, 2, 2 ** -9);
    block.set(packed, 4);
    const qs = five ? 48 : 16;
    const y = decode(type, block);
    for (let e = 0; e < 256; e++) {
      const sub = e >> 5;
      let q = (block[qs + 32 * (e >> 6) + (e & 31)] >> (4 * (sub & 1))) & 15;
      if (five) q += 16 * ((block[16 + (e & 31)] >> sub) & 1);
      assert.equal(y[e], 2 ** -6 * scales[sub] * q - 2 ** -9 * mins[sub], `${five ? "Q5_K" : "Q4_K"} element ${e}`);
    }
  }

  // Q6_K: ql[128], qh[64], int8 scales[16], d. Element e: half h = e >> 7, quarter k = (e >> 5) & 3,
  // l = e & 31: low 4 bits from ql[64 h + 32 (k & 1) + l] (high nibble when k >= 2), top 2 bits
  // from qh[32 h + l] at shift 2k; q - 32, scale e >> 4.
  const q6 = new Uint8Array(210);
  q6.set(pattern(208, 9));
  putHalf(q6, 208, 2 ** -10);
  const y6 = decode(GGML_TYPE.Q6_K, q6);
  for (let e = 0; e < 256; e++) {
    const h = e >> 7, k = (e >> 5) & 3, l = e & 31;
    const lowByte = q6[64 * h + 32 * (k & 1) + l];
    const low = k >= 2 ? lowByte >> 4 : lowByte & 15;
    const top = (q6[128 + 32 * h + l] >> (2 * k)) & 3;
    const sc = (q6[192 + (e >> 4)] << 24) >> 24;
    assert.equal(y6[e], 2 ** -10 * sc * ((low | (top << 4)) - 32), `Q6_K element ${e}`);
  }
});

test("ggml blocks: f32 rounding follows ggml's order (d * scale first, then * q, then - min)", () => {
  // d with a full f16 mantissa: d*sc*q needs a rounding step that a different order would change
  const q4k = new Uint8Array(144);
  putHalf(q4k, 0, 0.0003337860107421875); // 0x0d77
  putHalf(q4k, 2, 0.000110149383544921875);
  q4k.fill(0x3f, 4, 12);
  q4k.fill(0xff, 12, 16);
  q4k.fill(0xef, 16);
  const d = 0.0003337860107421875, dmin = 0.000110149383544921875;
  const y = decode(GGML_TYPE.Q4_K, q4k);
  const f = Math.fround;
  // element 0: scale 63, min 63, q = 15
  assert.equal(y[0], f(f(f(d * 63) * 15) - f(dmin * 63)));
  const q6 = new Uint8Array(210);
  q6.fill(0x7d, 192, 208); // scale 125
  q6.fill(0xff, 0, 192); // q = 63 - 32 = 31
  putHalf(q6, 208, 0.0003337860107421875);
  assert.equal(decode(GGML_TYPE.Q6_K, q6)[0], f(f(d * 125) * 31));
});

test("ggml blocks: dequantizeRow refuses partial blocks, short input and unknown types", () => {
  const out = new Float32Array(64);
  assert.throws(() => dequantizeRow(GGML_TYPE.Q4_0, new Uint8Array(36), 0, 48, out), /Q4_0: 48 values is not a multiple of the block size 32/);
  assert.throws(() => dequantizeRow(GGML_TYPE.Q4_0, new Uint8Array(35), 0, 64, out), /Q4_0: 64 values need bytes 0 to 36, source has 35/);
  assert.throws(() => dequantizeRow(39, new Uint8Array(64), 0, 32, out), /cannot dequantize ggml type 39 \(MXFP4\)/);
  assert.throws(() => dequantizeRow(GGML_TYPE.Q8_0, new Uint8Array(34 * 3), 0, 96, out), /output holds 64 values, 96 needed/);
});

// ---------------------------------------------------------------------------------------------
// Quantizers

/**
 * Seeded test rows of 256-value super-blocks (a multiple of 32 too): Gaussian blocks over eight
 * decades of scale, and the awkward ones: all zero, constant, all positive, all negative,
 * half-zero sub-blocks, rare large outliers.
 */
function quantizerInput(blocks: number): Float32Array {
  const random = seededRandom(20261202);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const x = new Float32Array(256 * blocks);
  for (let b = 0; b < blocks; b++) {
    const scale = 10 ** (random() * 8 - 6);
    for (let i = 0; i < 256; i++) {
      let v = gauss() * scale;
      switch (b % 10) {
        case 1: v = 0; break;
        case 2: v = scale; break;
        case 3: v = Math.abs(v); break;
        case 4: v = -Math.abs(v) - scale; break;
        case 5: if (i % 32 < 16) v = 0; break;
        case 6: if (random() < 0.05) v *= 50; break;
      }
      x[b * 256 + i] = v;
    }
  }
  return x;
}

function quantize(type: number, x: Float32Array): Uint8Array {
  const out = new Uint8Array(ggmlRowBytes(type, x.length));
  quantizeRow(type, x, x.length, out);
  return out;
}

function roundTrip(type: number, x: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  dequantizeRow(type, quantize(type, x), 0, x.length, y);
  return y;
}

test("quantizers: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 of stories260K's f32 weights equal the fixture files' blocks (gguf-py's reference quantizers)", () => {
  const f32Path = resolve(fixturesDir(), "..", "models", "stories260K", "stories260K-f32.gguf");
  const f32Bytes = new Uint8Array(readFileSync(f32Path));
  const f32Header = readGgufHeader(f32Bytes, f32Path);
  const source = new Map(f32Header.tensors.map((t) => [t.name, t]));
  for (const type of [GGML_TYPE.Q4_0, GGML_TYPE.Q4_1, GGML_TYPE.Q5_0, GGML_TYPE.Q5_1, GGML_TYPE.Q8_0]) {
    const name = ggmlBlock(type)!.name;
    const file = `stories260K-${name}.gguf`;
    const bytes = new Uint8Array(readFileSync(resolve(ggufDir, file)));
    const header = readGgufHeader(bytes, file);
    let tensors = 0;
    for (const t of header.tensors.filter((t) => t.type === type)) {
      const src = source.get(t.name)!;
      assert.equal(src.type, GGML_TYPE.F32);
      const x = new Float32Array(t.elements);
      dequantizeRow(GGML_TYPE.F32, f32Bytes, f32Header.dataStart + src.offset, t.elements, x);
      const ours = quantize(type, x);
      const theirs = bytes.subarray(header.dataStart + t.offset, header.dataStart + t.offset + ours.length);
      assert.ok(Buffer.from(ours).equals(Buffer.from(theirs)), `${file}: ${t.name} differs`);
      tensors++;
    }
    assert.equal(tensors, 32, `${file}: every 2-D ${name} tensor compared`);
  }
});

test("quantizers: Q4_K, Q5_K and Q6_K equal ggml's quantize_row_*_ref compiled in C, on 400 awkward super-blocks", () => {
  // SHA-256 of the blocks ggml-quants.c's reference quantizers (compiled with gcc -O2
  // -ffp-contract=off, a one-off harness outside this repository) wrote for quantizerInput(400).
  const expected: [number, string][] = [
    [GGML_TYPE.Q4_K, "6216a89549a2c004630efe953c8e4c4c38c7a2d06aaf282b600c1f211b5712bd"],
    [GGML_TYPE.Q5_K, "cc63099618e8e42488cc156efabb18273a9aa059c055ede81cafbcf9de67f1bb"],
    [GGML_TYPE.Q6_K, "626d9e623315a74185ba601d954157ba79074c4808b7389ebb3866d76fb3a724"],
  ];
  const x = quantizerInput(400);
  for (const [type, hash] of expected) assert.equal(sha256Hex(quantize(type, x)), hash, ggmlBlock(type)!.name);
});

test("quantizers: hand-computed Q8_0 and Q4_0 blocks", () => {
  // Q8_0: amax 1.27 -> d = 0.01 (stored as f16), q = roundf(x / d): 0.5 -> 50, -1.27 -> -127,
  // 0.004 -> 0, 0.005 -> 1 (roundf: half away from zero; 0.005 / 0.01 is 0.5 in f32)
  const x8 = new Float32Array(32);
  x8.set([0.5, -1.27, 0.004, 0.005, -0.015]);
  const q8 = quantize(GGML_TYPE.Q8_0, x8);
  assert.equal(q8[0] | (q8[1] << 8), floatToHalfBits(0.01));
  assert.deepEqual(Array.from(new Int8Array(q8.buffer, 2, 6)), [50, -127, 0, 1, -2, 0]);
  // Q4_0: the value of largest magnitude, -8, gives d = -8 / -8 = 1; q = trunc(x / d + 8.5),
  // at most 15: element j of the first half is j - 8 -> q = j; the second half 0.5 j' -> 8 + round-half-up(j' / 2)
  const x4 = Float32Array.from({ length: 32 }, (_, i) => (i < 16 ? i - 8 : (i - 16) * 0.5));
  const q4 = quantize(GGML_TYPE.Q4_0, x4);
  assert.equal(q4[0] | (q4[1] << 8), floatToHalfBits(1));
  for (let j = 0; j < 16; j++) {
    assert.equal(q4[2 + j] & 15, j, `low nibble ${j}`);
    assert.equal(q4[2 + j] >> 4, Math.min(15, 8 + Math.floor(j / 2 + 0.5)), `high nibble ${j}`);
  }
  // all zero: d = 0 / -8 = -0 (f16 0x8000, as ggml writes it), every quant at the zero point
  const zero = quantize(GGML_TYPE.Q4_0, new Float32Array(32));
  assert.deepEqual(Array.from(zero), [0x00, 0x80, ...new Array(16).fill(0x88)]);
});

test("quantizers: Q6_K reproduces values on its own grid exactly; an all-zero super-block is all zeros", () => {
  // every 16-value group spans q = -32..31 (times 2^-7), so scale 2^-7 is exact: d = -2^-7 / 128 * -128...
  const x = Float32Array.from({ length: 256 }, (_, i) => (((i * 7) % 64) - 32) * 2 ** -7);
  for (let g = 0; g < 16; g++) x[16 * g] = -32 * 2 ** -7; // the largest magnitude in every group
  assert.deepEqual(Array.from(roundTrip(GGML_TYPE.Q6_K, x)), Array.from(x));
  assert.deepEqual(Array.from(quantize(GGML_TYPE.Q6_K, new Float32Array(256))), new Array(210).fill(0));
});

test("quantizers: round-trip error within each type's bound, and ordered by bits", (t) => {
  // Gaussian rows (sigma 1): a uniform grid of step s has RMS error s / sqrt(12). Expected steps:
  // Q8_0 amax/127 (amax of 32 ~ 2.2), Q4_0 amax/8, Q5_0 amax/16, Q4_1 range/15 (~4.4), Q5_1
  // range/31, Q4_K ~ range/15 and Q5_K range/31 with 6-bit sub-scales, Q6_K amax/32 of 16
  // values. Bounds are ~1.3x those estimates: a wrong scale or layout is off by far more.
  const random = seededRandom(5);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const x = Float32Array.from({ length: 256 * 64 }, gauss);
  const bounds: [number, number][] = [
    [GGML_TYPE.Q8_0, 0.0065], [GGML_TYPE.Q6_K, 0.025], [GGML_TYPE.Q5_1, 0.045], [GGML_TYPE.Q5_K, 0.045],
    [GGML_TYPE.Q5_0, 0.05], [GGML_TYPE.Q4_1, 0.09], [GGML_TYPE.Q4_K, 0.09], [GGML_TYPE.Q4_0, 0.1],
  ];
  const rms = new Map<number, number>();
  for (const [type, bound] of bounds) {
    const y = roundTrip(type, x);
    let se = 0;
    for (let i = 0; i < x.length; i++) se += (y[i] - x[i]) ** 2;
    const err = Math.sqrt(se / x.length);
    rms.set(type, err);
    t.diagnostic(`${ggmlBlock(type)!.name} RMS error ${err.toFixed(4)} (bound ${bound})`);
    assert.ok(err < bound, `${ggmlBlock(type)!.name}: RMS error ${err} >= ${bound}`);
  }
  assert.ok(rms.get(GGML_TYPE.Q8_0)! < rms.get(GGML_TYPE.Q6_K)! && rms.get(GGML_TYPE.Q6_K)! < rms.get(GGML_TYPE.Q5_K)! && rms.get(GGML_TYPE.Q5_K)! < rms.get(GGML_TYPE.Q4_K)!);
  // per element, Q8_0 is within half a step of the stored scale plus the f16 rounding of the scale
  const y8 = roundTrip(GGML_TYPE.Q8_0, x);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
    const d = amax / 127;
    for (let j = 0; j < 32; j++) assert.ok(Math.abs(y8[32 * b + j] - x[32 * b + j]) <= d * (0.5 + 127 * 2 ** -11), `Q8_0 block ${b} element ${j}`);
  }
  // the awkward blocks: finite, and constant or zero blocks come back (nearly) as they were
  const awkward = quantizerInput(40);
  for (const type of QUANTIZABLE_TYPES) {
    const y = roundTrip(type, awkward);
    assert.ok(y.every(Number.isFinite), ggmlBlock(type)!.name);
    for (let i = 256; i < 512; i++) assert.ok(y[i] === 0, `${ggmlBlock(type)!.name}: zero block`); // 0 or -0 ((q - 8) * 0)
  }
});

test("quantizers: refuse what they cannot write", () => {
  const out = new Uint8Array(1024);
  assert.throws(() => quantizeRow(GGML_TYPE.Q3_K, new Float32Array(256), 256, out), /cannot quantize to ggml type 11 \(Q3_K\); supported: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K/);
  assert.throws(() => quantizeRow(GGML_TYPE.Q4_K, new Float32Array(300), 300, out), /Q4_K: 300 values is not a multiple of the block size 256/);
  assert.throws(() => quantizeRow(GGML_TYPE.Q4_K, new Float32Array(256), 256, out, 0, new Float32Array(256)), /importance weights \(imatrix\) are not supported/);
  assert.throws(() => quantizeRow(GGML_TYPE.Q6_K, new Float32Array(1024), 1024, out.subarray(0, 800)), /Q6_K: output needs bytes 0 to 840, has 800/);
});
