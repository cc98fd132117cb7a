// Devices (DRAM budget, bandwidths, I/O overlap) and the CLI's unit conventions (SIMULATOR.md
// "CLI conventions"): sizes and bandwidths are powers of 10 (GB = 1e9 bytes, GB/s = 1e9 bytes/s).
import { DEFAULT_BITS, PRECISION_GROUPS, type Precision } from "./presets.js";

export interface DeviceProfile {
  name: string;
  description: string;
  /** DRAM the model may use: static groups plus MLP caches */
  dramBytes: number;
  dramGBps: number;
  flashGBps: number;
  /** DRAM and Flash reads overlap: a layer group's time is the max of the two, else the sum */
  concurrentIO: boolean;
}

/** Illustrative phone-like profiles (round numbers of their memory classes, not measurements). */
export const DEVICES: Readonly<Record<string, DeviceProfile>> = {
  mobile: {
    name: "mobile",
    description: "generic phone: 60 GB/s DRAM, 1 GB/s Flash, 4 GB for the model (default)",
    dramBytes: 4e9,
    dramGBps: 60,
    flashGBps: 1,
    concurrentIO: true,
  },
  flagship: {
    name: "flagship",
    description: "LPDDR5X-class DRAM (~77 GB/s), UFS 4.0-class Flash (~4 GB/s), 8 GB for the model",
    dramBytes: 8e9,
    dramGBps: 77,
    flashGBps: 4,
    concurrentIO: true,
  },
  midrange: {
    name: "midrange",
    description: "LPDDR4X-class DRAM (~34 GB/s), UFS 3.1-class Flash (~2 GB/s), 3 GB for the model",
    dramBytes: 3e9,
    dramGBps: 34,
    flashGBps: 2,
    concurrentIO: true,
  },
  budget: {
    name: "budget",
    description: "32-bit LPDDR4X (~17 GB/s), UFS 2.2-class Flash (~0.8 GB/s), 2 GB, no I/O overlap",
    dramBytes: 2e9,
    dramGBps: 17,
    flashGBps: 0.8,
    concurrentIO: false,
  },
};
export const DEFAULT_DEVICE = "mobile";

/**
 * The machine a --stream run really used: DRAM at the read bandwidth measured in the same run
 * (Engine.measureReadBandwidth), Flash at the emulated bandwidth, and concurrent I/O within a
 * layer group: the engine gathers one chunk of columns while the device delivers the next
 * (assembly/stream/store.ts). Nothing overlaps across groups: DIP's masks depend on the data, so
 * a group's reads cannot start before the compute that chooses them.
 */
export function hostDevice(dramBytes: number, dramGBps: number, flashGBps: number): DeviceProfile {
  for (const [what, v] of [["measured DRAM bandwidth", dramGBps], ["--flash-gbps", flashGBps]] as const) checkNumber(what, v, false);
  return {
    name: "host",
    description: `this machine: ${dramGBps.toFixed(2)} GB/s DRAM (read-sum probe, same run), ${flashGBps} GB/s emulated Flash, concurrent I/O (the engine gathers one chunk while the device delivers the next)`,
    dramBytes,
    dramGBps,
    flashGBps,
    concurrentIO: true,
  };
}

export class SimSettingsError extends Error {
  override name = "SimSettingsError";
}

export interface DeviceOverrides {
  dramBytes?: number;
  dramGBps?: number;
  flashGBps?: number;
  concurrentIO?: boolean;
}

/** A named profile with custom numbers on top; throws on unknown names or bad numbers. */
export function resolveDevice(name: string = DEFAULT_DEVICE, overrides: DeviceOverrides = {}): DeviceProfile {
  const base = DEVICES[name];
  if (!base) throw new SimSettingsError(`unknown device "${name}"; known devices: ${Object.keys(DEVICES).join(", ")}`);
  const d: DeviceProfile = { ...base };
  const custom: string[] = [];
  if (overrides.dramBytes !== undefined) {
    checkNumber("--dram", overrides.dramBytes, true);
    d.dramBytes = overrides.dramBytes;
    custom.push("dram");
  }
  if (overrides.dramGBps !== undefined) {
    checkNumber("--dram-gbps", overrides.dramGBps, false);
    d.dramGBps = overrides.dramGBps;
    custom.push("dram-gbps");
  }
  if (overrides.flashGBps !== undefined) {
    checkNumber("--flash-gbps", overrides.flashGBps, false);
    d.flashGBps = overrides.flashGBps;
    custom.push("flash-gbps");
  }
  if (overrides.concurrentIO !== undefined && overrides.concurrentIO !== d.concurrentIO) {
    d.concurrentIO = overrides.concurrentIO;
    custom.push(d.concurrentIO ? "concurrent-io" : "serial-io");
  }
  if (custom.length > 0) d.name = `${base.name} (custom ${custom.join(", ")})`;
  return d;
}

function checkNumber(what: string, v: number, zeroOk: boolean): void {
  if (!Number.isFinite(v) || v < 0 || (!zeroOk && v === 0)) {
    throw new SimSettingsError(`${what} must be a ${zeroOk ? "non-negative" : "positive"} finite number, got ${v}`);
  }
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12 };

/** "6e9", "6GB", "512MB", "700 MB", "1.5 gb" -> bytes (powers of 10). Throws a clear error otherwise. */
export function parseSize(text: string, what = "size"): number {
  const s = String(text).trim();
  const m = /^([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)$/.exec(s);
  if (!m) throw new SimSettingsError(`${what}: "${text}" is not a size; use e.g. 6e9, 6GB, 512MB or "700 MB"`);
  const unit = m[2].toLowerCase();
  if (/^[kmgt]ib$/.test(unit)) {
    throw new SimSettingsError(`${what}: "${text}" uses a binary unit; sizes are powers of 10 here (GB = 1e9 bytes)`);
  }
  const scale = SIZE_UNITS[unit];
  if (scale === undefined) throw new SimSettingsError(`${what}: unknown unit "${m[2]}" in "${text}"; use B, KB, MB, GB or TB`);
  const bytes = Number(m[1]) * scale;
  if (!Number.isFinite(bytes)) throw new SimSettingsError(`${what}: "${text}" is too large`);
  return Math.round(bytes);
}

/** "--bits embedding=8,lm_head=8,attention=4,mlp=4,kv_cache=8" (any subset; the rest from `base`). */
export function parseBits(text: string, base: Readonly<Precision> = DEFAULT_BITS): Precision {
  const bits: Precision = { ...base };
  const parts = String(text).split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new SimSettingsError(`--bits: nothing given; use e.g. mlp=4,attention=4`);
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new SimSettingsError(`--bits: "${part}" is not group=bits (groups: ${PRECISION_GROUPS.join(", ")})`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!(PRECISION_GROUPS as readonly string[]).includes(key)) {
      throw new SimSettingsError(`--bits: unknown group "${key}"; groups: ${PRECISION_GROUPS.join(", ")}`);
    }
    const n = Number(value);
    if (value === "" || !Number.isFinite(n) || n <= 0 || n > 64) {
      throw new SimSettingsError(`--bits: ${key}="${value}" is not a number of bits in (0, 64]`);
    }
    bits[key as keyof Precision] = n;
  }
  return bits;
}
