// Node file I/O for mask traces (the codec in trace.ts runs anywhere).
import { readFile } from "node:fs/promises";
import { writeOutputFile } from "./atomic-file.js";
import { decodeTrace, encodeTrace, type MaskTrace } from "../sim/trace.js";

export async function readTraceFile(path: string): Promise<MaskTrace> {
  const bytes = await readFile(path);
  return decodeTrace(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

export async function writeTraceFile(path: string, trace: MaskTrace): Promise<void> {
  await writeOutputFile(path, encodeTrace(trace));
}
