// `dip sweep` with simulator axes (--policies, --drams, --gammas, --devices): every grid point is
// also run through the Flash -> DRAM simulator, giving the paper's throughput-vs-perplexity and
// hit-rate-vs-DRAM tables. Masks of a method that does not look at the cache are recorded once
// and replayed for every (policy, dram, device); dip-ca chooses its masks from the live cache, so
// it runs once per (policy, dram, device).

import { applySparsity, type Opened } from "./common.js";
import { perplexity, type EvalResult } from "../../eval.js";
import { type Method, type SparsitySpec } from "../../sparsity.js";
import { MaskRecorder } from "../../sim/run.js";
import { simulateTraceWith, type SimResult, type SimSettings } from "../../sim/simulate.js";
import { parseBits, parseSize, resolveDevice } from "../../sim/devices.js";
import { CACHE_POLICIES, type CachePolicy } from "../../sim/wasm-sim.js";
import type { MaskTrace } from "../../sim/trace.js";
import { UsageError } from "./common.js";
import { sweepRow } from "./sweep-row.js";

/** Columns a simulator sweep adds after the sweep's own (SWEEP_HEADER). */
export const SIM_COLUMNS = [
  "gamma",
  "policy",
  "device",
  "dram_bytes",
  "tok_s",
  "hit_rate",
  "flash_bytes_per_token",
  "dram_bytes_per_token",
  "memory_bytes",
  "dense_flash_tok_s",
  "ttft_s",
  // Flash reads of the page model (docs/simulator.md "Flash reads"): with page 1 and no per-read
  // latency they are counted all the same, and bytes read per useful byte is 1
  "flash_reads_per_token",
  "flash_bytes_read_per_useful_byte",
] as const;

export interface SimAxes {
  policies: CachePolicy[];
  /** DRAM budgets in bytes; undefined = each device's own */
  drams: (number | undefined)[];
  devices: string[];
  /** dip-ca gammas */
  gammas: number[];
  bits?: string;
  /** Flash read granularity on every device (docs/simulator.md "Flash reads") */
  pageBytes?: number;
  readLatencyUs?: number;
}

export function parseSimAxes(a: {
  policies?: string; drams?: string; devices?: string; gammas?: string; bits?: string; "page-bytes"?: number; "read-latency-us"?: number;
}): SimAxes | undefined {
  if (a.policies === undefined && a.drams === undefined && a.devices === undefined && a.gammas === undefined) {
    // simulator settings without a simulator axis would be silently ignored: refuse them
    const simOnly = (["page-bytes", "read-latency-us", "bits"] as const).find((f) => a[f] !== undefined);
    if (simOnly) throw new UsageError(`--${simOnly} is a simulator setting; add a simulator axis (--policies, --drams, --devices or --gammas) or leave it out`);
    return undefined;
  }
  const list = (s: string | undefined) => (s ?? "").split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  const policies = list(a.policies ?? "lru");
  for (const p of policies) if (!(CACHE_POLICIES as string[]).includes(p)) throw new UsageError(`--policies: unknown policy "${p}" (choose from ${CACHE_POLICIES.join(", ")})`);
  const drams = a.drams === undefined ? [undefined] : list(a.drams).map((d) => parseSize(d, "--drams"));
  const devices = list(a.devices ?? "mobile");
  const flashReads = { pageBytes: a["page-bytes"], readLatencyUs: a["read-latency-us"] };
  devices.forEach((d) => resolveDevice(d, flashReads)); // unknown names and bad values fail here, before any work
  const gammas = list(a.gammas ?? "").map((g) => {
    const v = Number(g);
    if (!(v > 0 && v <= 1)) throw new UsageError(`--gammas: "${g}" is not in (0, 1]`);
    return v;
  });
  if (a.bits !== undefined) parseBits(a.bits);
  return { policies: policies as CachePolicy[], drams, devices, gammas, bits: a.bits, ...flashReads };
}

interface Combo {
  policy: CachePolicy;
  device: string;
  dram?: number;
  settings: SimSettings;
}

function combos(axes: SimAxes): Combo[] {
  const out: Combo[] = [];
  for (const device of axes.devices) {
    for (const dram of axes.drams) {
      for (const policy of axes.policies) {
        out.push({
          policy,
          device,
          dram,
          settings: {
            policy,
            device: resolveDevice(device, { dramBytes: dram, pageBytes: axes.pageBytes, readLatencyUs: axes.readLatencyUs }),
            bits: axes.bits !== undefined ? parseBits(axes.bits) : undefined,
          },
        });
      }
    }
  }
  return out;
}

/** Runs the model over the stream with masks recorded (and a live cache for dip-ca). */
export function recordedRun(o: Opened, stream: number[], window: number | undefined, live?: SimSettings): { r: EvalResult; trace: MaskTrace } {
  const recorder = new MaskRecorder(o.engine, { settings: live, live: live !== undefined });
  let sequence = -1;
  const r = perplexity(o.engine, stream, {
    window,
    onStep: ({ sequence: s }) => {
      if (s !== sequence) recorder.beginSequence(0), (sequence = s);
      recorder.afterStep();
    },
  });
  recorder.detach();
  return { r, trace: recorder.trace() };
}

export interface SimPoint {
  method: Method;
  keep?: number;
  gamma?: number;
}

/** Expands (method, keep) points with the gammas for dip-ca. */
export function withGammas(points: { method: Method; keep?: number }[], gammas: number[]): SimPoint[] {
  return points.flatMap((p) => {
    if (p.method !== "dip-ca") return [p];
    if (gammas.length === 0) throw new UsageError("dip-ca in a sweep needs --gammas");
    return gammas.map((gamma) => ({ ...p, gamma }));
  });
}

/** The rows of one grid point: one per (device, dram, policy). */
export async function simulatePoint(
  o: Opened,
  p: SimPoint,
  stream: number[],
  stories: number,
  axes: SimAxes,
  opts: { window?: number; calibText?: string },
): Promise<string[][]> {
  const spec: SparsitySpec = await applySparsity(o, { method: p.method, keep: p.keep, gamma: p.gamma, "calib-text": opts.calibText });
  const row = (r: EvalResult, c: Combo, s: SimResult) => [
    ...sweepRow(o.model.name, spec, p.keep, r, stories),
    p.gamma === undefined ? "" : String(p.gamma),
    c.policy,
    c.device,
    String(c.settings.device.dramBytes),
    String(s.tok_s),
    String(s.hit_rate.overall),
    String(s.flash_bytes_per_token),
    String(s.dram_bytes_per_token),
    String(s.memory_bytes),
    String(s.dense_flash_tok_s),
    String(s.ttft_s),
    String(s.flash_reads_per_token),
    String(s.flash_bytes_read_per_useful_byte),
  ];
  const rows: string[][] = [];
  if (p.method !== "dip-ca") {
    const { r, trace } = recordedRun(o, stream, opts.window);
    for (const c of combos(axes)) rows.push(row(r, c, simulateTraceWith(o.engine.exports, trace, c.settings)));
    return rows;
  }
  for (const c of combos(axes)) {
    if (c.policy === "belady") continue; // dip-ca needs an online cache; belady is offline only
    const { r, trace } = recordedRun(o, stream, opts.window, c.settings);
    rows.push(row(r, c, simulateTraceWith(o.engine.exports, trace, c.settings)));
  }
  return rows;
}
