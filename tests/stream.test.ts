// Streaming weights from a .dipstream file under a DRAM budget: same logits as the resident
// engine (dense and DIP, with a budget where the MLP does not fit), checksums that catch a
// flipped byte and a truncated file, and a budget below the minimum refused with the minimum.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../host/node/wasm.js";
import { Engine } from "../host/engine.js";
import { ModelFormatError } from "../host/model.js";
import { openStreamFile, writeStreamFile, loadStreamFileFully } from "../host/node/stream-file.js";
import { StreamBudgetError, streamCacheEntries } from "../host/stream/weights.js";
import type { SparsitySpec } from "../host/sparsity.js";
import { STORIES_BIN, storiesModel } from "./helpers.js";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { projectRoot } from "../host/node/paths.js";
import { MaskRecorder } from "../host/sim/run.js";
import { simulateTrace } from "../host/sim/simulate.js";
import { resolveDevice } from "../host/sim/devices.js";
import { measuredReadLatencyUs } from "../host/stream/report.js";

const TOKENS = [1, 403, 407, 261, 378, 1009 % 512, 267, 374, 395, 290, 301, 480, 290, 414, 261, 264];
const dir = mkdtempSync(join(tmpdir(), "dip-stream-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

async function streamFile(): Promise<string> {
  const path = join(dir, "stories260K.dipstream");
  try {
    readFileSync(path);
  } catch {
    await writeStreamFile(await storiesModel(), path);
  }
  return path;
}

function run(engine: Engine, tokens: number[]): Float32Array[] {
  engine.reset();
  return tokens.map((t) => engine.step(t).slice());
}

/** The smallest budget, plus the embedding and the LM head, plus half of the MLP: the MLP does not fit. */
async function halfMlpBudget(path: string): Promise<number> {
  const o = openStreamFile(path);
  try {
    const probe = await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e12, policy: "none", stageBytes: 8 * 1376 } });
    const c = o.model.config;
    probe.close();
    return probe.streamSetup!.minimumBytes + 128 + (c.tiedEmbeddings ? 1 : 2) * c.vocabSize * c.dim * 4 + 0.5 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim;
  } finally {
    o.close();
  }
}

for (const spec of [{ method: "dense" }, { method: "dip", keep: 0.5 }] as SparsitySpec[]) {
  for (const policy of ["lru", "lfu"] as const) {
    // reads on the I/O thread (the default) and on the engine thread
    const io = policy === "lru" ? "thread" : "inline";
    test(`streamed ${spec.method} (${policy}, reads ${io}, MLP does not fit) gives the resident engine's logits bit for bit`, async () => {
      const path = await streamFile();
      const resident = await Engine.create(await storiesModel(), { sparsity: spec });
      const expected = run(resident, TOKENS);
      const dramBytes = await halfMlpBudget(path);
      const o = openStreamFile(path);
      try {
        const engine = await Engine.create(o.model, { sparsity: spec, stream: { source: o.stream, dramBytes, policy, stageBytes: 8 * 1376, io } });
        const s = engine.streamSetup!;
        assert.equal(s.io, io);
        const c = o.model.config;
        assert.ok(s.cacheEntries[0] < c.dim && s.cacheEntries[0] > 0, `input cache ${s.cacheEntries[0]} of ${c.dim}`);
        assert.ok(s.cacheBytes < 0.6 * c.nLayers * 3 * 4 * c.dim * c.hiddenDim);
        for (let rep = 0; rep < 2; rep++) {
          const got = run(engine, TOKENS);
          got.forEach((g, i) => assert.deepEqual(g, expected[i], `token ${i}`));
        }
        assert.ok(engine.memoryBytes() <= dramBytes, `arena ${engine.memoryBytes()} within the budget ${dramBytes}`);
        assert.ok(o.stream.counters.bytes > 0);
        engine.close();
      } finally {
        o.close();
      }
    });
  }
}

const F32 = { embedding: 32, lm_head: 32, attention: 32, mlp: 32, kv_cache: 32 };

