// Hand-run cross-check against karpathy/llama2.c (not part of `npm test`; issue #16): writes a seeded
// random llama2.c checkpoint of the stories110M shape (legacy format, shared classifier) and a
// stand-in tokenizer.bin, builds llama2.c's run.c in a temporary folder (natively with
// gcc -Ofast -march=native, and for wasm32-wasi with clang -Ofast -msimd128 when clang, lld and
// wasi-libc are installed), then runs run.c natively, run.c's wasm in Node (WASI) and this engine
// (`dip generate`, single thread) on the same file, interleaved for --rounds rounds, and prints the
// decode tok/s of each, the medians and the ratios dip / llama2.c, with the load average at the
// start and end. run.c is not in this repository: give its path (a checkout of karpathy/llama2.c).
//
//   node scripts/llama2c-crosscheck.mjs --run-c /path/to/llama2.c/run.c [--steps 256] [--rounds 3]
//        [--seed 1] [--dir /tmp/llama2c-crosscheck] [--json]
//
// Greedy decoding from BOS on both sides. The BOS and EOS rows of the (shared) embedding are zero,
// so their logits are exactly 0 and greedy decoding never picks them (run.c stops at BOS, dip at
// BOS or EOS): both run all --steps positions. Whether the two greedy texts agree is reported too
// (random weights give close logits, so a late divergence from rounding is possible, not an error).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, openSync, writeSync, closeSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { recordLoad } from "../build/host/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    "run-c": { type: "string" },
    steps: { type: "string", default: "256" },
    rounds: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    dir: { type: "string", default: "/tmp/llama2c-crosscheck" },
    json: { type: "boolean", default: false },
  },
});
const fail = (m) => {
  process.stderr.write(`llama2c-crosscheck: ${m}\n`);
  process.exit(1);
};
if (!values["run-c"] || !existsSync(values["run-c"])) fail(`--run-c must name llama2.c's run.c (got ${values["run-c"] ?? "nothing"})`);
const steps = Number(values.steps), rounds = Number(values.rounds), seed = Number(values.seed);
for (const [k, v] of [["--steps", steps], ["--rounds", rounds], ["--seed", seed]]) if (!Number.isInteger(v) || v < 1) fail(`${k} must be a positive integer`);
const dir = resolve(values.dir);
mkdirSync(dir, { recursive: true });
const log = (m) => process.stderr.write(`llama2c-crosscheck: ${m}\n`);
const loadStart = recordLoad("llama2c-crosscheck", "start");

// ---- the checkpoint: stories110M's shape (karpathy/tinyllamas), seeded uniform weights, std 0.02 ----
const C = { dim: 768, hidden: 2048, layers: 12, heads: 12, kvHeads: 12, vocab: 32000, seqLen: 1024 };
const BOS = 1, EOS = 2;
const ckpt = join(dir, `stories110m-shape-seed${seed}.bin`);
const tokFile = join(dir, "tokenizer.bin");

function writeCheckpoint() {
  const fd = openSync(ckpt, "w");
  const header = new Int32Array([C.dim, C.hidden, C.layers, C.heads, C.kvHeads, C.vocab, C.seqLen]); // vocab > 0: shared classifier
  writeSync(fd, new Uint8Array(header.buffer));
  let s = (seed * 2654435761) >>> 0 || 1; // xorshift32
  const a = 0.02 * Math.sqrt(3);
  const chunk = new Float32Array(1 << 20);
  const random = (n) => {
    for (let done = 0; done < n; done += chunk.length) {
      const m = Math.min(chunk.length, n - done);
      for (let i = 0; i < m; i++) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        chunk[i] = (s / 4294967296 * 2 - 1) * a;
      }
      writeSync(fd, new Uint8Array(chunk.buffer, 0, m * 4));
    }
  };
  const ones = (n) => writeSync(fd, new Uint8Array(new Float32Array(n).fill(1).buffer));
  const headSize = C.dim / C.heads, kvDim = C.kvHeads * headSize;
  // token embedding (vocab, dim) with the BOS and EOS rows zero
  random(BOS * C.dim);
  writeSync(fd, new Uint8Array(2 * C.dim * 4));
  random((C.vocab - EOS - 1) * C.dim);
  ones(C.layers * C.dim); // rms_att
  random(C.layers * C.dim * C.dim); // wq
  random(C.layers * C.dim * kvDim); // wk
  random(C.layers * C.dim * kvDim); // wv
  random(C.layers * C.dim * C.dim); // wo
  ones(C.layers * C.dim); // rms_ffn
  random(C.layers * C.hidden * C.dim); // w1
  random(C.layers * C.dim * C.hidden); // w2
  random(C.layers * C.hidden * C.dim); // w3
  ones(C.dim); // rms_final
  writeSync(fd, new Uint8Array(C.seqLen * headSize * 4)); // the legacy freq_cis_real and freq_cis_imag, unused
  closeSync(fd);
}

