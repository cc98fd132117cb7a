// WASI input: a whole file (through the preopened directories the runtime grants, e.g. wasmtime's
// `--dir .`) or standard input, into one arena block.
import {
  fd_read, fd_close, fd_prestat_get, fd_prestat_dir_name, path_open, errno, rights, lookupflags, prestat,
} from "bindings/wasi_snapshot_preview1";
import { arenaAlloc } from "../arena";

/** Bytes read (ptr, length) or an error message. */
export class Input {
  ptr: usize = 0;
  length: usize = 0;
  error: string = "";
}

const scratch = memory.data(64);

/** Reads fd to its end. */
function readAll(fd: u32, into: Input): void {
  let cap: usize = 1 << 20;
  let buf = arenaAlloc(cap);
  let len: usize = 0;
  if (buf == 0) { into.error = "out of memory"; return; }
  while (true) {
    if (len == cap) {
      const bigger = arenaAlloc(cap << 1);
      if (bigger == 0) { into.error = "out of memory"; return; }
      memory.copy(bigger, buf, len);
      buf = bigger;
      cap <<= 1;
    }
    store<usize>(scratch, buf + len); // iovec.buf
    store<usize>(scratch, cap - len, sizeof<usize>()); // iovec.buf_len
    const err = fd_read(fd, scratch, 1, scratch + 2 * sizeof<usize>());
    if (err != errno.SUCCESS) { into.error = "read failed (WASI errno " + err.toString() + ")"; return; }
    const n = load<usize>(scratch, 2 * sizeof<usize>());
    if (n == 0) break;
    len += n;
  }
  into.ptr = buf;
  into.length = len;
}

export function readStdin(): Input {
  const r = new Input();
  readAll(0, r);
  return r;
}

function preopenName(fd: u32): string | null {
  if (fd_prestat_get(fd, changetype<prestat>(scratch)) != errno.SUCCESS) return null;
  if (load<u8>(scratch) != 0) return ""; // not a directory
  const n = load<usize>(scratch, sizeof<usize>());
  const name = heap.alloc(n + 1);
  if (fd_prestat_dir_name(fd, name, n) != errno.SUCCESS) { heap.free(name); return ""; }
  let s = String.UTF8.decodeUnsafe(name, n);
  heap.free(name);
  while (s.length > 1 && s.endsWith("/")) s = s.substring(0, s.length - 1);
  return s;
}

/** The path relative to preopen `dir`, or null if the preopen does not contain it. */
function within(dir: string, path: string): string | null {
  if (!path.startsWith("/")) {
    // a relative path: from a relative preopen ("." as wasmtime --dir . grants)
    if (dir.startsWith("/")) return null;
    const d = dir == "." ? "" : dir.startsWith("./") ? dir.substring(2) : dir;
    if (d.length == 0) return path;
    if (path.startsWith(d + "/")) return path.substring(d.length + 1);
    return null;
  }
  if (dir == "/") return path.substring(1);
  if (path.startsWith(dir + "/")) return path.substring(dir.length + 1);
  return null;
}

export function readFile(path: string): Input {
  const r = new Input();
  let tried = "";
  for (let fd: u32 = 3; fd < 64; fd++) {
    const dir = preopenName(fd);
    if (dir === null) break;
    if (dir.length == 0) continue;
    tried += (tried.length ? ", " : "") + dir;
    const rel = within(dir, path);
    if (rel === null) continue;
    const bytes = String.UTF8.encode(rel);
    const err = path_open(fd, lookupflags.SYMLINK_FOLLOW, changetype<usize>(bytes), bytes.byteLength, 0, rights.FD_READ, 0, 0, scratch);
    if (err == errno.NOENT) { r.error = "file not found"; return r; }
    if (err != errno.SUCCESS) { r.error = "cannot open (WASI errno " + err.toString() + ")"; return r; }
    const file = load<u32>(scratch);
    readAll(file, r);
    fd_close(file);
    return r;
  }
  r.error = tried.length
    ? "not inside a directory this program may read (granted: " + tried + "); grant it, e.g. wasmtime run --dir . build/replay.wasm -- trace.bin"
    : "no directory is granted to this program: run it with e.g. wasmtime run --dir . build/replay.wasm -- trace.bin, or pipe the trace to standard input";
  return r;
}
