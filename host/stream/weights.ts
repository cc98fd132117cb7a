// A weight stream: the MLP columns of a .dipstream file (host/stream/format.ts), read on demand
// into the engine's column slots (assembly/stream/store.ts calls env.streamIssue, env.streamAwait).
//
// A request lists (column, destination) pairs in ascending column order. Neighbouring columns are
// one contiguous range in the file, so runs of consecutive columns become one positioned read
// (straight into wasm memory when the destinations are consecutive too, else into a host buffer
// and then each column is copied to its slot). Each column's CRC-32 is checked
// the first time it is read (before the engine uses it).
//
// The engine pipelines: it issues the reads of one chunk, gathers the previous chunk, then awaits
// the issued one. The reads run on an I/O thread beside the engine where the runtime allows it
// (host/stream/io.ts: the same code as here, on its own file handle), else here at issue, on the
// engine thread. With flashGBps set, an emulated Flash device gives every request a completion
// time, max(device clock, issue time) + bytes / bandwidth, and a request is only handed over once
// the wall clock reaches it. So bytes / time never exceeds the emulated device, and the engine's
// compute while the device is busy is hidden, as behind a real device's DMA.
// Runtime-neutral: the file access is a `readAt` function (Node: fs.readSync on a descriptor).

import { crc32 } from "../crc32.js";
import { streamRowBytes, type StreamHeader } from "./format.js";
import { ModelFormatError } from "../model.js";
import type { EngineHostHooks } from "../wasm.js";
import { DTYPE_F32, DTYPE_Q4_0, DTYPE_Q8, GROUP_HIDDEN, GROUP_INPUT, POLICY_LFU, POLICY_LRU, POLICY_NONE, ROWS_EMBEDDING, ROWS_LM_HEAD, type EngineExports } from "../abi.js";
import { StreamIOClient, streamIOBlock, type StreamCounters, type StreamIOSpawner } from "./io.js";

/** Reads `into.length` bytes at `position` of the file; returns the bytes read. */
export type ReadAt = (position: number, into: Uint8Array) => number;

export class WeightStream {
  readonly counters: StreamCounters = { reads: 0, columns: 0, bytes: 0, seconds: 0, pacingSeconds: 0 };
  /** emulated Flash bandwidth in GB/s (powers of 10), or undefined for the storage's own speed */
  flashGBps: number | undefined;
  private buffer = new Uint8Array(0);
  private verified: Uint8Array[];
  private crcs: Uint32Array;
  private flashClock = 0;
  /** every row of a static tensor counts as checked (openStream checked the tensor's CRC) */
  private rowsChecked: Uint8Array | undefined;
  /** file offsets of the LM head's rows (the tied embedding's) and of an untied embedding's */
  private readonly rowOffsets: { lmHead?: number; embedding?: number };
  /** requests issued so far (a request's ticket is this count right after it) */
  private issued = 0;
  /** completion times (performance.now() ms) of the last requests, by ticket modulo their count */
  private readonly completions = new Float64Array(MAX_PENDING);
  /** how to start an I/O thread reading the same file (set by the runtime adapter); without it reads run on the engine thread */
  ioThread: StreamIOSpawner | undefined;
  /** the I/O thread's client once started: then the engine's reads go there */
  private remote: StreamIOClient | undefined;

  constructor(
    readonly header: StreamHeader,
    private readonly readAt: ReadAt,
    readonly source: string,
    crcTable: Uint8Array,
    /** CRC-32 (IEEE); the Node adapter passes zlib's, ~4x faster than the portable one */
    private readonly crc: (bytes: Uint8Array) => number = crc32,
  ) {
    const c = header.config;
    this.crcs = new Uint32Array(crcTable.buffer.slice(crcTable.byteOffset, crcTable.byteOffset + crcTable.byteLength));
    this.verified = Array.from({ length: c.nLayers * 2 }, (_, i) => new Uint8Array(header.groups[i % 2].entries));
    const offsetOf = (name: string) => header.tensors.find((t) => t.name === name)?.offset;
    this.rowOffsets = { lmHead: offsetOf(c.tiedEmbeddings ? "token_embedding" : "lm_head"), embedding: offsetOf("token_embedding") };
  }

