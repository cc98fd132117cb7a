// Reads of a weight stream on an I/O thread, as a phone engine's Flash reads run beside its
// compute: the engine thread (env.streamIssue) puts a request in a ring in shared memory and goes
// on gathering the previous chunk; the I/O thread, running the same WeightStream code on its own
// file handle, reads the columns straight into the engine's shared wasm memory (checking their
// CRCs, pacing to the emulated Flash), then publishes the request as completed; env.streamAwait
// waits for that. The positioned reads' copies from the page cache then cost the engine thread
// nothing, which a synchronous read (WeightStream.issue on the engine thread) cannot avoid.
//
// Runtime-neutral: the adapters start the thread (Node: worker_threads, host/node/stream-worker.ts)
// and both sides meet here, so the block's layout is written down once.
import { ModelFormatError } from "../model.js";
import type { StreamHeader } from "./format.js";

/** What a stream's reads cost so far (WeightStream.counters); the I/O thread's totals cross the control block in this shape. */
export interface StreamCounters {
  /** positioned reads issued */
  reads: number;
  /** columns read */
  columns: number;
  /** bytes read from storage */
  bytes: number;
  /** seconds the engine thread spent issuing and awaiting reads (reading, checking and copying too when inline) */
  seconds: number;
  /** seconds the reader waited for the emulated Flash device */
  pacingSeconds: number;
}

/**
 * A weight stream as this module uses it: host/stream/weights.ts's WeightStream, described here
 * rather than imported, since the stream starts the thread (this module sits below it). The
 * engine thread's stream keeps the counters; the I/O thread's, on its own file handle, serves.
 */
export interface StreamIOEndpoint {
  readonly source: string;
  /** emulated Flash bandwidth in GB/s, or undefined for the storage's own speed */
  flashGBps: number | undefined;
  readonly counters: StreamCounters;
  issue(memory: WebAssembly.Memory, layer: number, group: number, listPtr: number, count: number, issuedAt?: number): number;
  await(ticket: number): void;
}

/** Requests in flight at once (the engine keeps one ahead of the one it gathers). */
const RING = 8;
// Int32 fields
const ISSUED = 0; //    requests the engine has issued (a request's ticket is this count right after it)
const COMPLETED = 1; // requests the I/O thread has finished, in order
const FAILED = 2; //    1 once the I/O thread stopped on an error (message below)
const STOP = 3; //      1: the I/O thread returns
const MESSAGE_LENGTH = 4; // bytes of the UTF-8 error message
const RING_I32 = 8; //  per slot: layer, group, list pointer, count
const I32_FIELDS = RING_I32 + 4 * RING;
// Float64 fields (after the Int32 ones)
const F64_BASE = I32_FIELDS * 4;
const ISSUED_AT = 0; // per slot: issue time, ms since the Unix epoch (performance.timeOrigin + now())
const FLASH_GBPS = RING; // emulated Flash bandwidth, 0 = the storage's own speed
const TOTALS = RING + 1; // reads, columns, bytes, pacing seconds since the I/O thread started
const F64_FIELDS = TOTALS + 4;
const MESSAGE_BASE = F64_BASE + F64_FIELDS * 8;
const MESSAGE_BYTES = 2048;
/** Bytes of the shared control block. */
export const STREAM_IO_BLOCK_BYTES = MESSAGE_BASE + MESSAGE_BYTES;

/** How long either side spins before it sleeps in Atomics.wait (a wake-up costs tens of microseconds). */
const SPIN_MS = 0.05;

/** No answer from the I/O thread for this long means it is gone (it always answers within a read's time). */
const SILENCE_LIMIT_MS = 60_000;

/** What the I/O thread needs: the stream to re-create, the engine's shared memory, the control block. */
export interface StreamIOInit {
  header: StreamHeader;
  crcTable: Uint8Array;
  source: string;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}

/** Starts the I/O thread; returns how to stop it. */
export type StreamIOSpawner = (init: StreamIOInit) => { terminate(): void };

const now = () => performance.timeOrigin + performance.now();

/** The engine thread's side: issue, await, counters. */
export class StreamIOClient {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private lastIssued = 0;
  /** the I/O thread's totals at the last resetCounters(): the stream's counters are the totals minus these */
  private readonly baseline = new Float64Array(4);

  constructor(
    private readonly stream: StreamIOEndpoint,
    private readonly control: SharedArrayBuffer,
    private readonly thread: { terminate(): void },
  ) {
    this.i32 = new Int32Array(control, 0, I32_FIELDS);
    this.f64 = new Float64Array(control, F64_BASE, F64_FIELDS);
  }

  /** Puts a request in the ring; returns its ticket. */
  issue(layer: number, group: number, listPtr: number, count: number): number {
    const t0 = performance.now();
    if (Atomics.load(this.i32, FAILED)) throw this.failure();
    const ticket = this.lastIssued + 1;
    if (ticket - Atomics.load(this.i32, COMPLETED) > RING) throw new Error(`weight stream I/O: more than ${RING} requests in flight (the engine awaits each one ahead)`);
    const slot = ticket % RING;
    const at = RING_I32 + 4 * slot;
    this.i32[at] = layer;
    this.i32[at + 1] = group;
    this.i32[at + 2] = listPtr;
    this.i32[at + 3] = count;
    this.f64[ISSUED_AT + slot] = now();
    this.f64[FLASH_GBPS] = this.stream.flashGBps ?? 0;
    this.lastIssued = ticket;
    Atomics.store(this.i32, ISSUED, ticket);
    Atomics.notify(this.i32, ISSUED);
    this.stream.counters.seconds += (performance.now() - t0) / 1e3;
    return ticket;
  }

