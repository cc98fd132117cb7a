// build/replay.wasm: the Flash -> DRAM simulator as a standalone WASI command. It reads a mask trace
// (a file named on the command line, or standard input), replays it through the same simulator code
// as the engine (assembly/sim), and prints the JSON of `dip simulate --trace F --json` for the fields
// it covers (README: "Standalone WASI replay"). Run: wasmtime run --dir . build/replay.wasm -- trace.bin
import { simConfigure, simSetGroup, simAllocate, simSetCapacity, simSetPolicy, simSetBandwidth, simSetAdmissionSeed, simBeginSequence, simResetCounters, simReplay, simTotalFlashBytes, simTotalDramBytes, simTotalSeconds, simLayerHitRate, simHitRate, simNeeded, simHits, simReplayErrorToken, simReplayErrorLayer, simReplayErrorGroup, simReplayErrorWord } from "../sim/index";
import { Bits, Context, Device, STATIC_GROUPS, SequenceResult, Stats, combine, fixedReads, makeContext, stats } from "./model";
import { JsonWriter } from "./json";
import { Trace, decodeTrace } from "./trace";
import { readFile, readStdin, Input } from "./io";
import { POLICY_BELADY, POLICY_LFU, POLICY_LRU, POLICY_NONE } from "../abi";

const USAGE = `usage: replay [TRACE] [options]   (no TRACE or "-": read the trace from standard input)
  --policy none|lru|lfu|belady   MLP column cache policy (default lru)
  --device mobile|flagship|midrange|budget   device profile (default mobile)
  --dram SIZE          DRAM for the model, e.g. 6e9, 6GB, 512MB (powers of 10)
  --flash-gbps X       Flash read bandwidth, GB/s
  --dram-gbps X        DRAM read bandwidth, GB/s
  --bits G=B,...       bits per group: embedding, lm_head, attention, mlp, kv_cache
  --concurrent-io | --serial-io
  --static G,...|none  groups placed in DRAM, in order (default kv_cache,attention,lm_head,embedding)
  --kv-seq N           KV positions reserved in DRAM (default: the model's context length)
  --admission-seed N   0: a mask larger than its cache admits its lowest columns; else a seeded ranking
Prints the JSON of \`dip simulate --trace TRACE --json\` (the fields listed in the README).
`;

class Settings {
  trace: string = "-";
  policy: string = "lru";
  device: Device = new Device();
  bits: Bits = new Bits();
  staticGroups: string[] = STATIC_GROUPS.slice(0);
  kvSeq: f64 = -1;
  admissionSeed: f64 = 0;
  error: string = "";
  help: bool = false;
}

function die(message: string): void {
  process.stderr.write("replay: error: " + message + "\n");
  process.exit(1);
}

function devicePreset(name: string, d: Device): bool {
  d.name = name;
  if (name == "mobile") { d.dramBytes = 4e9; d.dramGBps = 60; d.flashGBps = 1; d.concurrentIO = true; return true; }
  if (name == "flagship") { d.dramBytes = 8e9; d.dramGBps = 77; d.flashGBps = 4; d.concurrentIO = true; return true; }
  if (name == "midrange") { d.dramBytes = 3e9; d.dramGBps = 34; d.flashGBps = 2; d.concurrentIO = true; return true; }
  if (name == "budget") { d.dramBytes = 2e9; d.dramGBps = 17; d.flashGBps = 0.8; d.concurrentIO = false; return true; }
  return false;
}

/** A plain decimal or exponent number, as JavaScript's Number() reads it (NaN otherwise). */
function toNumber(text: string): f64 {
  const s = text.trim();
  if (s.length == 0) return NaN;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x2b || c == 0x65 || c == 0x45)) return NaN;
  }
  return parseFloat(s);
}