  /**
   * Moves the reads to an I/O thread (this.ioThread) writing into `memory`, which must be shared;
   * returns the client that serves the engine's streamIssue / streamAwait from then on.
   */
  startThread(memory: WebAssembly.Memory): StreamIOClient {
    if (!this.ioThread) throw new Error(`weight stream ${this.source}: this runtime's adapter cannot read it on an I/O thread`);
    const control = streamIOBlock();
    const crcTable = new Uint8Array(this.crcs.buffer.slice(0));
    const thread = this.ioThread({ header: this.header, crcTable, source: this.source, memory, control });
    this.remote = new StreamIOClient(this, control, thread);
    return this.remote;
  }

  /** Static tensor bytes as stored, checked against its CRC. */
  readTensor(name: string): Uint8Array {
    const t = this.header.tensors.find((x) => x.name === name);
    if (!t) throw new ModelFormatError(this.source, `missing tensor ${name}`);
    const out = new Uint8Array(t.bytes);
    this.readFully(t.offset, out);
    const actual = this.crc(out);
    if (actual !== t.crc32) throw new ModelFormatError(this.source, `tensor ${name}: checksum mismatch (stored ${t.crc32.toString(16)}, computed ${actual.toString(16)}): the file is corrupt`);
    return out;
  }

  /** One positioned read (more only if the storage returns fewer bytes): a view is made only then. */
  private readFully(position: number, into: Uint8Array): void {
    let done = this.readAt(position, into);
    while (done > 0 && done < into.length) {
      const n = this.readAt(position + done, into.subarray(done));
      if (n <= 0) break;
      done += n;
    }
    if (!(done >= into.length)) throw new ModelFormatError(this.source, `unexpected end of file at byte ${position + Math.max(0, done)}`);
    this.counters.reads++;
  }

  /**
   * Where a request's entries live: GROUP_INPUT and GROUP_HIDDEN are a layer's MLP columns;
   * ROWS_LM_HEAD and ROWS_EMBEDDING are rows of the LM head and of an untied embedding, read when
   * the static weights overflow the DRAM budget (their tensors' CRCs were checked at open).
   */
  private region(layer: number, group: number): { eb: number; base: number; verified: Uint8Array } {
    if (group === GROUP_INPUT || group === GROUP_HIDDEN) {
      return { eb: this.header.groups[group].entry_bytes, base: this.header.column_offsets[layer * 2 + group], verified: this.verified[layer * 2 + group] };
    }
    const base = group === ROWS_LM_HEAD ? this.rowOffsets.lmHead : group === ROWS_EMBEDDING ? this.rowOffsets.embedding : undefined;
    if (base === undefined) throw new Error(`weight stream: the engine asked for group ${group}, which ${this.source} does not have`);
    this.rowsChecked ??= new Uint8Array(this.header.config.vocabSize).fill(1);
    return { eb: streamRowBytes(this.header.config, this.header.dtype), base, verified: this.rowsChecked };
  }

  private crcIndex(layer: number, group: number, column: number): number {
    const c = this.header.config;
    return layer * (c.dim + c.hiddenDim) + (group === GROUP_HIDDEN ? c.dim : 0) + column;
  }

  /** Reads the listed columns of (layer, group) into wasm memory and waits until they have landed. */
  fetch(memory: WebAssembly.Memory, layer: number, group: number, listPtr: number, count: number): void {
    this.await(this.issue(memory, layer, group, listPtr, count));
  }