function writeTokenizer() {
  // <unk>, <s>, </s>, the 256 byte pieces, then distinct stand-in words
  const pieces = ["<unk>", "\n<s>\n", "\n</s>\n", ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)];
  for (let i = pieces.length; i < C.vocab; i++) pieces.push(` w${i}`);
  const enc = new TextEncoder();
  const parts = [new Int32Array([Math.max(...pieces.map((p) => enc.encode(p).length))])];
  pieces.forEach((p, i) => {
    const bytes = enc.encode(p);
    parts.push(new Float32Array([-i]), new Int32Array([bytes.length]), bytes);
  });
  writeFileSync(tokFile, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
}

if (!existsSync(ckpt)) {
  log(`writing ${ckpt}`);
  writeCheckpoint();
}
writeTokenizer();

// ---- builds of run.c ----
const runC = join(dir, "run.c");
copyFileSync(values["run-c"], runC);
const nativeBin = join(dir, "run-native");
execFileSync("gcc", ["-Ofast", "-march=native", "-o", nativeBin, runC, "-lm"], { stdio: "inherit" });
const wasmBin = join(dir, "run.wasm");
// wasi-libc: Debian's packages put it where clang looks by default (/usr/lib/wasm32-wasi); else a sysroot
const sysroot = ["/usr/share/wasi-sysroot", "/usr/lib/wasi-sysroot"].find((p) => existsSync(p));
const wasiLibc = sysroot !== undefined || existsSync("/usr/lib/wasm32-wasi/libc.a");
let wasmBuilt = false;
if (!wasiLibc) log("no wasi-libc (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): skipping run.c in wasm");
else {
  const r = spawnSync("clang", ["--target=wasm32-wasi", ...(sysroot ? [`--sysroot=${sysroot}`] : []), "-Ofast", "-msimd128", "-D_WASI_EMULATED_MMAN", "-o", wasmBin, runC, "-lm", "-lwasi-emulated-mman", "-Wl,--max-memory=4294967296", "-Wl,-z,stack-size=8388608"], { encoding: "utf8" });
  if (r.status === 0) wasmBuilt = true;
  else log(`clang for wasm32-wasi failed, skipping run.c in wasm: ${(r.stderr || r.error?.message || "").split("\n")[0]}`);
}
// run.c's wasm in Node's WASI, the folder preopened as /data
const wasiRunner = join(dir, "run-wasi.mjs");
writeFileSync(
  wasiRunner,
  `import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";
const wasi = new WASI({ version: "preview1", args: ["run", ...process.argv.slice(3)], preopens: { "/data": process.argv[2] }, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(new URL("./run.wasm", import.meta.url)), wasi.getImportObject());
process.exitCode = wasi.start(instance);
`,
);