/** "6e9", "6GB", "512MB", "1.5 gb" -> bytes (powers of 10), as host/sim/devices.ts parseSize. */
function parseSize(text: string, what: string, s: Settings): f64 {
  const t = text.trim();
  let i = 0;
  while (i < t.length) {
    const c = t.charCodeAt(i);
    const isLetter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (isLetter && !(c == 0x65 || c == 0x45)) break;
    if ((c == 0x65 || c == 0x45) && (i + 1 >= t.length || !(t.charCodeAt(i + 1) >= 0x30 && t.charCodeAt(i + 1) <= 0x39 || t.charCodeAt(i + 1) == 0x2d || t.charCodeAt(i + 1) == 0x2b))) break;
    i++;
  }
  const n = toNumber(t.substring(0, i));
  const unit = t.substring(i).trim().toLowerCase();
  let scale: f64 = -1;
  if (unit == "" || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb") scale = 1e3;
  else if (unit == "m" || unit == "mb") scale = 1e6;
  else if (unit == "g" || unit == "gb") scale = 1e9;
  else if (unit == "t" || unit == "tb") scale = 1e12;
  if (isNaN(n) || n < 0 || scale < 0) {
    s.error = what + ": \"" + text + "\" is not a size; use e.g. 6e9, 6GB, 512MB or \"700 MB\" (powers of 10)";
    return 0;
  }
  return Math.round(n * scale);
}

function parseBits(text: string, s: Settings): void {
  const parts = text.split(",");
  let any = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    if (part.length == 0) continue;
    any = true;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.substring(0, eq).trim();
    const n = eq < 0 ? NaN : toNumber(part.substring(eq + 1));
    if (!(n > 0 && n <= 64)) { s.error = "--bits: \"" + part + "\" is not group=bits with bits in (0, 64]"; return; }
    if (key == "embedding") s.bits.embedding = n;
    else if (key == "lm_head") s.bits.lm_head = n;
    else if (key == "attention") s.bits.attention = n;
    else if (key == "mlp") s.bits.mlp = n;
    else if (key == "kv_cache") s.bits.kv_cache = n;
    else { s.error = "--bits: unknown group \"" + key + "\"; groups: embedding, lm_head, attention, mlp, kv_cache"; return; }
  }
  if (!any) s.error = "--bits: nothing given; use e.g. mlp=4,attention=4";
}

function parseArgs(argv: string[]): Settings {
  const s = new Settings();
  let device = "mobile";
  let dram = "";
  let flash: f64 = -1;
  let dramGBps: f64 = -1;
  let io = 0; // 1 concurrent, 2 serial
  let positional = 0;
  for (let i = 1; i < argv.length && s.error.length == 0; i++) {
    let a = argv[i];
    let value: string | null = null;
    if (a.startsWith("--") && a.includes("=")) {
      value = a.substring(a.indexOf("=") + 1);
      a = a.substring(0, a.indexOf("="));
    }
    if (a == "--help" || a == "-h") { s.help = true; continue; }
    if (a == "--concurrent-io") { io = io == 2 ? -1 : 1; continue; }
    if (a == "--serial-io") { io = io == 1 ? -1 : 2; continue; }
    if (!a.startsWith("--") || a == "-") {
      if (positional++ > 0) { s.error = "one trace at a time (got another: " + a + ")"; break; }
      s.trace = a;
      continue;
    }
    if (value === null) {
      if (i + 1 >= argv.length) { s.error = a + " needs a value"; break; }
      value = argv[++i];
    }
    const v = <string>value;
    if (a == "--trace") { s.trace = v; positional++; }
    else if (a == "--policy") s.policy = v;
    else if (a == "--device") device = v;
    else if (a == "--dram") dram = v;
    else if (a == "--flash-gbps") flash = toNumber(v);
    else if (a == "--dram-gbps") dramGBps = toNumber(v);
    else if (a == "--bits") parseBits(v, s);
    else if (a == "--static") {
      s.staticGroups = [];
      if (v.trim() != "none") {
        const parts = v.split(",");
        for (let k = 0; k < parts.length; k++) {
          const g = parts[k].trim();
          if (g.length == 0) continue;
          if (g == "mlp") { s.error = "static groups: mlp is held by the column caches, not placed statically"; break; }
          if (!STATIC_GROUPS.includes(g)) { s.error = "static groups: unknown group \"" + g + "\"; choose from kv_cache, attention, lm_head, embedding"; break; }
          if (s.staticGroups.includes(g)) { s.error = "static groups: \"" + g + "\" given twice"; break; }
          s.staticGroups.push(g);
        }
      }
    } else if (a == "--kv-seq") {
      s.kvSeq = toNumber(v);
      if (!(s.kvSeq >= 0) || s.kvSeq != Math.floor(s.kvSeq)) s.error = "--kv-seq must be a non-negative integer, got " + v;
    } else if (a == "--admission-seed") {
      s.admissionSeed = toNumber(v);
      if (!(s.admissionSeed >= 0 && s.admissionSeed <= 4294967295) || s.admissionSeed != Math.floor(s.admissionSeed)) s.error = "admission seed must be an integer in [0, 2^32), got " + v;
    } else s.error = "unknown option " + a + " (see --help)";
  }
  if (s.error.length) return s;
  if (io == -1) { s.error = "--concurrent-io and --serial-io conflict"; return s; }
  if (s.policy != "none" && s.policy != "lru" && s.policy != "lfu" && s.policy != "belady") { s.error = "unknown policy \"" + s.policy + "\"; choose from none, lru, lfu, belady"; return s; }
  if (!devicePreset(device, s.device)) { s.error = "unknown device \"" + device + "\"; known devices: mobile, flagship, midrange, budget"; return s; }
  if (dram.length) s.device.dramBytes = parseSize(dram, "--dram", s);
  if (flash != -1) {
    if (!(flash > 0) || !isFinite(flash)) { s.error = "--flash-gbps must be a positive finite number"; return s; }
    s.device.flashGBps = flash;
  }
  if (dramGBps != -1) {
    if (!(dramGBps > 0) || !isFinite(dramGBps)) { s.error = "--dram-gbps must be a positive finite number"; return s; }
    s.device.dramGBps = dramGBps;
  }
  if (io == 1) s.device.concurrentIO = true;
  if (io == 2) s.device.concurrentIO = false;
  return s;
}

