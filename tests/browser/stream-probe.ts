// Streamed determinism probe, a module Web Worker (scripts/browser-stream-e2e.mjs): fetches a
// .dipstream, opens it through OPFS (copied there first, then read with a sync access handle) or
// as a Blob (FileReaderSync on slices), and answers with greedyLogitsHashes (probe.ts), the same
// code Node runs on the resident model and on the file through fs.readSync. Asked, it says whether
// the browser has OPFS sync access handles (only workers can tell).
import { fetchBytes, nameOf } from "../../host/formats/bytes.js";
import { copyToOpfs, openStreamBlob, openStreamOpfs, opfsSyncAvailable } from "../../host/web/stream-opfs.js";
import type { OpenStream } from "../../host/stream/open.js";
import { greedyLogitsHashes } from "./probe.js";

export interface StreamProbeRequest {
  url: string;
  wasmUrl: string;
  via: "opfs" | "blob";
  dramBytes: number;
  steps: number;
  /** pace reads to this bandwidth (benchmarks) */
  flashGBps?: number;
}

const post = (m: unknown) => (self as unknown as { postMessage(m: unknown): void }).postMessage(m);

/** Asks whether this browser gives a worker OPFS sync access handles (the answer: {ok, opfsSync}). */
export interface OpfsQuestion {
  question: "opfsSync";
}

self.onmessage = async (ev: MessageEvent<StreamProbeRequest | OpfsQuestion>) => {
  if ("question" in ev.data) return post({ ok: true, opfsSync: await opfsSyncAvailable() });
  const r = ev.data;
  let o: OpenStream | undefined;
  try {
    const wasmBytes = await fetchBytes(r.wasmUrl);
    const name = nameOf(r.url);
    let copySeconds: number | undefined;
    if (r.via === "opfs") {
      const t0 = performance.now();
      await copyToOpfs(await fetch(r.url), name);
      copySeconds = (performance.now() - t0) / 1e3;
      o = await openStreamOpfs(name);
    } else {
      o = openStreamBlob(await (await fetch(r.url)).blob(), name);
    }
    post({ ok: true, copySeconds, ...(await greedyLogitsHashes(o.model, wasmBytes, r.steps, { source: o.stream, dramBytes: r.dramBytes, flashGBps: r.flashGBps })) });
  } catch (e) {
    post({ ok: false, message: (e as Error).message ?? String(e) });
  } finally {
    o?.close();
  }
};