for (const policy of ["lru", "lfu"] as const) {
  test(`streamed dip-ca (${policy}) reads its real cache: logits equal resident dip-ca with the same simulated cache, bit for bit`, async () => {
    const path = await streamFile();
    const dramBytes = await halfMlpBudget(path);
    const spec: SparsitySpec = { method: "dip-ca", keep: 0.5, gamma: 0.5 };
    const o = openStreamFile(path);
    try {
      const engine = await Engine.create(o.model, { sparsity: spec, stream: { source: o.stream, dramBytes, policy, stageBytes: 8 * 1376 } });
      const s = engine.streamSetup!;
      // the resident engine with a live simulator of the same capacities and policy feeding DIP-CA
      const resident = await Engine.create(await storiesModel(), { sparsity: spec });
      const recorder = new MaskRecorder(resident, { live: true, settings: { policy, device: resolveDevice("mobile", { dramBytes }), bits: F32, cacheEntries: [...s.cacheEntries] } });
      // plain dip streamed with the same budget: DIP-CA's masks must differ from it (the cache matters)
      const o2 = openStreamFile(path);
      const dip = await Engine.create(o2.model, { sparsity: { method: "dip", keep: 0.5 }, stream: { source: o2.stream, dramBytes, policy, stageBytes: 8 * 1376 } });
      let differs = false;
      o.stream.resetCounters();
      for (let seq = 0; seq < 2; seq++) {
        recorder.beginSequence(0);
        resident.reset();
        engine.reset();
        dip.reset();
        TOKENS.forEach((t, i) => {
          const expected = resident.step(t).slice();
          recorder.afterStep();
          const got = engine.step(t);
          assert.deepEqual(got, expected, `sequence ${seq} token ${i}`);
          assert.deepEqual(engine.lastMasks(), resident.lastMasks());
          dip.step(t);
          differs ||= engine.lastMasks().input.some((m, l) => m.join() !== dip.lastMasks().input[l].join());
        });
      }
      o2.close();
      assert.ok(differs, "dip-ca at gamma 0.5 chose the same input masks as dip: the cache flags had no effect");
      // and it read from storage exactly what the resident run's simulator charged to Flash
      const simulated = recorder.simulator!.result().sequences.reduce((t, q) => t + q.mlp_flash_bytes_per_token * q.tokens, 0);
      assert.equal(o.stream.counters.bytes, Math.round(simulated));
    } finally {
      o.close();
    }
  });
}

test("a .dipstream loaded fully runs like the model it came from", async () => {
  const path = await streamFile();
  const a = run(await Engine.create(await storiesModel()), TOKENS.slice(0, 4));
  const b = run(await Engine.create(loadStreamFileFully(path)), TOKENS.slice(0, 4));
  b.forEach((x, i) => assert.deepEqual(x, a[i]));
});

test("a flipped byte in a column or a static tensor, and a truncated file, are detected", async () => {
  const path = await streamFile();
  const bytes = readFileSync(path);
  const o = openStreamFile(path);
  const h = o.stream.header;
  o.close();
  // a byte in layer 1's hidden-group column 3
  const colFile = join(dir, "flipped-column.dipstream");
  const flipped = Buffer.from(bytes);
  flipped[h.column_offsets[1 * 2 + 1] + 3 * h.groups[1].entry_bytes + 5] ^= 0x10;
  writeFileSync(colFile, flipped);
  const oc = openStreamFile(colFile); // the static part is intact
  try {
    // found by the I/O thread or by the engine thread, the same error
    for (const io of ["thread", "inline"] as const) {
      const engine = await Engine.create(oc.model, { stream: { source: oc.stream, dramBytes: 1e9, io } });
      const corrupt = (e: Error) => e instanceof ModelFormatError && /flipped-column\.dipstream: layer 1 hidden column 3: checksum mismatch/.test(e.message);
      assert.throws(() => engine.step(1), corrupt);
      // and again on every later step: the column is never used
      for (let i = 0; i < 10; i++) assert.throws(() => engine.step(1), corrupt);
      engine.close();
    }
  } finally {
    oc.close();
  }
  // a byte in a static tensor
  const wq = h.tensors.find((t) => t.name === "layers.2.wq")!;
  const staticFile = join(dir, "flipped-static.dipstream");
  const flipped2 = Buffer.from(bytes);
  flipped2[wq.offset + 7] ^= 0x01;
  writeFileSync(staticFile, flipped2);
  assert.throws(() => openStreamFile(staticFile), /layers\.2\.wq: checksum mismatch/);
  // a byte in the header
  const headFile = join(dir, "flipped-header.dipstream");
  const flipped3 = Buffer.from(bytes);
  flipped3[40] ^= 0x01;
  writeFileSync(headFile, flipped3);
  assert.throws(() => openStreamFile(headFile), /header checksum mismatch/);
  // truncated
  const cut = join(dir, "truncated.dipstream");
  writeFileSync(cut, bytes);
  truncateSync(cut, bytes.length - 100);
  assert.throws(() => openStreamFile(cut), /truncated/);
});