function policyId(name: string): i32 {
  return name == "none" ? POLICY_NONE : name == "lru" ? POLICY_LRU : name == "lfu" ? POLICY_LFU : POLICY_BELADY;
}

function configure(ctx: Context): string | null {
  const dims = ctx.dims;
  const groups = ctx.groups;
  if (simConfigure(<i32>dims.nLayers, groups.length) != 0) return "configure failed";
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    if (simSetGroup(i, <i32>g.nEntries, <i32>g.columnHeight, <i32>g.nLin, ctx.bits.mlp / 8) != 0) return "group " + g.name + " failed";
  }
  if (simAllocate() != 0) return "allocating the caches (wasm memory) failed";
  for (let i = 0; i < groups.length; i++) if (simSetCapacity(-1, i, <i32>ctx.capacities[i]) != 0) return "capacity of " + groups[i].name + " failed";
  if (simSetPolicy(ctx.policy) != 0) return "policy failed";
  if (simSetBandwidth(ctx.device.flashGBps * 1e9, ctx.device.dramGBps * 1e9, ctx.device.concurrentIO ? 1 : 0) != 0) return "bandwidth failed";
  simSetAdmissionSeed(<u32>ctx.admissionSeed);
  simBeginSequence();
  simResetCounters();
  return null;
}

function collectSequence(ctx: Context, promptTokens: f64, tokens: f64): SequenceResult {
  const L = <i32>ctx.dims.nLayers;
  const r = new SequenceResult();
  const mlpFlash = simTotalFlashBytes();
  const mlpDram = simTotalDramBytes();
  const dynamicSeconds = simTotalSeconds();
  for (let l = 0; l < L; l++) r.per_layer_hit_rate.push(simLayerHitRate(l));
  for (let i = 0; i < ctx.groups.length; i++) {
    let needed: f64 = 0;
    let hits: f64 = 0;
    for (let l = 0; l < L; l++) {
      needed += simNeeded(l, i);
      hits += simHits(l, i);
    }
    r.group_hit_rate.push(needed > 0 ? hits / needed : 1);
  }
  const avgLive = promptTokens + (tokens + 1) / 2;
  const fixed = fixedReads(ctx, avgLive, 1);
  const fixedSeconds = combine(ctx, fixed.flash, fixed.dram);
  const dynamicPerToken = tokens > 0 ? dynamicSeconds / tokens : 0;
  const mlpDense = ctx.partition.mlpFootprintBytes;
  const prompt = fixedReads(ctx, promptTokens, Math.max(1, promptTokens));
  const ttft = combine(ctx, prompt.flash + mlpDense, prompt.dram);
  r.prompt_tokens = promptTokens;
  r.tokens = tokens;
  r.tok_s = 1 / (fixedSeconds + dynamicPerToken);
  r.hit_rate = simHitRate();
  r.flash_bytes_per_token = fixed.flash + (tokens > 0 ? mlpFlash / tokens : 0);
  r.dram_bytes_per_token = fixed.dram + (tokens > 0 ? mlpDram / tokens : 0);
  r.mlp_flash_bytes_per_token = tokens > 0 ? mlpFlash / tokens : 0;
  r.mlp_dram_bytes_per_token = tokens > 0 ? mlpDram / tokens : 0;
  r.mlp_density = tokens > 0 && mlpDense > 0 ? (mlpFlash + mlpDram) / tokens / mlpDense : 0;
  r.fixed_seconds_per_token = fixedSeconds;
  r.dynamic_seconds_per_token = dynamicPerToken;
  r.ttft_s = ttft;
  r.dense_flash_tok_s = 1 / (fixedSeconds + combine(ctx, mlpDense, 0));
  return r;
}