// ---- runs ----
const tokS = (stderr, who) => {
  const m = /achieved tok\/s: ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`${who} printed no "achieved tok/s": ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return Number(m[1]);
};
const runNative = () => {
  const r = spawnSync(nativeBin, [ckpt, "-z", tokFile, "-t", "0", "-n", String(steps)], { encoding: "utf8", maxBuffer: 1 << 26 });
  return { tok_s: tokS(r.stderr, "run.c native"), text: r.stdout.replace(/\n$/, "") };
};
// Node 20's WASI run of run.c's wasm dies now and then inside V8 (a fatal error in
// WasmMemoryObject::Grow, or a segfault at exit) on this machine; a round that dies without a
// speed is run again, at most twice, and the deaths are counted in the report
let wasmCrashes = 0;
const runWasm = () => {
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync(process.execPath, [wasiRunner, dir, "/data/" + ckpt.split("/").pop(), "-z", "/data/tokenizer.bin", "-t", "0", "-n", String(steps)], { encoding: "utf8", maxBuffer: 1 << 26 });
    const died = !/achieved tok\/s/.test(r.stderr) && (r.signal !== null || r.status !== 0);
    if (died && attempt < 2) {
      wasmCrashes++;
      log(`run.c wasm32-wasi died (${r.signal ?? `exit ${r.status}`}) before printing its speed; running the round again`);
      continue;
    }
    return { tok_s: tokS(r.stderr, "run.c wasm32-wasi"), text: r.stdout.replace(/\n$/, "") };
  }
};
const runDip = () => {
  const r = spawnSync(process.execPath, [join(root, "bin/dip.js"), "generate", "--model", ckpt, "--tokenizer", tokFile, "--temperature", "0", "--steps", String(steps), "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`dip generate failed: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
  const out = JSON.parse(r.stdout);
  return { tok_s: out.tok_s, text: out.text };
};

const engines = { dip: runDip, llama2c_native: runNative, ...(wasmBuilt ? { llama2c_wasm: runWasm } : {}) };
const results = Object.fromEntries(Object.keys(engines).map((k) => [k, []]));
let texts = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(engines)) {
    const out = run();
    results[name].push(out.tok_s);
    texts[name] = out.text;
    log(`round ${r + 1}/${rounds}: ${name} ${out.tok_s.toFixed(2)} tok/s`);
  }
}
const loadEnd = recordLoad("llama2c-crosscheck", "end");
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const firstDiff = (a, b) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length ? null : i;
};
const report = {
  checkpoint: ckpt,
  shape: C,
  steps,
  rounds,
  cpu: cpus()[0]?.model,
  load_start: loadStart,
  load_end: loadEnd,
  tok_s: results,
  median_tok_s: med,
  ratio_dip_to_native: med.dip / med.llama2c_native,
  ratio_dip_to_wasm: med.llama2c_wasm ? med.dip / med.llama2c_wasm : null,
  llama2c_wasm_crashed_runs: wasmBuilt ? wasmCrashes : null,
  // the greedy texts (run.c prints the pieces; dip's text has the same pieces): index of the first differing character, null if equal
  text_first_difference_native: firstDiff(texts.dip.trimStart(), texts.llama2c_native.trimStart()),
};
if (values.json) process.stdout.write(JSON.stringify(report) + "\n");
else {
  process.stdout.write(`${report.cpu}; stories110M shape f32 llama2.c checkpoint, ${steps} greedy positions from BOS, median of ${rounds}; load ${loadStart.join(" ")} at the start, ${loadEnd.join(" ")} at the end\n`);
  for (const [k, v] of Object.entries(med)) process.stdout.write(`  ${k.padEnd(15)} ${v.toFixed(2)} tok/s (${results[k].map((x) => x.toFixed(2)).join(", ")})\n`);
  process.stdout.write(`  dip / llama2.c native: ${report.ratio_dip_to_native.toFixed(3)}\n`);
  if (report.ratio_dip_to_wasm !== null) process.stdout.write(`  dip / llama2.c wasm32-wasi: ${report.ratio_dip_to_wasm.toFixed(3)}\n`);
  if (wasmCrashes > 0) process.stdout.write(`  run.c wasm32-wasi died ${wasmCrashes} time(s) before printing its speed; those rounds were run again\n`);
  process.stdout.write(`  greedy texts ${report.text_first_difference_native === null ? "identical" : `differ from character ${report.text_first_difference_native}`}\n`);
}