test("an I/O thread that cannot open the file stops the run with its error, not a hang", async () => {
  const path = await streamFile();
  const moved = join(dir, "moved-away.dipstream");
  writeFileSync(moved, readFileSync(path));
  const o = openStreamFile(moved);
  rmSync(moved); // the engine thread's descriptor still reads it; the I/O thread opens by path
  try {
    const engine = await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e9, io: "thread" } });
    assert.throws(() => engine.step(1), /weight stream I\/O: ENOENT: no such file or directory, open '.*moved-away\.dipstream'/);
    engine.close();
  } finally {
    o.close();
  }
});

// stories260K's embedding and LM head are separate (untied) 512 x 64 matrices; the budget leaves room
// for 100 rows (the LM head holds 96, whole groups of 8; the embedding none) or 612 (the LM head
// holds all 512, the embedding 96). The rows held are placed first, as the simulator places static
// groups; no column cache is left.
for (const [method, io, roomRows, held] of [
  ["dense", "thread", 100, { embedding: 0, lmHead: 96 }],
  ["dip", "inline", 612, { embedding: 96, lmHead: 512 }],
] as const) {
  test(`static weights over the budget (${method}, reads ${io}, room for ${roomRows} rows): rows not held are read every token, logits bit for bit`, async () => {
    const path = await streamFile();
    const spec: SparsitySpec = method === "dense" ? { method } : { method, keep: 0.5 };
    const resident = await Engine.create(await storiesModel(), { sparsity: spec });
    const expected = run(resident, TOKENS);
    const o = openStreamFile(path);
    try {
      const c = o.model.config;
      const rowBytes = c.dim * 4;
      const minimum = (await Engine.create(o.model, { stream: { source: o.stream, dramBytes: 1e12, io } })).streamSetup!.minimumBytes;
      assert.equal(c.tiedEmbeddings, false);
      const dramBytes = minimum + 128 + roomRows * rowBytes;
      const engine = await Engine.create(o.model, { sparsity: spec, stream: { source: o.stream, dramBytes, io } });
      const s = engine.streamSetup!;
      assert.deepEqual(s.residentRows, held);
      assert.deepEqual(s.cacheEntries, [0, 0]);
      assert.ok(engine.memoryBytes() <= dramBytes);
      o.stream.resetCounters();
      const got = run(engine, TOKENS);
      got.forEach((g, i) => assert.deepEqual(g, expected[i], `token ${i}`));
      // every token reads the LM head rows not held, its own embedding row when not held, and (no
      // cache) every MLP column its masks keep
      let mlpBytes = 0;
      resident.reset();
      for (const t of TOKENS) {
        resident.step(t);
        const m = resident.lastMasks();
        mlpBytes += m.input.reduce((sum, idx) => sum + idx.length * 2 * c.hiddenDim * 4, 0) + m.hidden.reduce((sum, idx) => sum + idx.length * c.dim * 4, 0);
      }
      const rowsRead = TOKENS.length * (c.vocabSize - held.lmHead) + TOKENS.filter((t) => t >= held.embedding).length;
      assert.equal(o.stream.counters.bytes, mlpBytes + rowsRead * rowBytes);
      // nothing is allocated past the budget later: top-p sampling's scratch and the mask
      // policies' tables are laid out with the run state
      engine.setSparsity({ method: "dip-ca", keep: 0.5, gamma: 0.5 });
      engine.step(1);
      engine.sample(0.8, 0.9);
      assert.ok(engine.memoryBytes() <= dramBytes, `arena ${engine.memoryBytes()} after sampling, budget ${dramBytes}`);
      engine.close();
    } finally {
      o.close();
    }
  });
}