  /** Returns once request `ticket` has landed; throws the I/O thread's error if it failed. */
  await(ticket: number): void {
    const t0 = performance.now();
    let heard = t0;
    for (;;) {
      const done = Atomics.load(this.i32, COMPLETED);
      if (done >= ticket) break;
      // most chunks land within microseconds of being awaited: a short spin saves a sleep and a wake-up
      if (performance.now() - t0 < SPIN_MS) continue;
      if (Atomics.load(this.i32, FAILED)) throw this.failure();
      if (Atomics.wait(this.i32, COMPLETED, done, 1000) === "timed-out") {
        if (performance.now() - heard > SILENCE_LIMIT_MS) {
          throw new Error(`weight stream I/O thread (${this.stream.source}) has not answered for ${SILENCE_LIMIT_MS / 1e3} s: it stopped or could not start`);
        }
      } else heard = performance.now();
    }
    const c = this.stream.counters;
    c.reads = this.f64[TOTALS] - this.baseline[0];
    c.columns = this.f64[TOTALS + 1] - this.baseline[1];
    c.bytes = this.f64[TOTALS + 2] - this.baseline[2];
    c.pacingSeconds = this.f64[TOTALS + 3] - this.baseline[3];
    c.seconds += (performance.now() - t0) / 1e3;
  }

  /** Counts from here on (between runs: nothing is in flight, so the totals are still). */
  resetCounters(): void {
    this.baseline.set(this.f64.subarray(TOTALS, TOTALS + 4));
  }

  close(): void {
    Atomics.store(this.i32, STOP, 1);
    Atomics.notify(this.i32, ISSUED);
    this.thread.terminate();
  }

  /** The I/O thread's error again (a corrupt column is a ModelFormatError naming the file, as inline). */
  private failure(): Error {
    const n = Atomics.load(this.i32, MESSAGE_LENGTH);
    // TextDecoder refuses views of shared memory: copy first
    const message = new TextDecoder().decode(new Uint8Array(this.control, MESSAGE_BASE, n).slice());
    const prefix = `${this.stream.source}: `;
    return message.startsWith(prefix) ? new ModelFormatError(this.stream.source, message.slice(prefix.length)) : new Error(`weight stream I/O: ${message}`);
  }
}

/** A fresh control block for a client and its I/O thread. */
export function streamIOBlock(): SharedArrayBuffer {
  return new SharedArrayBuffer(STREAM_IO_BLOCK_BYTES);
}

/** The I/O thread stops on `error`: the engine thread's next await throws it. */
export function failStreamIO(control: SharedArrayBuffer, error: unknown): void {
  const i32 = new Int32Array(control, 0, I32_FIELDS);
  const bytes = new TextEncoder().encode(String((error as Error)?.message ?? error)).subarray(0, MESSAGE_BYTES);
  new Uint8Array(control, MESSAGE_BASE, MESSAGE_BYTES).set(bytes);
  Atomics.store(i32, MESSAGE_LENGTH, bytes.length);
  Atomics.store(i32, FAILED, 1);
  Atomics.notify(i32, COMPLETED);
}

/**
 * The I/O thread's loop: serves requests in order with `stream` (its own file handle) until told to
 * stop; on an error it publishes the message and returns.
 */
export function serveStreamIO(stream: StreamIOEndpoint, memory: WebAssembly.Memory, control: SharedArrayBuffer): void {
  const i32 = new Int32Array(control, 0, I32_FIELDS);
  const f64 = new Float64Array(control, F64_BASE, F64_FIELDS);
  for (let next = 1; ; next++) {
    const idleFrom = performance.now();
    while (Atomics.load(i32, ISSUED) < next) {
      if (Atomics.load(i32, STOP)) return;
      // the engine issues the next chunk soon after the previous one: spin a little, then sleep
      if (performance.now() - idleFrom > SPIN_MS) Atomics.wait(i32, ISSUED, next - 1, 1000);
    }
    if (Atomics.load(i32, STOP)) return;
    const slot = next % RING;
    const at = RING_I32 + 4 * slot;
    stream.flashGBps = f64[FLASH_GBPS] > 0 ? f64[FLASH_GBPS] : undefined;
    try {
      // the device starts when the engine asked, not when this thread woke up
      stream.await(stream.issue(memory, i32[at], i32[at + 1], i32[at + 2] >>> 0, i32[at + 3], f64[ISSUED_AT + slot] - performance.timeOrigin));
    } catch (e) {
      failStreamIO(control, e);
      return;
    }
    const c = stream.counters;
    // this thread's stream is never reset: its counters are the totals the client subtracts from
    f64[TOTALS] = c.reads;
    f64[TOTALS + 1] = c.columns;
    f64[TOTALS + 2] = c.bytes;
    f64[TOTALS + 3] = c.pacingSeconds;
    Atomics.store(i32, COMPLETED, next);
    Atomics.notify(i32, COMPLETED);
  }
}
