// A bounds-checked little-endian reader shared by the model formats.
// Every read names what it was reading, so a truncated or corrupt file fails with the byte offset
// and the field instead of a RangeError (or, worse, a silently wrong value).
import { ModelFormatError } from "../model.js";

// ignoreBOM: a string that starts with U+FEFF keeps it (the default decoder drops it)
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** 2^53: the first integer a JS number can no longer count exactly. */
const SAFE_LIMIT = 2 ** 53;

/** Every platform we target is little-endian, but a wrong guess here would silently garble weights. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class BinaryReader {
  /** the next byte to read */
  offset = 0;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  /** Throws unless n more bytes can be read at the current offset. */
  need(n: number, what: string): void {
    if (!(n <= this.remaining)) {
      throw new ModelFormatError(
        this.file,
        `truncated at byte offset ${this.offset}: expected ${n} bytes for ${what}, file has only ${this.length} bytes`,
      );
    }
  }

  seek(offset: number, what = "seek"): void {
    if (!(offset >= 0 && offset <= this.length)) {
      throw new ModelFormatError(this.file, `${what} at byte offset ${offset}: expected a position within the file, file has only ${this.length} bytes`);
    }
    this.offset = offset;
  }

  skip(n: number, what = "skipped bytes"): void {
    this.need(n, what);
    this.offset += n;
  }

  /** An n-byte value read by `get` at the current offset, after the bounds check. */
  private fixed(n: number, what: string, get: (at: number) => number): number {
    this.need(n, what);
    const v = get(this.offset);
    this.offset += n;
    return v;
  }

  u8(what = "u8"): number {
    return this.fixed(1, what, (at) => this.view.getUint8(at));
  }

  i8(what = "i8"): number {
    return this.fixed(1, what, (at) => this.view.getInt8(at));
  }

  u16(what = "u16"): number {
    return this.fixed(2, what, (at) => this.view.getUint16(at, true));
  }

  i16(what = "i16"): number {
    return this.fixed(2, what, (at) => this.view.getInt16(at, true));
  }

  u32(what = "u32"): number {
    return this.fixed(4, what, (at) => this.view.getUint32(at, true));
  }

  i32(what = "i32"): number {
    return this.fixed(4, what, (at) => this.view.getInt32(at, true));
  }

  /** An unsigned 64-bit integer as a number; values >= 2^53 are an error, not a rounded count. */
  u64(what = "u64"): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.offset, true);
    const hi = this.view.getUint32(this.offset + 4, true);
    if (hi >= SAFE_LIMIT / 2 ** 32) {
      const big = (BigInt(hi) << 32n) | BigInt(lo);
      throw new ModelFormatError(this.file, `${what} at byte offset ${this.offset} is ${big}, expected a value below 2^53`);
    }
    this.offset += 8;
    return hi * 2 ** 32 + lo;
  }

  /** A signed 64-bit integer as a number; magnitudes >= 2^53 are an error. */
  i64(what = "i64"): number {
    this.need(8, what);
    const big = this.view.getBigInt64(this.offset, true);
    if (big >= BigInt(SAFE_LIMIT) || big <= -BigInt(SAFE_LIMIT)) {
      throw new ModelFormatError(this.file, `${what} at byte offset ${this.offset} is ${big}, expected a magnitude below 2^53`);
    }
    this.offset += 8;
    return Number(big);
  }

  f32(what = "f32"): number {
    return this.fixed(4, what, (at) => this.view.getFloat32(at, true));
  }

  f64(what = "f64"): number {
    return this.fixed(8, what, (at) => this.view.getFloat64(at, true));
  }

  /** n raw bytes, as a view into the file (no copy). */
  bytesView(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** n bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
  utf8(n: number, what = "string"): string {
    return utf8.decode(this.bytesView(n, what));
  }
}

/**
 * n little-endian f32 values starting at byte offset `at` of `bytes`. A view without a copy when
 * the position is 4-byte aligned (the usual case), so the result may alias `bytes`.
 * The caller has checked the bounds.
 */
export function f32Array(bytes: Uint8Array, at: number, n: number): Float32Array {
  const start = bytes.byteOffset + at;
  if (LITTLE_ENDIAN && start % 4 === 0) return new Float32Array(bytes.buffer, start, n);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, start, n * 4);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