test("a DRAM budget below the attention weights and run state is refused with the minimum", async () => {
  const path = await streamFile();
  const o = openStreamFile(path);
  try {
    await assert.rejects(
      Engine.create(o.model, { stream: { source: o.stream, dramBytes: 100_000 } }),
      (e: unknown) => e instanceof StreamBudgetError && e.minimumBytes > 100_000 && /give at least --dram \d+/.test(e.message),
    );
  } finally {
    o.close();
  }
});

test("cache slots follow the simulator's even split and hand spare bytes to the other cache", () => {
  // D=64, I=172, 5 layers: input entry 1376 B, hidden entry 256 B
  assert.deepEqual(streamCacheEntries(64, 172, 5, 0), [0, 0]);
  const [ci, ch] = streamCacheEntries(64, 172, 5, 5 * 3 * 10 * 1376);
  assert.equal(ci, 20);
  assert.equal(ch, Math.floor((10 * 1376) / 256));
  assert.deepEqual(streamCacheEntries(64, 172, 5, 1e9), [64, 172]);
});

test("the real caches read exactly the bytes the simulator predicts for the same masks", async () => {
  const path = await streamFile();
  const dramBytes = await halfMlpBudget(path);
  const o = openStreamFile(path);
  try {
    const engine = await Engine.create(o.model, { sparsity: { method: "dip", keep: 0.5 }, stream: { source: o.stream, dramBytes, policy: "lfu", stageBytes: 8 * 1376 } });
    const recorder = new MaskRecorder(engine);
    o.stream.resetCounters();
    for (let seq = 0; seq < 2; seq++) {
      recorder.beginSequence(0);
      engine.reset();
      for (const t of TOKENS) {
        engine.step(t);
        recorder.afterStep();
      }
    }
    const s = engine.streamSetup!;
    const sim = await simulateTrace(recorder.trace(), {
      policy: "lfu",
      device: resolveDevice("mobile", { dramBytes }),
      bits: { embedding: 32, lm_head: 32, attention: 32, mlp: 32, kv_cache: 32 },
      cacheEntries: [...s.cacheEntries],
    });
    const tokens = 2 * TOKENS.length;
    assert.ok(Math.abs(o.stream.counters.bytes / tokens - sim.flash_bytes_per_token) < 1e-6, `${o.stream.counters.bytes / tokens} vs ${sim.flash_bytes_per_token}`);
    const x = engine.exports;
    assert.equal(x.simTotalFlashBytes(), o.stream.counters.bytes);
    assert.ok(Math.abs(x.simTotalDramBytes() / (x.simTotalDramBytes() + x.simTotalFlashBytes()) - sim.hit_rate.overall) < 1e-12);
  } finally {
    o.close();
  }
});

