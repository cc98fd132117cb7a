// Options shared by `dip simulate` (host/node/cli/simulate.ts): device, precision, cache policy, report.
import type { Argv, ArgumentsCamelCase } from "yargs";
import { writeOutputFile } from "../atomic-file.js";
import { DEVICES, DEFAULT_DEVICE, parseBits, parseSize, resolveDevice, SimSettingsError } from "../../sim/devices.js";
import { STATIC_GROUPS } from "../../sim/partition.js";
import type { SimResult, SimSettings } from "../../sim/simulate.js";
import { formatBytes, formatSimReport } from "../../sim/report.js";
import { CACHE_POLICIES, type CachePolicy } from "../../sim/wasm-sim.js";

export interface SimulateArgs {
  trace?: string;
  policy: string;
  device: string;
  dram?: string;
  "flash-gbps"?: number;
  "dram-gbps"?: number;
  bits?: string;
  "concurrent-io"?: boolean;
  "serial-io"?: boolean;
  "page-bytes"?: number;
  "read-latency-us"?: number;
  static?: string;
  "kv-seq"?: number;
  "admission-seed"?: number;
  json: boolean;
  report?: string;
}

/** Flash read granularity (docs/simulator.md "Flash reads"), for simulate and sweep. */
export const flashReadOptions = {
  "page-bytes": { type: "number", describe: "Flash read granularity: each read moves whole pages of this many bytes (default 1: bandwidth only; UFS: 4096)" },
  "read-latency-us": { type: "number", describe: "fixed cost of each Flash read, microseconds (default 0); a run of adjacent columns is one read" },
} as const;

/** The device, precision and cache options (shared with a live `simulate --model` variant). */
export function withSimulatorOptions<T>(y: Argv<T>) {
  return y
    .options(flashReadOptions)
    .option("policy", { type: "string", choices: CACHE_POLICIES, default: "lru", describe: "MLP column cache policy" })
    .option("device", { type: "string", default: DEFAULT_DEVICE, describe: `device profile: ${Object.keys(DEVICES).join("|")}` })
    .option("dram", { type: "string", describe: "DRAM for the model, e.g. 6e9, 6GB, 512MB (powers of 10)" })
    .option("flash-gbps", { type: "number", describe: "Flash read bandwidth, GB/s" })
    .option("dram-gbps", { type: "number", describe: "DRAM read bandwidth, GB/s" })
    .option("bits", { type: "string", describe: "bits per group, e.g. embedding=8,lm_head=8,attention=4,mlp=4,kv_cache=8" })
    .option("concurrent-io", { type: "boolean", describe: "Flash and DRAM reads overlap (time = max)" })
    .option("serial-io", { type: "boolean", describe: "Flash and DRAM reads do not overlap (time = sum)" })
    .conflicts("concurrent-io", "serial-io")
    .option("static", { type: "string", describe: `groups placed in DRAM, in order (default ${STATIC_GROUPS.join(",")}; "none" streams them all)` })
    .option("kv-seq", { type: "number", describe: "KV positions reserved in DRAM (default: the model's context length)" })
    .option("admission-seed", { type: "number", default: 0, describe: "0: a mask larger than its cache admits its lowest columns; else a seeded ranking" })
    .option("json", { type: "boolean", default: false, describe: "print the result as JSON" })
    .option("report", { type: "string", describe: "also write a Markdown report to this file" });
}

/** SimSettings from the command line options. */
export function settingsFromArgs(a: SimulateArgs): SimSettings {
  if (!(CACHE_POLICIES as string[]).includes(a.policy)) throw new SimSettingsError(`--policy must be one of ${CACHE_POLICIES.join(", ")}`);
  let concurrentIO: boolean | undefined;
  if (a["concurrent-io"]) concurrentIO = true;
  if (a["serial-io"]) concurrentIO = false;
  const device = resolveDevice(a.device, {
    dramBytes: a.dram !== undefined ? parseSize(a.dram, "--dram") : undefined,
    dramGBps: a["dram-gbps"],
    flashGBps: a["flash-gbps"],
    concurrentIO,
    pageBytes: a["page-bytes"],
    readLatencyUs: a["read-latency-us"],
  });
  let staticGroups: string[] | undefined;
  if (a.static !== undefined) {
    staticGroups = a.static.trim() === "none" ? [] : a.static.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  }
  const kvSeq = a["kv-seq"];
  if (kvSeq !== undefined && (!Number.isSafeInteger(kvSeq) || kvSeq < 0)) throw new SimSettingsError(`--kv-seq must be a non-negative integer, got ${kvSeq}`);
  return {
    policy: a.policy as CachePolicy,
    device,
    bits: a.bits !== undefined ? parseBits(a.bits) : undefined,
    staticGroups,
    kvSeqLen: kvSeq,
    admissionSeed: a["admission-seed"] ?? 0,
  };
}

/** Writes the Markdown report of a result, with `extra` Markdown sections after it. */
export async function writeSimReport(result: SimResult, path: string, title?: string, extra = ""): Promise<void> {
  await writeOutputFile(path, formatSimReport(result, title) + extra);
}

export function formatSimSummary(r: SimResult): string {
  const c = r.config;
  const gb = formatBytes;
  const mb = formatBytes;
  // the bandwidth-only default keeps its summary; read granularity adds its line
  const pagedFlash = (c.device.pageBytes ?? 1) > 1 || (c.device.readLatencyUs ?? 0) > 0;
  return [
    `${c.model ?? "trace"} (${c.method}), ${c.sequences} sequences, ${c.tokens} tokens; policy ${c.policy}; device ${c.device.name}`,
    `throughput     ${r.tok_s.toPrecision(4)} tok/s (std ${r.spread.tok_s.std.toPrecision(3)}); dense from Flash ${r.dense_flash_tok_s.toPrecision(4)} tok/s (x${r.speedup_vs_dense_flash.toFixed(3)})`,
    `hit rate       ${(100 * r.hit_rate.overall).toFixed(2)}% (byte-weighted MLP cache hits)`,
    `bytes / token  Flash ${mb(r.flash_bytes_per_token)}, DRAM ${mb(r.dram_bytes_per_token)}; MLP density ${(100 * r.mlp_density).toFixed(1)}%`,
    `first token    ${r.ttft_s.toPrecision(4)} s`,
    `memory         ${gb(r.memory_bytes)} resident of a ${gb(r.dram_budget_bytes)} budget; dense footprint ${gb(r.dense_footprint_bytes)} (${r.memory_reduction >= 0 ? "-" : "+"}${Math.abs(100 * r.memory_reduction).toFixed(1)}%)`,
    ...(pagedFlash ? [`Flash reads    ${r.flash_reads_per_token.toPrecision(4)} / token; ${r.flash_bytes_read_per_useful_byte.toFixed(3)} bytes read per useful byte (page ${c.device.pageBytes ?? 1} B, ${c.device.readLatencyUs ?? 0} us / read)`] : []),
    `note           compute time is not modelled (memory-bound reads only)`,
  ].join("\n") + "\n";
}