  /**
   * Serves env.streamIssue inline: reads the listed columns of (layer, group) into wasm memory and
   * returns a ticket; they may be used once await(ticket) has returned. `issuedAt`
   * (performance.now() ms) is when the engine asked, if earlier (a request to an I/O thread).
   */
  issue(memory: WebAssembly.Memory, layer: number, group: number, listPtr: number, count: number, issuedAt = performance.now()): number {
    const t0 = performance.now();
    const list = byColumn(new Uint32Array(memory.buffer, listPtr, count * 2));
    const { eb, base, verified } = this.region(layer, group);
    const heap = new Uint8Array(memory.buffer);
    let bytes = 0;
    for (let i = 0; i < count; ) {
      // a run of consecutive columns is one range of the file: one read; straight into wasm
      // memory when the destinations follow each other too (staging, slots handed out in order)
      const first = list[2 * i];
      const dest = list[2 * i + 1];
      let j = i + 1;
      let direct = true;
      for (; j < count && list[2 * j] === first + (j - i); j++) direct &&= list[2 * j + 1] === dest + (j - i) * eb;
      const runBytes = (j - i) * eb;
      if (!direct && this.buffer.length < runBytes) this.buffer = new Uint8Array(runBytes);
      const into = direct ? heap.subarray(dest, dest + runBytes) : this.buffer.subarray(0, runBytes);
      this.readFully(base + first * eb, into);
      for (let k = 0; k < j - i; k++) {
        const col = first + k;
        if (direct && verified[col]) continue; // the common case: nothing to check or copy
        const block = into.subarray(k * eb, (k + 1) * eb);
        if (!verified[col]) {
          // each column's CRC once, the first time it is read, before the engine gathers from it
          const stored = this.crcs[this.crcIndex(layer, group, col)];
          const actual = this.crc(block);
          if (stored !== actual) {
            throw new ModelFormatError(this.source, `layer ${layer} ${this.header.groups[group].name} column ${col}: checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is corrupt`);
          }
          verified[col] = 1;
        }
        if (!direct) heap.set(block, list[2 * (i + k) + 1]);
      }
      bytes += runBytes;
      i = j;
    }
    this.counters.columns += count;
    this.counters.bytes += bytes;
    // the emulated device delivers bytes at flashGBps, one request after another, starting when
    // it is asked or when it is done with the previous request
    if (this.flashGBps !== undefined) this.flashClock = Math.max(this.flashClock, issuedAt) + (bytes / (this.flashGBps * 1e9)) * 1e3;
    const ticket = ++this.issued;
    this.completions[ticket % MAX_PENDING] = this.flashGBps !== undefined ? this.flashClock : 0;
    this.counters.seconds += (performance.now() - t0) / 1e3;
    return ticket;
  }

  /** Serves env.streamAwait inline: returns once the request with this ticket has landed. */
  await(ticket: number): void {
    if (!(ticket > this.issued - MAX_PENDING && ticket <= this.issued)) {
      throw new Error(`weight stream: await of request ${ticket}, but ${this.issued} were issued and only the last ${MAX_PENDING} are tracked`);
    }
    const done = this.completions[ticket % MAX_PENDING];
    const now = performance.now();
    if (done > now) {
      waitUntil(done);
      const end = performance.now();
      this.counters.pacingSeconds += (end - now) / 1e3;
      this.counters.seconds += (end - now) / 1e3;
    }
  }

  resetCounters(): void {
    Object.assign(this.counters, { reads: 0, columns: 0, bytes: 0, seconds: 0, pacingSeconds: 0 });
    this.remote?.resetCounters();
  }
}

/** Requests that may be in flight at once (the engine keeps one ahead of the one it gathers). */
const MAX_PENDING = 8;

const sleeper = typeof SharedArrayBuffer === "function" ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

/**
 * Waits until performance.now() reaches `deadlineMs`: sleeps (Atomics.wait, which yields the CPU
 * to other processes) until a millisecond before, then spins, since timers are too coarse for
 * sub-millisecond reads. Where blocking waits are not allowed (a browser's main thread) it spins.
 */
function waitUntil(deadlineMs: number): void {
  const left = deadlineMs - performance.now();
  if (sleeper && left > 2) {
    try {
      Atomics.wait(sleeper, 0, 0, left - 1);
    } catch {
      /* not allowed here: spin instead */
    }
  }
  while (performance.now() < deadlineMs) {
    /* spin */
  }
}

