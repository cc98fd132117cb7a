// build/replay.wasm: the Flash -> DRAM simulator as a standalone WASI command. It reads a mask trace
// (a file named on the command line, or standard input), replays it through the simulator the
// engine and the host use (assembly/sim: caches, cost model, summaries), and prints the JSON of
// `dip simulate --trace F --json` for the fields it covers (README: "Standalone WASI replay").
// This file only parses arguments and prints. Run: wasmtime run --dir . build/replay.wasm -- trace.bin
import {
  simSetModel, simSetBits, simConfigure, simSetGroup, simSetGroupAlwaysFull, simPartition, simStartRun, simSetFlashReads, simResetCounters, simReplay, simRecordSequence,
  simSummarize, simSequenceRow, simReplayErrorToken, simReplayErrorLayer, simReplayErrorGroup, simReplayErrorWord,
} from "../sim/index";
import { PART_DRAM_BUDGET, PART_DENSE_FOOTPRINT } from "../sim/partition";
import {
  SEQ_HIT_RATE, SEQ_PER_LAYER_HIT_RATE, STAT_FIELDS, SPREAD_FIELDS, SUM_DENSE_FLASH_TOK_S, SUM_MEMORY_BYTES,
  SUM_MEMORY_REDUCTION, SUM_SPEEDUP_VS_DENSE_FLASH, SUM_PER_LAYER_HIT_RATE, SUM_FLASH_READS_PER_TOKEN,
  SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE,
} from "../sim/summary";
import { DEVICE_PROFILES, DEFAULT_DEVICE, DeviceProfile, sizeBytes } from "../sim/devices";
import { JsonWriter } from "./json";
import { Trace, decodeTrace } from "../sim/trace";
import { readFile, readStdin, Input } from "./io";

const USAGE = `usage: replay [TRACE] [options]   (no TRACE or "-": read the trace from standard input)
  --policy none|lru|lfu|belady   MLP column cache policy (default lru)
  --device mobile|flagship|midrange|budget   device profile (default mobile)
  --dram SIZE          DRAM for the model, e.g. 6e9, 6GB, 512MB (powers of 10)
  --flash-gbps X       Flash read bandwidth, GB/s
  --dram-gbps X        DRAM read bandwidth, GB/s
  --bits G=B,...       bits per group: embedding, lm_head, attention, mlp, kv_cache
  --concurrent-io | --serial-io
  --page-bytes N       Flash reads move whole pages of N bytes (default 1: bandwidth only)
  --read-latency-us X  fixed cost of each Flash read, microseconds (default 0)
  --static G,...|none  groups placed in DRAM, in order (default kv_cache,attention,lm_head,embedding)
  --kv-seq N           KV positions reserved in DRAM (default: the model's context length)
  --admission-seed N   0: a mask larger than its cache admits its lowest columns; else a seeded ranking
Prints the JSON of \`dip simulate --trace TRACE --json\` (the fields listed in the README).
`;

// index = the WEIGHT_* id of assembly/sim/footprint.ts; index = POLICY_* of assembly/sim/state.ts
const WEIGHT_GROUPS = ["embedding", "lm_head", "attention", "mlp", "kv_cache"];
const PLACEABLE = ["kv_cache", "attention", "lm_head", "embedding"];
// indexed by policy id (assembly/abi.ts POLICY_NONE 0, LRU 1, LFU 2, BELADY 3)
const POLICIES = ["none", "lru", "lfu", "belady"];
// report names, in the order of the records (assembly/sim/summary.ts SEQ_*, SPREAD, STAT_*)
const SEQUENCE_FIELDS = ["prompt_tokens", "tokens", "tok_s", "hit_rate", "flash_bytes_per_token", "dram_bytes_per_token", "mlp_flash_bytes_per_token", "mlp_dram_bytes_per_token", "mlp_density", "fixed_seconds_per_token", "dynamic_seconds_per_token", "ttft_s", "dense_flash_tok_s", "flash_reads_per_token", "flash_bytes_read_per_useful_byte"];
const SPREAD = ["tok_s", "hit_rate", "flash_bytes_per_token", "dram_bytes_per_token", "ttft_s", "mlp_density"];
const STATS = ["mean", "std", "min", "max", "n"];

