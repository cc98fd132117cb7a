// Device profiles and the size parser of the CLI conventions (../shared/spec/SIMULATOR.md "Inputs",
// "CLI conventions"): sizes and bandwidths are powers of 10 (GB = 1e9 bytes, GB/s = 1e9 bytes/s).
// Both sides need them before any wasm runs (the CLI lists the devices in its help, the web page
// parses a DRAM budget), so this file is written in the subset AssemblyScript and TypeScript share
// (number is f64, boolean is bool): the WASI replay compiles it, host/sim/devices.ts imports it.
// One table, one parser, no copy to keep in step.

export class DeviceProfile {
  name: string = "";
  description: string = "";
  /** DRAM the model may use: static groups plus MLP caches */
  dramBytes: number = 0;
  dramGBps: number = 0;
  flashGBps: number = 0;
  /** DRAM and Flash reads overlap: a layer group's time is the max of the two, else the sum */
  concurrentIO: boolean = true;
  /** Flash read granularity: a read of b bytes moves ceil(b / pageBytes) pages (1: byte-exact) */
  pageBytes: number = 1;
  /** fixed cost of each Flash read (command, seek), microseconds, on top of its pages' transfer */
  readLatencyUs: number = 0;
}

/** Illustrative phone-like profiles (round numbers of their memory classes, not measurements). They
 *  charge bandwidth only (page 1, latency 0), as the paper's model does: --page-bytes and
 *  --read-latency-us add read granularity (docs/simulator.md "Flash reads"). */
export const DEVICE_PROFILES: DeviceProfile[] = [
  { name: "mobile", description: "generic phone: 60 GB/s DRAM, 1 GB/s Flash, 4 GB for the model (default)", dramBytes: 4e9, dramGBps: 60, flashGBps: 1, concurrentIO: true, pageBytes: 1, readLatencyUs: 0 },
  { name: "flagship", description: "LPDDR5X-class DRAM (~77 GB/s), UFS 4.0-class Flash (~4 GB/s), 8 GB for the model", dramBytes: 8e9, dramGBps: 77, flashGBps: 4, concurrentIO: true, pageBytes: 1, readLatencyUs: 0 },
  { name: "midrange", description: "LPDDR4X-class DRAM (~34 GB/s), UFS 3.1-class Flash (~2 GB/s), 3 GB for the model", dramBytes: 3e9, dramGBps: 34, flashGBps: 2, concurrentIO: true, pageBytes: 1, readLatencyUs: 0 },
  { name: "budget", description: "32-bit LPDDR4X (~17 GB/s), UFS 2.2-class Flash (~0.8 GB/s), 2 GB, no I/O overlap", dramBytes: 2e9, dramGBps: 17, flashGBps: 0.8, concurrentIO: false, pageBytes: 1, readLatencyUs: 0 },
];
export const DEFAULT_DEVICE: string = "mobile";

// sizeBytes outcomes below zero (a size is never negative)
export const SIZE_MALFORMED: number = -1;
export const SIZE_BINARY_UNIT: number = -2;
export const SIZE_UNKNOWN_UNIT: number = -3;
export const SIZE_TOO_LARGE: number = -4;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A size's text split as /^([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)$/ splits it, by hand
 *  (no RegExp in wasm): `number` and `unit`, or well-formed false. */
export class SizeText {
  number: string = "";
  unit: string = "";
  wellFormed: boolean = false;

  constructor(text: string) {
    this.wellFormed = this.split(text.trim());
  }

  private split(s: string): boolean {
    let end = 0;
    while (end < s.length && isDigit(s.charCodeAt(end))) end++;
    if (end < s.length && s.charCodeAt(end) == 46) {
      const dot = end;
      end++;
      while (end < s.length && isDigit(s.charCodeAt(end))) end++;
      if (end == dot + 1) return false;
    } else if (end == 0) return false;
    // an exponent only when it is complete (else its letter starts the unit)
    if (end < s.length && (s.charCodeAt(end) | 32) == 101) {
      let e = end + 1;
      if (e < s.length && (s.charCodeAt(e) == 43 || s.charCodeAt(e) == 45)) e++;
      const digits = e;
      while (e < s.length && isDigit(s.charCodeAt(e))) e++;
      if (e > digits) end = e;
    }
    let unit = end;
    while (unit < s.length && (s.charCodeAt(unit) == 32 || (s.charCodeAt(unit) >= 9 && s.charCodeAt(unit) <= 13))) unit++;
    for (let k = unit; k < s.length; k++) {
      const c = s.charCodeAt(k) | 32;
      if (c < 97 || c > 122) return false;
    }
    this.number = s.substring(0, end);
    this.unit = s.substring(unit);
    return true;
  }
}

/** "6e9", "6GB", "512MB", "700 MB", "1.5 gb" -> bytes (powers of 10), or a SIZE_* code below 0. */
export function sizeBytes(text: string): number {
  const t = new SizeText(text);
  if (!t.wellFormed) return SIZE_MALFORMED;
  const unit = t.unit.toLowerCase();
  if (unit.length == 3 && unit.endsWith("ib") && "kmgt".includes(unit.charAt(0))) return SIZE_BINARY_UNIT;
  let scale: number = 0;
  if (unit == "" || unit == "b") scale = 1;
  else if (unit == "k" || unit == "kb") scale = 1e3;
  else if (unit == "m" || unit == "mb") scale = 1e6;
  else if (unit == "g" || unit == "gb") scale = 1e9;
  else if (unit == "t" || unit == "tb") scale = 1e12;
  else return SIZE_UNKNOWN_UNIT;
  const bytes = parseFloat(t.number) * scale;
  if (!isFinite(bytes)) return SIZE_TOO_LARGE;
  return Math.round(bytes);
}