// field pickers for the statistics over sequences (AssemblyScript has no closures over locals)
const F_TOK_S = 0, F_HIT = 1, F_FLASH = 2, F_DRAM = 3, F_TTFT = 4, F_DENSITY = 5, F_DENSE = 6;
function pick(seqs: SequenceResult[], field: i32, index: i32 = -1): Stats {
  const v: f64[] = [];
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i];
    if (index >= 0) v.push(field == 0 ? s.per_layer_hit_rate[index] : s.group_hit_rate[index]);
    else if (field == F_TOK_S) v.push(s.tok_s);
    else if (field == F_HIT) v.push(s.hit_rate);
    else if (field == F_FLASH) v.push(s.flash_bytes_per_token);
    else if (field == F_DRAM) v.push(s.dram_bytes_per_token);
    else if (field == F_TTFT) v.push(s.ttft_s);
    else if (field == F_DENSITY) v.push(s.mlp_density);
    else v.push(s.dense_flash_tok_s);
  }
  return stats(v);
}

function writeStats(w: JsonWriter, key: string, s: Stats): void {
  w.open(key, "{");
  w.num("mean", s.mean);
  w.num("std", s.std);
  w.num("min", s.min);
  w.num("max", s.max);
  w.num("n", s.n);
  w.close("}");
}

