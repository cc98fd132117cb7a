// build/replay.wasm, the standalone WASI replay: the same trace and settings give the same numbers
// as the host path (`dip simulate --trace F --json`), field for field, bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { WASI } from "node:wasi";
import { Engine } from "../host/engine.js";
import { SentencePieceTokenizer } from "../host/tokenizer/sentencepiece.js";
import { perplexity, splitStories, tokenStream } from "../host/eval.js";
import { dataDir, projectRoot } from "../host/node/paths.js";
import { MaskRecorder } from "../host/sim/run.js";
import { simulateTrace, type SimSettings } from "../host/sim/simulate.js";
import { settingsFromArgs, type SimulateArgs } from "../host/node/cli/sim-options.js";
import { encodeTrace, type MaskTrace } from "../host/sim/trace.js";
import { storiesModel } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "dip-wasi-"));
const replayModule = WebAssembly.compile(readFileSync(resolve(projectRoot(), "build", "replay.wasm")));

/** Runs build/replay.wasm under node:wasi with /data granted; returns exit code, stdout, stderr. */
async function replay(args: string[], stdin?: Uint8Array): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = join(tmp, "stdout"), err = join(tmp, "stderr"), inp = join(tmp, "stdin");
  writeFileSync(inp, stdin ?? new Uint8Array());
  const fds = [openSync(inp, "r"), openSync(out, "w"), openSync(err, "w")];
  try {
    const wasi = new WASI({ version: "preview1", args: ["replay", ...args], env: {}, preopens: { "/data": tmp }, stdin: fds[0], stdout: fds[1], stderr: fds[2], returnOnExit: true });
    const instance = await WebAssembly.instantiate(await replayModule, wasi.getImportObject() as WebAssembly.Imports);
    const code = wasi.start(instance);
    return { code, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
}

/** A real run's masks: stories260K over two TinyStories stories, with its perplexity in the header. */
async function recordTrace(spec: Parameters<Engine["setSparsity"]>[0]): Promise<MaskTrace> {
  const model = await storiesModel();
  const engine = await Engine.create(model, { sparsity: spec });
  const tok = new SentencePieceTokenizer(model.vocab!);
  const stories = splitStories(readFileSync(resolve(dataDir(), "tinystories", "valid-sample.txt"), "utf8")).slice(0, 2);
  const recorder = new MaskRecorder(engine);
  let seq = -1;
  const r = perplexity(engine, tokenStream(tok, stories), {
    window: 96,
    onStep: ({ sequence }) => {
      if (sequence !== seq) recorder.beginSequence(sequence === 0 ? 0 : 3), (seq = sequence);
      recorder.afterStep();
    },
  });
  return recorder.trace({ ppl: r.ppl, mean_nll: r.mean_nll, tokens: r.tokens });
}

/** Every field the WASI output has must equal the host's (Object.is: bit-identical doubles). */
function assertCovered(host: unknown, wasi: unknown, path = ""): number {
  if (typeof wasi === "object" && wasi !== null) {
    let n = 0;
    for (const [k, v] of Object.entries(wasi)) n += assertCovered((host as Record<string, unknown>)?.[k], v, `${path}.${k}`);
    return n;
  }
  assert.ok(Object.is(host, wasi), `${path}: host ${String(host)}, wasi ${String(wasi)}`);
  return 1;
}

const CASES: string[][] = [
  [],
  ["--policy", "lru", "--dram", "150KB", "--kv-seq", "96"],
  ["--policy", "lfu", "--dram", "0.16MB", "--kv-seq", "96", "--admission-seed", "7", "--serial-io"],
  ["--policy", "belady", "--dram", "150000", "--kv-seq", "96", "--flash-gbps", "2.5", "--dram-gbps", "33.3"],
  ["--policy", "lru", "--device", "budget", "--dram", "120KB", "--bits", "mlp=8,attention=8,kv_cache=16", "--static", "kv_cache,embedding"],
  ["--policy", "none", "--static", "none"],
  ["--policy", "lru", "--dram", "150KB", "--kv-seq", "96", "--page-bytes", "4096", "--read-latency-us", "80"],
  ["--policy", "lfu", "--dram", "120KB", "--static", "kv_cache", "--page-bytes", "512", "--serial-io"],
];

test("replay.wasm prints the host's numbers for every policy and setting", async () => {
  const trace = await recordTrace({ method: "dip", keep: 0.5 });
  writeFileSync(join(tmp, "dip.trace"), encodeTrace(trace));
  let hits = 0;
  for (const args of CASES) {
    const r = await replay(["/data/dip.trace", ...args]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    const wasi = JSON.parse(r.stdout);
    // the host path exactly as `dip simulate --trace F --json` takes it
    const a: SimulateArgs = { policy: "lru", device: "mobile", json: true, "admission-seed": 0 };
    for (let i = 0; i < args.length; i += 2) {
      const key = args[i].slice(2);
      if (key === "serial-io") { a["serial-io"] = true; i--; continue; }
      const v = args[i + 1];
      (a as unknown as Record<string, unknown>)[key] = ["kv-seq", "admission-seed", "flash-gbps", "dram-gbps", "page-bytes", "read-latency-us"].includes(key) ? Number(v) : v;
    }
    const settings: SimSettings = settingsFromArgs(a);
    const result = await simulateTrace(trace, settings);
    const e = trace.header.evaluation!;
    const host = JSON.parse(JSON.stringify({ ...result, ppl: e.ppl, mean_nll: e.mean_nll, eval_tokens: e.tokens }));
    const n = assertCovered(host, wasi);
    assert.ok(n > 80, `only ${n} fields compared`);
    for (const k of ["tok_s", "flash_bytes_per_token", "dram_bytes_per_token", "ttft_s", "memory_bytes", "dense_flash_tok_s", "ppl"]) assert.equal(typeof wasi[k], "number", k);
    assert.equal(wasi.hit_rate.per_layer.length, 5);
    hits += wasi.hit_rate.overall;
  }
  assert.ok(hits > 0, "some case must hit the caches");
});

test("replay.wasm reads the trace from standard input (a glu trace: its input group is always full)", async () => {
  const trace = await recordTrace({ method: "glu", keep: 0.5 });
  const bytes = encodeTrace(trace);
  const r = await replay(["--policy", "lfu", "--dram", "150KB"], bytes);
  assert.equal(r.code, 0, r.stderr);
  const host = await simulateTrace(trace, settingsFromArgs({ policy: "lfu", device: "mobile", dram: "150KB", json: true }));
  const e = trace.header.evaluation!;
  assertCovered(JSON.parse(JSON.stringify({ ...host, ppl: e.ppl, mean_nll: e.mean_nll, eval_tokens: e.tokens })), JSON.parse(r.stdout));
});

test("replay.wasm: bad input exits 1 with one readable line", async () => {
  writeFileSync(join(tmp, "not-a-trace.bin"), "hello, this is not a trace at all");
  const cases: [string[], RegExp][] = [
    [["/data/not-a-trace.bin"], /magic: expected "DIPTRACE"/],
    [["/data/missing.trace"], /file not found/],
    [["/elsewhere/x.trace"], /not inside a directory this program may read/],
    [["/data/dip.trace", "--policy", "fifo"], /unknown policy "fifo"/],
    [["/data/dip.trace", "--dram", "6GiB"], /--dram: "6GiB" is not a size/],
    [["/data/dip.trace", "--bits", "mlp=0"], /--bits/],
    [["/data/dip.trace", "--frobnicate", "1"], /unknown option --frobnicate/],
    [["/data/dip.trace", "--page-bytes", "0"], /--page-bytes must be a whole number of bytes >= 1/],
    [["/data/dip.trace", "--read-latency-us", "-3"], /--read-latency-us must be a non-negative/],
  ];
  for (const [args, re] of cases) {
    const r = await replay(args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const truncated = readFileSync(join(tmp, "dip.trace")).subarray(0, 100);
  const r = await replay([], truncated);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /stdin: total length: truncated/);
});