/** Checks the column CRC table against the header's CRC. */
export function checkCrcTable(h: StreamHeader, table: Uint8Array, source: string): void {
  const actual = crc32(table);
  if (actual !== h.crc_table.crc32) throw new ModelFormatError(source, `column CRC table checksum mismatch (stored ${h.crc_table.crc32.toString(16)}, computed ${actual.toString(16)}): the file is corrupt`);
}

// ---- attaching a stream to an engine instance ----

/** A DRAM budget the streamed model cannot run in. */
export class StreamBudgetError extends RangeError {
  override name = "StreamBudgetError";
  constructor(
    readonly minimumBytes: number,
    readonly dramBytes: number,
  ) {
    super(`--dram ${dramBytes} bytes is below the ${minimumBytes} bytes (${(minimumBytes / 1e6).toFixed(3)} MB) the streamed model needs resident ` +
      `(attention weights, KV cache, activations, cache tables and staging; embedding and LM head rows that do not fit are read every token); give at least --dram ${minimumBytes}`);
  }
}

/** The engine's dtype id (assembly/abi.ts) of a stream's columns and streamed rows. */
const STREAM_DTYPE_IDS: Record<StreamHeader["dtype"], number> = { f32: DTYPE_F32, q8: DTYPE_Q8, q4_0: DTYPE_Q4_0 };

export type StreamPolicy = "none" | "lru" | "lfu";
/** Default staging area: two halves of 512 KiB, one read while the other is gathered; a chunk is
 *  still in the core's L2 cache when the gather reads it (0.5B shape, dense: ~15% less compute per
 *  token than 4 MiB chunks), and a host call per chunk costs little next to the read. */
export const DEFAULT_STAGE_BYTES = 1024 * 1024;
export const STREAM_POLICIES: StreamPolicy[] = ["none", "lru", "lfu"];
const POLICY_IDS: Record<StreamPolicy, number> = { none: POLICY_NONE, lru: POLICY_LRU, lfu: POLICY_LFU };

/** Where the reads run: on an I/O thread beside the engine (needs shared memory) or on the engine thread. */
export type StreamIO = "thread" | "inline";

export interface StreamOptions {
  source: WeightStream;
  /** default "thread" where the runtime adapter can start one (source.ioThread), memory can be shared
   *  and the engine loads its own builds (no wasmBytes given; "thread" needs the threads build) */
  io?: StreamIO;
  /** DRAM budget for everything the engine holds in wasm memory, bytes */
  dramBytes: number;
  /** column cache policy (the simulator's), default lru */
  policy?: StreamPolicy;
  /** bytes of the staging area for columns read but not cached (a mask larger than its cache);
   *  reads go in chunks of half of it (each chunk is one host call); default 1 MiB */
  stageBytes?: number;
}

export interface StreamSetup {
  dramBytes: number;
  policy: StreamPolicy;
  /** wasm arena bytes needed before the embedding / LM head rows and the column slots: attention
   *  weights, norms, KV cache, run state, tables, staging */
  minimumBytes: number;
  /** slots per layer: [input group, hidden group] */
  cacheEntries: [number, number];
  /** bytes of all slots (all layers) */
  cacheBytes: number;
  stageBytes: number;
  /** rows of the embedding and of the LM head held in wasm memory (the vocabulary size unless the
   *  static weights overflow the budget; then the other rows are read from storage every token) */
  residentRows: { embedding: number; lmHead: number };
  io: StreamIO;
  /** stops the I/O thread, if any */
  close(): void;
}

/**
 * The I/O mode a stream will run with (the engine picks its shared-memory build for "thread"):
 * what was asked for, else "thread" where the runtime adapter can start one, memory can be shared,
 * and the engine loads its own builds (the relaxed build has no shared memory; bytes a caller
 * passes are one build, so reads stay inline unless asked otherwise).
 */
