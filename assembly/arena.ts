// A bump arena for everything big (weights, KV cache, activations, simulator state).
// Big buffers never go through the AssemblyScript allocator (ARCHITECTURE.md: single allocations
// over 1 GiB abort there). The arena owns pages it grows itself at the end of memory; the runtime's
// TLSF allocator is initialised first so it only ever manages pages it grew on its own.

const PAGE: usize = 65536;
const ALIGN: usize = 64; // cache line, and v128-aligned

let arenaStart: usize = 0;
let arenaTop: usize = 0;
let arenaEnd: usize = 0;

function arenaInit(): void {
  heap.free(heap.alloc(16)); // make TLSF claim the pages it has now, before the arena grows more
  arenaStart = <usize>memory.size() * PAGE;
  arenaTop = arenaStart;
  arenaEnd = arenaStart;
}

/** Returns a 64-byte aligned, zero-filled block of `bytes`, or 0 when memory cannot grow that far. */
export function arenaAlloc(bytes: usize): usize {
  if (arenaStart == 0) arenaInit();
  const ptr = (arenaTop + ALIGN - 1) & ~(ALIGN - 1);
  const end = ptr + bytes;
  if (end < ptr) return 0; // wrapped past 4 GiB
  if (end > arenaEnd) {
    // Newly grown pages are zero; pages that the runtime grew in between are skipped by
    // restarting past them.
    const have = <usize>memory.size() * PAGE;
    if (have != arenaEnd) {
      arenaTop = have;
      arenaEnd = have;
      return arenaAlloc(bytes);
    }
    const pages = <i32>((end - arenaEnd + PAGE - 1) / PAGE);
    if (memory.grow(pages) < 0) return 0;
    arenaEnd += <usize>pages * PAGE;
  }
  arenaTop = end;
  return ptr;
}

/** Bytes handed out so far (for peak-memory reports). */
export function arenaUsedBytes(): usize {
  return arenaTop - arenaStart;
}