function report(ctx: Context, trace: Trace, all: SequenceResult[]): string {
  const seqs: SequenceResult[] = [];
  for (let i = 0; i < all.length; i++) if (all[i].tokens > 0) seqs.push(all[i]);
  const L = <i32>ctx.dims.nLayers;
  const tokS = pick(seqs, F_TOK_S);
  const hit = pick(seqs, F_HIT);
  const flash = pick(seqs, F_FLASH);
  const dram = pick(seqs, F_DRAM);
  const ttft = pick(seqs, F_TTFT);
  const density = pick(seqs, F_DENSITY);
  const denseTokS = pick(seqs, F_DENSE).mean;
  const p = ctx.partition;
  const memory = p.staticResidentBytes + ctx.cacheBytes;
  const w = new JsonWriter();
  w.open(null, "{");
  w.num("tok_s", tokS.mean);
  w.open("hit_rate", "{");
  w.num("overall", hit.mean);
  w.open("per_layer", "[");
  for (let l = 0; l < L; l++) w.num(null, pick(seqs, 0, l).mean);
  w.close("]");
  w.open("per_group", "{");
  for (let g = 0; g < ctx.groups.length; g++) w.num(ctx.groups[g].name, pick(seqs, 1, g).mean);
  w.close("}");
  w.close("}");
  w.num("flash_bytes_per_token", flash.mean);
  w.num("dram_bytes_per_token", dram.mean);
  w.num("mlp_density", density.mean);
  w.num("ttft_s", ttft.mean);
  w.num("memory_bytes", memory);
  w.num("dram_budget_bytes", p.dramBudgetBytes);
  w.num("dense_footprint_bytes", p.denseFootprintBytes);
  w.num("memory_reduction", p.denseFootprintBytes > 0 ? 1 - memory / p.denseFootprintBytes : 0);
  w.num("dense_flash_tok_s", denseTokS);
  w.num("speedup_vs_dense_flash", tokS.mean / denseTokS);
  w.open("spread", "{");
  writeStats(w, "tok_s", tokS);
  writeStats(w, "hit_rate", hit);
  writeStats(w, "flash_bytes_per_token", flash);
  writeStats(w, "dram_bytes_per_token", dram);
  writeStats(w, "ttft_s", ttft);
  writeStats(w, "mlp_density", density);
  w.close("}");
  w.open("sequences", "[");
  for (let i = 0; i < all.length; i++) {
    const s = all[i];
    w.open(null, "{");
    w.num("prompt_tokens", s.prompt_tokens);
    w.num("tokens", s.tokens);
    w.num("tok_s", s.tok_s);
    w.num("hit_rate", s.hit_rate);
    w.numbers("per_layer_hit_rate", s.per_layer_hit_rate);
    w.open("group_hit_rate", "{");
    for (let g = 0; g < ctx.groups.length; g++) w.num(ctx.groups[g].name, s.group_hit_rate[g]);
    w.close("}");
    w.num("flash_bytes_per_token", s.flash_bytes_per_token);
    w.num("dram_bytes_per_token", s.dram_bytes_per_token);
    w.num("mlp_flash_bytes_per_token", s.mlp_flash_bytes_per_token);
    w.num("mlp_dram_bytes_per_token", s.mlp_dram_bytes_per_token);
    w.num("mlp_density", s.mlp_density);
    w.num("fixed_seconds_per_token", s.fixed_seconds_per_token);
    w.num("dynamic_seconds_per_token", s.dynamic_seconds_per_token);
    w.num("ttft_s", s.ttft_s);
    w.num("dense_flash_tok_s", s.dense_flash_tok_s);
    w.close("}");
  }
  w.close("]");
  if (trace.hasEvaluation) {
    w.num("ppl", trace.ppl);
    w.num("mean_nll", trace.meanNll);
    w.num("eval_tokens", trace.evalTokens);
  } else {
    w.nul("ppl");
    w.nul("mean_nll");
    w.nul("eval_tokens");
  }
  w.close("}");
  return w.out;
}

const REPLAY_ERRORS = [
  "", "the masks end early (truncated)", "a mask has more indices than its group has columns",
  "an index is out of range or not ascending", "there are words after the last mask",
  "the simulator is not configured", "wasm memory is exhausted",
];

function main(): void {
  const s = parseArgs(process.argv);
  if (s.help) { process.stdout.write(USAGE); return; }
  if (s.error.length) { die(s.error); return; }
  const input: Input = s.trace == "-" ? readStdin() : readFile(s.trace);
  const source = s.trace == "-" ? "stdin" : s.trace;
  if (input.error.length) { die(source + ": " + input.error); return; }
  const trace = decodeTrace(input.ptr, input.length, source);
  if (trace.error.length) { die(trace.error); return; }
  let total: i32 = 0;
  for (let i = 0; i < trace.sequences.length; i++) total += trace.sequences[i].tokens;
  const ctx = makeContext(trace.dims, trace.groups, s.bits, s.device, policyId(s.policy), s.staticGroups, s.kvSeq >= 0 ? s.kvSeq : trace.dims.seqLen, s.admissionSeed);
  if (total == 0) { die("the trace has no tokens"); return; }
  const err = configure(ctx);
  if (err !== null) { die("simulator: " + err); return; }
  const results: SequenceResult[] = [];
  for (let i = 0; i < trace.sequences.length; i++) {
    const seq = trace.sequences[i];
    simResetCounters();
    const rc = simReplay(seq.words, seq.nWords, seq.tokens, 0);
    if (rc != 0) {
      const at = "token " + simReplayErrorToken().toString() + " layer " + simReplayErrorLayer().toString() + " group " + simReplayErrorGroup().toString() + " word " + simReplayErrorWord().toString();
      die("sequence " + i.toString() + ", " + at + ": " + (-rc < REPLAY_ERRORS.length ? REPLAY_ERRORS[-rc] : "replay failed (code " + rc.toString() + ")"));
      return;
    }
    results.push(collectSequence(ctx, seq.promptTokens, <f64>seq.tokens));
  }
  process.stdout.write(report(ctx, trace, results) + "\n");
}

main();
