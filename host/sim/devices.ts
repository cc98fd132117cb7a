// Devices (DRAM budget, bandwidths, I/O overlap) and the CLI's unit conventions (SIMULATOR.md
// "CLI conventions"): sizes and bandwidths are powers of 10 (GB = 1e9 bytes, GB/s = 1e9 bytes/s).
// The profiles and the size parser are assembly/sim/devices.ts, which the WASI replay compiles too.
import { DEFAULT_BITS, PRECISION_GROUPS, type Precision } from "./presets.js";
import {
  DEFAULT_DEVICE, DEVICE_PROFILES, SIZE_BINARY_UNIT, SIZE_TOO_LARGE, SIZE_UNKNOWN_UNIT, SizeText, sizeBytes,
  type DeviceProfile as DeviceRow,
} from "../../assembly/sim/devices.js";

/** A device: DRAM budget, bandwidths, I/O overlap, Flash read granularity (fields in
 *  assembly/sim/devices.ts). pageBytes (default 1) and readLatencyUs (default 0) may be left out:
 *  then Flash costs bandwidth only, as before they existed. */
export type DeviceProfile = Omit<DeviceRow, "pageBytes" | "readLatencyUs"> & Partial<Pick<DeviceRow, "pageBytes" | "readLatencyUs">>;

/** The named profiles of assembly/sim/devices.ts, by name. */
export const DEVICES: Readonly<Record<string, DeviceProfile>> = Object.fromEntries(DEVICE_PROFILES.map((d) => [d.name, d]));
export { DEFAULT_DEVICE };

/**
 * The machine a --stream run really used: DRAM at the read bandwidth measured in the same run
 * (Engine.measureReadBandwidth), Flash at the emulated bandwidth, and concurrent I/O within a
 * layer group: the engine gathers one chunk of columns while the device delivers the next
 * (assembly/stream/store.ts). Nothing overlaps across groups: DIP's masks depend on the data, so
 * a group's reads cannot start before the compute that chooses them.
 */
export function hostDevice(dramBytes: number, dramGBps: number, flashGBps: number, readLatencyUs = 0): DeviceProfile {
  for (const [what, v] of [["measured DRAM bandwidth", dramGBps], ["--flash-gbps", flashGBps]] as const) checkNumber(what, v, false);
  checkNumber("read latency", readLatencyUs, true);
  const latency = readLatencyUs > 0 ? `, ${readLatencyUs.toFixed(1)} us per read (measured)` : "";
  return {
    name: "host",
    description: `this machine: ${dramGBps.toFixed(2)} GB/s DRAM (read-sum probe, same run), ${flashGBps} GB/s emulated Flash${latency}, concurrent I/O (the engine gathers one chunk while the device delivers the next)`,
    dramBytes,
    dramGBps,
    flashGBps,
    concurrentIO: true,
    pageBytes: 1,
    readLatencyUs,
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
  pageBytes?: number;
  readLatencyUs?: number;
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
  if (overrides.pageBytes !== undefined) {
    d.pageBytes = overrides.pageBytes;
    custom.push("page-bytes");
  }
  if (overrides.readLatencyUs !== undefined) {
    d.readLatencyUs = overrides.readLatencyUs;
    custom.push("read-latency-us");
  }
  checkFlashReads(d);
  if (custom.length > 0) d.name = `${base.name} (custom ${custom.join(", ")})`;
  return d;
}

/** A device's Flash read granularity (docs/simulator.md "Flash reads"): whole pages of at least a
 *  byte, a non-negative latency per read. */
export function checkFlashReads(d: DeviceProfile): void {
  const page = d.pageBytes ?? 1;
  if (!Number.isSafeInteger(page) || page < 1) throw new SimSettingsError(`--page-bytes must be a whole number of bytes >= 1, got ${page}`);
  checkNumber("--read-latency-us", d.readLatencyUs ?? 0, true);
}

function checkNumber(what: string, v: number, zeroOk: boolean): void {
  if (!Number.isFinite(v) || v < 0 || (!zeroOk && v === 0)) {
    throw new SimSettingsError(`${what} must be a ${zeroOk ? "non-negative" : "positive"} finite number, got ${v}`);
  }
}

/** "6e9", "6GB", "512MB", "700 MB", "1.5 gb" -> bytes (powers of 10). Throws a clear error otherwise. */
export function parseSize(text: string, what = "size"): number {
  const bytes = sizeBytes(String(text));
  if (bytes >= 0) return bytes;
  if (bytes === SIZE_BINARY_UNIT) throw new SimSettingsError(`${what}: "${text}" uses a binary unit; sizes are powers of 10 here (GB = 1e9 bytes)`);
  if (bytes === SIZE_UNKNOWN_UNIT) throw new SimSettingsError(`${what}: unknown unit "${new SizeText(String(text)).unit}" in "${text}"; use B, KB, MB, GB or TB`);
  if (bytes === SIZE_TOO_LARGE) throw new SimSettingsError(`${what}: "${text}" is too large`);
  throw new SimSettingsError(`${what}: "${text}" is not a size; use e.g. 6e9, 6GB, 512MB or "700 MB"`);
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