class Settings {
  trace: string = "-";
  policy: i32 = 1;
  device: DeviceProfile = DEVICE_PROFILES[0];
  bits: f64[] = [8, 8, 4, 4, 8];
  /** WEIGHT_* ids + 1, four bits each (simPartition) */
  staticOrder: u32 = 0;
  kvSeq: f64 = -1;
  admissionSeed: f64 = 0;
  error: string = "";
  help: bool = false;
}

function die(message: string): void {
  process.stderr.write("replay: error: " + message + "\n");
  process.exit(1);
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

function parseBits(text: string, s: Settings): void {
  const parts = text.split(",");
  let any = false;
  for (let i = 0; i < parts.length && s.error.length == 0; i++) {
    const part = parts[i].trim();
    if (part.length == 0) continue;
    any = true;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.substring(0, eq).trim();
    const n = eq < 0 ? NaN : toNumber(part.substring(eq + 1));
    if (!(n > 0 && n <= 64)) s.error = "--bits: \"" + part + "\" is not group=bits with bits in (0, 64]";
    else if (!WEIGHT_GROUPS.includes(key)) s.error = "--bits: unknown group \"" + key + "\"; groups: " + WEIGHT_GROUPS.join(", ");
    else s.bits[WEIGHT_GROUPS.indexOf(key)] = n;
  }
  if (!any) s.error = "--bits: nothing given; use e.g. mlp=4,attention=4";
}

function parseStatic(text: string, s: Settings): void {
  const parts: string[] = text.trim() == "none" ? [] : text.split(",");
  const seen: string[] = [];
  let shift: u32 = 0;
  s.staticOrder = 0;
  for (let k = 0; k < parts.length; k++) {
    const g = parts[k].trim();
    if (g.length == 0) continue;
    if (g == "mlp") { s.error = "static groups: mlp is held by the column caches, not placed statically"; return; }
    if (!PLACEABLE.includes(g)) { s.error = "static groups: unknown group \"" + g + "\"; choose from " + PLACEABLE.join(", "); return; }
    if (seen.includes(g)) { s.error = "static groups: \"" + g + "\" given twice"; return; }
    seen.push(g);
    s.staticOrder |= <u32>(WEIGHT_GROUPS.indexOf(g) + 1) << shift;
    shift += 4;
  }
}

function parseArgs(argv: string[]): Settings {
  const s = new Settings();
  parseStatic(PLACEABLE.join(","), s);
  let device = DEFAULT_DEVICE;
  let dram = "";
  let flash: f64 = -1;
  let dramGBps: f64 = -1;
  let pageBytes: f64 = -1;
  let readLatencyUs: f64 = -1;
  let io = 0; // 1 concurrent, 2 serial, -1 both
  let positional = 0;
  for (let i = 1; i < argv.length && s.error.length == 0; i++) {
    let a = argv[i];
    let value: string | null = null;
    if (a.startsWith("--") && a.includes("=")) {
      value = a.substring(a.indexOf("=") + 1);
      a = a.substring(0, a.indexOf("="));
    }
    if (a == "--help" || a == "-h") { s.help = true; continue; }
    if (a == "--concurrent-io" || a == "--serial-io") {
      const want = a == "--serial-io" ? 2 : 1;
      io = io != 0 && io != want ? -1 : want;
      continue;
    }
    if (!a.startsWith("--") || a == "-") {
      if (positional++ > 0) s.error = "one trace at a time (got another: " + a + ")";
      s.trace = a;
      continue;
    }
    if (value === null) {
      if (i + 1 >= argv.length) { s.error = a + " needs a value"; break; }
      value = argv[++i];
    }
    const v = <string>value;
    if (a == "--trace") { s.trace = v; positional++; }
    else if (a == "--policy") { s.policy = POLICIES.indexOf(v); if (s.policy < 0) s.error = "unknown policy \"" + v + "\"; choose from " + POLICIES.join(", "); }
    else if (a == "--device") device = v;
    else if (a == "--dram") dram = v;
    else if (a == "--flash-gbps") flash = toNumber(v);
    else if (a == "--dram-gbps") dramGBps = toNumber(v);
    else if (a == "--page-bytes") {
      pageBytes = toNumber(v);
      if (!(pageBytes >= 1) || pageBytes != Math.floor(pageBytes) || !isFinite(pageBytes)) s.error = "--page-bytes must be a whole number of bytes >= 1, got " + v;
    } else if (a == "--read-latency-us") {
      readLatencyUs = toNumber(v);
      if (!(readLatencyUs >= 0) || !isFinite(readLatencyUs)) s.error = "--read-latency-us must be a non-negative finite number, got " + v;
    }
    else if (a == "--bits") parseBits(v, s);
    else if (a == "--static") parseStatic(v, s);
    else if (a == "--kv-seq") {
      s.kvSeq = toNumber(v);
      if (!(s.kvSeq >= 0) || s.kvSeq != Math.floor(s.kvSeq)) s.error = "--kv-seq must be a non-negative integer, got " + v;
    } else if (a == "--admission-seed") {
      s.admissionSeed = toNumber(v);
      if (!(s.admissionSeed >= 0 && s.admissionSeed <= 4294967295) || s.admissionSeed != Math.floor(s.admissionSeed)) s.error = "admission seed must be an integer in [0, 2^32), got " + v;
    } else s.error = "unknown option " + a + " (see --help)";
  }
  if (s.error.length) return s;
  if (io == -1) { s.error = "--concurrent-io and --serial-io conflict"; return s; }
  let found = false;
  for (let k = 0; k < DEVICE_PROFILES.length; k++) if (DEVICE_PROFILES[k].name == device) { s.device = DEVICE_PROFILES[k]; found = true; }
  if (!found) { s.error = "unknown device \"" + device + "\"; known devices: mobile, flagship, midrange, budget"; return s; }
  const d = new DeviceProfile();
  d.dramBytes = dram.length ? sizeBytes(dram) : s.device.dramBytes;
  d.dramGBps = dramGBps != -1 ? dramGBps : s.device.dramGBps;
  d.flashGBps = flash != -1 ? flash : s.device.flashGBps;
  d.concurrentIO = io == 0 ? s.device.concurrentIO : io == 1;
  d.pageBytes = pageBytes != -1 ? pageBytes : s.device.pageBytes;
  d.readLatencyUs = readLatencyUs != -1 ? readLatencyUs : s.device.readLatencyUs;
  s.device = d;
  if (d.dramBytes < 0) s.error = "--dram: \"" + dram + "\" is not a size; use e.g. 6e9, 6GB, 512MB or \"700 MB\" (powers of 10)";
  else if (!(d.flashGBps > 0) || !isFinite(d.flashGBps)) s.error = "--flash-gbps must be a positive finite number";
  else if (!(d.dramGBps > 0) || !isFinite(d.dramGBps)) s.error = "--dram-gbps must be a positive finite number";
  return s;
}

// @ts-ignore: decorator
@inline function f64At(record: usize, field: i32): f64 {
  return load<f64>(record + (<usize>field << 3));
}

let partition: usize = 0; // the DRAM partition record (assembly/sim/partition.ts PART_*)

/** Describes the trace's model and groups, partitions the DRAM and allocates the caches. */
function configure(s: Settings, trace: Trace): string | null {
  const dims = trace.dims;
  const groups = trace.groups;
  simSetModel(dims.nLayers, dims.vocabSize, dims.dim, dims.hiddenDim, dims.nHeads, dims.nKvHeads, dims.gated ? 1 : 0);
  simSetBits(s.bits[0], s.bits[1], s.bits[2], s.bits[3], s.bits[4]);
  if (simConfigure(<i32>dims.nLayers, groups.length) != 0) return "configure failed";
  for (let g = 0; g < groups.length; g++) {
    const x = groups[g];
    if (simSetGroup(g, <i32>x.nEntries, <i32>x.columnHeight, <i32>x.nLin, s.bits[3] / 8) != 0 || simSetGroupAlwaysFull(g, x.alwaysFull ? 1 : 0) != 0) return "group " + x.name + " failed";
  }
  partition = simPartition(s.device.dramBytes, s.kvSeq >= 0 ? s.kvSeq : dims.seqLen, s.staticOrder, 0);
  const rc = simStartRun(s.policy, s.device.flashGBps, s.device.dramGBps, s.device.concurrentIO ? 1 : 0, <u32>s.admissionSeed);
  if (rc != 0) return "starting the run failed (code " + rc.toString() + ")";
  if (simSetFlashReads(s.device.pageBytes, s.device.readLatencyUs * 1e-6) != 0) return "Flash page size or read latency rejected";
  return null;
}

/** `count` rates from `first` of a record, named by the groups or listed (names null). */
function rates(w: JsonWriter, key: string, record: usize, first: i32, count: i32, names: Trace | null): void {
  w.open(key, names === null ? "[" : "{");
  for (let i = 0; i < count; i++) w.num(names === null ? null : names.groups[i].name, f64At(record, first + i));
  w.close(names === null ? "]" : "}");
}

function report(trace: Trace, summary: usize): string {
  const L = <i32>trace.dims.nLayers;
  const G = trace.groups.length;
  const w = new JsonWriter();
  w.open(null, "{");
  w.num("tok_s", f64At(summary, 0));
  w.open("hit_rate", "{");
  w.num("overall", f64At(summary, STAT_FIELDS));
  rates(w, "per_layer", summary, SUM_PER_LAYER_HIT_RATE, L, null);
  rates(w, "per_group", summary, SUM_PER_LAYER_HIT_RATE + L, G, trace);
  w.close("}");
  for (let k = 2; k < SPREAD_FIELDS; k++) w.num(SPREAD[k], f64At(summary, k * STAT_FIELDS));
  w.num("flash_reads_per_token", f64At(summary, SUM_FLASH_READS_PER_TOKEN));
  w.num("flash_bytes_read_per_useful_byte", f64At(summary, SUM_FLASH_BYTES_READ_PER_USEFUL_BYTE));
  w.num("memory_bytes", f64At(summary, SUM_MEMORY_BYTES));
  w.num("dram_budget_bytes", f64At(partition, PART_DRAM_BUDGET));
  w.num("dense_footprint_bytes", f64At(partition, PART_DENSE_FOOTPRINT));
  w.num("memory_reduction", f64At(summary, SUM_MEMORY_REDUCTION));
  w.num("dense_flash_tok_s", f64At(summary, SUM_DENSE_FLASH_TOK_S));
  w.num("speedup_vs_dense_flash", f64At(summary, SUM_SPEEDUP_VS_DENSE_FLASH));
  w.open("spread", "{");
  for (let k = 0; k < SPREAD_FIELDS; k++) {
    w.open(SPREAD[k], "{");
    for (let f = 0; f < STAT_FIELDS; f++) w.num(STATS[f], f64At(summary, k * STAT_FIELDS + f));
    w.close("}");
  }
  w.close("}");
  w.open("sequences", "[");
  for (let i = 0; i < trace.sequences.length; i++) {
    const row = simSequenceRow(i);
    w.open(null, "{");
    for (let f = 0; f < SEQ_PER_LAYER_HIT_RATE; f++) {
      w.num(SEQUENCE_FIELDS[f], f64At(row, f));
      if (f != SEQ_HIT_RATE) continue;
      rates(w, "per_layer_hit_rate", row, SEQ_PER_LAYER_HIT_RATE, L, null);
      rates(w, "group_hit_rate", row, SEQ_PER_LAYER_HIT_RATE + L, G, trace);
    }
    w.close("}");
  }
  w.close("]");
  const evaluation: f64[] = [trace.ppl, trace.meanNll, trace.evalTokens];
  const keys = ["ppl", "mean_nll", "eval_tokens"];
  for (let k = 0; k < 3; k++) if (trace.hasEvaluation) w.num(keys[k], evaluation[k]); else w.nul(keys[k]);
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
  if (total == 0) { die("the trace has no tokens"); return; }
  const err = configure(s, trace);
  if (err !== null) { die("simulator: " + err); return; }
  for (let i = 0; i < trace.sequences.length; i++) {
    const seq = trace.sequences[i];
    simResetCounters();
    const rc = simReplay(seq.words, seq.nWords, seq.tokens, 0);
    if (rc != 0) {
      const at = "token " + simReplayErrorToken().toString() + " layer " + simReplayErrorLayer().toString() + " group " + simReplayErrorGroup().toString() + " word " + simReplayErrorWord().toString();
      die("sequence " + i.toString() + ", " + at + ": " + (-rc < REPLAY_ERRORS.length ? REPLAY_ERRORS[-rc] : "replay failed (code " + rc.toString() + ")"));
      return;
    }
    if (simRecordSequence(i, seq.promptTokens, <f64>seq.tokens) == 0) { die("simulator: wasm memory is exhausted"); return; }
  }
  const summary = simSummarize(trace.sequences.length);
  if (summary == 0) { die("simulator: wasm memory is exhausted"); return; }
  process.stdout.write(report(trace, summary) + "\n");
}

main();