export function streamIOMode(opts: StreamOptions, engine: { relaxed?: boolean; callerBytes?: boolean } = {}): StreamIO {
  if (opts.io === "thread") {
    if (!opts.source.ioThread) throw new Error(`--stream-io thread: this runtime cannot read ${opts.source.source} on an I/O thread; use --stream-io inline`);
    if (engine.relaxed) throw new RangeError("--relaxed and --stream-io thread are separate builds (the relaxed one has no shared memory): pick one");
  }
  if (opts.io !== undefined) return opts.io;
  return opts.source.ioThread && typeof SharedArrayBuffer === "function" && !engine.relaxed && !engine.callerBytes ? "thread" : "inline";
}

/**
 * Slots per layer for `bytes` of column slots over all layers (SIMULATOR.md's partition): each of
 * the 3 streamed linears of a layer gets an equal share; an input slot holds a column of W_gate
 * and of W_up (2 linears), a hidden slot a column of W_down. Bytes a full cache cannot use go to
 * the other one.
 */
export function streamCacheEntries(dim: number, hiddenDim: number, nLayers: number, bytes: number, entryBytes: [number, number] = [2 * hiddenDim * 4, dim * 4]): [number, number] {
  const [eIn, eHid] = entryBytes;
  const perLayer = Math.max(0, bytes) / nLayers;
  let capIn = Math.min(dim, Math.floor((2 * perLayer) / 3 / eIn));
  let capHid = Math.min(hiddenDim, Math.floor(perLayer / 3 / eHid));
  if (capIn === dim) capHid = Math.min(hiddenDim, Math.floor((perLayer - dim * eIn) / eHid));
  else if (capHid === hiddenDim) capIn = Math.min(dim, Math.floor((perLayer - hiddenDim * eHid) / eIn));
  return [capIn, capHid];
}

/**
 * Sets up the column store in an engine instance whose static weights are laid out: the
 * simulator's caches (policy) and the slots, sized from the DRAM budget. Throws StreamBudgetError
 * below the minimum.
 */