function dip(...args: string[]) {
  const r = spawnSync(process.execPath, [resolve(projectRoot(), "bin", "dip.js"), ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("CLI: convert --stream-layout, generate and eval --stream report measured and simulated numbers", () => {
  const out = join(dir, "cli.dipstream");
  let r = dip("convert", "--model", STORIES_BIN(), "--stream-layout", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const common = ["--model", out, "--method", "dip", "--keep", "0.5"];
  const resident = dip("generate", "--model", STORIES_BIN(), "--method", "dip", "--keep", "0.5", "--steps", "24", "--temperature", "0", "--json");
  r = dip("generate", ...common, "--stream", "--dram", "1.6MB", "--flash-gbps", "2", "--policy", "lfu", "--steps", "24", "--temperature", "0", "--json");
  assert.equal(r.code, 0, r.stderr);
  const g = JSON.parse(r.stdout);
  assert.deepEqual(g.tokens, JSON.parse(resident.stdout).tokens);
  assert.equal(g.stream, true);
  assert.equal(g.policy, "lfu");
  for (const k of ["tok_s", "simulated_tok_s", "storage_bytes_per_token", "hit_rate", "peak_wasm_memory_bytes"]) assert.ok(g[k] > 0, k);
  assert.ok(Math.abs(g.hit_rate - g.simulated_hit_rate) < 1e-12);
  assert.ok(Math.abs(g.storage_bytes_per_token - g.simulated_flash_bytes_per_token) < 1e-6);
  assert.ok(g.arena_bytes <= 1.6e6);
  // --flash-gbps 2 really paces the reads: neither the run nor the simulation of it can beat 2 GB/s
  // for the bytes it read from storage
  assert.ok(g.tok_s <= 2e9 / g.storage_bytes_per_token, `measured ${g.tok_s} tok/s beats the 2 GB/s pace (${2e9 / g.storage_bytes_per_token})`);
  assert.ok(g.simulated_tok_s <= 2e9 / g.simulated_flash_bytes_per_token, `simulated ${g.simulated_tok_s} tok/s beats 2 GB/s`);
  // paced: the prediction to compare with is this machine's (measured DRAM bandwidth; concurrent
  // I/O, as the engine pipelines reads with its gathers)
  assert.equal(g.simulated_device.name, "host");
  assert.equal(g.simulated_device.concurrent_io, true);
  assert.equal(g.stream_io, "thread");
  assert.ok(g.dram_read_gbps > 0 && g.mobile_simulated_tok_s > 0 && g.mobile_device.flash_gbps === 2);
  // compute time is not modelled, so the prediction is an upper bound of the measured speed
  assert.ok(g.measured_over_simulated > 0 && g.measured_over_simulated <= 1.05, `measured / simulated = ${g.measured_over_simulated}`);
  // the host prediction charges the per-read cost the stream measured: never faster than bandwidth only
  assert.ok(g.measured_read_latency_us >= 0);
  assert.equal(g.simulated_device.read_latency_us, g.measured_read_latency_us);
  assert.ok(g.bandwidth_only_simulated_tok_s >= g.simulated_tok_s);
  // a run of adjacent columns is one read for both; the stream also splits runs at chunk ends
  assert.ok(g.simulated_flash_reads_per_token > 0 && g.simulated_flash_reads_per_token <= g.storage_reads_per_token);
  // the simulator charges the bytes the engine's counters saw: weights once (tied head once), MLP the same
  const b = g.bytes_per_token;
  assert.equal(b.simulated_static_dram, b.engine_embedding + b.engine_attention + b.engine_lm_head);
  assert.ok(Math.abs(b.simulated_mlp - b.engine_mlp) < 1e-6 * b.engine_mlp);
  assert.ok(b.simulated_kv_cache > 0);
  // a budget below the static weights: the simulator is given the engine's static placement, so it
  // charges the same LM head rows to Flash; the embedding row it charges by the share held (the
  // engine reads the whole row or none), so the bytes agree to within one row per token
  const small = g.minimum_dram_bytes + 128 + 300 * 64 * 4;
  r = dip("generate", ...common, "--stream", "--dram", String(small), "--flash-gbps", "2", "--steps", "24", "--temperature", "0", "--json");
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual(o.tokens, g.tokens);
  assert.deepEqual(o.resident_rows, { embedding: o.tied_embeddings ? 296 : 0, lm_head: 296, vocab: 512 });
  assert.deepEqual(o.cache_entries, { input: 0, hidden: 0 });
  assert.ok(o.arena_bytes <= small);
  assert.ok(Math.abs(o.storage_bytes_per_token - o.simulated_flash_bytes_per_token) <= 64 * 4, `${o.storage_bytes_per_token} vs ${o.simulated_flash_bytes_per_token}`);
  assert.ok(o.storage_bytes_per_token > (512 - 296) * 64 * 4);
  // dip logits: the same bytes streamed under that budget as from the file loaded fully
  const ids = "1,403,407,261,378,497,267,374,395,290,301,480,290,414,261,264";
  const [full, streamedLogits] = [join(dir, "full.logits"), join(dir, "streamed.logits")];
  assert.equal(dip("logits", ...common, "--tokens", ids, "--out", full).code, 0);
  r = dip("logits", ...common, "--stream", "--dram", String(small), "--tokens", ids, "--out", streamedLogits);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(full).equals(readFileSync(streamedLogits)));
  assert.equal(readFileSync(full).length, 16 * 512 * 4);
  r = dip("eval", ...common, "--stream", "--dram", "1.6MB", "--stories", "2", "--stream-io", "inline", "--json");
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.stream_io, "inline");
  const eResident = JSON.parse(dip("eval", "--model", STORIES_BIN(), "--method", "dip", "--keep", "0.5", "--stories", "2", "--json").stdout);
  assert.equal(e.ppl, eResident.ppl);
  // several sequences: measured and simulated are pooled over all their tokens alike
  assert.ok(Math.abs(e.hit_rate - e.simulated_hit_rate) < 1e-12, `${e.hit_rate} vs ${e.simulated_hit_rate}`);
  assert.ok(Math.abs(e.storage_bytes_per_token - e.simulated_flash_bytes_per_token) < 1e-6);
  assert.ok(e.simulated_tok_s > 0);
  // simulate --stream: the live simulate command on the streaming engine, DIP-CA fed by the real cache
  const ca = ["--model", out, "--method", "dip-ca", "--keep", "0.5", "--gamma", "0.5", "--stream", "--dram", "1.6MB", "--stories", "2", "--json"];
  r = dip("simulate", ...ca, "--flash-gbps", "1");
  assert.equal(r.code, 0, r.stderr);
  const sim = JSON.parse(r.stdout);
  assert.equal(sim.stream.simulated_device.name, "host");
  assert.ok(sim.stream.tok_s > 0 && sim.tok_s > 0);
  assert.ok(Math.abs(sim.stream.hit_rate - sim.stream.simulated_hit_rate) < 1e-12);
  assert.deepEqual(sim.partition.caches.map((c: { entries_per_layer: number }) => c.entries_per_layer), [sim.stream.cache_entries.input, sim.stream.cache_entries.hidden]);
  const caEval = JSON.parse(dip("eval", ...ca.slice(0, -1), "--json").stdout);
  assert.equal(sim.ppl, caEval.ppl);
  r = dip("simulate", ...ca, "--policy", "belady");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--policy must be one of none, lru, lfu with --stream/);
  r = dip("generate", ...common, "--stream", "--dram", "1MB", "--steps", "2");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /give at least --dram \d+/);
  assert.doesNotMatch(r.stderr, /    at /);
  r = dip("generate", "--model", STORIES_BIN(), "--stream", "--dram", "1MB");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--stream reads a \.dipstream file/);
});

test("measuredReadLatencyUs: fetch time beyond the paced transfer, per read", () => {
  // 100 reads of 1 MB in all at 0.05 GB/s take 0.02 s paced; 0.025 s measured leaves 50 us per read
  assert.ok(Math.abs(measuredReadLatencyUs({ reads: 100, bytes: 1e6, seconds: 0.025 }, 0.05) - 50) < 1e-9);
  assert.equal(measuredReadLatencyUs({ reads: 100, bytes: 1e6, seconds: 0.01 }, 0.05), 0, "never negative");
  assert.equal(measuredReadLatencyUs({ reads: 0, bytes: 0, seconds: 0 }, 0.05), 0);
});