export function attachStream(
  wasm: EngineExports,
  hooks: Pick<EngineHostHooks, "streamIssue" | "streamAwait">,
  opts: StreamOptions,
  /** puts the first rows of the embedding and of the LM head in wasm memory (Engine) */
  placeTableRows: (embeddingRows: number, lmHeadRows: number) => void,
): StreamSetup {
  const h = opts.source.header;
  const c = h.config;
  const D = c.dim;
  const I = c.hiddenDim;
  // bytes of one column block of each group as the file stores it (f32, or q8 with its scales)
  const entryBytes: [number, number] = [h.groups[GROUP_INPUT].entry_bytes, h.groups[GROUP_HIDDEN].entry_bytes];
  const policy = opts.policy ?? "lru";
  if (!STREAM_POLICIES.includes(policy)) throw new RangeError(`stream cache policy must be one of ${STREAM_POLICIES.join(", ")} (belady needs the future), got ${policy}`);
  // at least one column of either group, at most a whole layer group (a mask never needs more)
  const stageBytes = Math.min(Math.max(opts.stageBytes ?? DEFAULT_STAGE_BYTES, entryBytes[0]), D * entryBytes[0]);
  if (!Number.isSafeInteger(stageBytes) || stageBytes > 2 ** 31 - 1) throw new RangeError(`stage bytes must be an integer below 2 GiB, got ${stageBytes}`);
  const check = (rc: number, what: string) => {
    if (rc !== 0) throw new Error(`weight stream: ${what} failed (${rc}): out of wasm memory?`);
  };
  check(wasm.simConfigure(c.nLayers, 2), "simConfigure");
  // the simulator charges a column's real bytes: bytes per weight = block bytes / weights in it
  check(wasm.simSetGroup(GROUP_INPUT, D, I, 2, entryBytes[0] / (2 * I)), "simSetGroup");
  check(wasm.simSetGroup(GROUP_HIDDEN, I, D, 1, entryBytes[1] / D), "simSetGroup");
  check(wasm.simAllocate(), "simAllocate");
  check(wasm.simSetPolicy(POLICY_IDS[policy]), "simSetPolicy");
  wasm.simSetAdmissionSeed(0);
  wasm.streamSetGroup(GROUP_INPUT, D, entryBytes[0]);
  wasm.streamSetGroup(GROUP_HIDDEN, I, entryBytes[1]);
  wasm.streamSetDtype(STREAM_DTYPE_IDS[h.dtype], streamRowBytes(c, h.dtype));
  check(wasm.streamAllocate(c.nLayers, stageBytes), "streamAllocate");
  const minimumBytes = wasm.arenaUsedBytes() >>> 0;
  if (!(opts.dramBytes >= minimumBytes)) throw new StreamBudgetError(minimumBytes, opts.dramBytes);
  // SIMULATOR.md's placement: static groups first (the LM head, then an untied embedding), as many
  // rows as fit (a multiple of 8: the LM head's matvec groups rows by 8), the rest read every
  // token; only what is left after all of them goes to the MLP column caches. 64-byte alignment
  // of each block is kept as slack.
  const V = c.vocabSize;
  const rowBytes = streamRowBytes(c, h.dtype);
  const rowsIn = (bytes: number) => Math.min(V, Math.max(0, Math.floor(bytes / rowBytes / 8) * 8));
  const lmHeadRows = rowsIn(opts.dramBytes - minimumBytes - 2 * 64);
  const embeddingRows = c.tiedEmbeddings ? lmHeadRows : rowsIn(opts.dramBytes - minimumBytes - 2 * 64 - lmHeadRows * rowBytes);
  placeTableRows(embeddingRows, lmHeadRows);
  const staticOverflow = lmHeadRows < V || embeddingRows < V;
  // slots are 64-byte aligned blocks of the arena: keep a page per cache of slack for alignment
  const slack = 2 * c.nLayers * 64;
  const caps = policy === "none" || staticOverflow ? ([0, 0] as [number, number]) : streamCacheEntries(D, I, c.nLayers, opts.dramBytes - (wasm.arenaUsedBytes() >>> 0) - slack, entryBytes);
  caps.forEach((cap, g) => {
    check(wasm.streamSetCapacity(g, cap), "streamSetCapacity");
    check(wasm.simSetCapacity(-1, g, cap), "simSetCapacity");
  });
  const io = streamIOMode(opts);
  let close = () => undefined as void;
  if (io === "thread") {
    if (!(wasm.memory.buffer instanceof SharedArrayBuffer)) throw new Error("--stream-io thread needs the engine's shared-memory build (engine-threads.wasm)");
    const client = opts.source.startThread(wasm.memory);
    hooks.streamIssue = (l, g, p, n) => client.issue(l, g, p, n);
    hooks.streamAwait = (ticket) => client.await(ticket);
    close = () => client.close();
  } else {
    hooks.streamIssue = (l, g, p, n) => opts.source.issue(wasm.memory, l, g, p, n);
    hooks.streamAwait = (ticket) => opts.source.await(ticket);
  }
  wasm.streamEnable(1);
  return {
    dramBytes: opts.dramBytes,
    policy,
    minimumBytes,
    cacheEntries: caps,
    cacheBytes: c.nLayers * (caps[0] * entryBytes[0] + caps[1] * entryBytes[1]),
    stageBytes,
    residentRows: { embedding: embeddingRows, lmHead: lmHeadRows },
    io,
    close,
  };
}

/**
 * A request's (column, destination) pairs in column order: the engine lists them in its gather's
 * order, which interleaves blocks of consecutive columns (assembly/kernels/gather.ts
 * gatherOrder); sorted, such a block is again one range of the file. Usually already sorted: then
 * the list itself.
 */
function byColumn(list: Uint32Array): Uint32Array {
  const count = list.length >> 1;
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) sorted = list[2 * i] > list[2 * i - 2];
  if (sorted) return list;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => list[2 * a] - list[2 * b]);
  const out = new Uint32Array(2 * count);
  order.forEach((from, i) => {
    out[2 * i] = list[2 * from];
    out[2 * i + 1] = list[2 * from + 1];
  });
  return out;
}
